// Ranks providers from what they did for us: how often they accepted, how many deals they brought
// to active, how many failed or were slashed, and how fast. New providers get a share of deals
// (exploration) so one lucky early provider doesn't take everything.
import { sql, type Kysely } from 'kysely';
import type { Database } from '../../server/db/schema.ts';

export interface ProviderRecord {
  actorId: number;
  proposed: number;
  rejected: number;
  active: number;
  failed: number;
  slashed: number;
  /** Median-ish (average) ms from proposal to activation, when any were activated. */
  msToActive: number | null;
}

export interface ScoredProvider extends ProviderRecord {
  /** 0…1: Laplace-smoothed success with penalties for faults. */
  score: number;
}

/** Deal outcomes per provider over the last `windowMs`. */
export async function providerRecords(
  db: Kysely<Database>,
  windowMs = 30 * 24 * 3600_000
): Promise<Map<number, ProviderRecord>> {
  const since = Date.now() - windowMs;
  const rows = await db
    .selectFrom('deals')
    .select((eb) => [
      'provider_actor',
      eb.fn.countAll<number>().as('proposed'),
      eb.fn
        .sum<number>(sql`case when state = 'failed' and failed_phase = 'propose' then 1 else 0 end`)
        .as('rejected'),
      eb.fn.sum<number>(sql`case when activated_at is not null then 1 else 0 end`).as('active'),
      eb.fn
        .sum<number>(sql`case when state = 'failed' and failed_phase <> 'propose' then 1 else 0 end`)
        .as('failed'),
      eb.fn.sum<number>(sql`case when state = 'slashed' then 1 else 0 end`).as('slashed'),
      eb.fn
        .avg<number>(sql`case when activated_at is not null then activated_at - created_at end`)
        .as('ms_to_active')
    ])
    .where('created_at', '>=', since)
    .groupBy('provider_actor')
    .execute();
  return new Map(
    rows.map((r) => [
      Number(r.provider_actor),
      {
        actorId: Number(r.provider_actor),
        proposed: Number(r.proposed),
        rejected: Number(r.rejected ?? 0),
        active: Number(r.active ?? 0),
        failed: Number(r.failed ?? 0),
        slashed: Number(r.slashed ?? 0),
        msToActive: r.ms_to_active == null ? null : Number(r.ms_to_active)
      }
    ])
  );
}

export function scoreOf(record: ProviderRecord | undefined): number {
  if (record == null) return 0.5;
  // Successes over finished attempts, smoothed; a slash counts three times a failure.
  const bad = record.rejected + record.failed + 3 * record.slashed;
  return (record.active + 1) / (record.active + bad + 2);
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
    const record = records.get(actorId) ?? {
      actorId,
      proposed: 0,
      rejected: 0,
      active: 0,
      failed: 0,
      slashed: 0,
      msToActive: null
    };
    return { ...record, score: scoreOf(records.get(actorId)) };
  });
  const sorted = [...scored].map((s) => s.score).sort((a, b) => a - b);
  const median = sorted[Math.floor(sorted.length / 2)] ?? 0.5;
  return scored
    .map((s) => ({
      s,
      key: (s.proposed < newDeals ? Math.max(s.score, median) : s.score) + (random() - 0.5) * jitter
    }))
    .sort((a, b) => b.key - a.key)
    .map(({ s }) => s);
}
