// The deal timeline: every state a deal passes is recorded once, with its time, even when the deal
// worker's poll sees the deal jump several states at once (accepted straight to active). Runs the
// real deal worker and leases on SQLite and PostgreSQL; the network is a scripted provider and chain.
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Kysely, Migrator, PostgresDialect } from 'kysely';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DealNetwork, ProviderStatus } from '../../filecoin/deals/network.ts';
import { createDealQueries } from '../../filecoin/deals/queries.ts';
import { createDealWorker } from '../../filecoin/deals/worker.ts';
import { createLeases } from '../../filecoin/store/leases.ts';
import { dealJson } from '../../gateway/api/routes/deals.ts';
import { openDatabase } from '../../server/db/database.ts';
import { migrations } from '../../server/db/migrations.ts';
import type { Database } from '../../server/db/schema.ts';
import { openSqlite } from '../../server/db/sqlite-dialect.ts';
import { DATABASES, freshDatabase } from '../helpers/databases.ts';
import { createTempPostgres } from '../helpers/postgres.ts';

const quiet = { info() {}, warn() {} };

describe.each(DATABASES)('deal timeline on %s', (kind) => {
  let database: Awaited<ReturnType<typeof freshDatabase>>;
  let pieceId: number;

  beforeAll(async () => {
    database = await freshDatabase(kind);
    const now = Date.now();
    pieceId = Number(
      (
        await database.db
          .insertInto('pieces')
          .values({
            kind: 'single',
            state: 'ready',
            root_cid: 'bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy',
            piece_cid: 'baga6ea4seaqdomn3tgwgrh3g532zopskstnbrd2n3sxfqbze7rxt7vqn7veigmy',
            piece_size: 2048,
            payload_size: 1000,
            replication: 6,
            items: 1,
            bytes: 1000,
            last_error: '',
            next_run_at: now + 3600_000,
            attempts: 0,
            created_at: now,
            updated_at: now
          })
          .returning('id')
          .executeTakeFirstOrThrow()
      ).id
    );
  });
  afterAll(() => database?.cleanup());

  /** A deal the provider accepted a moment ago, due for its first poll. */
  async function acceptedDeal(provider: number): Promise<number> {
    const now = Date.now();
    const row = await database.db
      .insertInto('deals')
      .values({
        piece_id: pieceId,
        provider_actor: provider,
        uuid: crypto.randomUUID(),
        state: 'accepted',
        message: '',
        verified: 0,
        label: '',
        price_per_epoch: '0',
        provider_collateral: '0',
        proposal: '00',
        start_epoch: 100_000,
        end_epoch: 2_000_000,
        transfer_size: 1000,
        bytes_received: 0,
        accepted_at: now - 50,
        next_run_at: 0,
        attempts: 0,
        created_at: now - 100,
        updated_at: now - 50
      })
      .returning('id')
      .executeTakeFirstOrThrow();
    return Number(row.id);
  }

  /** The provider reports `status` for every deal; the chain holds deal 7, sealed. */
  function network(status: ProviderStatus, sealed: boolean): DealNetwork {
    const refuse = async (): Promise<never> => {
      throw new Error('not used by a poll');
    };
    return {
      head: async () => 1000,
      collateralBounds: refuse,
      dataCap: refuse,
      ensureEscrow: refuse,
      providerInfo: refuse,
      ask: refuse,
      sign: refuse,
      propose: refuse,
      status: async () => status,
      chainDeal: async (id) =>
        id === 7
          ? {
              sectorStartEpoch: sealed ? 900 : -1,
              slashEpoch: -1,
              startEpoch: 100_000,
              endEpoch: 2_000_000,
              provider: 1000,
              pieceCid: 'baga6ea4seaqdomn3tgwgrh3g532zopskstnbrd2n3sxfqbze7rxt7vqn7veigmy'
            }
          : null
    };
  }

  const policy = {
    durationEpochs: 1_555_200,
    startDelayEpochs: 5760,
    verified: false,
    dealDataUrl: 'http://127.0.0.1:1',
    pollMs: 30_000,
    activeCheckMs: 600_000,
    proposeAttempts: 3
  };

  async function eventsOf(dealId: number) {
    const rows = await database.db
      .selectFrom('deal_events')
      .select(['kind', 'at'])
      .where('deal_id', '=', dealId)
      .orderBy('id')
      .execute();
    return rows.map((r) => ({ kind: r.kind, at: Number(r.at) }));
  }

  it('records every step once, in order, when a poll sees a deal jump from accepted to active', async () => {
    const dealId = await acceptedDeal(1000);
    const worker = createDealWorker({
      db: database.db,
      leases: createLeases({ db: database.db, dialect: database.dialect, owner: 'timeline' }),
      network: network(
        {
          checkpoint: 'IndexedAndAnnounced',
          error: '',
          chainDealId: 7,
          publishCid: 'bafy2bzacepublish',
          bytesReceived: 1000,
          transferSize: 1000
        },
        true
      ),
      policy,
      log: quiet
    });
    expect(await worker.runOnce()).toBe(1);

    const record = await createDealQueries(database.db).deal(dealId, 0, true);
    expect(record.state).toBe('active');
    const json = dealJson(record, 't', null);
    expect(json.timeline.map((s) => s.step)).toEqual([
      'proposed',
      'accepted',
      'transferring',
      'transferred',
      'published',
      'active'
    ]);
    for (const step of json.timeline) expect(step, step.step).toMatchObject({ at: expect.any(String) });
    const times = json.timeline.map((s) => Date.parse(s.at!));
    expect(times).toEqual(times.toSorted((a, b) => a - b));
    expect(json.transferStarted).not.toBeNull();
    expect(json.transferFinished).not.toBeNull();
    expect(json.onChainAt).not.toBeNull();
    expect(json.sealedAt).not.toBeNull();

    // One event per state change, each at its step's time.
    const events = await eventsOf(dealId);
    expect(events.map((e) => e.kind)).toEqual(['transfer-started', 'transferred', 'published', 'activated']);
    expect(events.map((e) => e.at)).toEqual(times.slice(2));

    // Looked at again (the active check): nothing is recorded twice.
    await database.db.updateTable('deals').set({ next_run_at: 0 }).where('id', '=', dealId).execute();
    expect(await worker.runOnce()).toBe(1);
    expect(await eventsOf(dealId)).toEqual(events);
  });

  it('records each step of a deal seen one state at a time, once', async () => {
    const dealId = await acceptedDeal(1001);
    const steps: Array<[ProviderStatus, boolean, string]> = [
      [
        {
          checkpoint: 'Accepted',
          error: '',
          chainDealId: null,
          publishCid: null,
          bytesReceived: 10,
          transferSize: 1000
        },
        false,
        'transferring'
      ],
      [
        {
          checkpoint: 'Transferred',
          error: '',
          chainDealId: null,
          publishCid: null,
          bytesReceived: 1000,
          transferSize: 1000
        },
        false,
        'transferred'
      ],
      [
        {
          checkpoint: 'PublishConfirmed',
          error: '',
          chainDealId: 7,
          publishCid: 'bafy2bzacepublish',
          bytesReceived: 1000,
          transferSize: 1000
        },
        false,
        'published'
      ],
      [
        {
          checkpoint: 'PublishConfirmed',
          error: '',
          chainDealId: 7,
          publishCid: 'bafy2bzacepublish',
          bytesReceived: 1000,
          transferSize: 1000
        },
        false,
        'published'
      ]
    ];
    const leases = createLeases({ db: database.db, dialect: database.dialect, owner: 'timeline-2' });
    for (const [status, sealed, expected] of steps) {
      await database.db.updateTable('deals').set({ next_run_at: 0 }).where('id', '=', dealId).execute();
      const worker = createDealWorker({
        db: database.db,
        leases,
        network: network(status, sealed),
        policy,
        log: quiet
      });
      expect(await worker.runOnce()).toBe(1);
      const row = await database.db
        .selectFrom('deals')
        .select('state')
        .where('id', '=', dealId)
        .executeTakeFirstOrThrow();
      expect(row.state).toBe(expected);
    }
    const events = await eventsOf(dealId);
    expect(events.map((e) => e.kind)).toEqual(['transfer-started', 'transferred', 'published']);
    const record = await createDealQueries(database.db).deal(dealId, 0, true);
    const timeline = dealJson(record, 't', null).timeline;
    expect(timeline.map((s) => s.step)).toEqual([
      'proposed',
      'accepted',
      'transferring',
      'transferred',
      'published'
    ]);
    for (const step of timeline) expect(step, step.step).toMatchObject({ at: expect.any(String) });
  });
});

describe.each(DATABASES)('deal timeline migration on %s', (kind) => {
  /** A database migrated up to (not including) 0008, as a service before this change left it. */
  async function legacyDatabase() {
    let db: Kysely<Database>;
    let dialect: 'sqlite' | 'postgres';
    let dataDir: string;
    let drop: () => Promise<void>;
    let url: string | undefined;
    if (kind === 'sqlite') {
      dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'firth-db-'));
      db = new Kysely<Database>({ dialect: openSqlite(path.join(dataDir, 'firth.sqlite')).dialect });
      dialect = 'sqlite';
      drop = () => fs.rm(dataDir, { recursive: true, force: true });
    } else {
      const temp = await createTempPostgres();
      db = new Kysely<Database>({
        dialect: new PostgresDialect({ pool: new pg.Pool({ connectionString: temp.url, max: 2 }) })
      });
      dialect = 'postgres';
      dataDir = os.tmpdir();
      drop = temp.drop;
      url = temp.url;
    }
    const before = Object.fromEntries(Object.entries(migrations(dialect)).filter(([name]) => name < '0008'));
    const { error } = await new Migrator({
      db,
      provider: { getMigrations: async () => before }
    }).migrateToLatest();
    expect(error).toBeUndefined();
    return { db, dataDir, drop, url };
  }

  it('gives the steps of deals recorded before it the best time known, in order', async () => {
    const legacy = await legacyDatabase();
    const now = Date.now();
    const { id: pieceId } = await legacy.db
      .insertInto('pieces')
      .values({
        kind: 'single',
        state: 'ready',
        replication: 6,
        items: 1,
        bytes: 1,
        last_error: '',
        next_run_at: now,
        attempts: 0,
        created_at: now,
        updated_at: now
      })
      .returning('id')
      .executeTakeFirstOrThrow();
    const deal = (uuid: string, state: 'active' | 'published', times: Record<string, number>) => ({
      piece_id: pieceId,
      provider_actor: 1000,
      uuid,
      state,
      message: '',
      verified: 0,
      label: '',
      price_per_epoch: '0',
      provider_collateral: '0',
      transfer_size: 1,
      bytes_received: 1,
      next_run_at: now,
      attempts: 0,
      created_at: now - 10_000,
      updated_at: now,
      ...times
    });
    // Seen jumping from accepted to active, and from accepted to published.
    await legacy.db
      .insertInto('deals')
      .values([
        deal('jumped-to-active', 'active', { accepted_at: now - 9000, activated_at: now - 1000 }),
        deal('jumped-to-published', 'published', { accepted_at: now - 8000, published_at: now - 2000 })
      ])
      .execute();
    await legacy.db.destroy();

    const reopened = await openDatabase({ dataDir: legacy.dataDir, databaseUrl: legacy.url });
    try {
      const queries = createDealQueries(reopened.db);
      const rows = await reopened.db.selectFrom('deals').select(['id', 'uuid']).orderBy('id').execute();
      const steps: Record<string, string[]> = {
        'jumped-to-active': ['proposed', 'accepted', 'transferring', 'transferred', 'published', 'active'],
        'jumped-to-published': ['proposed', 'accepted', 'transferring', 'transferred', 'published']
      };
      for (const r of rows) {
        const timeline = dealJson(await queries.deal(Number(r.id), 0, true), 't', null).timeline;
        expect(timeline.map((s) => s.step)).toEqual(steps[r.uuid]);
        for (const s of timeline) expect(s.at, `${r.uuid} ${s.step}`).not.toBeNull();
        const times = timeline.map((s) => Date.parse(s.at!));
        expect(times).toEqual(times.toSorted((a, b) => a - b));
      }
    } finally {
      await reopened.close();
      await legacy.drop();
    }
  });
});
