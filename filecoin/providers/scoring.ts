// Ranks providers from what they did for us: how often they accepted, how many deals they brought
// to active, how many failed or were slashed, how fast (publication, activation, transfers), and
// whether we could retrieve from them. New providers get a share of deals
// (exploration) so one lucky early provider doesn't take everything.
import { sql, type Kysely } from 'kysely';
import type { Database } from '../../server/db/schema.ts';
import type { ProviderFigures } from '../../src/lib/stats-shapes.ts';

export interface ProviderRecord extends ProviderFigures {
  actorId: number;
}

export interface ScoredProvider extends ProviderRecord {
  /** 0…1: Laplace-smoothed success with penalties for faults. */
  score: number;
}

export function emptyRecord(actorId: number): ProviderRecord {
  return {
    actorId,
    proposed: 0,
    accepted: 0,
    rejected: 0,
    published: 0,
    active: 0,
    failed: 0,
    slashed: 0,
    msToPublish: null,
    msToActive: null,
    transferBytesPerSec: null,
    retrievalOk: 0,
    retrievalFailed: 0
  };
}

const numOrNull = (v: unknown) => (v == null ? null : Number(v));

/** Retrieval states the retrieval worker (filecoin/retrieval) ends a row in. */
export const RETRIEVAL_OK_STATES = ['done', 'succeeded', 'success', 'completed', 'complete', 'ok'];

/**
 * Retrieval outcomes per provider since `since`, from the `retrievals` table; an empty map when
 * that table does not exist (the retrieval issue adds it).
 */
export async function retrievalRecords(
  db: Kysely<Database>,
  since: number,
  provider?: number
): Promise<Map<number, { ok: number; failed: number; ttfbMs: number | null; bytes: number; ms: number }>> {
  try {
    const rows = await sql<{
      provider_actor: number;
      ok: number | null;
      failed: number | null;
      ttfb: number | null;
      bytes: number | null;
      ms: number | null;
    }>`select provider_actor,
        sum(case when state in (${sql.join(RETRIEVAL_OK_STATES)}) then 1 else 0 end) as ok,
        sum(case when state = 'failed' then 1 else 0 end) as failed,
        avg(case when state in (${sql.join(RETRIEVAL_OK_STATES)}) then ttfb_ms end) as ttfb,
        sum(case when state in (${sql.join(RETRIEVAL_OK_STATES)}) then bytes else 0 end) as bytes,
        sum(case when state in (${sql.join(RETRIEVAL_OK_STATES)}) then duration_ms else 0 end) as ms
      from retrievals
      where started_at >= ${since} ${provider == null ? sql`` : sql`and provider_actor = ${provider}`}
      group by provider_actor`.execute(db);
    return new Map(
      rows.rows
        .filter((r) => r.provider_actor != null)
        .map((r) => [
          Number(r.provider_actor),
          {
            ok: Number(r.ok ?? 0),
            failed: Number(r.failed ?? 0),
            ttfbMs: numOrNull(r.ttfb),
            bytes: Number(r.bytes ?? 0),
            ms: Number(r.ms ?? 0)
          }
        ])
    );
  } catch {
    return new Map();
  }
}

/**
 * Deal (and retrieval) outcomes per provider over the last `windowMs`: what the chooser ranks by and
 * what `/public/miners/stats/:miner` shows, from the same query.
 */
export async function providerRecords(
  db: Kysely<Database>,
  windowMs = 30 * 24 * 3600_000,
  provider?: number
): Promise<Map<number, ProviderRecord>> {
  const since = Date.now() - windowMs;
  let q = db
    .selectFrom('deals')
    .select((eb) => [
      'provider_actor',
      // Failures in phase 'client' were the piece's fault (every provider failed it alike): they
      // count against no provider.
      eb.fn.countAll<number>().as('proposed'),
      eb.fn.sum<number>(sql`case when accepted_at is not null then 1 else 0 end`).as('accepted'),
      eb.fn
        .sum<number>(sql`case when state = 'failed' and failed_phase = 'propose' then 1 else 0 end`)
        .as('rejected'),
      eb.fn.sum<number>(sql`case when published_at is not null then 1 else 0 end`).as('published'),
      eb.fn.sum<number>(sql`case when activated_at is not null then 1 else 0 end`).as('active'),
      eb.fn
        .sum<number>(
          sql`case when state = 'failed' and failed_phase not in ('propose', 'client') then 1 else 0 end`
        )
        .as('failed'),
      eb.fn.sum<number>(sql`case when state = 'slashed' then 1 else 0 end`).as('slashed'),
      eb.fn
        .avg<number>(sql`case when published_at is not null then published_at - created_at end`)
        .as('ms_to_publish'),
      eb.fn
        .avg<number>(sql`case when activated_at is not null then activated_at - created_at end`)
        .as('ms_to_active'),
      eb.fn
        .sum<number>(
          sql`case when coalesce(transferred_at, published_at) is not null and accepted_at is not null then transfer_size else 0 end`
        )
        .as('transfer_bytes'),
      eb.fn
        .sum<number>(
          sql`case when coalesce(transferred_at, published_at) is not null and accepted_at is not null then coalesce(transferred_at, published_at) - accepted_at else 0 end`
        )
        .as('transfer_ms')
    ])
    .where('created_at', '>=', since);
  if (provider != null) q = q.where('provider_actor', '=', provider);
  const [rows, retrievals] = await Promise.all([
    q.groupBy('provider_actor').execute(),
    retrievalRecords(db, since, provider)
  ]);
  const out = new Map<number, ProviderRecord>();
  for (const r of rows) {
    const bytes = Number(r.transfer_bytes ?? 0);
    const ms = Number(r.transfer_ms ?? 0);
    out.set(Number(r.provider_actor), {
      actorId: Number(r.provider_actor),
      proposed: Number(r.proposed),
      accepted: Number(r.accepted ?? 0),
      rejected: Number(r.rejected ?? 0),
      published: Number(r.published ?? 0),
      active: Number(r.active ?? 0),
      failed: Number(r.failed ?? 0),
      slashed: Number(r.slashed ?? 0),
      msToPublish: numOrNull(r.ms_to_publish),
      msToActive: numOrNull(r.ms_to_active),
      // A transfer seen done within the same poll has no measurable time: no figure rather than ∞.
      transferBytesPerSec: bytes > 0 && ms > 0 ? (bytes * 1000) / ms : null,
      retrievalOk: 0,
      retrievalFailed: 0
    });
  }
  for (const [actorId, r] of retrievals) {
    const record = out.get(actorId) ?? emptyRecord(actorId);
    record.retrievalOk = r.ok;
    record.retrievalFailed = r.failed;
    out.set(actorId, record);
  }
  return out;
}

export function scoreOf(record: ProviderRecord | undefined): number {
  if (record == null) return 0.5;
  // Successes over finished attempts, smoothed; a slash counts three times a failure, and a failed
  // retrieval counts like a failed deal (data we cannot get back is not stored for us).
  const good = record.active + record.retrievalOk;
  const bad = record.rejected + record.failed + 3 * record.slashed + record.retrievalFailed;
  const base = (good + 1) / (good + bad + 2);
  // Speed breaks ties between reliable providers: up to 10 % off for slow activation (over a day)
  // and slow transfers (under 1 MB/s).
  const slowActive = record.msToActive == null ? 0 : Math.min(1, record.msToActive / 86_400_000);
  const slowTransfer =
    record.transferBytesPerSec == null ? 0 : Math.max(0, 1 - record.transferBytesPerSec / 1_000_000);
  return base * (1 - 0.05 * slowActive - 0.05 * slowTransfer);
}

/**
 * Orders candidates best first, with exploration: each candidate's score gets random jitter, and
 * providers with fewer than `newDeals` deals are lifted to at least the median score, so they get
 * tried.
 */
export function rankProviders(
  actorIds: number[],
  records: Map<number, ProviderRecord>,
  options: { jitter?: number; newDeals?: number; random?: () => number } = {}
): ScoredProvider[] {
  const jitter = options.jitter ?? 0.15;
  const random = options.random ?? Math.random;
  const newDeals = options.newDeals ?? 3;
  const scored = actorIds.map((actorId) => {
    const record = records.get(actorId) ?? emptyRecord(actorId);
    return { ...record, score: scoreOf(records.get(actorId)) };
  });
  const sorted = [...scored].map((s) => s.score).sort((a, b) => a - b);
  const median = sorted[Math.floor(sorted.length / 2)] ?? 0.5;
  return scored
    .map((s) => ({
      s,
      // Only untried providers with a clean record are explored: one that already rejected, failed or
      // was slashed has shown what it does and is ranked by its score alone.
      key:
        (s.proposed < newDeals && s.rejected + s.failed + s.slashed === 0
          ? Math.max(s.score, median)
          : s.score) +
        (random() - 0.5) * jitter
    }))
    .sort((a, b) => b.key - a.key)
    .map(({ s }) => s);
}
