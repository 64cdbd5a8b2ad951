// Keeps every ready piece at its replication target: counts the deals that are in flight or active
// (and not about to expire), and schedules new deals with other providers for the difference —
// never more than needed. Failed, slashed and expiring deals wake their piece up at once (the deal
// worker sets the piece's next_run_at), so repair takes minutes, not Estuary's 10 hours.
import { randomUUID } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { Database } from '../../server/db/schema.ts';
import type { Chooser } from '../providers/chooser.ts';
import type { Leases } from '../store/leases.ts';
import { IN_FLIGHT } from './states.ts';

export interface ReplicatorInit {
  db: Kysely<Database>;
  leases: Leases;
  chooser: Chooser;
  /** Current chain epoch. */
  head: () => Promise<number>;
  /** Whether new deals are verified (FIL+), to pick providers by the right price. */
  verified: () => Promise<boolean>;
  /** Active deals ending within this many epochs are replaced. @default 60480 (3 weeks) */
  renewBeforeEpochs?: number;
  /** How often a satisfied piece is looked at again. @default 10 min */
  checkEveryMs?: number;
  /** A provider that failed a piece is not asked for it again for this long. @default 1 hour */
  failedProviderCooldownMs?: number;
  log: { info(obj: object, msg: string): void; warn(obj: object, msg: string): void };
}

export interface Replicator {
  /** Looks at up to `limit` due pieces; returns how many deals it scheduled. */
  runOnce(limit?: number): Promise<number>;
}

export function createReplicator(init: ReplicatorInit): Replicator {
  const { db, leases } = init;
  const renewBefore = init.renewBeforeEpochs ?? 60_480;
  const checkEvery = init.checkEveryMs ?? 10 * 60_000;
  const cooldown = init.failedProviderCooldownMs ?? 3600_000;

  async function replicate(
    pieceId: number,
    head: number,
    verified: boolean
  ): Promise<{ scheduled: number; short: boolean }> {
    const piece = await db
      .selectFrom('pieces')
      .select(['replication', 'piece_size'])
      .where('id', '=', pieceId)
      .executeTakeFirstOrThrow();
    const deals = await db
      .selectFrom('deals')
      .select(['provider_actor', 'state', 'failed_phase', 'end_epoch', 'updated_at'])
      .where('piece_id', '=', pieceId)
      .execute();
    const exclude = new Set<number>();
    let good = 0;
    for (const deal of deals) {
      const inFlight = IN_FLIGHT.includes(deal.state);
      const lasting = deal.state === 'active' && (deal.end_epoch ?? 0) - head > renewBefore;
      if (inFlight || lasting) good++;
      // Never two replicas with one provider; and a provider that just failed this piece rests.
      if (inFlight || deal.state === 'active') exclude.add(Number(deal.provider_actor));
      // (A failure in phase 'client' was the piece's fault, not the provider's: no rest for it.)
      if (
        (deal.state === 'failed' || deal.state === 'slashed') &&
        deal.failed_phase !== 'client' &&
        Date.now() - deal.updated_at < cooldown
      )
        exclude.add(Number(deal.provider_actor));
    }
    const need = piece.replication - good;
    if (need <= 0) return { scheduled: 0, short: false };
    const chosen = await init.chooser.choose({
      pieceSize: Number(piece.piece_size),
      verified,
      count: need,
      exclude
    });
    const now = Date.now();
    if (chosen.length > 0) {
      await db
        .insertInto('deals')
        .values(
          chosen.map((actor) => ({
            piece_id: pieceId,
            provider_actor: actor,
            uuid: randomUUID(),
            state: 'proposing' as const,
            message: '',
            label: '',
            price_per_epoch: '0',
            provider_collateral: '0',
            transfer_size: 0,
            bytes_received: 0,
            verified: verified ? 1 : 0,
            next_run_at: now,
            attempts: 0,
            created_at: now,
            updated_at: now
          }))
        )
        .execute();
    }
    if (chosen.length < need) {
      init.log.warn(
        { pieceId, need, scheduled: chosen.length },
        'not enough eligible providers for this piece yet'
      );
    }
    return { scheduled: chosen.length, short: chosen.length < need };
  }

  return {
    async runOnce(limit = 20) {
      const ids = await leases.claim('pieces', ['ready'], limit);
      if (ids.length === 0) return 0;
      let total = 0;
      let head: number;
      let verified: boolean;
      try {
        [head, verified] = await Promise.all([init.head(), init.verified()]);
      } catch (err) {
        // No chain right now: look again soon.
        for (const id of ids) await leases.release('pieces', id, Date.now() + 30_000);
        throw err;
      }
      for (const id of ids) {
        let next = Date.now() + checkEvery;
        try {
          const { scheduled, short } = await replicate(id, head, verified);
          total += scheduled;
          if (short) next = Date.now() + 60_000;
        } catch (err) {
          init.log.warn({ pieceId: id, err: (err as Error).message }, 'replication check failed');
          next = Date.now() + 60_000;
        }
        await leases.release('pieces', id, next);
      }
      return total;
    }
  };
}
