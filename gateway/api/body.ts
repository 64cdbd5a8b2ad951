import { InvalidInputError } from '../../server/errors.ts';

type FieldType = 'string' | 'boolean' | 'number';

/**
 * Reads a JSON object body with exactly the given fields: unknown fields and wrong types are a 400
 * that names the field, never silently dropped.
 */
export function readBody<const S extends Record<string, `${FieldType}${'' | '?'}`>>(
  body: unknown,
  spec: S
): { [K in keyof S]: S[K] extends `${infer T}?` ? TypeOf<T> | undefined : TypeOf<S[K]> } {
  if (body == null || typeof body !== 'object' || Array.isArray(body)) {
    throw new InvalidInputError('ERR_INVALID_INPUT', 'the body must be a JSON object');
  }
  const obj = body as Record<string, unknown>;
  for (const key of Object.keys(obj)) {
    if (!(key in spec)) throw new InvalidInputError('ERR_INVALID_INPUT', `unknown field "${key}"`);
  }
  for (const [key, t] of Object.entries(spec)) {
    const optional = t.endsWith('?');
    const type = t.replace('?', '');
    const v = obj[key];
    if (v == null) {
      if (!optional) throw new InvalidInputError('ERR_INVALID_INPUT', `"${key}" is required`);
      continue;
    }
    if (typeof v !== type) throw new InvalidInputError('ERR_INVALID_INPUT', `"${key}" must be a ${type}`);
  }
  return obj as never;
}

type TypeOf<T> = T extends 'string'
  ? string
  : T extends 'boolean'
    ? boolean
    : T extends 'number'
      ? number
      : never;

export function replicationParam(value: unknown, fallback: number): number {
  if (value == null || value === '') return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 20) {
    throw new InvalidInputError(
      'ERR_INVALID_INPUT',
      `replication must be an integer from 1 to 20, got "${String(value)}"`
    );
  }
  return n;
}

export function pageParam(value: unknown, name: string, fallback: number, max: number): number {
  if (value == null || value === '') return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > max) {
    throw new InvalidInputError('ERR_INVALID_INPUT', `${name} must be an integer from 0 to ${max}`);
  }
  return n;
}
