import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { CID } from 'multiformats/cid';
import type { DealsApi } from '../../../filecoin/deals/api.ts';
import { parseBefore } from '../../../filecoin/deals/queries.ts';
import { formatActorId, parseActorId } from '../../../filecoin/providers/actor.ts';
import { emptyRecord, scoreOf } from '../../../filecoin/providers/scoring.ts';
import { PERM_ADMIN, PERM_USER } from '../../../server/db/schema.ts';
import { InvalidInputError, NotFoundError } from '../../../server/errors.ts';
import type { Tracking } from '../../../server/metrics/index.ts';
import type { BreakdownBy } from '../../../server/metrics/queries.ts';
import { DAY_MS, parseRange } from '../../../server/metrics/range.ts';
import { requireAuth, userOf } from '../auth.ts';
import { pageParam } from '../body.ts';
import type { ApiContext } from '../context.ts';

const TRACKING_OFF = {
  error: { code: 503, reason: 'ERR_STATS_OFF', details: 'bandwidth tracking is not running on this node' }
};
const FILECOIN_OFF = {
  error: { code: 503, reason: 'ERR_FILECOIN_OFF', details: 'Filecoin is not configured on this node' }
};
const iso = (ms: number) => new Date(ms).toISOString();
const BREAKDOWNS: readonly BreakdownBy[] = ['channel', 'user', 'content', 'peer'];

/**
 * Bandwidth and provider performance: `/content/bw-usage/:id`, `/user/stats` (with bandwidth),
 * `/public/stats` (Estuary's fields plus bandwidth), chart series (paged by time range, bounded in
 * points), the admin breakdown, and the per-provider stats, log and failures
 * (`/public/miners/stats|failures|events|series/:miner`) with the figures the chooser ranks by.
 */
export async function statsRoutes(app: FastifyInstance, ctx: ApiContext): Promise<void> {
  const user = requireAuth(ctx.accounts, PERM_USER);
  const admin = requireAuth(ctx.accounts, PERM_ADMIN);
  const q = (req: FastifyRequest) => req.query as Record<string, string | undefined>;
  // Routes that need the meter or Filecoin answer 503 without them (checked before the handler).
  const on = async (_req: FastifyRequest, reply: FastifyReply) => {
    if (ctx.stats == null) return reply.status(503).send(TRACKING_OFF);
  };
  const fil = async (_req: FastifyRequest, reply: FastifyReply) => {
    if (ctx.stats == null) return reply.status(503).send(TRACKING_OFF);
    if (ctx.deals == null) return reply.status(503).send(FILECOIN_OFF);
  };
  const tracking = (): Tracking => ctx.stats!;
  const daysOf = (req: FastifyRequest) => Math.max(1, pageParam(q(req).days, 'days', 30, 365));

  /** A content of the caller's, by id or by CID; 404 for anything else, 400 for a malformed CID. */
  async function ownContent(req: FastifyRequest): Promise<{ id: number; cid: string }> {
    const u = userOf(req).user;
    const text = (req.params as { id: string }).id.trim();
    if (/^\d+$/.test(text)) {
      const c = await ctx.content.get(u.id, text);
      return { id: Number(c.id), cid: String(c.cid) };
    }
    let cid: CID;
    try {
      cid = CID.parse(text);
    } catch {
      throw new InvalidInputError(
        'ERR_INVALID_INPUT',
        `"${text.slice(0, 100)}" is neither a content id nor a CID`
      );
    }
    const found = await ctx.content.byCid(u.id, cid.toString());
    const first = found[0]?.content;
    if (first == null) throw new NotFoundError('ERR_CONTENT_NOT_FOUND', `no content of yours has CID ${cid}`);
    return { id: Number(first.id), cid: String(first.cid) };
  }

  // Estuary's `{totalOut}` plus what came in, per channel, and (with from/to) a series.
  app.get('/content/bw-usage/:id', { preHandler: [user, on] }, async (req) => {
    const t = tracking();
    const content = await ownContent(req);
    const usage = await t.queries.usage({ contentId: content.id });
    const wantsSeries = q(req).from != null || q(req).to != null || q(req).step != null;
    const series = wantsSeries
      ? await t.queries.bandwidthSeries(parseRange(q(req), { defaultSpanMs: DAY_MS }), {
          contentId: content.id
        })
      : undefined;
    return { content: content.id, cid: content.cid, ...usage, ...(series ? { series } : {}) };
  });

  app.get('/user/stats', { preHandler: user }, async (req) => {
    const id = userOf(req).user.id;
    const base = await ctx.content.userStats(id);
    if (ctx.stats == null) return base;
    return { ...base, bandwidth: await ctx.stats.queries.usage({ userId: id }) };
  });

  // My bandwidth over time.
  app.get('/user/stats/bandwidth', { preHandler: [user, on] }, async (req) => {
    const range = parseRange(q(req), { defaultSpanMs: DAY_MS });
    return tracking().queries.bandwidthSeries(range, { userId: userOf(req).user.id });
  });

  // Everyone's bandwidth over time, and who or what used it (admin).
  app.get('/admin/stats/bandwidth', { preHandler: [admin, on] }, async (req) => {
    const range = parseRange(q(req), { defaultSpanMs: DAY_MS });
    return tracking().queries.bandwidthSeries(range);
  });

  app.get('/admin/stats/bandwidth/breakdown', { preHandler: [admin, on] }, async (req) => {
    const by = (q(req).by ?? 'channel') as BreakdownBy;
    if (!BREAKDOWNS.includes(by))
      throw new InvalidInputError('ERR_INVALID_INPUT', `"by" must be one of ${BREAKDOWNS.join(', ')}`);
    const range = parseRange(q(req), { defaultSpanMs: DAY_MS, steps: ['hour', 'day'] });
    const limit = Math.max(1, pageParam(q(req).limit, 'limit', 20, 200));
    return {
      from: range.from,
      to: range.to,
      by,
      rows: await tracking().queries.breakdown({ ...range, step: 'hour', stepMs: 3_600_000 }, by, limit)
    };
  });

  // Node-wide figures; heavy, so cached for 10 s (Estuary cached these too).
  let publicCache: { at: number; value: Promise<unknown> } | undefined;
  app.get('/public/stats', { preHandler: on }, async () => {
    if (publicCache != null && Date.now() - publicCache.at < 10_000) return publicCache.value;
    const t = tracking();
    const value = Promise.all([t.queries.nodeStats(), t.queries.totals()]).then(([node, bandwidth]) => ({
      ...node,
      totalBytesUploaded: bandwidth.byChannel['http-upload'].bytes + bandwidth.byChannel['bitswap-in'].bytes,
      bandwidth
    }));
    value.catch(() => (publicCache = undefined));
    publicCache = { at: Date.now(), value };
    return value;
  });

  // Deals over time (attempted, published, active, failed), public like Estuary's deal metrics.
  app.get('/public/stats/deals', { preHandler: on }, async (req) => {
    const range = parseRange(q(req), { defaultSpanMs: 14 * DAY_MS, steps: ['hour', 'day'] });
    return tracking().queries.dealSeries(range);
  });

  // ---- Providers ----

  const deals = (): DealsApi => ctx.deals!;
  /** A provider in our list: 400 for a malformed ID, 404 for one we do not know. */
  async function provider(req: FastifyRequest) {
    const actor = parseActorId((req.params as { miner: string }).miner);
    const api = deals();
    return { actor, api, row: await api.registry.get(actor) };
  }

  // The providers table: each provider's figures, score and activations per day (sparkline).
  app.get('/public/stats/providers', { preHandler: on }, async (req) => {
    const days = Math.max(1, pageParam(q(req).days, 'days', 14, 90));
    const api = ctx.deals;
    if (api == null) return { days, providers: [] };
    const [rows, records, sparks] = await Promise.all([
      api.registry.list(),
      api.providerRecords(),
      tracking().queries.activationSparklines(days)
    ]);
    return {
      days,
      providers: rows.slice(0, 1000).map((p) => {
        const actor = Number(p.actor_id);
        const record = records.get(actor);
        return {
          addr: formatActorId(actor, api.addressPrefix),
          suspended: p.state === 'suspended',
          score: scoreOf(record),
          ...(record ?? emptyRecord(actor)),
          activationsPerDay: sparks.get(actor) ?? new Array<number>(days).fill(0)
        };
      })
    };
  });

  app.get('/public/miners/stats/:miner', { preHandler: fil }, async (req) => {
    const { actor, api, row } = await provider(req);
    const days = daysOf(req);
    const stats = await tracking().queries.providerStats(actor, days);
    // Phase 'client': the piece was at fault (every provider failed it alike), not this provider.
    const errorCount = Object.entries(stats.failedByPhase)
      .filter(([phase]) => phase !== 'client')
      .reduce((a, [, n]) => a + n, 0);
    return {
      // Estuary's fields
      miner: formatActorId(actor, api.addressPrefix),
      name: '',
      version: '',
      usedByEstuary: stats.record.proposed > 0,
      dealCount: stats.record.proposed,
      errorCount,
      suspended: row.state === 'suspended',
      suspendedReason: row.suspend_reason,
      chainInfo: {
        peerId: row.peer_id,
        addresses: JSON.parse(row.multiaddrs) as string[],
        owner: '',
        worker: ''
      },
      // Firth's figures over the window
      days,
      score: stats.score,
      deals: {
        proposed: stats.record.proposed,
        accepted: stats.record.accepted,
        rejected: stats.record.rejected,
        published: stats.record.published,
        active: stats.record.active,
        failed: stats.record.failed,
        slashed: stats.record.slashed,
        expired: stats.expired,
        byState: stats.byState,
        failedByPhase: stats.failedByPhase,
        rejectReasons: stats.rejectReasons
      },
      timing: {
        msToPublish: stats.record.msToPublish,
        msToActive: stats.record.msToActive,
        transferBytesPerSec: stats.record.transferBytesPerSec,
        transferBytes: stats.transferBytes
      },
      retrievals: stats.retrieval
    };
  });

  const eventsRoute = (failuresOnly: boolean) => async (req: FastifyRequest) => {
    const { actor, api } = await provider(req);
    const rows = await tracking().queries.providerEvents(actor, {
      limit: Math.max(1, pageParam(q(req).limit, 'limit', failuresOnly ? 1000 : 100, 1000)),
      before: parseBefore(q(req).before),
      failuresOnly
    });
    const miner = formatActorId(actor, api.addressPrefix);
    // Estuary's DfeRecord fields (ID, CreatedAt, miner, phase, message) plus the event's kind.
    return rows.map((e) => ({
      ID: e.id,
      CreatedAt: iso(e.at),
      miner,
      phase: e.phase,
      kind: e.kind,
      ok: e.ok,
      message: e.message,
      dealId: e.dealId,
      deal_protocol_version: '/fil/storage/mk/1.2.0'
    }));
  };
  app.get('/public/miners/failures/:miner', { preHandler: fil }, eventsRoute(true));
  app.get('/public/miners/events/:miner', { preHandler: fil }, eventsRoute(false));

  app.get('/public/miners/series/:miner', { preHandler: fil }, async (req) => {
    const { actor } = await provider(req);
    const range = parseRange(q(req), { defaultSpanMs: 14 * DAY_MS, steps: ['hour', 'day'] });
    return tracking().queries.dealSeries(range, actor);
  });
}
