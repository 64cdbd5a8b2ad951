// Estuary's admin wallet routes over real HTTP: with no Filecoin network they answer 503; with a
// Lotus endpoint (FIRTH_LOTUS_URL → a lotus-gateway stand-in on loopback) they give the address,
// balances and AddBalance, to admins only, and refuse bad amounts with 400.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FIL } from '../../filecoin/chain/escrow.ts';
import { parseFil } from '../../gateway/api/admin-wallet.ts';
import { registerUser, startTestService, type TestService } from '../helpers/service.ts';
import { FakeLotus } from './fake-lotus.ts';

const KEY_HEX = Buffer.from(
  JSON.stringify({ Type: 'secp256k1', PrivateKey: 'LzjsZEXCy6tDWAxcFiu76IRQwHkohWvsVK1T+2Q5NfY=' })
).toString('hex');

describe('parseFil', () => {
  it('reads FIL as Estuary did', () => {
    expect(parseFil('1')).toBe(FIL);
    expect(parseFil('1.5')).toBe((3n * FIL) / 2n);
    expect(parseFil('0.000000000000000001')).toBe(1n);
    expect(parseFil('2 FIL')).toBe(2n * FIL);
    expect(parseFil('1500 attofil')).toBe(1500n);
    for (const bad of ['', 'abc', '-1', '0', '1.0000000000000000001', '1e3', '1.5 attofil']) {
      expect(() => parseFil(bad), bad).toThrow();
    }
  });
});

describe('admin wallet routes without Filecoin', () => {
  let svc: TestService;
  let admin: string;
  beforeAll(async () => {
    svc = await startTestService();
    admin = (await registerUser(svc.apiUrl, svc.adminInvite, 'admin')).apiKey;
  });
  afterAll(() => svc.stop());

  it('answer 503 "Filecoin is not configured" to an admin', async () => {
    for (const [method, url] of [
      ['GET', '/api/admin/fil-address'],
      ['GET', '/api/admin/balance'],
      ['POST', '/api/admin/add-escrow/1']
    ] as const) {
      const res = await fetch(svc.apiUrl + url, { method, headers: { authorization: `Bearer ${admin}` } });
      expect(res.status, url).toBe(503);
      expect(await res.json()).toMatchObject({ error: { code: 503, details: 'Filecoin is not configured' } });
    }
  });

  it('need an admin key', async () => {
    expect((await fetch(svc.apiUrl + '/api/admin/fil-address')).status).toBe(401);
  });
});

describe('admin wallet routes with a Lotus endpoint', () => {
  const lotus = new FakeLotus();
  let svc: TestService;
  let admin: string;
  let user: string;
  beforeAll(async () => {
    await lotus.start();
    svc = await startTestService({ env: { FIRTH_LOTUS_URL: lotus.url, FIRTH_WALLET_KEY: KEY_HEX } });
    admin = (await registerUser(svc.apiUrl, svc.adminInvite, 'admin')).apiKey;
    const invite = await svc.node.accounts.createInvite({});
    user = (await registerUser(svc.apiUrl, invite, 'someone')).apiKey;
  });
  afterAll(async () => {
    await svc.stop();
    await lotus.stop();
  });
  const get = (url: string, key = admin) =>
    fetch(svc.apiUrl + url, { headers: { authorization: `Bearer ${key}` } });
  const post = (url: string, key = admin) =>
    fetch(svc.apiUrl + url, { method: 'POST', headers: { authorization: `Bearer ${key}` } });

  it('GET /api/admin/fil-address is the wallet address as a JSON string (t-prefix off mainnet)', async () => {
    const res = await get('/api/admin/fil-address');
    expect(res.status).toBe(200);
    expect(await res.json()).toBe('t1drv36h2ldc4xzhjfiwicxsq6rgkl6z5vhit2roq');
    expect((await get('/api/admin/fil-address', user)).status).toBe(403);
  });

  it('GET /api/admin/balance gives attoFIL strings', async () => {
    lotus.escrow = 5n * FIL;
    lotus.locked = 2n * FIL;
    const res = await get('/api/admin/balance');
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({
      account: 't1drv36h2ldc4xzhjfiwicxsq6rgkl6z5vhit2roq',
      balance: (100n * FIL).toString(),
      marketEscrow: (5n * FIL).toString(),
      marketLocked: (2n * FIL).toString(),
      marketAvailable: (3n * FIL).toString(),
      verifiedClientBalance: null,
      alert: null
    });
  });

  it('POST /api/admin/add-escrow/:amt sends AddBalance; bad amounts are 400', async () => {
    const res = await post('/api/admin/add-escrow/1.5');
    expect(res.status).toBe(200);
    const body = (await res.json()) as { MsgCid: { '/': string } };
    expect(body.MsgCid['/']).toMatch(/^bafy2bza/);
    const pushed = lotus.pushed.at(-1);
    expect(pushed).toMatchObject({ method: 2, value: (3n * FIL) / 2n, cid: body.MsgCid['/'] });

    for (const bad of ['abc', '0', '-1', '1e5']) {
      const r = await post(`/api/admin/add-escrow/${bad}`);
      expect(r.status, bad).toBe(400);
      expect(await r.json()).toMatchObject({ error: { code: 400 } });
    }
    const tooMuch = await post('/api/admin/add-escrow/1000');
    expect(tooMuch.status).toBe(400);
    expect((await post('/api/admin/add-escrow/1', user)).status).toBe(403);
  });
});
