// Bandwidth on a service running the in-process devnet: what crosses the service's boundary is
// counted, on the right channel, content and user. An upload of N bytes that goes on to its deals
// shows about N bytes in, all the uploader's; the providers pulling deal data count as
// deal-transfer-out, and the devnet's own traffic among its providers counts nowhere.
/* eslint-disable @typescript-eslint/no-explicit-any -- JSON answers are checked by value */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deterministicBytes } from '../helpers/bytes.ts';
import { apiFetch, devnetEnv, uploadContent } from '../helpers/devnet.ts';
import { registerUser, startTestService, type TestService } from '../helpers/service.ts';

describe('bandwidth on a devnet-enabled service', () => {
  let svc: TestService;
  let adminKey: string;
  let userKey: string;
  let userId: number;
  let contentId = 0;
  let contentCid = '';
  let uploaded = 0;
  const asAdmin = apiFetch(
    () => svc.apiUrl,
    () => adminKey
  );
  const asUser = apiFetch(
    () => svc.apiUrl,
    () => userKey
  );
  const setFaults = async (actorId: string, faults: Record<string, unknown>) => {
    const res = await fetch(`${svc.node.filecoin.devnetAdminUrl}/admin/providers/${actorId}/faults`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(faults)
    });
    expect(res.status).toBe(200);
  };
  const json = async (res: Promise<Response>): Promise<any> => {
    const r = await res;
    const text = await r.text();
    expect(r.status, text).toBe(200);
    return JSON.parse(text);
  };

  beforeAll(async () => {
    svc = await startTestService({
      env: devnetEnv(6, { FIRTH_AGGREGATE_MAX_WAIT: '1', FIRTH_BANDWIDTH_FLUSH_MS: '60000' })
    });
    ({ apiKey: adminKey } = await registerUser(svc.apiUrl, svc.adminInvite, 'admin'));
    await json(asAdmin('/admin/invite/uploader-invite', { method: 'POST' }));
    ({ apiKey: userKey } = await registerUser(svc.apiUrl, 'uploader-invite', 'uploader'));
    userId = (await json(asUser('/viewer'))).id;
  }, 120_000);
  afterAll(() => svc?.stop());

  it('counts an upload that reaches its deals once, for its uploader', async () => {
    const size = 3 * 1024 * 1024 + 4321;
    uploaded = size;
    const { estuaryId, cid } = await uploadContent(
      asUser,
      'deal-me.bin',
      deterministicBytes('bw-devnet', size)
    );
    const deadline = Date.now() + 100_000;
    let summary: any;
    while (Date.now() < deadline) {
      summary = (await json(asUser(`/content/status/${estuaryId}`))).summary;
      if (summary.active >= summary.target) break;
      await new Promise((r) => setTimeout(r, 500));
    }
    expect(summary.active).toBeGreaterThanOrEqual(summary.target);
    await svc.node.tracking.meter.flush();

    const pub = await json(fetch(`${svc.apiUrl}/api/public/stats`));
    const byChannel = pub.bandwidth.byChannel as Record<string, { bytes: number }>;
    expect(byChannel['http-upload']!.bytes).toBe(size);
    // Bytes in: the upload, not the devnet's deal and retrieval traffic.
    expect(pub.bandwidth.totalIn, JSON.stringify(byChannel)).toBeLessThanOrEqual(size * 1.01);
    expect(pub.bandwidth.totalIn).toBeGreaterThanOrEqual(size);
    // Six providers each pulled the piece's payload (a CAR a little larger than the file).
    expect(byChannel['deal-transfer-out']!.bytes).toBeGreaterThanOrEqual(6 * size);

    const byUser = await json(asAdmin('/admin/stats/bandwidth/breakdown?by=user'));
    const mine = byUser.rows.find((r: any) => Number(r.key) === userId);
    expect(mine.bytesIn).toBe(size);
    const nobody = byUser.rows.find((r: any) => Number(r.key) === 0 || r.key === '' || r.key == null);
    expect(nobody?.bytesIn ?? 0, JSON.stringify(byUser.rows)).toBe(0);
    const usage = await json(asUser(`/content/bw-usage/${estuaryId}`));
    expect(usage.totalIn).toBe(size);
    contentId = estuaryId;
    contentCid = cid;
  }, 150_000);

  it("counts a retrieval over bitswap as the content's retrieval-in, never as a user's bitswap-in", async () => {
    // The node drops the content's blocks (its deals hold it); the providers serve bitswap only, so
    // the gateway's read retrieves it over bitswap (before: every provider holding the piece sent
    // every block, 6x the content counted as bitswap-in with no user).
    const channels = async (): Promise<Record<string, number>> => {
      const rows = (await json(asAdmin('/admin/stats/bandwidth/breakdown?by=channel'))).rows;
      return Object.fromEntries(rows.map((r: any) => [r.key, r.bytesIn + r.bytesOut]));
    };
    const before = await channels();
    await json(asAdmin(`/admin/cm/offload/${contentId}`, { method: 'POST' }));
    for (const p of svc.node.filecoin.devnetProviders)
      await setFaults(p.actorId, { refuseHttpRetrievals: true });
    try {
      const res = await fetch(`${svc.gatewayUrl}/ipfs/${contentCid}`);
      expect(res.status).toBe(200);
      expect((await res.arrayBuffer()).byteLength).toBe(uploaded);
    } finally {
      for (const p of svc.node.filecoin.devnetProviders)
        await setFaults(p.actorId, { refuseHttpRetrievals: false });
    }
    await new Promise((r) => setTimeout(r, 1000)); // copies from the other providers still on the way
    await svc.node.tracking.meter.flush();

    const after = await channels();
    const grew = (channel: string) => (after[channel] ?? 0) - (before[channel] ?? 0);
    expect(grew('bitswap-in')).toBe(0);
    expect(grew('retrieval-in')).toBeGreaterThanOrEqual(uploaded);
    // Once: the retrieval asks its provider only, not every connected provider holding the piece.
    expect(grew('retrieval-in')).toBeLessThanOrEqual(uploaded * 1.01);
    const byPeer = await json(asAdmin('/admin/stats/bandwidth/breakdown?by=peer'));
    const peerIds = new Set(svc.node.filecoin.devnetProviders.map((p) => p.peerId));
    for (const row of byPeer.rows) {
      expect(peerIds.has(row.key), `a provider's peer ID in ${JSON.stringify(row)}`).toBe(false);
    }
    // Retrieved bytes are the content's and its owner's; nothing is left without a user.
    const usage = await json(asUser(`/content/bw-usage/${contentId}`));
    expect(usage.byChannel['retrieval-in'].bytes).toBeGreaterThanOrEqual(uploaded);
    expect(usage.byChannel['bitswap-in']?.bytes ?? 0).toBe(0);
    const byUser = await json(asAdmin('/admin/stats/bandwidth/breakdown?by=user'));
    const nobody = byUser.rows.find((r: any) => Number(r.key) === 0 || r.key === '' || r.key == null);
    expect(nobody?.bytesIn ?? 0, JSON.stringify(byUser.rows)).toBe(0);
  }, 90_000);
});
