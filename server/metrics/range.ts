// Time ranges for chart endpoints: `from`/`to` as epoch ms or RFC 3339, a step, and bounds so a
// request can never ask for more points than a chart can show or scan more than its window.
import { InvalidInputError } from '../errors.ts';
import { HOUR_MS, MINUTE_MS } from './bandwidth.ts';

export const DAY_MS = 86_400_000;

export const STEPS = { minute: MINUTE_MS, hour: HOUR_MS, day: DAY_MS } as const;
export type Step = keyof typeof STEPS;

/** Points one series may have. */
export const MAX_POINTS = 1500;
/** Minute data is kept this long, so minute steps cannot reach further back. */
export const MINUTE_WINDOW_MS = 48 * HOUR_MS;
/** Nothing older than this is asked for (the service did not exist). */
const EARLIEST = Date.UTC(2020, 0, 1);

export interface TimeRange {
  from: number;
  to: number;
  step: Step;
  stepMs: number;
}

function parseTime(text: string, name: string): number {
  const ms = /^\d{1,16}$/.test(text) ? Number(text) : /^\d{4}-\d\d-\d\d/.test(text) ? Date.parse(text) : NaN;
  if (!Number.isFinite(ms))
    throw new InvalidInputError('ERR_INVALID_RANGE', `"${name}" must be epoch ms or an RFC 3339 time`);
  return ms;
}

/**
 * Reads `from`, `to` (default: the last `defaultSpanMs` up to now) and `step` (default: the finest
 * step that fits in MAX_POINTS). Absurd ranges (reversed, before 2020, in the future by more than a
 * day, or more points than allowed) are a 400, never a long scan.
 */
export function parseRange(
  query: Record<string, string | undefined>,
  options: { defaultSpanMs: number; now?: number; steps?: readonly Step[] }
): TimeRange {
  const now = options.now ?? Date.now();
  const allowed = options.steps ?? (['minute', 'hour', 'day'] as const);
  const to = query.to == null || query.to === '' ? now : parseTime(query.to, 'to');
  const from =
    query.from == null || query.from === '' ? to - options.defaultSpanMs : parseTime(query.from, 'from');
  if (from >= to) throw new InvalidInputError('ERR_INVALID_RANGE', '"from" must be before "to"');
  if (from < EARLIEST) throw new InvalidInputError('ERR_INVALID_RANGE', '"from" is before 2020');
  if (to > now + DAY_MS) throw new InvalidInputError('ERR_INVALID_RANGE', '"to" is more than a day ahead');
  let step: Step;
  if (query.step == null || query.step === '') {
    const fits = allowed.find(
      (s) => (to - from) / STEPS[s] <= MAX_POINTS && (s !== 'minute' || from >= now - MINUTE_WINDOW_MS)
    );
    if (fits == null)
      throw new InvalidInputError('ERR_INVALID_RANGE', `the range is too long for ${MAX_POINTS} points`);
    step = fits;
  } else {
    if (!(allowed as readonly string[]).includes(query.step))
      throw new InvalidInputError('ERR_INVALID_RANGE', `"step" must be one of ${allowed.join(', ')}`);
    step = query.step as Step;
  }
  const stepMs = STEPS[step];
  if ((to - from) / stepMs > MAX_POINTS)
    throw new InvalidInputError(
      'ERR_INVALID_RANGE',
      `${Math.ceil((to - from) / stepMs)} points asked for; at most ${MAX_POINTS} per series (use a longer step)`
    );
  if (step === 'minute' && from < now - MINUTE_WINDOW_MS)
    throw new InvalidInputError('ERR_INVALID_RANGE', 'minute steps reach back 48 hours at most');
  return { from: Math.floor(from / stepMs) * stepMs, to, step, stepMs };
}

/** The bucket starts of a range, oldest first. */
export function buckets(range: TimeRange): number[] {
  const out: number[] = [];
  for (let t = range.from; t < range.to; t += range.stepMs) out.push(t);
  return out;
}
