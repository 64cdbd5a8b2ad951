import { createHash, randomUUID } from 'node:crypto';

/** Estuary's key shape: `EST` + UUIDv4 + `ARY`. */
const TOKEN_PATTERN = /^EST[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}ARY$/;

export function newToken(): string {
  return `EST${randomUUID()}ARY`;
}

export function isWellFormedToken(token: string): boolean {
  return TOKEN_PATTERN.test(token);
}

/** base64url(SHA-256(token)), as Estuary's `token_hash`. */
export function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('base64url');
}
