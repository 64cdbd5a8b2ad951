const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];

/** 1536 → "1.5 KiB". */
export function formatBytes(bytes: number): string {
  if (!Number.isFinite(bytes) || bytes < 0) return '—';
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < UNITS.length - 1) {
    value /= 1024;
    unit++;
  }
  const digits = unit === 0 || value >= 100 ? 0 : value >= 10 ? 1 : 2;
  return `${value.toFixed(digits)} ${UNITS[unit]}`;
}

const dateFormat = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium' });
const dateTimeFormat = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });

function parse(iso: string): Date | null {
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? null : date;
}

export function formatDate(iso: string): string {
  const date = parse(iso);
  return date === null ? iso || '—' : dateFormat.format(date);
}

export function formatDateTime(iso: string): string {
  const date = parse(iso);
  return date === null ? iso || '—' : dateTimeFormat.format(date);
}

/** An expiry more than 50 years away is what the service stores for "never". */
export function formatExpiry(iso: string): string {
  const date = parse(iso);
  if (date === null) return iso || '—';
  const fiftyYears = 50 * 365.25 * 24 * 3600 * 1000;
  if (date.getTime() - Date.now() > fiftyYears) return 'Never';
  return dateFormat.format(date);
}

/** "abcdefghijklmnop" → "abcdef…mnop". */
export function shorten(text: string, head = 6, tail = 4): string {
  return text.length <= head + tail + 1 ? text : `${text.slice(0, head)}…${text.slice(-tail)}`;
}
