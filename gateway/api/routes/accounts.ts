import type { FastifyInstance } from 'fastify';
import { API_KEY_DEFAULT_MS, NEVER_EXPIRES_MS } from '../../../server/accounts/accounts.ts';
import { parseDuration } from '../../../server/accounts/duration.ts';
import { PERM_ADMIN, PERM_UPLOAD, PERM_USER } from '../../../server/db/schema.ts';
import { InvalidInputError } from '../../../server/errors.ts';
import { requireAuth, userOf } from '../auth.ts';
import { readBody } from '../body.ts';
import type { ApiContext } from '../context.ts';

/** Registration, sessions, API keys, and the admin's invites and users (Estuary's routes). */
export async function accountRoutes(app: FastifyInstance, ctx: ApiContext): Promise<void> {
  const { accounts } = ctx;
  const upload = requireAuth(accounts, PERM_UPLOAD);
  const user = requireAuth(accounts, PERM_USER);
  const admin = requireAuth(accounts, PERM_ADMIN);

  app.post('/register', async (req) => {
    const body = readBody(req.body, { username: 'string', password: 'string', inviteCode: 'string' });
    return accounts.register(body);
  });

  app.post('/login', async (req) => {
    const body = readBody(req.body, { username: 'string', password: 'string' });
    return accounts.login(body);
  });

  app.get('/viewer', { preHandler: upload }, async (req) => {
    const { user: u, expiry } = userOf(req);
    return {
      username: u.username,
      perms: u.perm,
      id: u.id,
      address: '',
      miners: [],
      auth_expiry: new Date(expiry).toISOString(),
      settings: {
        replication: ctx.config.replication,
        verified: true,
        dealDuration: 1_494_720,
        fileStagingThreshold: 0,
        contentAddingDisabled: false,
        dealMakingDisabled: true,
        uploadEndpoints: [],
        flags: 0
      }
    };
  });

  app.get('/user/api-keys', { preHandler: user }, async (req) => accounts.listApiKeys(userOf(req).user.id));

  app.post('/user/api-keys', { preHandler: user }, async (req) => {
    const q = req.query as Record<string, string | undefined>;
    const perms = q.perms ?? 'all';
    if (perms !== 'all' && perms !== 'upload') {
      throw new InvalidInputError('ERR_INVALID_INPUT', 'perms must be "all" or "upload"');
    }
    const expiresInMs =
      q.expiry == null || q.expiry === ''
        ? API_KEY_DEFAULT_MS
        : q.expiry === 'false'
          ? NEVER_EXPIRES_MS
          : parseDuration(q.expiry);
    return accounts.createApiKey(userOf(req).user.id, {
      label: q.label ?? '',
      expiresInMs,
      uploadOnly: perms === 'upload'
    });
  });

  app.delete('/user/api-keys/:key', { preHandler: user }, async (req) => {
    await accounts.revokeApiKey(userOf(req).user.id, (req.params as { key: string }).key);
    return {};
  });

  app.post('/admin/invite/:code', { preHandler: admin }, async (req) => {
    const grantsAdmin =
      req.body == null || req.body === '' ? false : readBody(req.body, { admin: 'boolean?' }).admin === true;
    const code = await accounts.createInvite({
      code: (req.params as { code: string }).code,
      createdBy: userOf(req).user.id,
      admin: grantsAdmin
    });
    return { code };
  });

  app.get('/admin/invites', { preHandler: admin }, async () => accounts.listInvites());
  app.get('/admin/users', { preHandler: admin }, async () => accounts.listUsers());
}
