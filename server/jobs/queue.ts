import { randomUUID } from 'node:crypto';
import type { Kysely, Transaction } from 'kysely';
import type { Dialect } from '../db/migrations.ts';
import type { Database, Job } from '../db/schema.ts';

export interface JobQueueInit {
  db: Kysely<Database>;
  dialect: Dialect;
  /** How long a claim lasts without renewal. @default 60_000 */
  leaseMs?: number;
}

/**
 * A durable queue on the `jobs` table. A claim is a lease: a worker that dies stops renewing it and
 * the job becomes claimable again, so work is neither lost nor done twice at once. On PostgreSQL
 * claims use FOR UPDATE SKIP LOCKED, so several nodes can share one queue.
 */
export class JobQueue {
  readonly owner = randomUUID();
  readonly #db: Kysely<Database>;
  readonly #dialect: Dialect;
  readonly #leaseMs: number;

  constructor(init: JobQueueInit) {
    this.#db = init.db;
    this.#dialect = init.dialect;
    this.#leaseMs = init.leaseMs ?? 60_000;
  }

  async enqueue(
    db: Kysely<Database> | Transaction<Database>,
    kind: string,
    contentId: number
  ): Promise<void> {
    const now = Date.now();
    await db
      .insertInto('jobs')
      .values({
        kind,
        content_id: contentId,
        state: 'ready',
        attempts: 0,
        run_after: now,
        created_at: now,
        updated_at: now
      })
      .execute();
  }

  /** Claims up to `limit` jobs of a kind that are ready, or whose lease has run out. */
  async claim(kind: string, limit: number): Promise<Job[]> {
    const now = Date.now();
    return this.#db.transaction().execute(async (tx) => {
      let pick = tx
        .selectFrom('jobs')
        .select('id')
        .where('kind', '=', kind)
        .where((eb) =>
          eb.or([
            eb.and([eb('state', '=', 'ready'), eb('run_after', '<=', now)]),
            eb.and([eb('state', '=', 'running'), eb('lease_expires_at', '<', now)])
          ])
        )
        .orderBy('id')
        .limit(limit);
      if (this.#dialect === 'postgres') pick = pick.forUpdate().skipLocked();
      const ids = (await pick.execute()).map((r) => r.id);
      if (ids.length === 0) return [];
      return tx
        .updateTable('jobs')
        .set((eb) => ({
          state: 'running',
          lease_owner: this.owner,
          lease_expires_at: now + this.#leaseMs,
          attempts: eb('attempts', '+', 1),
          updated_at: now
        }))
        .where('id', 'in', ids)
        .returningAll()
        .execute();
    });
  }

  /** Extends our lease; false when the job is no longer ours (so the worker should stop). */
  async renew(jobId: number): Promise<boolean> {
    const res = await this.#db
      .updateTable('jobs')
      .set({ lease_expires_at: Date.now() + this.#leaseMs, updated_at: Date.now() })
      .where('id', '=', jobId)
      .where('lease_owner', '=', this.owner)
      .where('state', '=', 'running')
      .executeTakeFirst();
    return Number(res.numUpdatedRows) === 1;
  }

  async finish(
    db: Kysely<Database> | Transaction<Database>,
    jobId: number,
    outcome: { state: 'done' } | { state: 'failed'; error: string }
  ): Promise<void> {
    await db
      .updateTable('jobs')
      .set({
        state: outcome.state,
        last_error: outcome.state === 'failed' ? outcome.error : null,
        lease_owner: null,
        lease_expires_at: null,
        updated_at: Date.now()
      })
      .where('id', '=', jobId)
      .where('lease_owner', '=', this.owner)
      .execute();
  }

  /** Hands our running jobs back at shutdown so another worker can take them at once. */
  async releaseAll(): Promise<void> {
    await this.#db
      .updateTable('jobs')
      .set({ state: 'ready', lease_owner: null, lease_expires_at: null, updated_at: Date.now() })
      .where('lease_owner', '=', this.owner)
      .where('state', '=', 'running')
      .execute();
  }

  async depth(kind: string): Promise<number> {
    const row = await this.#db
      .selectFrom('jobs')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('kind', '=', kind)
      .where('state', 'in', ['ready', 'running'])
      .executeTakeFirstOrThrow();
    return Number(row.n);
  }
}
