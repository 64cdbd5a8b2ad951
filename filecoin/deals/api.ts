// What the API's deal routes (gateway/api/routes/deals.ts) need from the Filecoin side, as one
// object the service builds when a Filecoin network is configured (ctx.deals). Without it the deal
// routes answer 503 ERR_FILECOIN_OFF.
import type { Kysely } from 'kysely';
import type { Database } from '../../server/db/schema.ts';
import type { ProviderRegistry } from '../providers/registry.ts';
import { providerRecords, type ProviderRecord } from '../providers/scoring.ts';
import {
  createFilUsdSource,
  estimateDeals,
  type DealApiConfig,
  type EstimateRequest,
  type EstimateResult,
  type FilUsdSource
} from './estimate.ts';
import type { ChainDeal, DealNetwork } from './network.ts';
import { createDealQueries, type DealQueries, type DealsOnChainMetrics } from './queries.ts';

export interface DealsApi {
  queries: DealQueries;
  registry: ProviderRegistry;
  /** StateMarketStorageDeal, live; null when the chain has no such deal. */
  chainDeal(dealId: number): Promise<ChainDeal | null>;
  /** Current chain epoch. */
  head(): Promise<number>;
  /** 'f' on mainnet, 't' on test networks (calibration, the devnet). */
  addressPrefix: 'f' | 't';
  /** Duration an estimate assumes when the request names none. */
  defaultDurationEpochs: number;
  estimate(request: EstimateRequest, options?: { signal?: AbortSignal }): Promise<EstimateResult>;
  /** Deals-on-chain metrics over the last `days` days, cached for a minute. */
  metrics(days: number): Promise<DealsOnChainMetrics>;
  /** Each provider's deal record over the last 30 days (what scoring ranks them by). */
  providerRecords(): Promise<Map<number, ProviderRecord>>;
  /** How a content of `dagSize` bytes asking for `replication` replicas will be dealt (API responses say it). */
  placement(dagSize: number, replication: number): Placement;
}

/** How a content is dealt: alone or aggregated, and how many replicas it gets. */
export interface Placement {
  /** Replicas the content gets: always what it asked for. */
  replication: number;
  /** True: small content, dealt inside an aggregate piece with other contents. */
  aggregated: boolean;
  /** The same in words. */
  note: string;
}

/** Content smaller than this is aggregated (filecoin/settings.ts: FIRTH_DEAL_MIN_BYTES). @default 1 GiB */
const DEFAULT_MIN_DEAL_BYTES = 2 ** 30;

export function placementOf(dagSize: number, replication: number, minDealBytes: number): Placement {
  const aggregated = dagSize < minDealBytes;
  const replicas = `${replication} replica${replication === 1 ? '' : 's'}`;
  return {
    replication,
    aggregated,
    note: aggregated
      ? `aggregated with other small contents of the same replication target, so it gets exactly ${replicas}`
      : `dealt as a piece of its own, with ${replicas}`
  };
}

export interface DealsApiInit {
  db: Kysely<Database>;
  registry: ProviderRegistry;
  network: Pick<DealNetwork, 'chainDeal' | 'head'>;
  addressPrefix: 'f' | 't';
  config: DealApiConfig;
  /** Content below this many DAG bytes is aggregated (the planner's minDealBytes). @default 1 GiB */
  minDealBytes?: number;
  /** Where FIL/USD comes from; @default from `config` with globalThis.fetch */
  rate?: FilUsdSource;
  log?: { warn(obj: object, msg: string): void };
}

export function createDealsApi(init: DealsApiInit): DealsApi {
  const queries = createDealQueries(init.db);
  const rate = init.rate ?? createFilUsdSource(init.config, { log: init.log });
  const metricsCache = new Map<number, { at: number; value: Promise<DealsOnChainMetrics> }>();
  return {
    queries,
    registry: init.registry,
    chainDeal: (dealId) => init.network.chainDeal(dealId),
    head: () => init.network.head(),
    addressPrefix: init.addressPrefix,
    defaultDurationEpochs: init.config.defaultDurationEpochs,
    async estimate(request, options) {
      const r = await rate.get(options);
      return estimateDeals(init.db, request, r, init.addressPrefix);
    },
    providerRecords: () => providerRecords(init.db),
    placement: (dagSize, replication) =>
      placementOf(dagSize, replication, init.minDealBytes ?? DEFAULT_MIN_DEAL_BYTES),
    metrics(days) {
      const hit = metricsCache.get(days);
      if (hit != null && Date.now() - hit.at < 60_000) return hit.value;
      const value = queries.dealsOnChain(days);
      value.catch(() => metricsCache.delete(days));
      metricsCache.set(days, { at: Date.now(), value });
      return value;
    }
  };
}
