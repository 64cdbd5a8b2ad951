// Bandwidth tracking, Prometheus metrics and the stats queries, built once by the composition root
// (server/firth.ts) and handed to the API as `ctx.stats`.
import type { Kysely } from 'kysely';
import type { CID } from 'multiformats/cid';
import type { Database } from '../db/schema.ts';
import type { Logger } from '../log.ts';
import type { DealDataSource } from '../../filecoin/deals/deal-data.ts';
import { onBitswapTraffic, type FirthPeer } from '../../relay/peer.ts';
import { createBandwidthMeter, type BandwidthMeter } from './bandwidth.ts';
import { createServiceMetrics, type ServiceMetrics } from './prometheus.ts';
import { createStatsQueries, type StatsQueries } from './queries.ts';

export { CHANNELS, type Channel } from './bandwidth.ts';

export interface Tracking {
  meter: BandwidthMeter;
  metrics: ServiceMetrics;
  queries: StatsQueries;
  /** 'f' or 't': how provider addresses are written in peer columns and responses. */
  addressPrefix: 'f' | 't';
  /**
   * Meters bitswap in (per peer, and per content for blocks a pin or a retrieval claimed) and out
   * (per peer). Blocks from a storage provider's peer are retrieval traffic (channel retrieval-in,
   * under the provider's address), not a user's bitswap-in.
   */
  attachPeer(peer: FirthPeer): boolean;
  /** The deal-data source with every byte a provider pulls counted (channel deal-transfer-out). */
  meterDealData(source: DealDataSource): DealDataSource;
  /**
   * Retrieval hook: one finished attempt to fetch a content back from a provider (channel
   * retrieval-in, per content, its owner and the provider).
   */
  retrieved(result: {
    contentId: number;
    provider: string;
    transport: string;
    bytes: number;
    ok: boolean;
  }): void;
  /** The provider list changed: read storage providers' peer IDs again. */
  providersChanged(): void;
  /** Gateway hook: body bytes served for a root CID. */
  gatewayServed(root: CID, bytes: number, request: { status: number }): void;
  start(): void;
  stop(): Promise<void>;
}

export interface TrackingInit {
  db: Kysely<Database>;
  log?: Logger;
  flushMs?: number;
  minuteRetentionMs?: number;
  addressPrefix?: 'f' | 't';
}

/** How long the provider peer list is trusted before it is read again. */
const PROVIDER_PEERS_TTL_MS = 30_000;

export function createTracking(init: TrackingInit): Tracking {
  const metrics = createServiceMetrics({ db: init.db });
  const meter = createBandwidthMeter({
    db: init.db,
    log: init.log,
    flushMs: init.flushMs,
    minuteRetentionMs: init.minuteRetentionMs,
    onSample: (s) => metrics.onBandwidth(s)
  });
  const prefix = init.addressPrefix ?? 'f';

  // Storage providers' libp2p peer IDs → their addresses, from the provider list, refreshed in the
  // background (the bitswap hook is synchronous and runs for every block).
  let providerPeers = new Map<string, string>();
  let providersLoadedAt = 0;
  let loadingProviders: Promise<void> | undefined;
  let reloadAfter = false;
  const loadProviderPeers = (): Promise<void> =>
    (loadingProviders ??= init.db
      .selectFrom('providers')
      .select(['actor_id', 'peer_id'])
      .where('peer_id', '!=', '')
      .execute()
      .then((rows) => {
        providerPeers = new Map(rows.map((r) => [r.peer_id, `${prefix}0${Number(r.actor_id)}`]));
        providersLoadedAt = Date.now();
      })
      .catch((err: unknown) => init.log?.warn({ err }, 'loading provider peers for metering failed'))
      .finally(() => {
        loadingProviders = undefined;
        // A change seen while reading: read once more so it is not missed.
        if (reloadAfter) {
          reloadAfter = false;
          void loadProviderPeers();
        }
      }));
  const providerOf = (peerId: string): string | undefined => {
    if (Date.now() - providersLoadedAt > PROVIDER_PEERS_TTL_MS) void loadProviderPeers();
    return providerPeers.get(peerId);
  };

  return {
    meter,
    metrics,
    queries: createStatsQueries(init.db),
    addressPrefix: prefix,
    attachPeer(peer) {
      const ok = onBitswapTraffic(peer, {
        received(from, cid, bytes) {
          metrics.bitswapBlock('in', 1);
          const owner = meter.ownerOf(cid);
          const provider = providerOf(from);
          meter.record({
            channel: provider == null ? 'bitswap-in' : 'retrieval-in',
            bytes,
            peer: provider ?? from,
            contentId: owner?.contentId,
            userId: owner?.userId || undefined
          });
        },
        sent(to, bytes, blocks) {
          metrics.bitswapBlock('out', blocks);
          meter.record({ channel: 'bitswap-out', bytes, peer: to, events: blocks });
        }
      });
      if (!ok) init.log?.warn('bitswap internals not found: bitswap traffic is not metered');
      return ok;
    },
    meterDealData(source) {
      return {
        async open(uuid, token) {
          const payload = await source.open(uuid, token);
          // Only reached with the deal's valid token: one indexed lookup for whom the bytes go to.
          const deal = await init.db
            .selectFrom('deals')
            .innerJoin('pieces', 'pieces.id', 'deals.piece_id')
            .leftJoin('contents', 'contents.id', 'pieces.content_id')
            .select(['deals.provider_actor', 'pieces.content_id', 'contents.user_id'])
            .where('deals.uuid', '=', uuid)
            .executeTakeFirst();
          const sample = {
            peer: deal == null ? undefined : `${prefix}0${Number(deal.provider_actor)}`,
            // Aggregates carry many contents: their transfer bytes count for the provider only.
            contentId: deal?.content_id == null ? undefined : Number(deal.content_id),
            userId: deal?.user_id == null ? undefined : Number(deal.user_id)
          };
          return {
            size: payload.size,
            async *read(start, end, options) {
              let n = 0;
              try {
                for await (const chunk of payload.read(start, end, options)) {
                  n += chunk.byteLength;
                  yield chunk;
                }
              } finally {
                // Counted when the stream ends, cut or not: what left us is what was sent.
                meter.record({ channel: 'deal-transfer-out', bytes: n, ...sample });
              }
            }
          };
        }
      };
    },
    retrieved(result) {
      metrics.retrieval(result.transport, result.ok ? 'ok' : 'failed');
      meter.record({
        channel: 'retrieval-in',
        // Bitswap blocks were counted one by one as they arrived (attachPeer): only the attempt here.
        bytes: result.transport === 'bitswap' ? 0 : result.bytes,
        contentId: result.contentId,
        peer: result.provider || undefined
      });
    },
    gatewayServed(root, bytes, request) {
      metrics.gatewayResponse(request.status, bytes);
      meter.record({ channel: 'gateway-out', bytes, cid: root });
    },
    providersChanged() {
      if (loadingProviders != null) reloadAfter = true;
      else void loadProviderPeers();
    },
    start() {
      void loadProviderPeers();
      meter.start();
    },
    stop: () => meter.stop()
  };
}
