// The deal pipeline's loops, started by the service: place pinned content into pieces, prepare
// pieces (CAR + CommP), keep each piece at its replication target, and drive every deal. Each loop
// claims leased rows, so it runs the same on one node with SQLite or several on PostgreSQL.
import type { Kysely } from 'kysely';
import type { Dialect } from '../server/db/migrations.ts';
import type { Database } from '../server/db/schema.ts';
import type { DealNetwork } from './deals/network.ts';
import { createReplicator } from './deals/replicator.ts';
import { createDealWorker, type DealPolicy } from './deals/worker.ts';
import type { LoadBlock } from './pieces/car.ts';
import { createPlanner } from './pieces/planner.ts';
import { createPreparer } from './pieces/prepare.ts';
import { createChooser } from './providers/chooser.ts';
import { createProviderRegistry, type ProviderRegistry } from './providers/registry.ts';
import { createLeases } from './store/leases.ts';

export interface DealPipelineConfig extends DealPolicy {
  minDealBytes: number;
  aggregateTargetBytes: number;
  aggregateMaxWaitMs: number;
  minPieceSize: number;
  /** Most payload (CAR) bytes in one piece; larger content is split into shards. @default 32 GiB·127/128 − 16 MiB */
  maxPiecePayloadBytes?: number;
  maxPrice: bigint;
  maxVerifiedPrice: bigint;
  /** How often a satisfied piece recounts its deals. */
  replicationCheckMs: number;
  /** How often asks and provider info are refreshed. @default 30 min */
  askRefreshMs: number;
  /** A provider that failed or was slashed on a piece is not asked for it again for this long. @default 1 hour */
  failedProviderCooldownMs?: number;
}

export interface DealPipelineInit {
  db: Kysely<Database>;
  dialect: Dialect;
  owner: string;
  load: LoadBlock;
  network: DealNetwork;
  config: DealPipelineConfig;
  /** The provider list, when the caller already made one (the API shares it). */
  registry?: ProviderRegistry;
  log: {
    info(obj: object, msg: string): void;
    warn(obj: object, msg: string): void;
    error(obj: object, msg: string): void;
  };
}

export interface DealPipeline {
  registry: ProviderRegistry;
  stop(): Promise<void>;
}

export function startDealPipeline(init: DealPipelineInit): DealPipeline {
  const { db, config, log } = init;
  const leases = createLeases({ db, dialect: init.dialect, owner: init.owner });
  const registry = init.registry ?? createProviderRegistry({ db, network: init.network, log });
  const planner = createPlanner({
    db,
    dialect: init.dialect,
    minDealBytes: config.minDealBytes,
    aggregateTargetBytes: config.aggregateTargetBytes,
    aggregateMaxWaitMs: config.aggregateMaxWaitMs,
    maxPiecePayloadBytes: config.maxPiecePayloadBytes
  });
  const preparer = createPreparer({
    db,
    leases,
    load: init.load,
    minPieceSize: config.minPieceSize,
    maxPiecePayloadBytes: config.maxPiecePayloadBytes,
    log
  });
  const chooser = createChooser({ db, maxPrice: config.maxPrice, maxVerifiedPrice: config.maxVerifiedPrice });
  let verifiedCache: { value: boolean; at: number } | undefined;
  const replicator = createReplicator({
    db,
    leases,
    chooser,
    head: () => init.network.head(),
    // Whether to pick providers by their verified price: we prefer FIL+ when we have DataCap.
    verified: async () => {
      if (!config.verified) return false;
      if (verifiedCache == null || Date.now() - verifiedCache.at > 60_000) {
        const cap = await init.network.dataCap();
        verifiedCache = { value: cap != null && cap > 0n, at: Date.now() };
      }
      return verifiedCache.value;
    },
    checkEveryMs: config.replicationCheckMs,
    failedProviderCooldownMs: config.failedProviderCooldownMs,
    log
  });
  const worker = createDealWorker({ db, leases, network: init.network, policy: config, log });

  const controller = new AbortController();
  const { signal } = controller;
  const sleep = (ms: number) =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, ms);
      signal.addEventListener(
        'abort',
        () => {
          clearTimeout(timer);
          resolve();
        },
        { once: true }
      );
    });

  // A SQLite file has one service on it: rows still leased at start were held by this service
  // before a crash, so take them back now rather than waiting for the leases to run out.
  const reclaimed =
    init.dialect === 'sqlite'
      ? Promise.all(
          (['pieces', 'deals'] as const).map((table) =>
            db
              .updateTable(table)
              .set({ lease_owner: null, lease_expires_at: null })
              .where('lease_owner', 'is not', null)
              .where('lease_owner', '!=', init.owner)
              .execute()
          )
        ).catch((err: unknown) => log.warn({ err: (err as Error).message }, 'could not reclaim leases'))
      : Promise.resolve();

  /** Runs `tick` until stopped; `tick` returns how much it did, and an idle loop sleeps `idleMs`. */
  const loop = (name: string, idleMs: number, tick: () => Promise<number>) =>
    (async () => {
      await reclaimed;
      while (!signal.aborted) {
        let did: number;
        try {
          did = await tick();
        } catch (err) {
          if (signal.aborted) break;
          log.warn({ loop: name, err: (err as Error).message }, 'deal pipeline step failed');
          await sleep(Math.max(idleMs, 2000));
          continue;
        }
        if (did === 0) await sleep(idleMs);
      }
    })();

  const loops = [
    loop('planner', 2000, async () => {
      const r = await planner.planOnce();
      return r.singles + r.aggregated + r.flushed;
    }),
    loop('prepare', 1000, () => preparer.runOnce(1, { signal })),
    loop('replicate', 1000, () => replicator.runOnce(20)),
    loop('deals', 500, () => worker.runOnce(16, { signal })),
    loop('providers', config.askRefreshMs, async () => {
      await registry.refresh(config.askRefreshMs);
      return 0;
    })
  ];

  return {
    registry,
    async stop() {
      controller.abort();
      await Promise.allSettled(loops);
      await leases.releaseAll();
    }
  };
}
