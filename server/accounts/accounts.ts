import { randomUUID } from 'node:crypto';
import type { Kysely } from 'kysely';
import {
  ConflictError,
  ForbiddenError,
  InvalidInputError,
  NotFoundError,
  UnauthorizedError
} from '../errors.ts';
import { PERM_ADMIN, PERM_USER, type Database, type User } from '../db/schema.ts';
import { hashPassword, verifyPassword } from './passwords.ts';
import { hashToken, isWellFormedToken, newToken } from './tokens.ts';

const DAY = 86_400_000;
/** Estuary's lifetimes: register session 7 days, login session 30 days, API key 30 days. */
export const REGISTER_SESSION_MS = 7 * DAY;
export const LOGIN_SESSION_MS = 30 * DAY;
export const API_KEY_DEFAULT_MS = 30 * DAY;
/** `expiry=false`: Estuary stores 100 years. */
export const NEVER_EXPIRES_MS = 100 * 365 * DAY;

const USERNAME = /^[a-z0-9][a-z0-9_.-]{0,31}$/;

export interface Session {
  token: string;
  expiry: string;
}

export interface ApiKeyInfo {
  token: string;
  tokenHash: string;
  label: string;
  expiry: string;
  isSession: boolean;
}

export interface Authenticated {
  user: User;
  tokenHash: string;
  uploadOnly: boolean;
  expiry: number;
}

export interface Accounts {
  register(input: { username: string; password: string; inviteCode: string }): Promise<Session>;
  login(input: { username: string; password: string }): Promise<Session>;
  authenticate(token: string): Promise<Authenticated>;
  createApiKey(
    userId: number,
    opts: { label: string; expiresInMs: number; uploadOnly: boolean }
  ): Promise<ApiKeyInfo>;
  listApiKeys(userId: number): Promise<ApiKeyInfo[]>;
  revokeApiKey(userId: number, keyOrHash: string): Promise<void>;
  createInvite(opts: { code?: string; createdBy?: number | null; admin?: boolean }): Promise<string>;
  listInvites(): Promise<
    Array<{
      code: string;
      createdBy: string | null;
      claimedBy: string | null;
      createdAt: string;
      admin: boolean;
    }>
  >;
  listUsers(): Promise<
    Array<{ id: number; username: string; perms: number; spaceUsed: number; numFiles: number }>
  >;
  /** On an empty database: make the first admin invite and return it (once); otherwise undefined. */
  firstAdminInvite(): Promise<string | undefined>;
}

export function createAccounts(db: Kysely<Database>): Accounts {
  async function issue(
    userId: number,
    kind: 'session' | 'api-key',
    ttl: number,
    label = '',
    uploadOnly = false
  ) {
    const token = newToken();
    const now = Date.now();
    const row = {
      token_hash: hashToken(token),
      user_id: userId,
      label,
      expiry: now + ttl,
      scope: uploadOnly ? ('upload' as const) : ('all' as const),
      kind,
      created_at: now
    };
    await db.insertInto('auth_tokens').values(row).execute();
    return { token, row };
  }

  function checkPassword(password: unknown): asserts password is string {
    if (typeof password !== 'string' || password.length < 8 || password.length > 1024) {
      throw new InvalidInputError('ERR_INVALID_PASSWORD', 'password must be 8 to 1024 characters');
    }
  }

  return {
    async register({ username, password, inviteCode }) {
      const name = String(username ?? '').toLowerCase();
      if (!USERNAME.test(name)) {
        throw new InvalidInputError(
          'ERR_INVALID_USERNAME',
          'username must be 1 to 32 characters: letters, digits, and _ . - (not first)'
        );
      }
      checkPassword(password);
      if (typeof inviteCode !== 'string' || inviteCode === '') {
        throw new InvalidInputError('ERR_INVALID_INVITE', 'an invite code is required');
      }
      const passwordHash = await hashPassword(password);
      const userId = await db.transaction().execute(async (tx) => {
        const invite = await tx
          .selectFrom('invite_codes')
          .selectAll()
          .where('code', '=', inviteCode)
          .executeTakeFirst();
        if (invite == null) throw new NotFoundError('ERR_INVALID_INVITE', 'no such invite code');
        if (invite.claimed_by != null)
          throw new ConflictError('ERR_INVITE_ALREADY_USED', 'this invite code was already used');
        const taken = await tx
          .selectFrom('users')
          .select('id')
          .where('username', '=', name)
          .executeTakeFirst();
        if (taken != null) throw new ConflictError('ERR_USERNAME_TAKEN', `username "${name}" is taken`);
        const user = await tx
          .insertInto('users')
          .values({
            username: name,
            password_hash: passwordHash,
            perm: invite.grants_admin === 1 ? PERM_ADMIN : PERM_USER,
            created_at: Date.now()
          })
          .returning('id')
          .executeTakeFirstOrThrow();
        // The claim is conditional so two registrations racing for one invite cannot both win.
        const claimed = await tx
          .updateTable('invite_codes')
          .set({ claimed_by: user.id })
          .where('id', '=', invite.id)
          .where('claimed_by', 'is', null)
          .executeTakeFirst();
        if (Number(claimed.numUpdatedRows) !== 1) {
          throw new ConflictError('ERR_INVITE_ALREADY_USED', 'this invite code was already used');
        }
        return Number(user.id);
      });
      const { token, row } = await issue(userId, 'session', REGISTER_SESSION_MS);
      return { token, expiry: new Date(row.expiry).toISOString() };
    },

    async login({ username, password }) {
      if (typeof username !== 'string' || typeof password !== 'string') {
        throw new InvalidInputError('ERR_INVALID_INPUT', 'username and password are required');
      }
      const user = await db
        .selectFrom('users')
        .selectAll()
        .where('username', '=', username.toLowerCase())
        .executeTakeFirst();
      // Same answer for an unknown user and a wrong password.
      if (user == null || !(await verifyPassword(password, user.password_hash))) {
        throw new ForbiddenError('ERR_INVALID_PASSWORD', 'wrong username or password');
      }
      const { token, row } = await issue(Number(user.id), 'session', LOGIN_SESSION_MS);
      return { token, expiry: new Date(row.expiry).toISOString() };
    },

    async authenticate(token) {
      if (!isWellFormedToken(token)) {
        throw new UnauthorizedError('ERR_INVALID_TOKEN', 'the token is malformed: expected EST<uuid>ARY');
      }
      const found = await db
        .selectFrom('auth_tokens')
        .innerJoin('users', 'users.id', 'auth_tokens.user_id')
        .select([
          'auth_tokens.expiry',
          'auth_tokens.scope',
          'auth_tokens.token_hash',
          'users.id',
          'users.username',
          'users.password_hash',
          'users.perm',
          'users.created_at'
        ])
        .where('auth_tokens.token_hash', '=', hashToken(token))
        .executeTakeFirst();
      if (found == null) throw new UnauthorizedError('ERR_INVALID_TOKEN', 'unknown or revoked token');
      if (found.expiry <= Date.now())
        throw new UnauthorizedError('ERR_TOKEN_EXPIRED', 'the token has expired');
      return {
        user: {
          id: Number(found.id),
          username: found.username,
          password_hash: found.password_hash,
          perm: found.perm,
          created_at: found.created_at
        },
        tokenHash: found.token_hash,
        uploadOnly: found.scope === 'upload',
        expiry: found.expiry
      };
    },

    async createApiKey(userId, { label, expiresInMs, uploadOnly }) {
      if (label.length > 255)
        throw new InvalidInputError('ERR_INVALID_INPUT', 'label is longer than 255 characters');
      const { token, row } = await issue(userId, 'api-key', expiresInMs, label, uploadOnly);
      return {
        token,
        tokenHash: row.token_hash,
        label,
        expiry: new Date(row.expiry).toISOString(),
        isSession: false
      };
    },

    async listApiKeys(userId) {
      const rows = await db
        .selectFrom('auth_tokens')
        .selectAll()
        .where('user_id', '=', userId)
        .where('expiry', '>', Date.now())
        .orderBy('created_at', 'desc')
        .execute();
      return rows.map((r) => ({
        token: '',
        tokenHash: r.token_hash,
        label: r.label,
        expiry: new Date(r.expiry).toISOString(),
        isSession: r.kind === 'session'
      }));
    },

    async revokeApiKey(userId, keyOrHash) {
      const hash = isWellFormedToken(keyOrHash) ? hashToken(keyOrHash) : keyOrHash;
      const res = await db
        .deleteFrom('auth_tokens')
        .where('user_id', '=', userId)
        .where('token_hash', '=', hash)
        .executeTakeFirst();
      if (Number(res.numDeletedRows) === 0) throw new NotFoundError('ERR_NOT_FOUND', 'no such key');
    },

    async createInvite({ code, createdBy = null, admin = false }) {
      const value = code ?? `firth-invite-${randomUUID()}`;
      if (value.length < 1 || value.length > 128 || /\s|\//.test(value)) {
        throw new InvalidInputError(
          'ERR_INVALID_INPUT',
          'invite codes are 1 to 128 characters without spaces or /'
        );
      }
      const existing = await db
        .selectFrom('invite_codes')
        .select('id')
        .where('code', '=', value)
        .executeTakeFirst();
      if (existing != null) throw new ConflictError('ERR_INVITE_EXISTS', 'that invite code exists already');
      await db
        .insertInto('invite_codes')
        .values({
          code: value,
          created_by: createdBy,
          claimed_by: null,
          grants_admin: admin ? 1 : 0,
          created_at: Date.now()
        })
        .execute();
      return value;
    },

    async listInvites() {
      const rows = await db
        .selectFrom('invite_codes as i')
        .leftJoin('users as c', 'c.id', 'i.created_by')
        .leftJoin('users as u', 'u.id', 'i.claimed_by')
        .select([
          'i.code',
          'i.created_at',
          'i.grants_admin',
          'c.username as creator',
          'u.username as claimer'
        ])
        .orderBy('i.created_at', 'desc')
        .execute();
      return rows.map((r) => ({
        code: r.code,
        createdBy: r.creator ?? null,
        claimedBy: r.claimer ?? null,
        createdAt: new Date(r.created_at).toISOString(),
        admin: r.grants_admin === 1
      }));
    },

    async listUsers() {
      const rows = await db
        .selectFrom('users')
        .leftJoin('contents', (j) =>
          j.onRef('contents.user_id', '=', 'users.id').on('contents.pin_status', '!=', 'removed')
        )
        .select((eb) => [
          'users.id',
          'users.username',
          'users.perm',
          eb.fn.coalesce(eb.fn.sum<number>('contents.size'), eb.lit(0)).as('spaceUsed'),
          eb.fn.count<number>('contents.id').as('numFiles')
        ])
        .groupBy(['users.id', 'users.username', 'users.perm'])
        .orderBy('users.id')
        .execute();
      return rows.map((r) => ({
        id: Number(r.id),
        username: r.username,
        perms: r.perm,
        spaceUsed: Number(r.spaceUsed),
        numFiles: Number(r.numFiles)
      }));
    },

    async firstAdminInvite() {
      const anyUser = await db.selectFrom('users').select('id').limit(1).executeTakeFirst();
      if (anyUser != null) return undefined;
      const anyInvite = await db.selectFrom('invite_codes').select('id').limit(1).executeTakeFirst();
      if (anyInvite != null) return undefined;
      return this.createInvite({ admin: true });
    }
  };
}
