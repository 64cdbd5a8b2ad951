import { InvalidInputError } from '../errors.ts';

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** Parses Go-style durations as Estuary's `expiry` takes them: `720h`, `1h30m`, `90s`, also `30d`. */
export function parseDuration(text: string): number {
  const re = /(\d+(?:\.\d+)?)(ms|s|m|h|d)/gy;
  let total = 0;
  let matched = 0;
  for (let m = re.exec(text); m != null; m = re.exec(text)) {
    total += Number(m[1]) * UNIT_MS[m[2]!]!;
    matched = re.lastIndex;
  }
  if (text.length === 0 || matched !== text.length || total <= 0) {
    throw new InvalidInputError(
      'ERR_INVALID_INPUT',
      `invalid expiry "${text}": use a duration like 720h, or false`
    );
  }
  return Math.round(total);
}
