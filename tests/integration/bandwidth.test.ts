// Bandwidth tracking, scripted: bytes moved over HTTP upload, the gateway (file and CAR), bitswap in
// (a pin fetched from a peer) and bitswap out (a peer fetching from us) are recorded per channel,
// content, user and peer, flushed to the database, and match the bytes actually moved within 1 %;
// on SQLite and PostgreSQL. Bad ranges and unknown contents get 400/404.
import { unixfs } from '@helia/unixfs';
import { multiaddr } from '@multiformats/multiaddr';
import { CID } from 'multiformats/cid';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deterministicBytes } from '../helpers/bytes.ts';
import { DATABASES, serviceDatabase } from '../helpers/databases.ts';
import { concatBytes, createTestNode, dagBlockCids, type TestNode } from '../helpers/helia-node.ts';
import { registerUser, startTestService, type TestService } from '../helpers/service.ts';

interface Usage {
  totalIn: number;
  totalOut: number;
  byChannel: Record<string, { bytes: number; events: number }>;
}

/** Bytes of every block of a UnixFS DAG the node holds. */
async function dagBytes(node: TestNode, root: CID): Promise<number> {
  let n = 0;
  for (const cid of await dagBlockCids(root, node.blockstore))
    n += (await concatBytes(node.blockstore.get(cid))).byteLength;
  return n;
}

const within1pct = (actual: number, expected: number) => {
  expect(expected).toBeGreaterThan(0);
  expect(Math.abs(actual - expected) / expected, `${actual} vs ${expected}`).toBeLessThanOrEqual(0.01);
};

describe.each(DATABASES)('bandwidth tracking on %s', (kind) => {
  let svc: TestService;
  let drop: () => Promise<void>;
  let alice: string;
  let bob: string;
  let aliceId: number;
  let node: TestNode | undefined;
  const moved = { upload: 0, gateway: 0, car: 0, bitswapIn: 0, bitswapOut: 0 };
  let fileId = 0;
  let fileCid = '';
  let pinId = 0;

  const api = (path: string, key: string, init: RequestInit = {}) =>
    fetch(`${svc.apiUrl}/api${path}`, {
      ...init,
      headers: { authorization: `Bearer ${key}`, ...init.headers }
    });
  const json = async <T>(res: Response | Promise<Response>): Promise<T> => {
    const r = await res;
    const text = await r.text();
    expect(r.status, text).toBe(200);
    return JSON.parse(text) as T;
  };

  beforeAll(async () => {
    const db = await serviceDatabase(kind);
    drop = db.drop;
    svc = await startTestService({ databaseUrl: db.databaseUrl, env: { FIRTH_BANDWIDTH_FLUSH_MS: '60000' } });
    alice = (await registerUser(svc.apiUrl, svc.adminInvite, 'alice')).apiKey;
    const code = `bob-invite-${kind}`;
    await json(api(`/admin/invite/${code}`, alice, { method: 'POST' }));
    bob = (await registerUser(svc.apiUrl, code, 'bob')).apiKey;
    aliceId = (await json<{ id: number }>(api('/viewer', alice))).id;
  }, 60_000);

  afterAll(async () => {
    await node?.stop();
    await svc?.stop();
    await drop?.();
  });

  it('counts an HTTP upload, gateway reads and a CAR export per channel, content and user', async () => {
    const bytes = deterministicBytes(`bw-${kind}`, 3 * 1024 * 1024 + 12345);
    const form = new FormData();
    form.append('data', new Blob([new Uint8Array(bytes)]), 'bw.bin');
    const added = await json<{ cid: string; estuaryId: number }>(
      api('/content/add', alice, { method: 'POST', body: form })
    );
    moved.upload += bytes.byteLength;
    fileId = added.estuaryId;
    fileCid = added.cid;

    // Twice the whole file from the gateway, once a range, once the CAR.
    for (let i = 0; i < 2; i++) {
      const res = await fetch(`${svc.gatewayUrl}/ipfs/${fileCid}`);
      expect(res.status).toBe(200);
      moved.gateway += (await res.arrayBuffer()).byteLength;
    }
    const ranged = await fetch(`${svc.gatewayUrl}/ipfs/${fileCid}`, { headers: { range: 'bytes=0-99999' } });
    expect(ranged.status).toBe(206);
    moved.gateway += (await ranged.arrayBuffer()).byteLength;
    const car = await fetch(`${svc.gatewayUrl}/ipfs/${fileCid}?format=car`);
    expect(car.status).toBe(200);
    moved.car += (await car.arrayBuffer()).byteLength;

    await svc.node.tracking.meter.flush();
    const usage = await json<Usage & { content: number }>(api(`/content/bw-usage/${fileId}`, alice));
    expect(usage.content).toBe(fileId);
    within1pct(usage.byChannel['http-upload']!.bytes, moved.upload);
    within1pct(usage.byChannel['gateway-out']!.bytes, moved.gateway + moved.car);
    expect(usage.byChannel['gateway-out']!.events).toBe(4);
    within1pct(usage.totalOut, moved.gateway + moved.car);
    // By CID too.
    const byCid = await json<Usage>(api(`/content/bw-usage/${fileCid}`, alice));
    expect(byCid.totalOut).toBe(usage.totalOut);
  });

  it('counts bitswap out per peer and bitswap in per content, user and peer', async () => {
    node = await createTestNode({ listen: true });
    const addrs = await json<{ id: string; addresses: string[] }>(
      fetch(`${svc.apiUrl}/api/public/net/addrs`)
    );
    const tcp = addrs.addresses.find((a) => a.includes('/tcp/') && !a.includes('/ws'))!;
    await node.libp2p.dial(multiaddr(tcp));

    // Out: the peer fetches the uploaded file from us over bitswap.
    const fetched = await concatBytes(
      unixfs(node).cat(CID.parse(fileCid), { signal: AbortSignal.timeout(30_000) })
    );
    moved.bitswapOut = await dagBytes(node, CID.parse(fileCid));
    expect(fetched.byteLength).toBeGreaterThan(3 * 1024 * 1024);

    // In: the peer adds new content and we pin it from there.
    const fresh = deterministicBytes(`bw-in-${kind}`, 2 * 1024 * 1024 + 777);
    const root = await unixfs(node).addBytes(fresh);
    moved.bitswapIn = await dagBytes(node, root);
    const origins = node.libp2p.getMultiaddrs().map((a) => a.toString());
    const pin = await api('/pinning/pins', alice, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ cid: root.toString(), name: 'from-peer', origins })
    });
    expect(pin.status).toBe(202);
    const deadline = Date.now() + 30_000;
    let status = '';
    while (Date.now() < deadline && status !== 'pinned') {
      const list = await json<{ results: Array<{ status: string; pin: { cid: string } }> }>(
        api(`/pinning/pins?cid=${root.toString()}`, alice)
      );
      status = list.results[0]?.status ?? '';
      if (status !== 'pinned') await new Promise((r) => setTimeout(r, 200));
    }
    expect(status).toBe('pinned');
    const mine = await json<Array<{ content: { id: number } }>>(
      api(`/content/by-cid/${root.toString()}`, alice)
    );
    pinId = mine[0]!.content.id;

    await svc.node.tracking.meter.flush();
    const peerId = node.libp2p.peerId.toString();
    const breakdown = await json<{ rows: Array<{ key: string; bytesIn: number; bytesOut: number }> }>(
      api('/admin/stats/bandwidth/breakdown?by=peer', alice)
    );
    const row = breakdown.rows.find((r) => r.key === peerId);
    expect(row).toBeDefined();
    within1pct(row!.bytesOut, moved.bitswapOut);
    within1pct(row!.bytesIn, moved.bitswapIn);
    const pinUsage = await json<Usage>(api(`/content/bw-usage/${pinId}`, alice));
    within1pct(pinUsage.byChannel['bitswap-in']!.bytes, moved.bitswapIn);
  }, 60_000);

  it('sums per user, in public totals, in series and in the admin breakdown', async () => {
    const stats = await json<{ totalSize: number; numPins: number; bandwidth: Usage }>(
      api('/user/stats', alice)
    );
    expect(stats.numPins).toBeGreaterThanOrEqual(2);
    within1pct(stats.bandwidth.byChannel['http-upload']!.bytes, moved.upload);
    within1pct(stats.bandwidth.byChannel['gateway-out']!.bytes, moved.gateway + moved.car);
    within1pct(stats.bandwidth.byChannel['bitswap-in']!.bytes, moved.bitswapIn);

    const pub = await json<{ totalUsers: number; totalFilesStored: number; bandwidth: Usage }>(
      fetch(`${svc.apiUrl}/api/public/stats`)
    );
    expect(pub.totalFilesStored).toBeGreaterThanOrEqual(2);
    within1pct(pub.bandwidth.byChannel['http-upload']!.bytes, moved.upload);
    within1pct(pub.bandwidth.byChannel['gateway-out']!.bytes, moved.gateway + moved.car);
    within1pct(pub.bandwidth.byChannel['bitswap-out']!.bytes, moved.bitswapOut);
    within1pct(pub.bandwidth.totalIn, moved.upload + moved.bitswapIn);

    const series = await json<{ t: number[]; series: Record<string, number[]> }>(
      api('/user/stats/bandwidth?step=minute&from=' + (Date.now() - 3600_000), alice)
    );
    // 60 minutes, plus the partial minute the range starts in.
    expect([60, 61]).toContain(series.t.length);
    const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
    within1pct(sum(series.series['http-upload']!), moved.upload);
    const hourly = await json<{ t: number[]; series: Record<string, number[]> }>(
      api('/admin/stats/bandwidth?step=hour', alice)
    );
    within1pct(sum(hourly.series['gateway-out']!), moved.gateway + moved.car);

    const byUser = await json<{ rows: Array<{ key: string; label: string; bytesIn: number }> }>(
      api('/admin/stats/bandwidth/breakdown?by=user', alice)
    );
    const aliceRow = byUser.rows.find((r) => Number(r.key) === aliceId)!;
    expect(aliceRow.label).toBe('alice');
    within1pct(aliceRow.bytesIn, moved.upload + moved.bitswapIn);

    const metrics = await fetch(`${svc.apiUrl}/metrics`);
    expect(metrics.status).toBe(200);
    const text = await metrics.text();
    const upload = /firth_bandwidth_bytes_total\{channel="http-upload"\} (\d+)/.exec(text);
    expect(Number(upload?.[1])).toBe(moved.upload);
    expect(text).toMatch(
      /firth_http_requests_total\{route="\/api\/content\/add",method="POST",status="200"\} 1/
    );
    expect(text).toMatch(/firth_gateway_responses_total\{status="2xx"\} 4/);
    expect(text).toMatch(/firth_bitswap_blocks_total\{direction="out"\} \d+/);
    expect(text).toMatch(/firth_queue_depth|firth_deals/);
  });

  it('refuses absurd ranges, other users and unknown contents with 400/404', async () => {
    const status = async (path: string, key = alice) => (await api(path, key)).status;
    expect(await status('/user/stats/bandwidth?from=20&to=10')).toBe(400);
    expect(await status('/user/stats/bandwidth?from=0')).toBe(400);
    expect(await status('/user/stats/bandwidth?from=yesterday')).toBe(400);
    expect(await status(`/user/stats/bandwidth?to=${Date.now() + 10 * 86_400_000}`)).toBe(400);
    expect(await status(`/user/stats/bandwidth?step=minute&from=${Date.now() - 30 * 86_400_000}`)).toBe(400);
    expect(await status(`/user/stats/bandwidth?step=hour&from=${Date.UTC(2021, 0, 1)}`)).toBe(400);
    expect(await status('/user/stats/bandwidth?step=week')).toBe(400);
    expect(await status('/admin/stats/bandwidth/breakdown?by=planet')).toBe(400);
    expect(await status('/admin/stats/bandwidth/breakdown?limit=100000')).toBe(400);
    expect(await status('/content/bw-usage/999999')).toBe(404);
    expect(await status('/content/bw-usage/not-a-cid')).toBe(400);
    expect(
      await status('/content/bw-usage/bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy')
    ).toBe(404);
    expect(await status(`/content/bw-usage/${fileId}`, bob)).toBe(404);
    expect((await fetch(`${svc.apiUrl}/api/public/stats/deals?from=5&to=1`)).status).toBe(400);
    expect((await fetch(`${svc.apiUrl}/api/public/stats/deals?step=minute`)).status).toBe(400);
  });
});
