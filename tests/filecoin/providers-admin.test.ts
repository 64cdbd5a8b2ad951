// The admin's provider list against a real chain (the in-process devnet behind Lotus JSON-RPC): only
// storage providers the chain knows are listed, anything else gets a clear 4xx and is not written;
// a removal shows in the very next listing.
/* eslint-disable @typescript-eslint/no-explicit-any -- JSON answers are checked by value */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiFetch, devnetEnv, lotusCall } from '../helpers/devnet.ts';
import { registerUser, startTestService, type TestService } from '../helpers/service.ts';

describe('admin provider list on the devnet', () => {
  let svc: TestService;
  let adminKey: string;
  const api = apiFetch(
    () => svc.apiUrl,
    () => adminKey
  );
  const listed = async (path = '/admin/miners'): Promise<string[]> => {
    const res = await api(path);
    expect(res.status).toBe(200);
    return ((await res.json()) as Array<{ addr: string }>).map((m) => m.addr);
  };

  beforeAll(async () => {
    svc = await startTestService({ env: devnetEnv(2) });
    ({ apiKey: adminKey } = await registerUser(svc.apiUrl, svc.adminInvite, 'operator'));
  }, 120_000);
  afterAll(() => svc?.stop());

  it('refuses a provider the chain does not have, and an actor that is no storage provider', async () => {
    const before = await listed();
    expect(before).toHaveLength(2);
    const wallet = svc.node.filecoinClient!.wallet.address;
    const account = await lotusCall<string>(svc.node.filecoin.lotusUrl!, 'StateLookupID', [wallet, null]);
    for (const miner of ['t099999', account]) {
      const res = await api(`/admin/miners/add/${miner}`, { method: 'POST' });
      const body = (await res.json()) as any;
      expect({ miner, status: res.status, reason: body.error?.reason }).toEqual({
        miner,
        status: 404,
        reason: 'ERR_MINER_NOT_ON_CHAIN'
      });
      expect(body.error.details).toMatch(/not a storage provider on chain/);
    }
    expect(await listed()).toEqual(before);
    expect(await listed('/public/miners')).toEqual(before);
  });

  it('shows a removal in the next listing, and adds back a provider the chain has', async () => {
    const [first, second] = await listed();
    const rm = await api(`/admin/miners/rm/${first}`, { method: 'POST' });
    expect(rm.status).toBe(200);
    expect(await listed()).toEqual([second]);
    expect(await listed('/public/miners')).toEqual([second]);

    const added = await api(`/admin/miners/add/${first}`, { method: 'POST' });
    expect(added.status).toBe(200);
    const body = (await added.json()) as any;
    const provider = svc.node.filecoin.devnetProviders.find((p) => p.actorId.slice(1) === first!.slice(1))!;
    expect(body).toMatchObject({ addr: first, suspended: false, chain_info: { peerId: provider.peerId } });
    expect(body.chain_info.addresses.length).toBeGreaterThan(0);
    expect(await listed()).toEqual([first, second]);
  });
});
