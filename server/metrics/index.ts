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
  /** Meters bitswap in (per peer, and per content for blocks a pin claimed) and out (per peer). */
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
          meter.record({
            channel: 'bitswap-in',
            bytes,
            peer: from,
            contentId: owner?.contentId,
            userId: owner?.userId
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
        bytes: result.bytes,
        contentId: result.contentId,
        peer: result.provider || undefined
      });
    },
    gatewayServed(root, bytes, request) {
      metrics.gatewayResponse(request.status, bytes);
      meter.record({ channel: 'gateway-out', bytes, cid: root });
    },
    start: () => meter.start(),
    stop: () => meter.stop()
  };
}
