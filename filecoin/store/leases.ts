// Rows that are their own work items (pieces, deals) are claimed with a lease: `next_run_at` says
// when a row wants attention, `lease_owner`/`lease_expires_at` who is working on it. A node that
// dies stops renewing and its rows become claimable again; on PostgreSQL the claim uses
// FOR UPDATE SKIP LOCKED, so several nodes share the work without doing a row twice at once.
import type { Kysely } from 'kysely';
import type { Dialect } from '../../server/db/migrations.ts';
import type { Database } from '../../server/db/schema.ts';

export type LeasedTable = 'pieces' | 'deals';

export interface LeaseInit {
  db: Kysely<Database>;
  dialect: Dialect;
  /** Unique per process. */
  owner: string;
  /** @default 120_000 */
  leaseMs?: number;
}

export interface Leases {
  readonly owner: string;
  /** Claims up to `limit` rows in `states` that are due, or whose lease ran out; returns their ids. */
  claim(table: LeasedTable, states: readonly string[], limit: number): Promise<number[]>;
  /** Gives a row back, to be looked at again at `nextRunAt`. Only if we still hold it. */
  release(table: LeasedTable, id: number, nextRunAt: number): Promise<boolean>;
  /** Hands back every row we hold (shutdown), due at once. */
  releaseAll(): Promise<void>;
}

export function createLeases(init: LeaseInit): Leases {
  const { db, dialect, owner } = init;
  const leaseMs = init.leaseMs ?? 120_000;
  // One implementation for both tables: they share the lease columns, so typing the builder as
  // `deals` covers `pieces` too.
  const table = (name: LeasedTable) => name as 'deals';

  return {
    owner,
    async claim(name, states, limit) {
      if (states.length === 0 || limit <= 0) return [];
      const now = Date.now();
      return db.transaction().execute(async (tx) => {
        let pick = tx
          .selectFrom(table(name))
          .select('id')
          .where('state', 'in', states as never[])
          .where('next_run_at', '<=', now)
          .where((eb) => eb.or([eb('lease_owner', 'is', null), eb('lease_expires_at', '<', now)]))
          .orderBy('next_run_at')
          .limit(limit);
        if (dialect === 'postgres') pick = pick.forUpdate().skipLocked();
        const ids = (await pick.execute()).map((r) => Number(r.id));
        if (ids.length === 0) return [];
        await tx
          .updateTable(table(name))
          .set({ lease_owner: owner, lease_expires_at: now + leaseMs, updated_at: now })
          .where('id', 'in', ids)
          .execute();
        return ids;
      });
    },
    async release(name, id, nextRunAt) {
      const res = await db
        .updateTable(table(name))
        .set({ lease_owner: null, lease_expires_at: null, next_run_at: nextRunAt, updated_at: Date.now() })
        .where('id', '=', id)
        .where('lease_owner', '=', owner)
        .executeTakeFirst();
      return Number(res.numUpdatedRows) === 1;
    },
    async releaseAll() {
      for (const name of ['pieces', 'deals'] as const) {
        await db
          .updateTable(table(name))
          .set({ lease_owner: null, lease_expires_at: null, next_run_at: Date.now() })
          .where('lease_owner', '=', owner)
          .execute();
      }
    }
  };
}
