import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Accounts, Authenticated } from '../../server/accounts/accounts.ts';
import { PERM_ADMIN, PERM_UPLOAD, PERM_USER } from '../../server/db/schema.ts';
import { ForbiddenError, UnauthorizedError } from '../../server/errors.ts';

declare module 'fastify' {
  interface FastifyRequest {
    auth: Authenticated | undefined;
  }
}

export type AuthLevel = typeof PERM_UPLOAD | typeof PERM_USER | typeof PERM_ADMIN;

export function bearer(req: FastifyRequest): string | undefined {
  const header = req.headers.authorization;
  if (header == null || header.trim() === '') return undefined;
  // The scheme is case-insensitive (RFC 9110 §11.1); any run of spaces may follow it.
  const match = /^(\S+)\s+(\S+)\s*$/.exec(header.trim());
  if (match == null || match[1]!.toLowerCase() !== 'bearer') {
    throw new UnauthorizedError(
      'ERR_AUTH_MISSING_BEARER',
      'the Authorization header must be "Bearer <token>"'
    );
  }
  return match[2];
}

/** A preHandler that lets through only a valid token with at least `level` (Estuary's perm levels). */
export function requireAuth(accounts: Accounts, level: AuthLevel) {
  return async (req: FastifyRequest, _reply: FastifyReply): Promise<void> => {
    const token = bearer(req);
    if (token == null)
      throw new UnauthorizedError('ERR_AUTH_MISSING', 'no Authorization header: send "Bearer <API key>"');
    const auth = await accounts.authenticate(token);
    if (auth.uploadOnly && level > PERM_UPLOAD) {
      throw new ForbiddenError('ERR_NOT_AUTHORIZED', 'api key is upload only');
    }
    if (auth.user.perm < level) throw new ForbiddenError('ERR_NOT_AUTHORIZED', 'this needs an admin account');
    req.auth = auth;
  };
}

/** The authenticated user of a request that passed requireAuth. */
export function userOf(req: FastifyRequest): Authenticated {
  if (req.auth == null) throw new UnauthorizedError('ERR_AUTH_MISSING', 'not signed in');
  return req.auth;
}
