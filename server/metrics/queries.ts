// Read side of bandwidth and provider performance: series for charts (bounded by a TimeRange),
// usage per content and user, node totals, admin breakdowns, deal series and per-provider figures.
// Every query walks an index over a bounded range or a bounded group; none sums a whole table except
// the node-wide public stats, which are cached.
import { sql, type Kysely } from 'kysely';
import type { Database } from '../db/schema.ts';
import { CHANNELS, INBOUND, type Channel } from './bandwidth.ts';
import type {
  BreakdownBy,
  BreakdownRow,
  ChannelUsage,
  DealSeriesKey,
  Series,
  Usage
} from '../../src/lib/stats-shapes.ts';
import { DAY_MS, type TimeRange } from './range.ts';
import {
  emptyRecord,
  providerRecords,
  retrievalRecords,
  scoreOf,
  type ProviderRecord
} from '../../filecoin/providers/scoring.ts';

export type { BreakdownBy } from '../../src/lib/stats-shapes.ts';

export interface ProviderEvent {
  id: number;
  dealId: number | null;
  kind: string;
  ok: boolean;
  phase: string;
  message: string;
  at: number;
}

export interface ProviderStats {
  record: ProviderRecord;
  score: number;
  /** Deals by their current state, over the window. */
  byState: Record<string, number>;
  /** Failed deals by the phase they failed in (propose = rejected). */
  failedByPhase: Record<string, number>;
  /** Why proposals were rejected, most frequent first. */
  rejectReasons: Array<{ message: string; count: number }>;
  expired: number;
  retrieval: { ok: number; failed: number; ttfbMs: number | null; bytesPerSec: number | null };
  /** Deal-transfer bytes the provider pulled from us (bandwidth meter). */
  transferBytes: number;
}

const num = (v: unknown) => (v == null ? 0 : Number(v));

function emptyUsage(): Usage {
  return {
    totalIn: 0,
    totalOut: 0,
    byChannel: Object.fromEntries(CHANNELS.map((c) => [c, { bytes: 0, events: 0 }])) as Record<
      Channel,
      ChannelUsage
    >
  };
}

function usageOf(rows: Array<{ channel: string; bytes: unknown; events: unknown }>): Usage {
  const u = emptyUsage();
  for (const r of rows) {
    const c = r.channel as Channel;
    if (!(c in u.byChannel)) continue;
    u.byChannel[c].bytes += num(r.bytes);
    u.byChannel[c].events += num(r.events);
    if (INBOUND.has(c)) u.totalIn += num(r.bytes);
    else u.totalOut += num(r.bytes);
  }
  return u;
}

function emptySeries<K extends string>(range: TimeRange, keys: readonly K[]): Series<K> {
  const t: number[] = [];
  for (let x = range.from; x < range.to; x += range.stepMs) t.push(x);
  return {
    from: range.from,
    to: range.to,
    step: range.step,
    t,
    series: Object.fromEntries(keys.map((k) => [k, t.map(() => 0)])) as Record<K, number[]>
  };
}

function place<K extends string>(s: Series<K>, stepMs: number, key: K, at: number, value: number) {
  const i = Math.floor((at - s.from) / stepMs);
  const arr = s.series[key];
  if (arr != null && i >= 0 && i < arr.length) arr[i] = (arr[i] ?? 0) + value;
}

export function createStatsQueries(db: Kysely<Database>) {
  /** Minute rows for minute steps, hour rows otherwise. */
  function bandwidthRows(range: TimeRange) {
    return range.step === 'minute'
      ? {
          table: 'bandwidth_minute' as const,
          time: 'minute' as const
        }
      : { table: 'bandwidth_hour' as const, time: 'hour' as const };
  }

  return {
    /** Bytes per channel per step over the range, for one user, one content, or everyone. */
    async bandwidthSeries(
      range: TimeRange,
      filter: { userId?: number; contentId?: number } = {}
    ): Promise<Series<Channel>> {
      const { table, time } = bandwidthRows(range);
      const bucket = sql<number>`(${sql.ref(time)} / ${sql.lit(range.stepMs)})`;
      let q = db
        .selectFrom(table as 'bandwidth_hour')
        .select((eb) => [bucket.as('b'), 'channel', eb.fn.sum<number>('bytes').as('bytes')])
        .where(time as 'hour', '>=', range.from)
        .where(time as 'hour', '<', range.to);
      if (filter.userId != null) q = q.where('user_id', '=', filter.userId);
      if (filter.contentId != null) q = q.where('content_id', '=', filter.contentId);
      const rows = await q.groupBy([bucket, 'channel']).execute();
      const s = emptySeries(range, CHANNELS);
      for (const r of rows) {
        place(s, range.stepMs, r.channel as Channel, Math.floor(Number(r.b)) * range.stepMs, num(r.bytes));
      }
      return s;
    },

    /** All-time bytes per channel for one content or one user (their index, their rows only). */
    async usage(filter: { userId: number } | { contentId: number }): Promise<Usage> {
      let q = db
        .selectFrom('bandwidth_hour')
        .select((eb) => [
          'channel',
          eb.fn.sum<number>('bytes').as('bytes'),
          eb.fn.sum<number>('events').as('events')
        ]);
      q =
        'userId' in filter
          ? q.where('user_id', '=', filter.userId)
          : q.where('content_id', '=', filter.contentId);
      return usageOf(await q.groupBy('channel').execute());
    },

    /** Node-wide bytes per channel since the start (one row per channel). */
    async totals(): Promise<Usage> {
      return usageOf(
        await db.selectFrom('bandwidth_totals').select(['channel', 'bytes', 'events']).execute()
      );
    },

    /** The biggest users, contents, peers or channels over a range (admin). */
    async breakdown(range: TimeRange, by: BreakdownBy, limit: number): Promise<BreakdownRow[]> {
      const { table, time } = bandwidthRows(range);
      const column = { channel: 'channel', user: 'user_id', content: 'content_id', peer: 'peer' }[by];
      const inbound = [...INBOUND];
      const rows = await db
        .selectFrom(table as 'bandwidth_hour')
        .select((eb) => [
          sql<string>`${sql.ref(column)}`.as('k'),
          eb.fn
            .sum<number>(sql`case when channel in (${sql.join(inbound)}) then bytes else 0 end`)
            .as('bytes_in'),
          eb.fn
            .sum<number>(sql`case when channel in (${sql.join(inbound)}) then 0 else bytes end`)
            .as('bytes_out'),
          eb.fn.sum<number>('events').as('events'),
          eb.fn.sum<number>('bytes').as('total')
        ])
        .where(time as 'hour', '>=', range.from)
        .where(time as 'hour', '<', range.to)
        .groupBy(sql.ref(column))
        .orderBy(sql`sum(bytes)`, 'desc')
        .limit(limit)
        .execute();
      const names = new Map<number, string>();
      if (by === 'user') {
        const ids = rows.map((r) => Number(r.k)).filter((id) => id > 0);
        if (ids.length > 0) {
          for (const u of await db
            .selectFrom('users')
            .select(['id', 'username'])
            .where('id', 'in', ids)
            .execute())
            names.set(Number(u.id), u.username);
        }
      }
      return rows.map((r) => {
        const key = String(r.k);
        const none = key === '' || key === '0';
        return {
          key,
          label: none
            ? by === 'peer'
              ? '(no peer)'
              : `(no ${by})`
            : by === 'user'
              ? (names.get(Number(key)) ?? `user ${key}`)
              : by === 'content'
                ? `content ${key}`
                : key,
          bytesIn: num(r.bytes_in),
          bytesOut: num(r.bytes_out),
          events: num(r.events)
        };
      });
    },

    /**
     * Deals over time: attempted (proposals made), published, activated and failed (rejections,
     * failures, slashes), bucketed by step. Proposals walk deals(created_at); the rest walk
     * deal_events(ok, at), both bounded by the range.
     */
    async dealSeries(range: TimeRange, provider?: number): Promise<Series<DealSeriesKey>> {
      const s = emptySeries(range, ['attempted', 'published', 'active', 'failed'] as const);
      const bucket = (col: string) => sql<number>`(${sql.ref(col)} / ${sql.lit(range.stepMs)})`;
      let attempted = db
        .selectFrom('deals')
        .select((eb) => [bucket('created_at').as('b'), eb.fn.countAll<number>().as('n')])
        .where('created_at', '>=', range.from)
        .where('created_at', '<', range.to);
      if (provider != null) attempted = attempted.where('provider_actor', '=', provider);
      let events = db
        .selectFrom('deal_events')
        .select((eb) => [bucket('at').as('b'), 'kind', 'ok', eb.fn.countAll<number>().as('n')])
        .where('ok', 'in', [0, 1])
        .where('at', '>=', range.from)
        .where('at', '<', range.to);
      if (provider != null) events = events.where('provider_actor', '=', provider);
      const [a, e] = await Promise.all([
        attempted.groupBy(bucket('created_at')).execute(),
        events.groupBy([bucket('at'), 'kind', 'ok']).execute()
      ]);
      for (const r of a)
        place(s, range.stepMs, 'attempted', Math.floor(Number(r.b)) * range.stepMs, num(r.n));
      for (const r of e) {
        const at = Math.floor(Number(r.b)) * range.stepMs;
        if (r.kind === 'published') place(s, range.stepMs, 'published', at, num(r.n));
        else if (r.kind === 'activated') place(s, range.stepMs, 'active', at, num(r.n));
        else if (Number(r.ok) === 0) place(s, range.stepMs, 'failed', at, num(r.n));
      }
      return s;
    },

    /** Every figure for one provider over the last `days` days. */
    async providerStats(provider: number, days: number): Promise<ProviderStats> {
      const since = Date.now() - days * DAY_MS;
      const [records, states, phases, reasons, retrievals, transfer] = await Promise.all([
        providerRecords(db, days * DAY_MS, provider),
        db
          .selectFrom('deals')
          .select((eb) => ['state', eb.fn.countAll<number>().as('n')])
          .where('provider_actor', '=', provider)
          .where('created_at', '>=', since)
          .groupBy('state')
          .execute(),
        db
          .selectFrom('deals')
          .select((eb) => ['failed_phase', eb.fn.countAll<number>().as('n')])
          .where('provider_actor', '=', provider)
          .where('created_at', '>=', since)
          .where('state', '=', 'failed')
          .groupBy('failed_phase')
          .execute(),
        db
          .selectFrom('deals')
          .select((eb) => ['message', eb.fn.countAll<number>().as('n')])
          .where('provider_actor', '=', provider)
          .where('created_at', '>=', since)
          .where('state', '=', 'failed')
          .where('failed_phase', '=', 'propose')
          .groupBy('message')
          .orderBy(sql`count(*)`, 'desc')
          .limit(20)
          .execute(),
        retrievalRecords(db, since, provider),
        db
          .selectFrom('bandwidth_hour')
          .select((eb) => eb.fn.sum<number>('bytes').as('bytes'))
          .where('hour', '>=', since)
          .where('channel', '=', 'deal-transfer-out')
          .where('peer', 'in', [`f0${provider}`, `t0${provider}`])
          .executeTakeFirst()
      ]);
      const record = records.get(provider) ?? emptyRecord(provider);
      const byState = Object.fromEntries(states.map((r) => [r.state, num(r.n)]));
      const r = retrievals.get(provider);
      return {
        record,
        score: scoreOf(records.get(provider)),
        byState,
        failedByPhase: Object.fromEntries(phases.map((p) => [p.failed_phase ?? 'unknown', num(p.n)])),
        rejectReasons: reasons.map((x) => ({ message: x.message, count: num(x.n) })),
        expired: byState.expired ?? 0,
        retrieval: {
          ok: r?.ok ?? 0,
          failed: r?.failed ?? 0,
          ttfbMs: r?.ttfbMs ?? null,
          bytesPerSec: r != null && r.ms > 0 ? (r.bytes * 1000) / r.ms : null
        },
        transferBytes: num(transfer?.bytes)
      };
    },

    /** The provider's event log, newest first (failuresOnly: Estuary's failure records). */
    async providerEvents(
      provider: number,
      page: { limit: number; before: number; failuresOnly: boolean }
    ): Promise<ProviderEvent[]> {
      let q = db
        .selectFrom('deal_events')
        .select(['id', 'deal_id', 'kind', 'ok', 'phase', 'message', 'at'])
        .where('provider_actor', '=', provider)
        .where('at', '<', page.before);
      if (page.failuresOnly) q = q.where('ok', '=', 0);
      const rows = await q.orderBy('at', 'desc').orderBy('id', 'desc').limit(page.limit).execute();
      return rows.map((r) => ({
        id: Number(r.id),
        dealId: r.deal_id == null ? null : Number(r.deal_id),
        kind: r.kind,
        ok: Number(r.ok) === 1,
        phase: r.phase,
        message: r.message,
        at: num(r.at)
      }));
    },

    /** Per provider: activations per day over the last `days` days (the providers table's sparkline). */
    async activationSparklines(days: number, now = Date.now()): Promise<Map<number, number[]>> {
      const first = Math.floor(now / DAY_MS) * DAY_MS - (days - 1) * DAY_MS;
      const day = sql<number>`(at / ${sql.lit(DAY_MS)})`;
      const rows = await db
        .selectFrom('deal_events')
        .select((eb) => ['provider_actor', day.as('d'), eb.fn.countAll<number>().as('n')])
        .where('ok', '=', 1)
        .where('at', '>=', first)
        .where('kind', '=', 'activated')
        .groupBy(['provider_actor', day])
        .execute();
      const out = new Map<number, number[]>();
      for (const r of rows) {
        const p = Number(r.provider_actor);
        const arr = out.get(p) ?? new Array<number>(days).fill(0);
        const i = Math.floor(Number(r.d)) - first / DAY_MS;
        if (i >= 0 && i < days) arr[i] = num(r.n);
        out.set(p, arr);
      }
      return out;
    },

    /** Estuary's `/public/stats` figures. */
    async nodeStats() {
      const [content, users, deals, miners] = await Promise.all([
        db
          .selectFrom('contents')
          .select((eb) => [
            eb.fn.countAll<number>().as('n'),
            eb.fn.sum<number>('size').as('size'),
            eb.fn.sum<number>('blocks').as('blocks')
          ])
          .where('pin_status', '=', 'pinned')
          .executeTakeFirst(),
        db
          .selectFrom('users')
          .select((eb) => eb.fn.countAll<number>().as('n'))
          .executeTakeFirst(),
        db
          .selectFrom('deals')
          .select((eb) => eb.fn.countAll<number>().as('n'))
          .where('state', 'in', ['published', 'active'])
          .executeTakeFirst(),
        db
          .selectFrom('deals')
          .select(sql<number>`count(distinct provider_actor)`.as('n'))
          .where('state', '=', 'active')
          .executeTakeFirst()
      ]);
      return {
        totalStorage: num(content?.size),
        totalFilesStored: num(content?.n),
        dealsOnChain: num(deals?.n),
        totalObjectsRef: num(content?.blocks),
        totalUsers: num(users?.n),
        totalStorageMiner: num(miners?.n)
      };
    }
  };
}

export type StatsQueries = ReturnType<typeof createStatsQueries>;
