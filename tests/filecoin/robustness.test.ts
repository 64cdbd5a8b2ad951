// The deal pipeline under faults on the in-process devnet: providers that reject, truncate
// transfers or get slashed after activation; many small uploads at once; and escrow accounting
// checked against the chain.
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DealState } from '../../server/db/schema.ts';
import { deterministicBytes } from '../helpers/bytes.ts';
import { apiFetch, devnetEnv, lotusCall } from '../helpers/devnet.ts';
import { registerUser, startTestService, type TestService } from '../helpers/service.ts';

const FINAL: DealState[] = ['failed', 'slashed', 'expired'];

interface Client {
  api(path: string, init?: RequestInit): Promise<Response>;
  upload(name: string, bytes: Uint8Array): Promise<{ cid: string; estuaryId: number }>;
  lotus<T>(method: string, params: unknown[]): Promise<T>;
}

function clientFor(svc: TestService, apiKey: string): Client {
  const api = apiFetch(
    () => svc.apiUrl,
    () => apiKey
  );
  return {
    api,
    async upload(name, bytes) {
      const form = new FormData();
      form.append('data', new Blob([new Uint8Array(bytes)]), name);
      const res = await api('/content/add', { method: 'POST', body: form });
      if (res.status !== 200) throw new Error(`upload ${name}: ${res.status} ${await res.text()}`);
      return (await res.json()) as { cid: string; estuaryId: number };
    },
    lotus: <T>(method: string, params: unknown[]) => lotusCall<T>(svc.node.filecoin.lotusUrl!, method, params)
  };
}

/** Piece id per content, and active deals per piece, straight from the database. */
async function pieceProgress(
  svc: TestService,
  contentIds: number[],
  notCounted: ReadonlySet<number> = new Set()
) {
  const db = svc.node.database.db;
  const members = await db
    .selectFrom('piece_members')
    .innerJoin('pieces', 'pieces.id', 'piece_members.piece_id')
    .select(['piece_members.content_id', 'pieces.id as piece_id', 'pieces.replication', 'pieces.kind'])
    .where('piece_members.content_id', 'in', contentIds)
    .execute();
  const active = await db
    .selectFrom('deals')
    .select(['piece_id', (eb) => eb.fn.countAll<number>().as('n')])
    .where('state', '=', 'active')
    .$if(notCounted.size > 0, (q) => q.where('provider_actor', 'not in', [...notCounted]))
    .groupBy('piece_id')
    .execute();
  const activeOf = new Map(active.map((r) => [Number(r.piece_id), Number(r.n)]));
  return { members, activeOf };
}

/** Waits until every content is in a piece with as many active deals as its target. */
async function waitAllActive(
  svc: TestService,
  contentIds: number[],
  timeoutMs: number,
  notCounted: ReadonlySet<number> = new Set()
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let missing = contentIds.length;
  while (Date.now() < deadline) {
    const { members, activeOf } = await pieceProgress(svc, contentIds, notCounted);
    const done = new Set(
      members
        .filter((m) => (activeOf.get(Number(m.piece_id)) ?? 0) >= m.replication)
        .map((m) => Number(m.content_id))
    );
    missing = contentIds.filter((id) => !done.has(id)).length;
    if (missing === 0) return;
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error(`${missing} of ${contentIds.length} contents did not reach their target in time`);
}

/**
 * Samples, until stopped, the most non-final deals any piece had at once, over its target: the
 * pipeline must never have more deals in flight than needed.
 */
function sampleInFlight(svc: TestService): { stop(): Promise<number> } {
  let worst = 0;
  let running = true;
  const done = (async () => {
    while (running) {
      const { rows } = await sql<{ over: number | null }>`
        select max(n - replication) as over from (
          select pieces.replication as replication, count(deals.id) as n
          from pieces join deals on deals.piece_id = pieces.id
          where deals.state not in (${sql.join(FINAL)})
          group by pieces.id, pieces.replication) t`.execute(svc.node.database.db);
      worst = Math.max(worst, Number(rows[0]?.over ?? 0));
      await new Promise((r) => setTimeout(r, 200));
    }
  })();
  return {
    async stop() {
      running = false;
      await done;
      return worst;
    }
  };
}

describe('deal pipeline with faulty providers', () => {
  let svc: TestService;
  let client: Client;
  let adminKey: string;

  beforeAll(async () => {
    svc = await startTestService({
      // 4 of the providers misbehave; 6 distinct good ones must remain for a target of 6.
      env: devnetEnv(10, {
        FIRTH_AGGREGATE_MAX_WAIT: '1',
        FIRTH_DEVNET_FAULTS: JSON.stringify({
          sp1: { rejectProposals: 'no room' },
          sp2: { rejectProposals: true },
          sp3: { slashAfterActivation: true },
          sp4: { truncateTransfer: true }
        }),
        // Unverified deals cost FIL, so market escrow is exercised.
        FIRTH_DEAL_VERIFIED: 'false'
      })
    });
    // The first user is the admin (the invite is an admin invite).
    ({ apiKey: adminKey } = await registerUser(svc.apiUrl, svc.adminInvite, 'operator'));
    client = clientFor(svc, adminKey);
  }, 120_000);
  afterAll(() => svc?.stop());

  const actorOf = (name: string) => {
    const p = svc.node.filecoin.devnetProviders.find((d) => d.name === name);
    if (p == null) throw new Error(`no devnet provider ${name}`);
    return Number(p.actorId.replace(/^[ft]0/, ''));
  };

  it('brings every upload to 6 active deals with 6 good providers, recording every fault', async () => {
    const sampler = sampleInFlight(svc);
    const uploads = await Promise.all([
      client.upload('alone.bin', deterministicBytes('robust-alone', 1536 * 1024)),
      ...[1, 2, 3, 4, 5].map((i) =>
        client.upload(`small-${i}.txt`, deterministicBytes(`robust-small-${i}`, 10_000 * i))
      )
    ]);
    const ids = uploads.map((u) => u.estuaryId);
    // sp3's deals are active only until it gets slashed: they don't count towards the target.
    await waitAllActive(svc, ids, 240_000, new Set([actorOf('sp3')]));
    const over = await sampler.stop();
    expect(over).toBeLessThanOrEqual(0);

    const db = svc.node.database.db;
    const { members } = await pieceProgress(svc, ids);
    const pieceIds = [...new Set(members.map((m) => Number(m.piece_id)))];
    // One piece alone, the small ones aggregated.
    expect(members.filter((m) => m.kind === 'single')).toHaveLength(1);
    expect(members.filter((m) => m.kind === 'aggregate')).toHaveLength(5);

    const bad = new Set(['sp1', 'sp2', 'sp4'].map(actorOf));
    const deals = await db.selectFrom('deals').selectAll().where('piece_id', 'in', pieceIds).execute();
    for (const pieceId of pieceIds) {
      const active = deals.filter((d) => d.piece_id === pieceId && d.state === 'active');
      expect(active.length).toBeGreaterThanOrEqual(6);
      expect(new Set(active.map((d) => Number(d.provider_actor))).size).toBe(active.length);
      for (const d of active) expect(bad.has(Number(d.provider_actor))).toBe(false);
      // No provider holds two live deals for one piece.
      const live = deals.filter((d) => d.piece_id === pieceId && !FINAL.includes(d.state));
      expect(new Set(live.map((d) => Number(d.provider_actor))).size).toBe(live.length);
    }

    // The active deals are on chain, with the right provider and piece (sp3's may be going away).
    for (const d of deals.filter(
      (x) => x.state === 'active' && Number(x.provider_actor) !== actorOf('sp3')
    )) {
      const onChain = await client.lotus<{
        Proposal: { Provider: string; PieceCID: { '/': string } };
        State: { SectorStartEpoch: number; SlashEpoch: number };
      }>('StateMarketStorageDeal', [d.chain_deal_id, null]);
      expect(onChain.State.SectorStartEpoch).toBeGreaterThanOrEqual(0);
      expect(onChain.State.SlashEpoch).toBe(-1);
      expect(Number(onChain.Proposal.Provider.slice(2))).toBe(Number(d.provider_actor));
    }

    // Every deal that went to a misbehaving provider ended, with the reason on record.
    const events = await db.selectFrom('deal_events').selectAll().execute();
    const eventsOf = (actor: number) => events.filter((e) => Number(e.provider_actor) === actor);
    for (const name of ['sp1', 'sp2']) {
      const actor = actorOf(name);
      const tried = deals.filter((d) => Number(d.provider_actor) === actor);
      for (const d of tried) {
        expect(d.state).toBe('failed');
        expect(d.failed_phase).toBe('propose');
      }
      if (tried.length > 0) {
        const rejected = eventsOf(actor).filter((e) => e.kind === 'rejected');
        expect(rejected.length).toBe(tried.length);
        for (const e of rejected) {
          expect(e.phase).toBe('propose');
          expect(e.message).toMatch(/deal filter rejected deal/);
        }
      }
    }
    const truncator = actorOf('sp4');
    for (const d of deals.filter((x) => Number(x.provider_actor) === truncator)) {
      expect(d.state).toBe('failed');
      expect(d.failed_phase).toBe('transfer');
      expect(d.message).toMatch(/commP/i);
      expect(
        eventsOf(truncator).some((e) => e.deal_id === d.id && e.kind === 'failed' && e.phase === 'transfer')
      ).toBe(true);
    }
    const slasher = actorOf('sp3');
    const slashed = deals.filter((d) => Number(d.provider_actor) === slasher);
    for (const d of slashed) {
      // Activated, then terminated (whether or not we looked in between): slashed, not a plain failure.
      expect(d.state).toBe('slashed');
      expect(
        eventsOf(slasher).some((e) => e.deal_id === d.id && e.kind === 'slashed' && e.phase === 'active')
      ).toBe(true);
    }
    // No provider here fails publication on its own: a failed publish would mean our escrow did not
    // cover deals proposed at the same time.
    expect(deals.filter((d) => d.failed_phase === 'publish')).toEqual([]);
    // The faults happened (the chooser cannot avoid every bad provider before it knows them).
    expect(
      deals.filter((d) => bad.has(Number(d.provider_actor)) || Number(d.provider_actor) === slasher).length
    ).toBeGreaterThan(0);
  }, 300_000);

  it('routes later deals around the providers that failed', async () => {
    // The providers that have shown what they do: a rejection, a failed transfer, a slash.
    const known = await svc.node.database.db
      .selectFrom('deals')
      .select('provider_actor')
      .distinct()
      .where('state', 'in', ['failed', 'slashed'])
      .execute();
    const liars = new Set(known.map((d) => Number(d.provider_actor)));
    expect(liars.size).toBeGreaterThan(0);
    const faulty = new Set(['sp1', 'sp2', 'sp3', 'sp4'].map(actorOf));
    for (const actor of liars) expect(faulty.has(actor)).toBe(true);
    const uploads = await Promise.all(
      [1, 2, 3].map((i) =>
        client.upload(`later-${i}.bin`, deterministicBytes(`robust-later-${i}`, 1100 * 1024))
      )
    );
    const ids = uploads.map((u) => u.estuaryId);
    await waitAllActive(svc, ids, 240_000, faulty);
    const { members } = await pieceProgress(svc, ids);
    expect(new Set(members.map((m) => m.piece_id)).size).toBe(3);
    const later = await svc.node.database.db
      .selectFrom('deals')
      .select(['provider_actor', 'state'])
      .where(
        'piece_id',
        'in',
        members.map((m) => m.piece_id)
      )
      .execute();
    // 3 pieces × 6 good providers with a clean record: no deal goes to a provider known to misbehave.
    expect(later.filter((d) => liars.has(Number(d.provider_actor)))).toEqual([]);
    const good = later.filter((d) => d.state === 'active' && !faulty.has(Number(d.provider_actor)));
    expect(good).toHaveLength(18);
  }, 300_000);

  it('keeps market escrow equal to the chain and locked equal to our live deals', async () => {
    const wallet = svc.node.filecoinClient!.wallet.address;
    const db = svc.node.database.db;
    // Settle: nothing in flight, so the chain's lock is only our live deals.
    const deadline = Date.now() + 60_000;
    for (;;) {
      const inFlight = await db
        .selectFrom('deals')
        .select((eb) => eb.fn.countAll<number>().as('n'))
        .where('state', 'not in', [...FINAL, 'active'])
        .executeTakeFirstOrThrow();
      if (Number(inFlight.n) === 0) break;
      if (Date.now() > deadline) throw new Error('deals still in flight');
      await new Promise((r) => setTimeout(r, 500));
    }
    const admin = await client.api('/admin/balance');
    expect(admin.status).toBe(200);
    const ours = (await admin.json()) as { marketEscrow: string; marketLocked: string };
    const chain = await client.lotus<{ Escrow: string; Locked: string }>('StateMarketBalance', [
      wallet,
      null
    ]);
    expect(ours.marketEscrow).toBe(chain.Escrow);
    expect(ours.marketLocked).toBe(chain.Locked);
    // The top-up happened: unverified deals locked FIL, and escrow covers it.
    expect(BigInt(chain.Locked)).toBeGreaterThan(0n);
    expect(BigInt(chain.Escrow)).toBeGreaterThanOrEqual(BigInt(chain.Locked));

    // The chain locks price × unpaid epochs (+ client collateral) per live deal.
    const live = await db
      .selectFrom('deals')
      .select(['chain_deal_id', 'price_per_epoch', 'start_epoch', 'end_epoch'])
      .where('state', 'not in', FINAL)
      .where('chain_deal_id', 'is not', null)
      .execute();
    expect(live.length).toBeGreaterThan(0);
    let expected = 0n;
    for (const d of live) {
      const onChain = await client.lotus<{
        Proposal: {
          StoragePricePerEpoch: string;
          StartEpoch: number;
          EndEpoch: number;
          ClientCollateral: string;
        };
        State: { LastUpdatedEpoch: number };
      }>('StateMarketStorageDeal', [d.chain_deal_id, null]);
      expect(onChain.Proposal.StoragePricePerEpoch).toBe(d.price_per_epoch);
      expect(onChain.Proposal.StartEpoch).toBe(d.start_epoch);
      expect(onChain.Proposal.EndEpoch).toBe(d.end_epoch);
      const paidThrough = Math.max(onChain.Proposal.StartEpoch, onChain.State.LastUpdatedEpoch);
      expected +=
        BigInt(d.price_per_epoch) * BigInt(onChain.Proposal.EndEpoch - paidThrough) +
        BigInt(onChain.Proposal.ClientCollateral);
    }
    const after = await client.lotus<{ Locked: string }>('StateMarketBalance', [wallet, null]);
    expect(BigInt(after.Locked)).toBe(expected);
  }, 120_000);
});

describe('many small uploads', () => {
  let svc: TestService;
  let client: Client;

  beforeAll(async () => {
    svc = await startTestService({
      env: devnetEnv(8, {
        FIRTH_AGGREGATE_MAX_WAIT: '1',
        FIRTH_AGGREGATE_TARGET_BYTES: String(4 * 1024 * 1024)
      })
    });
    const { apiKey } = await registerUser(svc.apiUrl, svc.adminInvite, 'many');
    client = clientFor(svc, apiKey);
  }, 120_000);
  afterAll(() => svc?.stop());

  it('aggregates 200 small uploads and deals every one to 6 active', async () => {
    const sampler = sampleInFlight(svc);
    const ids: number[] = [];
    const queue = Array.from({ length: 200 }, (_, i) => i);
    // A few concurrent clients, as scripts would upload.
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        for (let i = queue.shift(); i != null; i = queue.shift()) {
          const { estuaryId } = await client.upload(
            `tiny-${i}.txt`,
            deterministicBytes(`tiny-${i}`, 512 + i)
          );
          ids.push(estuaryId);
        }
      })
    );
    expect(new Set(ids).size).toBe(200);
    await waitAllActive(svc, ids, 240_000);
    expect(await sampler.stop()).toBeLessThanOrEqual(0);
    const { members } = await pieceProgress(svc, ids);
    expect(members).toHaveLength(200);
    expect(members.every((m) => m.kind === 'aggregate')).toBe(true);
    // Aggregated: far fewer pieces than uploads.
    expect(new Set(members.map((m) => m.piece_id)).size).toBeLessThan(20);
  }, 300_000);
});
