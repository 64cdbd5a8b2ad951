// The deal-facing API over real HTTP: with Filecoin off (the service as tests start it: 503s and
// empty public lists), and populated over real SQLite and PostgreSQL databases through the route
// module with a real DealsApi (queries, provider registry, estimate) and a stand-in chain.
/* eslint-disable @typescript-eslint/no-explicit-any -- JSON answers are checked by value */
import { Inclusion, Piece } from '@web3-storage/data-segment';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDealsApi } from '../../filecoin/deals/api.ts';
import {
  createFilUsdSource,
  dealCost,
  formatFil,
  loadDealApiConfig,
  paddedPieceSize
} from '../../filecoin/deals/estimate.ts';
import type { ChainDeal } from '../../filecoin/deals/network.ts';
import { createDealQueries } from '../../filecoin/deals/queries.ts';
import { layoutAggregate } from '../../filecoin/pieces/aggregate.ts';
import { createProviderRegistry } from '../../filecoin/providers/registry.ts';
import type { ApiContext } from '../../gateway/api/context.ts';
import { errorHandler } from '../../gateway/api/errors.ts';
import { dealsRoutes } from '../../gateway/api/routes/deals.ts';
import { createAccounts } from '../../server/accounts/accounts.ts';
import { createContentQueries } from '../../server/content/queries.ts';
import { insertContent } from '../../server/content/records.ts';
import type { DealState } from '../../server/db/schema.ts';
import { DATABASES, freshDatabase } from '../helpers/databases.ts';
import { registerUser, startTestService, type TestService } from '../helpers/service.ts';

const quiet = { info() {}, warn() {}, error() {} };
const CID_A = 'bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy';

async function call(
  base: string,
  method: string,
  path: string,
  opts: { token?: string; body?: unknown } = {}
): Promise<{ status: number; json: any }> {
  const headers: Record<string, string> = {};
  if (opts.token) headers.authorization = `Bearer ${opts.token}`;
  if (opts.body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(`${base}/api${path}`, {
    method,
    headers,
    body: opts.body === undefined ? undefined : JSON.stringify(opts.body)
  });
  const text = await res.text();
  return { status: res.status, json: text === '' ? null : JSON.parse(text) };
}

describe('deal routes with Filecoin off', () => {
  let svc: TestService;
  let user: string;
  let admin: string;
  let contentId: number;

  beforeAll(async () => {
    svc = await startTestService();
    admin = (await registerUser(svc.apiUrl, svc.adminInvite, 'root')).apiKey;
    const invite = await call(svc.apiUrl, 'POST', '/admin/invite/plain-user', { token: admin });
    expect(invite.status).toBe(200);
    user = (await registerUser(svc.apiUrl, 'plain-user', 'alice')).apiKey;
    const form = new FormData();
    form.append('data', new Blob([new TextEncoder().encode('hello deals')]), 'hello.txt');
    const added = await fetch(`${svc.apiUrl}/api/content/add`, {
      method: 'POST',
      headers: { authorization: `Bearer ${user}` },
      body: form
    });
    expect(added.status).toBe(200);
    contentId = ((await added.json()) as { estuaryId: number }).estuaryId;
  }, 60_000);
  afterAll(() => svc?.stop());

  it('answers 503 ERR_FILECOIN_OFF on the deal routes', async () => {
    const cases: Array<[string, string, string, unknown?]> = [
      [user, 'GET', '/content/deals'],
      [user, 'GET', `/content/${contentId}/proof`],
      [user, 'GET', '/deals/status/1'],
      [user, 'GET', '/deals/info/1'],
      [user, 'GET', '/deals/failures'],
      [user, 'POST', '/deals/estimate', { size: 1000, replication: 6, durationBlks: 1000, verified: false }],
      [admin, 'GET', '/admin/miners'],
      [admin, 'POST', '/admin/miners/add/f01000'],
      [admin, 'POST', '/admin/miners/suspend/f01000', { reason: 'x' }],
      [admin, 'PUT', '/admin/miners/unsuspend/f01000'],
      [admin, 'POST', '/admin/miners/rm/f01000']
    ];
    for (const [token, method, path, body] of cases) {
      const r = await call(svc.apiUrl, method, path, { token, body });
      expect({ path, status: r.status, json: r.json }).toEqual({
        path,
        status: 503,
        json: {
          error: { code: 503, reason: 'ERR_FILECOIN_OFF', details: 'Filecoin is not configured on this node' }
        }
      });
    }
  });

  it('still asks for credentials first, and admin routes need an admin', async () => {
    expect((await call(svc.apiUrl, 'GET', '/content/deals')).status).toBe(401);
    expect((await call(svc.apiUrl, 'POST', '/admin/miners/add/f01000', { token: user })).status).toBe(403);
  });

  it('serves content status without deals, and empty public lists', async () => {
    const status = await call(svc.apiUrl, 'GET', `/content/status/${contentId}`, { token: user });
    expect(status.status).toBe(200);
    expect(status.json.content.id).toBe(contentId);
    expect(status.json.deals).toEqual([]);
    expect(status.json.filecoin).toBe(false);
    expect(status.json.summary).toMatchObject({ target: 6, active: 0 });
    expect((await call(svc.apiUrl, 'GET', '/content/status/abc', { token: user })).status).toBe(400);
    expect((await call(svc.apiUrl, 'GET', '/content/status/99999', { token: user })).status).toBe(404);

    expect(await call(svc.apiUrl, 'GET', '/public/miners')).toEqual({ status: 200, json: [] });
    expect(await call(svc.apiUrl, 'GET', '/public/deals/failures')).toEqual({ status: 200, json: [] });
    const metrics = await call(svc.apiUrl, 'GET', '/public/metrics/deals-on-chain');
    expect(metrics.status).toBe(200);
    expect(metrics.json).toMatchObject({ onChainDeals: 0, activeBytes: 0, days: [] });
    // Bad paging is still a 400, on or off.
    expect((await call(svc.apiUrl, 'GET', '/public/deals/failures?limit=501')).status).toBe(400);
  });
});

describe('FIL/USD rate', () => {
  it('uses the configured rate without a URL, and says so', async () => {
    const config = loadDealApiConfig({});
    expect(config.filUsd).toBe(3);
    const rate = await createFilUsdSource(config).get();
    expect(rate).toMatchObject({ usdPerFil: 3, source: 'config' });
    expect(() => loadDealApiConfig({ FIRTH_FIL_USD: '-1' })).toThrow(/FIRTH_FIL_USD/);
    expect(() => loadDealApiConfig({ FIRTH_FIL_USD_URL: 'ftp://x' })).toThrow(/FIRTH_FIL_USD_URL/);
  });

  it('fetches, caches, and falls back to the configured rate when the URL fails', async () => {
    let calls = 0;
    let fail = false;
    const fakeFetch = (async () => {
      calls++;
      if (fail) throw new Error('down');
      return new Response(JSON.stringify({ filecoin: { usd: 4.25 } }));
    }) as typeof fetch;
    const config = loadDealApiConfig({ FIRTH_FIL_USD_URL: 'http://127.0.0.1:9/price', FIRTH_FIL_USD: '2' });
    const source = createFilUsdSource(config, { fetch: fakeFetch });
    expect(await source.get()).toMatchObject({ usdPerFil: 4.25, source: 'url' });
    expect(await source.get()).toMatchObject({ usdPerFil: 4.25, source: 'url' });
    expect(calls).toBe(1);

    const failing = createFilUsdSource(
      { ...config, filUsdPath: 'data.price' },
      {
        fetch: (async () => {
          calls++;
          return new Response(JSON.stringify({ data: { price: 'n/a' } }));
        }) as typeof fetch
      }
    );
    expect(await failing.get()).toMatchObject({ usdPerFil: 2, source: 'config' });
    fail = true;
    const down = createFilUsdSource({ ...config, filUsdTtlMs: 1 }, { fetch: fakeFetch });
    expect(await down.get()).toMatchObject({ usdPerFil: 2, source: 'config' });
  });

  it('pads sizes and prices deals like the deal worker', () => {
    expect(paddedPieceSize(1)).toBe(128);
    expect(paddedPieceSize(127)).toBe(128);
    expect(paddedPieceSize(128)).toBe(256);
    expect(paddedPieceSize(1016)).toBe(1024);
    expect(paddedPieceSize(1017)).toBe(2048);
    expect(dealCost(2 ** 30, 10n, 100)).toBe(1000n);
    expect(dealCost(1024, 1n, 10)).toBe(10n); // rounded up per epoch
    expect(formatFil(1_500_000_000_000_000_000n)).toBe('1.5 FIL');
    expect(formatFil(0n)).toBe('0 FIL');
  });
});

describe.each(DATABASES)('deal routes on %s', (kind) => {
  let database: Awaited<ReturnType<typeof freshDatabase>>;
  let app: FastifyInstance;
  let base: string;
  const tokens: Record<'alice' | 'bob' | 'admin', string> = { alice: '', bob: '', admin: '' };
  const ids: Record<string, number> = {};
  const chain = new Map<number, ChainDeal>();

  beforeAll(async () => {
    database = await freshDatabase(kind);
    const { db } = database;
    const accounts = createAccounts(db);
    for (const name of ['admin', 'alice', 'bob'] as const) {
      const code = await accounts.createInvite({ code: `invite-${name}`, admin: name === 'admin' });
      tokens[name] = (
        await accounts.register({ username: name, password: 'long enough 1', inviteCode: code })
      ).token;
    }
    const userId = async (name: string) =>
      Number(
        (await db.selectFrom('users').select('id').where('username', '=', name).executeTakeFirstOrThrow()).id
      );
    const alice = await userId('alice');
    const bob = await userId('bob');
    const content = (user: number, size: number, replication = 6) =>
      insertContent(db, {
        user_id: user,
        cid: CID_A,
        name: `file-${size}`,
        size,
        dag_size: size,
        blocks: 1,
        type: 1,
        replication,
        pin_status: 'pinned',
        origins: '[]',
        pin_meta: '{}',
        status_details: ''
      });
    const big = await content(alice, 5_000_000, 3);
    const small = await content(alice, 100);
    const bobs = await content(bob, 200);
    ids.big = Number(big.id);
    ids.small = Number(small.id);
    ids.bobs = Number(bobs.id);

    const now = Date.now();
    const piece = async (kindOf: 'single' | 'aggregate', pieceCid: string, size: number, items: number) =>
      Number(
        (
          await db
            .insertInto('pieces')
            .values({
              kind: kindOf,
              state: 'ready',
              content_id: null,
              root_cid: pieceCid,
              piece_cid: pieceCid,
              piece_size: size,
              payload_size: (size * 127) / 128,
              replication: 6,
              items,
              bytes: 0,
              last_error: '',
              next_run_at: now,
              attempts: 0,
              created_at: now,
              updated_at: now
            })
            .returning('id')
            .executeTakeFirstOrThrow()
        ).id
      );

    // A real FRC-0058 layout for the aggregate holding alice's small file and bob's file.
    const members = [new Uint8Array(300).fill(1), new Uint8Array(300).fill(2)].map((bytes) => ({
      segmentPiece: Piece.toLink(Piece.fromPayload(bytes)),
      payloadSize: 300
    }));
    const layout = layoutAggregate(members, 4096);
    ids.singlePiece = await piece('single', 'baga6ea4seaqsingle', 8 * 1024 * 1024, 1);
    ids.aggPiece = await piece('aggregate', layout.pieceCidV1, layout.pieceSize, 2);
    await db
      .insertInto('piece_members')
      .values([
        {
          piece_id: ids.singlePiece,
          position: 0,
          content_id: ids.big,
          byte_offset: 0,
          size: 0,
          added_at: now
        },
        ...[ids.small, ids.bobs].map((contentId, i) => ({
          piece_id: ids.aggPiece!,
          position: i,
          content_id: contentId!,
          byte_offset: layout.offsets[i]!,
          size: 300,
          segment_piece_cid: String(members[i]!.segmentPiece),
          proof: layout.proofs[i]!,
          added_at: now
        }))
      ])
      .execute();

    const deal = async (
      pieceId: number,
      provider: number,
      state: DealState,
      extra: Record<string, unknown> = {}
    ) =>
      Number(
        (
          await db
            .insertInto('deals')
            .values({
              piece_id: pieceId,
              provider_actor: provider,
              uuid: crypto.randomUUID(),
              state,
              message: '',
              verified: 0,
              label: '',
              price_per_epoch: '0',
              provider_collateral: '0',
              transfer_size: 1000,
              bytes_received: 0,
              next_run_at: now,
              attempts: 0,
              created_at: now - 5000,
              updated_at: now,
              ...extra
            })
            .returning('id')
            .executeTakeFirstOrThrow()
        ).id
      );
    ids.active1 = await deal(ids.singlePiece, 1000, 'active', {
      chain_deal_id: 77,
      sector_start_epoch: 900,
      accepted_at: now - 4000,
      transferred_at: now - 3000,
      published_at: now - 2000,
      activated_at: now - 1000
    });
    ids.active2 = await deal(ids.singlePiece, 1001, 'active', { chain_deal_id: 78, activated_at: now });
    ids.transferring = await deal(ids.singlePiece, 1002, 'transferring', { accepted_at: now - 100 });
    ids.failed = await deal(ids.singlePiece, 1003, 'failed', {
      failed_phase: 'transfer',
      message: 'provider could not fetch the data'
    });
    ids.aggDeal = await deal(ids.aggPiece, 1000, 'published', { chain_deal_id: 79, published_at: now });
    await db
      .insertInto('deal_events')
      .values([
        {
          deal_id: ids.failed,
          provider_actor: 1003,
          kind: 'failed',
          ok: 0,
          phase: 'transfer',
          message: 'provider could not fetch the data',
          at: now - 10
        },
        {
          deal_id: null,
          provider_actor: 1004,
          kind: 'rejected',
          ok: 0,
          phase: 'ask',
          message: 'no ask',
          at: now - 20
        },
        {
          deal_id: ids.active1,
          provider_actor: 1000,
          kind: 'activated',
          ok: 1,
          phase: 'seal',
          message: '',
          at: now
        }
      ])
      .execute();

    const ask = (price: string, min = 256) =>
      JSON.stringify({ price, verifiedPrice: '0', minPieceSize: min, maxPieceSize: 32 * 2 ** 30 });
    for (const [actor, price, state] of [
      [1000, '1000000', 'active'],
      [1001, '2000000', 'active'],
      [1002, '500', 'suspended'],
      [1003, '3000000', 'active']
    ] as const) {
      await db
        .insertInto('providers')
        .values({
          actor_id: actor,
          peer_id: `12D3KooWpeer${actor}`,
          multiaddrs: '["/ip4/127.0.0.1/tcp/1234"]',
          state,
          suspend_reason: state === 'suspended' ? 'too slow' : '',
          source: 'admin',
          ask: ask(price, actor === 1001 ? 1 << 20 : 256),
          ask_fetched_at: now,
          ask_error: '',
          created_at: now,
          updated_at: now
        })
        .execute();
    }
    chain.set(77, {
      sectorStartEpoch: 900,
      slashEpoch: -1,
      startEpoch: 800,
      endEpoch: 900_000,
      provider: 1000,
      pieceCid: 'baga6ea4seaqsingle'
    });

    const registry = createProviderRegistry({
      db,
      network: {
        providerInfo: async () => ({ peerId: '12D3KooWnew', multiaddrs: [] }),
        ask: async () => ({ price: 7n, verifiedPrice: 0n, minPieceSize: 256, maxPieceSize: 2 ** 35 })
      },
      log: quiet
    });
    const deals = createDealsApi({
      db,
      registry,
      network: { chainDeal: async (id) => chain.get(id) ?? null, head: async () => 1000 },
      addressPrefix: 't',
      config: loadDealApiConfig({})
    });
    const ctx = { accounts, content: createContentQueries(db), deals } as unknown as ApiContext;
    app = Fastify();
    app.setErrorHandler(errorHandler);
    app.decorateRequest('auth', undefined);
    await app.register(async (api) => dealsRoutes(api, ctx), { prefix: '/api' });
    await app.listen({ host: '127.0.0.1', port: 0 });
    base = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
  }, 60_000);

  afterAll(async () => {
    await app?.close();
    await database?.cleanup();
  });

  it('lists every deal of a content with its state, timeline and progress', async () => {
    const r = await call(base, 'GET', `/content/status/${ids.big}`, { token: tokens.alice });
    expect(r.status).toBe(200);
    expect(r.json.filecoin).toBe(true);
    expect(r.json.summary).toEqual({
      target: 3,
      active: 2,
      inFlight: 1,
      failed: 1,
      slashed: 0,
      expired: 0,
      total: 4,
      pieces: 1,
      aggregated: false,
      failing: null
    });
    expect(r.json.failuresCount).toBe(1);
    const byId = new Map(r.json.deals.map((d: any) => [d.deal.ID, d]));
    const active: any = byId.get(ids.active1);
    expect(active.deal).toMatchObject({
      miner: 't01000',
      dealId: 77,
      state: 'active',
      failed: false,
      content: ids.big,
      pieceCid: 'baga6ea4seaqsingle'
    });
    expect(active.deal.timeline.map((s: any) => s.step)).toEqual([
      'proposed',
      'accepted',
      'transferring',
      'transferred',
      'published',
      'active'
    ]);
    expect(active.onChainState).toMatchObject({ sectorStartEpoch: 900, source: 'stored' });
    const failed: any = byId.get(ids.failed);
    expect(failed.deal).toMatchObject({
      state: 'failed',
      failed: true,
      failedPhase: 'transfer',
      message: 'provider could not fetch the data'
    });
    expect(failed.deal.timeline.at(-1).step).toBe('failed');
    expect((byId.get(ids.transferring) as any).transfer).toMatchObject({ statusMessage: 'Transferring' });
  });

  it("keeps other users' contents and deals out of reach", async () => {
    expect((await call(base, 'GET', `/content/status/${ids.big}`, { token: tokens.bob })).status).toBe(404);
    expect((await call(base, 'GET', `/deals/status/${ids.active1}`, { token: tokens.bob })).status).toBe(404);
    expect((await call(base, 'GET', `/content/${ids.small}/proof`, { token: tokens.bob })).status).toBe(404);
    // Bob shares the aggregate with alice: he sees its deal, with only his own content in it.
    const shared = await call(base, 'GET', `/deals/status/${ids.aggDeal}`, { token: tokens.bob });
    expect(shared.status).toBe(200);
    expect(shared.json.contents).toEqual([ids.bobs]);
    const asAdmin = await call(base, 'GET', `/deals/status/${ids.active1}`, { token: tokens.admin });
    expect(asAdmin.status).toBe(200);
  });

  it('shows one deal with its live on-chain state, and looks deals up on chain', async () => {
    const r = await call(base, 'GET', `/deals/status/${ids.active1}`, { token: tokens.alice });
    expect(r.status).toBe(200);
    expect(r.json.deal).toMatchObject({ ID: ids.active1, dealId: 77, miner: 't01000' });
    expect(r.json.onChainState).toEqual({
      sectorStartEpoch: 900,
      lastUpdatedEpoch: -1,
      slashEpoch: -1,
      source: 'chain'
    });
    expect(r.json.contents).toEqual([ids.big]);
    expect((await call(base, 'GET', '/deals/status/abc', { token: tokens.alice })).status).toBe(400);
    expect((await call(base, 'GET', '/deals/status/0', { token: tokens.alice })).status).toBe(400);
    expect((await call(base, 'GET', '/deals/status/999999', { token: tokens.alice })).status).toBe(404);

    const info = await call(base, 'GET', '/deals/info/77', { token: tokens.alice });
    expect(info.status).toBe(200);
    expect(info.json).toMatchObject({
      dealId: 77,
      state: 'active',
      head: 1000,
      Proposal: { Provider: 't01000', PieceCID: { '/': 'baga6ea4seaqsingle' }, EndEpoch: 900_000 },
      State: { SectorStartEpoch: 900, SlashEpoch: -1 }
    });
    expect((await call(base, 'GET', '/deals/info/12345', { token: tokens.alice })).status).toBe(404);
    expect((await call(base, 'GET', '/deals/info/-1', { token: tokens.alice })).status).toBe(400);
    expect((await call(base, 'GET', '/deals/info/77')).status).toBe(401);
  });

  it("serves an aggregated file's inclusion proof, and 404 for content dealt alone", async () => {
    const r = await call(base, 'GET', `/content/${ids.small}/proof`, { token: tokens.alice });
    expect(r.status).toBe(200);
    const [proof] = r.json.proofs;
    expect(proof).toMatchObject({ position: 0, size: 300, aggregateItems: 2, aggregatePieceSize: 4096 });
    expect(proof.aggregatePieceCid).toMatch(/^baga/);
    expect(proof.pieceCid).toMatch(/^bafkz/);
    expect(typeof proof.offset).toBe('number');
    // The JSON form is the decoded CBOR proof.
    const [tree, index] = Inclusion.decode(Buffer.from(proof.proofHex, 'hex'));
    expect(proof.proof.subtree.index).toBe(String(tree[0]));
    expect(proof.proof.subtree.path).toEqual(tree[1].map((n) => Buffer.from(n).toString('hex')));
    expect(proof.proof.index.path).toHaveLength(index[1].length);

    const status = await call(base, 'GET', `/content/status/${ids.small}`, { token: tokens.alice });
    expect(status.json.summary).toMatchObject({ aggregated: true, inFlight: 1, active: 0 });
    const alone = await call(base, 'GET', `/content/${ids.big}/proof`, { token: tokens.alice });
    expect(alone.status).toBe(404);
    expect(alone.json.error.reason).toBe('ERR_PROOF_NOT_FOUND');
  });

  it('pages the contents that have deals', async () => {
    const r = await call(base, 'GET', '/content/deals', { token: tokens.alice });
    expect(r.status).toBe(200);
    expect(r.json.map((c: any) => c.id).sort()).toEqual([ids.big, ids.small].sort());
    const page = await call(base, 'GET', '/content/deals?limit=1&offset=1', { token: tokens.alice });
    expect(page.json).toHaveLength(1);
    expect((await call(base, 'GET', '/content/deals', { token: tokens.bob })).json).toHaveLength(1);
    for (const bad of ['limit=501', 'limit=-1', 'limit=x', 'offset=1.5']) {
      expect((await call(base, 'GET', `/content/deals?${bad}`, { token: tokens.alice })).status).toBe(400);
    }
  });

  it('summarises the deals of the contents asked for by id (the app\'s "n of 6 active")', async () => {
    const { db } = database;
    const alice = Number(
      (await db.selectFrom('users').select('id').where('username', '=', 'alice').executeTakeFirstOrThrow()).id
    );
    // A content with no deal yet is summarised too: 0 of its target.
    const fresh = await insertContent(db, {
      user_id: alice,
      cid: CID_A,
      name: 'no-deals-yet',
      size: 10,
      dag_size: 10,
      blocks: 1,
      type: 1,
      replication: 6,
      pin_status: 'pinned',
      origins: '[]',
      pin_meta: '{}',
      status_details: ''
    });
    try {
      const q = `/content/deals?ids=${ids.big},${fresh.id},${ids.bobs}`;
      const r = await call(base, 'GET', q, { token: tokens.alice });
      expect(r.status).toBe(200);
      const byId = new Map(r.json.map((c: any) => [c.id, c.summary]));
      // Bob's content is not Alice's to see.
      expect([...byId.keys()].sort()).toEqual([ids.big, Number(fresh.id)].sort());
      expect(byId.get(ids.big)).toMatchObject({ active: 2, target: 3 });
      expect(byId.get(Number(fresh.id))).toMatchObject({ active: 0, target: 6, total: 0 });
      expect((await call(base, 'GET', '/content/deals?ids=', { token: tokens.alice })).json).toEqual([]);
      for (const bad of ['ids=x', 'ids=1,,2', 'ids=-3']) {
        expect((await call(base, 'GET', `/content/deals?${bad}`, { token: tokens.alice })).status).toBe(400);
      }
    } finally {
      await db.deleteFrom('contents').where('id', '=', fresh.id).execute();
    }
  });

  it('logs failures for their owner, and publicly without user data', async () => {
    const mine = await call(base, 'GET', '/deals/failures', { token: tokens.alice });
    expect(mine.status).toBe(200);
    expect(mine.json).toHaveLength(1);
    expect(mine.json[0]).toMatchObject({
      miner: 't01003',
      phase: 'transfer',
      message: 'provider could not fetch the data',
      content: ids.big,
      dealId: ids.failed
    });
    expect((await call(base, 'GET', '/deals/failures', { token: tokens.bob })).json).toEqual([]);
    const before = await call(
      base,
      'GET',
      `/deals/failures?before=${encodeURIComponent('2001-01-01T00:00:00Z')}`,
      {
        token: tokens.alice
      }
    );
    expect(before.json).toEqual([]);
    expect(
      (await call(base, 'GET', '/deals/failures?before=yesterday', { token: tokens.alice })).status
    ).toBe(400);

    const all = await call(base, 'GET', '/public/deals/failures');
    expect(all.status).toBe(200);
    expect(all.json.map((f: any) => f.miner)).toEqual(['t01003', 't01004']);
    for (const f of all.json) {
      expect(f).not.toHaveProperty('content');
      expect(f).not.toHaveProperty('contents');
    }
    expect((await call(base, 'GET', '/public/deals/failures?limit=1')).json).toHaveLength(1);
  });

  it('counts deals on chain by state and by day', async () => {
    const r = await call(base, 'GET', '/public/metrics/deals-on-chain?days=7');
    expect(r.status).toBe(200);
    expect(r.json.byState).toMatchObject({ active: 2, transferring: 1, failed: 1, published: 1 });
    expect(r.json.activeDeals).toBe(2);
    expect(r.json.activeBytes).toBe(2 * 8 * 1024 * 1024);
    expect(r.json.onChainDeals).toBe(3);
    expect(r.json.days).toHaveLength(7);
    const today = r.json.days.at(-1);
    expect(today).toMatchObject({ dealsAttempted: 5, dealsSealed: 2, dealsOnChain: 2, dealsFailed: 1 });
    expect((await call(base, 'GET', '/public/metrics/deals-on-chain?days=1000')).status).toBe(400);
  });

  it('estimates the cost from the cheapest eligible asks', async () => {
    const body = { size: 1000, replication: 2, durationBlks: 100, verified: false };
    const r = await call(base, 'POST', '/deals/estimate', { token: tokens.alice, body });
    expect(r.status).toBe(200);
    // 1000 bytes → 1024-byte piece; t01001's minimum piece is 1 MiB, so it costs more than t01003.
    const c1000 = dealCost(1024, 1_000_000n, 100);
    const c1003 = dealCost(1024, 3_000_000n, 100);
    const c1001 = dealCost(1 << 20, 2_000_000n, 100);
    expect(c1003 < c1001).toBe(true);
    expect(r.json).toMatchObject({
      totalAttoFil: (c1000 + c1003).toString(),
      totalFil: formatFil(c1000 + c1003),
      usdPerFil: 3,
      rateSource: 'config',
      pieceSize: 1024,
      providers: 2
    });
    expect(r.json.asks.map((a: any) => a.miner)).toEqual(['t01000', 't01003']);
    expect(typeof r.json.totalUsd).toBe('number');
    expect(Date.parse(r.json.rateAt)).toBeGreaterThan(0);
    // Suspended providers are never priced; asking for more than exist prices what there is.
    const many = await call(base, 'POST', '/deals/estimate', {
      token: tokens.alice,
      body: { size: 1000, replication: 10, verified: true }
    });
    expect(many.json).toMatchObject({ providers: 3, totalAttoFil: '0', durationBlks: 1_494_720 });

    for (const bad of [
      { ...body, replication: 0 },
      { ...body, replication: 21 },
      { ...body, replication: 1.5 },
      { ...body, size: 0 },
      { ...body, size: '1000' },
      { ...body, durationBlks: -5 },
      { ...body, verified: 'yes' },
      { ...body, extra: 1 },
      { replication: 2 },
      [1, 2]
    ]) {
      const res = await call(base, 'POST', '/deals/estimate', { token: tokens.alice, body: bad });
      expect({ bad, status: res.status, reason: res.json.error.reason }).toEqual({
        bad,
        status: 400,
        reason: 'ERR_INVALID_INPUT'
      });
    }
  });

  it('manages the provider list (admin) and lists it publicly', async () => {
    const pub = await call(base, 'GET', '/public/miners');
    expect(pub.status).toBe(200);
    const suspended = pub.json.find((m: any) => m.addr === 't01002');
    expect(suspended).toMatchObject({ suspended: true, suspendedReason: 'too slow' });
    const top = pub.json.find((m: any) => m.addr === 't01000');
    expect(top).toMatchObject({ suspended: false, chain_info: { peerId: '12D3KooWpeer1000' } });
    expect(top.ask).toMatchObject({ price: '1000000' });
    expect(top.score).toBeGreaterThan(0.5);

    const a = tokens.admin;
    expect((await call(base, 'POST', '/admin/miners/add/t05555', { token: tokens.alice })).status).toBe(403);
    const added = await call(base, 'POST', '/admin/miners/add/t05555', { token: a });
    expect(added.status).toBe(200);
    expect(added.json).toMatchObject({ addr: 't05555', suspended: false, ask: { price: '7' } });
    expect((await call(base, 'POST', '/admin/miners/add/t05555', { token: a })).status).toBe(409);
    for (const bad of ['abc', 'f1abc', 't0', 'f0-1', 'f099999999999999999999']) {
      const res = await call(base, 'POST', `/admin/miners/add/${bad}`, { token: a });
      expect({ bad, status: res.status, reason: res.json.error.reason }).toEqual({
        bad,
        status: 400,
        reason: 'ERR_INVALID_MINER'
      });
    }
    const sus = await call(base, 'POST', '/admin/miners/suspend/t05555', {
      token: a,
      body: { reason: 'flaky' }
    });
    expect(sus.status).toBe(200);
    expect(
      (await call(base, 'GET', '/admin/miners', { token: a })).json.find((m: any) => m.addr === 't05555')
    ).toMatchObject({ suspended: true, suspendedReason: 'flaky' });
    expect(
      (await call(base, 'POST', '/admin/miners/suspend/t05555', { token: a, body: { reason: 5 } })).status
    ).toBe(400);
    expect((await call(base, 'PUT', '/admin/miners/unsuspend/t05555', { token: a })).status).toBe(200);
    expect((await call(base, 'POST', '/admin/miners/unsuspend/t05555', { token: a })).status).toBe(404);
    expect((await call(base, 'POST', '/admin/miners/rm/t05555', { token: a })).status).toBe(200);
    expect((await call(base, 'POST', '/admin/miners/rm/t05555', { token: a })).status).toBe(404);
    expect((await call(base, 'PUT', '/admin/miners/unsuspend/t09999', { token: a })).status).toBe(404);
  });

  it("lists a provider's deals publicly, without owners", async () => {
    const r = await call(base, 'GET', '/public/miners/deals/t01000');
    expect(r.status).toBe(200);
    expect(r.json.map((d: any) => d.ID).sort()).toEqual([ids.active1, ids.aggDeal].sort());
    for (const d of r.json) expect(d).not.toHaveProperty('content');
    expect((await call(base, 'GET', '/public/miners/deals/nope')).status).toBe(400);
    expect((await call(base, 'GET', '/public/miners/deals/t04242')).status).toBe(404);
  });

  it('reads the same through the queries module', async () => {
    const queries = createDealQueries(database.db);
    const page = await queries.publicFailures({ limit: 500, before: Date.now() + 1 });
    expect(page.map((f) => f.provider)).toEqual([1003, 1004]);
  });
});
