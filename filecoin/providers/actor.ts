// Provider actor IDs as users type them (`f01234`, `t01234`) and as we store them (the number).
import { InvalidInputError } from '../../server/errors.ts';

export function parseActorId(text: string): number {
  const match = /^[ft]0(\d{1,18})$/.exec(text.trim());
  const id = match == null ? NaN : Number(match[1]);
  if (!Number.isSafeInteger(id)) {
    throw new InvalidInputError('ERR_INVALID_MINER', `"${text}" is not a storage provider ID (like f01234)`);
  }
  return id;
}

export function formatActorId(id: number, prefix: 'f' | 't'): string {
  return `${prefix}0${id}`;
}
