// What GET /api/admin/retrieval/stats reports: attempts by outcome, per provider and transport
// (time to first block, throughput), the latest attempts and the retrievals running now.
import { sql, type Kysely } from 'kysely';
import type { Database } from '../../server/db/schema.ts';

export interface RetrievalStats {
  attempts: number;
  succeeded: number;
  failed: number;
  running: number;
  bytes: number;
  providers: Array<{
    provider: string;
    transport: string;
    succeeded: number;
    failed: number;
    bytes: number;
    avgTtfbMs: number | null;
    avgMBps: number | null;
  }>;
  recent: Array<{
    id: number;
    contentId: number;
    root: string;
    provider: string;
    url: string;
    transport: string;
    state: string;
    bytes: number;
    blocks: number;
    ttfbMs: number | null;
    durationMs: number | null;
    error: string;
    startedAt: string;
    endedAt: string | null;
  }>;
}

const provider = (actor: number | string | null, url: string) => (actor == null ? url : `f0${Number(actor)}`);

export async function retrievalStats(db: Kysely<Database>, limit = 50): Promise<RetrievalStats> {
  const groups = await db
    .selectFrom('retrievals')
    .select([
      'provider_actor',
      'provider_url',
      'transport',
      'state',
      sql<number>`count(*)`.as('n'),
      sql<number>`coalesce(sum(bytes), 0)`.as('bytes'),
      sql<number>`coalesce(sum(duration_ms), 0)`.as('ms'),
      sql<number | null>`avg(ttfb_ms)`.as('ttfb')
    ])
    .groupBy(['provider_actor', 'provider_url', 'transport', 'state'])
    .execute();
  const byProvider = new Map<string, RetrievalStats['providers'][number] & { ms: number }>();
  const totals = { attempts: 0, succeeded: 0, failed: 0, running: 0, bytes: 0 };
  for (const g of groups) {
    const n = Number(g.n);
    const key = `${provider(g.provider_actor, g.provider_url)} ${g.transport}`;
    const p = byProvider.get(key) ?? {
      provider: provider(g.provider_actor, g.provider_url),
      transport: g.transport,
      succeeded: 0,
      failed: 0,
      bytes: 0,
      avgTtfbMs: null,
      avgMBps: null,
      ms: 0
    };
    totals.attempts += n;
    if (g.state === 'done') {
      totals.succeeded += n;
      totals.bytes += Number(g.bytes);
      p.succeeded += n;
      p.bytes += Number(g.bytes);
      p.ms += Number(g.ms);
      p.avgTtfbMs = g.ttfb == null ? null : Math.round(Number(g.ttfb));
      p.avgMBps = p.ms > 0 ? Math.round((p.bytes / 1e6 / (p.ms / 1000)) * 10) / 10 : null;
    } else if (g.state === 'failed') {
      totals.failed += n;
      p.failed += n;
    } else totals.running += n;
    byProvider.set(key, p);
  }
  const rows = await db.selectFrom('retrievals').selectAll().orderBy('id', 'desc').limit(limit).execute();
  return {
    ...totals,
    providers: [...byProvider.values()].map(({ ms: _ms, ...p }) => p),
    recent: rows.map((r) => ({
      id: Number(r.id),
      contentId: Number(r.content_id),
      root: r.root_cid,
      provider: provider(r.provider_actor, r.provider_url),
      url: r.provider_url,
      transport: r.transport,
      state: r.state,
      bytes: Number(r.bytes),
      blocks: Number(r.blocks),
      ttfbMs: r.ttfb_ms == null ? null : Number(r.ttfb_ms),
      durationMs: r.duration_ms == null ? null : Number(r.duration_ms),
      error: r.error,
      startedAt: new Date(Number(r.started_at)).toISOString(),
      endedAt: r.ended_at == null ? null : new Date(Number(r.ended_at)).toISOString()
    }))
  };
}
