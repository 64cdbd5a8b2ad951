import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DATABASES, serviceDatabase } from '../helpers/databases.ts';
import { registerUser, startTestService, type TestService } from '../helpers/service.ts';

describe.each(DATABASES)('accounts and API keys on %s', (kind) => {
  let svc: TestService;
  let dropDb: () => Promise<void>;
  let admin: { session: string; apiKey: string };

  const api = (path: string, init: RequestInit & { token?: string } = {}) => {
    const headers = new Headers(init.headers);
    if (init.token != null) headers.set('authorization', `Bearer ${init.token}`);
    if (typeof init.body === 'string') headers.set('content-type', 'application/json');
    return fetch(`${svc.apiUrl}/api${path}`, { ...init, headers });
  };

  beforeAll(async () => {
    const dbOpts = await serviceDatabase(kind);
    dropDb = dbOpts.drop;
    svc = await startTestService({ databaseUrl: dbOpts.databaseUrl });
    expect(svc.adminInvite).toMatch(/^firth-invite-/);
    admin = await registerUser(svc.apiUrl, svc.adminInvite, 'Admin');
  });
  afterAll(async () => {
    await svc?.stop();
    await dropDb?.();
  });

  it('makes the first account an admin and lowercases usernames', async () => {
    const res = await api('/viewer', { token: admin.apiKey });
    expect(res.status).toBe(200);
    const viewer = await res.json();
    expect(viewer).toMatchObject({ username: 'admin', perms: 10, id: expect.any(Number) });
    expect(Date.parse(viewer.auth_expiry)).toBeGreaterThan(Date.now() + 29 * 86_400_000);
  });

  it('serves the health check without auth', async () => {
    expect(await (await api('/health')).json()).toEqual({ status: 'ok' });
  });

  it('refuses a used, unknown or missing invite, a taken username and a short password', async () => {
    const reg = (body: object) => api('/register', { method: 'POST', body: JSON.stringify(body) });
    const used = await reg({ username: 'eve', password: 'password-123', inviteCode: svc.adminInvite });
    expect(used.status).toBe(409);
    expect((await used.json()).error).toEqual({
      code: 409,
      reason: 'ERR_INVITE_ALREADY_USED',
      details: expect.any(String)
    });
    expect((await reg({ username: 'eve', password: 'password-123', inviteCode: 'nope' })).status).toBe(404);
    expect((await reg({ username: 'eve', password: 'password-123' })).status).toBe(400);

    const code = (await (await api('/admin/invite/inv-1', { method: 'POST', token: admin.session })).json())
      .code;
    expect(code).toBe('inv-1');
    expect((await reg({ username: 'ADMIN', password: 'password-123', inviteCode: code })).status).toBe(409);
    const short = await reg({ username: 'eve', password: 'short', inviteCode: code });
    expect(short.status).toBe(400);
    expect((await short.json()).error.reason).toBe('ERR_INVALID_PASSWORD');
    const unknownField = await reg({ username: 'eve', password: 'password-123', inviteCode: code, extra: 1 });
    expect(unknownField.status).toBe(400);
    expect((await unknownField.json()).error.details).toContain('extra');
    const badJson = await api('/register', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"user'
    });
    expect(badJson.status).toBe(400);
    // None of those claimed the invite.
    expect((await reg({ username: 'eve', password: 'password-123', inviteCode: code })).status).toBe(200);
  });

  it('logs in with the password and refuses a wrong one', async () => {
    const ok = await api('/login', {
      method: 'POST',
      body: JSON.stringify({ username: 'admin', password: 'correct horse battery staple' })
    });
    expect(ok.status).toBe(200);
    const { token, expiry } = await ok.json();
    expect(token).toMatch(/^EST[0-9a-f-]{36}ARY$/);
    expect(Date.parse(expiry)).toBeGreaterThan(Date.now());
    const bad = await api('/login', {
      method: 'POST',
      body: JSON.stringify({ username: 'admin', password: 'wrong password' })
    });
    expect(bad.status).toBe(403);
    const nobody = await api('/login', {
      method: 'POST',
      body: JSON.stringify({ username: 'nobody', password: 'wrong password' })
    });
    expect(nobody.status).toBe(403);
  });

  it('creates, lists (hash only) and revokes API keys with Estuary fields', async () => {
    const created = await (
      await api('/user/api-keys?label=ci&expiry=1h', { method: 'POST', token: admin.session })
    ).json();
    expect(created).toMatchObject({
      label: 'ci',
      isSession: false,
      token: expect.stringMatching(/^EST[0-9a-f-]{36}ARY$/)
    });
    expect(Math.abs(Date.parse(created.expiry) - Date.now() - 3_600_000)).toBeLessThan(60_000);

    const never = await (
      await api('/user/api-keys?expiry=false', { method: 'POST', token: admin.session })
    ).json();
    expect(Date.parse(never.expiry)).toBeGreaterThan(Date.now() + 50 * 365 * 86_400_000);

    const list = await (await api('/user/api-keys', { token: admin.session })).json();
    const listed = list.find((k: { tokenHash: string }) => k.tokenHash === created.tokenHash);
    expect(listed).toMatchObject({ token: '', label: 'ci', isSession: false });
    expect(JSON.stringify(list)).not.toContain(created.token);

    expect((await api('/viewer', { token: created.token })).status).toBe(200);
    expect(
      (await api(`/user/api-keys/${created.tokenHash}`, { method: 'DELETE', token: admin.session })).status
    ).toBe(200);
    const revoked = await api('/viewer', { token: created.token });
    expect(revoked.status).toBe(401);
    expect((await revoked.json()).error.reason).toBe('ERR_INVALID_TOKEN');
    // Revoking by the key itself works too.
    expect(
      (await api(`/user/api-keys/${never.token}`, { method: 'DELETE', token: admin.session })).status
    ).toBe(200);
    expect((await api('/user/api-keys?expiry=soon', { method: 'POST', token: admin.session })).status).toBe(
      400
    );
    expect((await api('/user/api-keys?perms=root', { method: 'POST', token: admin.session })).status).toBe(
      400
    );
  });

  it('answers missing, malformed, wrong-scheme and expired credentials with 401 and the envelope', async () => {
    const none = await api('/content/list');
    expect(none.status).toBe(401);
    expect(await none.json()).toEqual({
      error: { code: 401, reason: 'ERR_AUTH_MISSING', details: expect.any(String) }
    });
    expect((await (await api('/content/list', { token: 'ESTnotauuidARY' })).json()).error.reason).toBe(
      'ERR_INVALID_TOKEN'
    );
    const basic = await api('/content/list', { headers: { authorization: 'Basic abc' } });
    expect(basic.status).toBe(401);
    expect((await basic.json()).error.reason).toBe('ERR_AUTH_MISSING_BEARER');

    const short = await (
      await api('/user/api-keys?expiry=1s', { method: 'POST', token: admin.session })
    ).json();
    await new Promise((r) => setTimeout(r, 1100));
    const expired = await api('/viewer', { token: short.token });
    expect(expired.status).toBe(401);
    expect((await expired.json()).error.reason).toBe('ERR_TOKEN_EXPIRED');
  });

  it('keeps upload-only keys to upload routes and admins to admin routes', async () => {
    const up = await (
      await api('/user/api-keys?perms=upload', { method: 'POST', token: admin.session })
    ).json();
    expect((await api('/viewer', { token: up.token })).status).toBe(200);
    const form = new FormData();
    form.set('data', new Blob(['upload-only works\n']), 'u.txt');
    expect((await api('/content/add', { method: 'POST', body: form, token: up.token })).status).toBe(200);
    const denied = await api('/content/list', { token: up.token });
    expect(denied.status).toBe(403);
    expect((await denied.json()).error).toMatchObject({ code: 403, reason: 'ERR_NOT_AUTHORIZED' });
    expect((await api('/admin/users', { token: up.token })).status).toBe(403);

    const invite = (
      await (await api('/admin/invite/for-bob', { method: 'POST', token: admin.session })).json()
    ).code;
    const bob = await registerUser(svc.apiUrl, invite, 'bob');
    expect((await api('/admin/users', { token: bob.apiKey })).status).toBe(403);
    expect((await api('/admin/invite/x', { method: 'POST', token: bob.apiKey })).status).toBe(403);

    const users = await (await api('/admin/users', { token: admin.apiKey })).json();
    expect(users.map((u: { username: string }) => u.username)).toEqual(
      expect.arrayContaining(['admin', 'bob'])
    );
    const invites = await (await api('/admin/invites', { token: admin.apiKey })).json();
    expect(invites.find((i: { code: string }) => i.code === 'for-bob')).toMatchObject({
      createdBy: 'admin',
      claimedBy: 'bob',
      admin: false
    });
  });

  it('makes an admin from an admin invite', async () => {
    const code = (
      await (
        await api('/admin/invite/admin-2', {
          method: 'POST',
          token: admin.session,
          body: JSON.stringify({ admin: true })
        })
      ).json()
    ).code;
    const second = await registerUser(svc.apiUrl, code, 'second-admin');
    expect((await (await api('/viewer', { token: second.apiKey })).json()).perms).toBe(10);
  });
});
