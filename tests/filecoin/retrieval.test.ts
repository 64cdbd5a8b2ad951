// Case B retrieval and offloading on the in-process devnet: content reaches its 6 active deals, is
// offloaded (local blocks dropped, shared ones kept), and a gateway read fetches it back from a
// provider — verified block by block, pinned again, recorded with its provider; a corrupting
// provider is detected and the next one used; concurrent reads share one retrieval; a slow
// provider gives 504 + Retry-After while the retrieval carries on; providers serving no HTTP are
// reached over bitswap; a bitswap peer wanting a dropped block starts the retrieval itself.
import * as dagPb from '@ipld/dag-pb';
import { CID } from 'multiformats/cid';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createOffloader } from '../../filecoin/offload/index.ts';
import { BlockLock } from '../../server/content/block-lock.ts';
import { deterministicBytes } from '../helpers/bytes.ts';
import { apiFetch, devnetEnv, uploadContent } from '../helpers/devnet.ts';
import { DATABASES, serviceDatabase } from '../helpers/databases.ts';
import { concatBytes, createTestNode } from '../helpers/helia-node.ts';
import { registerUser, startTestService, type TestService } from '../helpers/service.ts';

interface Stats {
  attempts: number;
  succeeded: number;
  failed: number;
  recent: Array<{
    id: number;
    contentId: number;
    provider: string;
    transport: string;
    state: string;
    bytes: number;
    blocks: number;
    error: string;
  }>;
}

const MiB = 1024 * 1024;

describe.each(DATABASES)('Case B retrieval and offloading on the devnet (%s)', (kind) => {
  let svc: TestService;
  let dropDatabase: (() => Promise<void>) | undefined;
  let apiKey: string;
  const api = apiFetch(
    () => svc.apiUrl,
    () => apiKey
  );
  const upload = async (name: string, bytes: Uint8Array) => {
    const body = await uploadContent(api, name, bytes);
    return { cid: body.cid, id: body.estuaryId, bytes };
  };
  const waitActive = async (id: number, timeoutMs = 90_000) => {
    const deadline = Date.now() + timeoutMs;
    let last: unknown;
    while (Date.now() < deadline) {
      const body = (await (await api(`/content/status/${id}`)).json()) as {
        summary: { target: number; active: number };
      };
      last = body.summary;
      if (body.summary.active >= body.summary.target) return;
      await new Promise((r) => setTimeout(r, 500));
    }
    throw new Error(`content ${id} did not reach its target: ${JSON.stringify(last)}`);
  };
  const offload = (id: number | string) => api(`/admin/cm/offload/${id}`, { method: 'POST' });
  const stats = async (): Promise<Stats> => (await (await api('/admin/retrieval/stats')).json()) as Stats;
  const held = (cid: string) => svc.node.blockstore.has(CID.parse(cid));
  const gatewayGet = async (cid: string) => {
    const res = await fetch(`${svc.gatewayUrl}/ipfs/${cid}`);
    return { res, bytes: new Uint8Array(await res.arrayBuffer()) };
  };
  const setFaults = async (provider: string, faults: Record<string, unknown>) => {
    const actor = Number(provider.replace(/^[ft]0/, ''));
    const p = svc.node.filecoin.devnetProviders.find(
      (d) => Number(d.actorId.replace(/^[ft]0/, '')) === actor
    );
    const res = await fetch(`${svc.node.filecoin.devnetAdminUrl}/admin/providers/${p!.actorId}/faults`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(faults)
    });
    expect(res.status).toBe(200);
  };
  const attemptsFor = async (contentId: number, afterId: number) =>
    (await stats()).recent.filter((r) => r.contentId === contentId && r.id > afterId).reverse();
  // The gateway streams blocks as they are verified; the re-pin (disk writes, the record) ends just after.
  const repinned = async (id: number) => {
    const deadline = Date.now() + 20_000;
    while (Date.now() < deadline) {
      const c = (await (await api(`/content/${id}`)).json()) as { offloaded: boolean };
      if (!c.offloaded) return;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`content ${id} is still offloaded`);
  };
  const lastId = async () => (await stats()).recent[0]?.id ?? 0;
  /** A gateway read of offloaded content: identical bytes, pinned again; its retrieval attempts. */
  const readBack = async (c: { id: number; cid: string; bytes: Uint8Array }) => {
    expect(await held(c.cid)).toBe(false);
    const before = await lastId();
    // A retrieval that outlives the 2 s gateway timeout (a loaded machine) answers 504 with
    // Retry-After and carries on: ask again, as a client told so would.
    let { res, bytes } = await gatewayGet(c.cid);
    for (let i = 0; i < 30 && res.status === 504; i++) {
      await new Promise((r) => setTimeout(r, 1000));
      ({ res, bytes } = await gatewayGet(c.cid));
    }
    expect(res.status).toBe(200);
    expect(Buffer.from(bytes).equals(Buffer.from(c.bytes))).toBe(true);
    await repinned(c.id);
    expect(await held(c.cid)).toBe(true);
    return attemptsFor(c.id, before);
  };

  let big: Awaited<ReturnType<typeof upload>>;
  let small: Array<Awaited<ReturnType<typeof upload>>>;
  let firstChoice: string;

  beforeAll(async () => {
    const database = await serviceDatabase(kind);
    dropDatabase = database.drop;
    svc = await startTestService({
      databaseUrl: database.databaseUrl,
      env: devnetEnv(7, { FIRTH_AGGREGATE_MAX_WAIT: '1', FIRTH_GATEWAY_TIMEOUT: '2' })
    });
    ({ apiKey } = await registerUser(svc.apiUrl, svc.adminInvite, 'retriever'));
    big = await upload('big.bin', deterministicBytes('retrieval-big', 3 * MiB));
    small = await Promise.all(
      [1, 2, 3].map((i) => upload(`small-${i}.txt`, deterministicBytes(`retrieval-small-${i}`, 20_000 * i)))
    );
    await Promise.all([big, ...small].map((c) => waitActive(c.id)));
  }, 150_000);
  afterAll(async () => {
    await svc?.stop();
    await dropDatabase?.();
  });

  it('answers clear errors: bad id 400, unknown 404, no credentials 401', async () => {
    expect((await offload('abc')).status).toBe(400);
    expect((await offload(999_999)).status).toBe(404);
    expect((await fetch(`${svc.apiUrl}/api/admin/retrieval/stats`)).status).toBe(401);
  });

  it('offloads content at its target, and a gateway read retrieves it, verified and pinned again', async () => {
    const res = await offload(big.id);
    expect(res.status).toBe(200);
    const body = (await res.json()) as { offloaded: boolean; blocksRemoved: number; activeDeals: number };
    expect(body.offloaded).toBe(true);
    expect(body.activeDeals).toBeGreaterThanOrEqual(6);
    expect(body.blocksRemoved).toBe(4); // root + 3 leaves of 1 MiB
    expect(await held(big.cid)).toBe(false);
    const detail = (await (await api(`/content/${big.id}`)).json()) as {
      offloaded: boolean;
      pinningStatus: string;
    };
    expect(detail).toMatchObject({ offloaded: true, pinningStatus: 'pinned' });
    expect((await offload(big.id)).status).toBe(409);

    const before = await lastId();
    const { res: got, bytes } = await gatewayGet(big.cid);
    expect(got.status).toBe(200);
    expect(Buffer.from(bytes).equals(Buffer.from(big.bytes))).toBe(true);

    await repinned(big.id);
    expect(await held(big.cid)).toBe(true);
    const attempts = await attemptsFor(big.id, before);
    expect(attempts).toHaveLength(1);
    expect(attempts[0]).toMatchObject({ state: 'done', transport: 'http-car', blocks: 4 });
    expect(attempts[0]!.provider).toMatch(/^f0\d+$/);
    firstChoice = attempts[0]!.provider;
    // The read was recorded (the offload policy's clock).
    await svc.node.retrieval!.reads.flush();
    const row = await svc.node.database.db
      .selectFrom('contents')
      .select('last_read_at')
      .where('id', '=', big.id)
      .executeTakeFirstOrThrow();
    expect(row.last_read_at).not.toBeNull();
  }, 60_000);

  it('retrieves an aggregated member by /piece/ Range over its bytes in the aggregate', async () => {
    const member = small[1]!;
    expect((await offload(member.id)).status).toBe(200);
    const attempts = await readBack(member);
    expect(attempts.at(-1)).toMatchObject({ state: 'done', transport: 'http-piece' });
  }, 60_000);

  it('detects a provider serving corrupted blocks and uses the next one', async () => {
    expect((await offload(big.id)).status).toBe(200);
    await setFaults(firstChoice, { corruptRetrievals: true });
    try {
      const before = await lastId();
      const { res, bytes } = await gatewayGet(big.cid);
      expect(res.status).toBe(200);
      expect(Buffer.from(bytes).equals(Buffer.from(big.bytes))).toBe(true);
      await repinned(big.id);
      const attempts = await attemptsFor(big.id, before);
      expect(attempts[0]).toMatchObject({ provider: firstChoice, state: 'failed' });
      expect(attempts[0]!.error).toMatch(/does not hash to its CID/);
      const done = attempts.find((a) => a.state === 'done');
      expect(done).toBeDefined();
      expect(done!.provider).not.toBe(firstChoice);
      expect((await stats()).failed).toBeGreaterThanOrEqual(1);
    } finally {
      await setFaults(firstChoice, {});
    }
  }, 60_000);

  it('shares one retrieval between concurrent reads', async () => {
    expect((await offload(big.id)).status).toBe(200);
    const before = await lastId();
    const reads = await Promise.all([1, 2, 3, 4].map(() => gatewayGet(big.cid)));
    for (const { res, bytes } of reads) {
      expect(res.status).toBe(200);
      expect(Buffer.from(bytes).equals(Buffer.from(big.bytes))).toBe(true);
    }
    await repinned(big.id);
    const attempts = await attemptsFor(big.id, before);
    expect(attempts.filter((a) => a.state === 'done')).toHaveLength(1);
    expect(attempts).toHaveLength(1);
  }, 60_000);

  it('answers 504 with Retry-After when retrieval outlives the gateway timeout, then serves it', async () => {
    expect((await offload(big.id)).status).toBe(200);
    const providers = svc.node.filecoin.devnetProviders.map((p) => p.actorId);
    // Every provider slow, so whichever is tried first outlives the 2 s gateway timeout.
    await Promise.all(providers.map((p) => setFaults(p, { slowRetrievalsMs: 5000 })));
    try {
      const { res } = await gatewayGet(big.cid);
      expect(res.status).toBe(504);
      expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(0);
    } finally {
      await Promise.all(providers.map((p) => setFaults(p, {})));
    }
    // The retrieval went on without the client; a later read gets the content.
    const deadline = Date.now() + 40_000;
    let status = 0;
    let bytes = new Uint8Array();
    while (Date.now() < deadline) {
      ({
        res: { status },
        bytes
      } = await gatewayGet(big.cid));
      if (status === 200) break;
      await new Promise((r) => setTimeout(r, 500));
    }
    expect(status).toBe(200);
    expect(Buffer.from(bytes).equals(Buffer.from(big.bytes))).toBe(true);
    await repinned(big.id);
  }, 90_000);

  it('admin "retrieve now" fetches an offloaded content back', async () => {
    expect((await offload(big.id)).status).toBe(200);
    const res = await api(`/admin/retrieval/retrieve/${big.id}`, { method: 'POST' });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { state: string; blocks: number; provider: string };
    expect(body).toMatchObject({ state: 'done', blocks: 4 });
    expect(await held(big.cid)).toBe(true);
    expect((await api('/admin/retrieval/retrieve/999999', { method: 'POST' })).status).toBe(404);
  }, 60_000);

  it('never offloads below the target, and GC keeps blocks that held content still uses', async () => {
    const shared = deterministicBytes('retrieval-shared', 2 * MiB);
    const x = await upload('x.bin', shared);
    const yBytes = new Uint8Array(3 * MiB);
    yBytes.set(shared);
    yBytes.set(deterministicBytes('retrieval-tail', MiB), 2 * MiB);
    const y = await upload('y.bin', yBytes);
    // Just uploaded: no active deals yet.
    const early = await offload(x.id);
    expect(early.status).toBe(400);
    expect(((await early.json()) as { error: { details: string } }).error.details).toMatch(/active deals/);
    await Promise.all([waitActive(x.id), waitActive(y.id)]);

    const res = await offload(x.id);
    expect(res.status).toBe(200);
    const body = (await res.json()) as { blocksRemoved: number; blocksKept: number };
    // x = root + 2 leaves; both leaves are y's first two leaves.
    expect(body).toMatchObject({ blocksRemoved: 1, blocksKept: 2 });
    expect(await held(x.cid)).toBe(false);
    expect(await held(y.cid)).toBe(true);
    const before = await lastId();
    const yRead = await gatewayGet(y.cid);
    expect(Buffer.from(yRead.bytes).equals(Buffer.from(yBytes))).toBe(true);
    expect(await attemptsFor(y.id, before)).toHaveLength(0); // served locally
    const xRead = await gatewayGet(x.cid);
    expect(Buffer.from(xRead.bytes).equals(Buffer.from(shared))).toBe(true);
    await repinned(x.id);
  }, 150_000);

  it('the policy offloads idle content at its target only', async () => {
    const node = svc.node;
    const pending = await upload('fresh.bin', deterministicBytes('retrieval-fresh', 2 * MiB));
    const policy = createOffloader({
      db: node.database.db,
      blockstore: node.blockstore,
      lock: new BlockLock(),
      retriever: node.retrieval!.retriever,
      offloadAfterMs: 60_000,
      log: node.log
    });
    const done = await policy.sweep(Date.now() + 10 * 60_000);
    const ids = done.map((d) => d.contentId);
    expect(ids).toContain(small[0]!.id);
    expect(ids).not.toContain(pending.id); // no active deals yet
    for (const d of done) expect(d.activeDeals).toBeGreaterThanOrEqual(d.replication);
    const { res, bytes } = await gatewayGet(small[0]!.cid);
    expect(res.status).toBe(200);
    expect(Buffer.from(bytes).equals(Buffer.from(small[0]!.bytes))).toBe(true);
  }, 60_000);
  const ensureOffloaded = async (id: number) => {
    const c = (await (await api(`/content/${id}`)).json()) as { offloaded: boolean };
    if (!c.offloaded) expect((await offload(id)).status).toBe(200);
  };

  it('retrieves over bitswap from providers that serve no HTTP', async () => {
    const providers = svc.node.filecoin.devnetProviders.map((p) => p.actorId);
    for (const p of providers) await setFaults(p, { refuseHttpRetrievals: true });
    try {
      await ensureOffloaded(big.id);
      const attempts = await readBack(big);
      const done = attempts.filter((a) => a.state === 'done');
      expect(done).toHaveLength(1);
      expect(done[0]).toMatchObject({ transport: 'bitswap', blocks: 4 });
      // Every HTTP candidate was tried first and refused.
      for (const a of attempts.filter((a) => a.transport !== 'bitswap')) expect(a.state).toBe('failed');
    } finally {
      for (const p of providers) await setFaults(p, { refuseHttpRetrievals: false });
    }
  }, 90_000);

  it('a bitswap peer wanting a block of offloaded content starts its retrieval and gets the block', async () => {
    // A leaf of big (not its root): only the offloaded-block index says whose it is.
    const rootRes = await fetch(`${svc.gatewayUrl}/ipfs/${big.cid}?format=raw`);
    expect(rootRes.status).toBe(200);
    const rootNode = dagPb.decode(new Uint8Array(await rootRes.arrayBuffer()));
    const leaf = rootNode.Links[1]!.Hash;
    await ensureOffloaded(big.id);
    expect(await svc.node.blockstore.has(leaf)).toBe(false);
    const before = await lastId();
    const peerNode = await createTestNode();
    try {
      const tcpAddr = svc.node.peer.libp2p
        .getMultiaddrs()
        .find((a) => a.toString().includes('/tcp/') && !a.toString().includes('/ws'));
      await peerNode.libp2p.dial(tcpAddr!);
      const bytes = await concatBytes(peerNode.blockstore.get(leaf, { signal: AbortSignal.timeout(30_000) }));
      const offset = 1 * MiB; // the second leaf: the file's second MiB
      expect(
        Buffer.from(bytes).equals(Buffer.from(big.bytes.subarray(offset, offset + bytes.byteLength)))
      ).toBe(true);
    } finally {
      await peerNode.stop();
    }
    await repinned(big.id);
    const done = (await attemptsFor(big.id, before)).filter((a) => a.state === 'done');
    expect(done).toHaveLength(1);
  }, 90_000);
  it('repairs a lost deal of offloaded content: the new deal’s transfer retrieves it back first', async () => {
    type Status = { deals: Array<{ deal: { miner: string; state: string } }> };
    const dealsOf = async () => ((await (await api(`/content/status/${big.id}`)).json()) as Status).deals;
    await ensureOffloaded(big.id);
    const before = await lastId();
    const victim = (await dealsOf()).find((d) => d.deal.state === 'active')!.deal.miner;
    await setFaults(victim, { slashActiveDeals: true });
    try {
      // Slashed on chain, seen by the service, re-dealt with the spare provider, whose transfer
      // reads the content's blocks: retrieved from the remaining providers, then active again.
      const deadline = Date.now() + 150_000;
      for (;;) {
        const deals = await dealsOf();
        const active = deals.filter((d) => d.deal.state === 'active');
        const slashed = deals.some((d) => d.deal.miner === victim && d.deal.state === 'slashed');
        if (slashed && active.length >= 6 && active.every((d) => d.deal.miner !== victim)) break;
        if (Date.now() > deadline)
          throw new Error(`not repaired: ${JSON.stringify(deals.map((d) => [d.deal.miner, d.deal.state]))}`);
        await new Promise((r) => setTimeout(r, 500));
      }
    } finally {
      await setFaults(victim, { slashActiveDeals: false });
    }
    const done = (await attemptsFor(big.id, before)).filter((a) => a.state === 'done');
    expect(done.length).toBeGreaterThanOrEqual(1);
    expect(await held(big.cid)).toBe(true);
  }, 180_000);
});
