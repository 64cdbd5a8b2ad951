// The providers Firth makes deals with: an admin-managed list (Estuary's /admin/miners routes),
// with the devnet's providers added automatically when the service runs the devnet. Each entry
// keeps what the chain says about it (peer ID, addresses) and its last ask, refreshed in the
// background, so choosing providers never waits on the network.
import type { Kysely } from 'kysely';
import type { Database, Provider } from '../../server/db/schema.ts';
import { ConflictError, NotFoundError } from '../../server/errors.ts';
import type { DealNetwork } from '../deals/network.ts';
import type { StoredAsk } from './chooser.ts';

export interface ProviderRegistry {
  list(): Promise<Provider[]>;
  get(actorId: number): Promise<Provider>;
  add(actorId: number, source?: 'admin' | 'devnet'): Promise<Provider>;
  remove(actorId: number): Promise<void>;
  suspend(actorId: number, reason: string): Promise<void>;
  unsuspend(actorId: number): Promise<void>;
  /** Refreshes chain info and asks older than `maxAgeMs` (all when 0). */
  refresh(maxAgeMs?: number): Promise<void>;
}

export function createProviderRegistry(init: {
  db: Kysely<Database>;
  network: Pick<DealNetwork, 'providerInfo' | 'ask'>;
  log: { warn(obj: object, msg: string): void };
  /** Called after the list or a provider's peer ID may have changed. */
  onChange?: () => void;
}): ProviderRegistry {
  const { db } = init;
  const changed = () => init.onChange?.();

  async function get(actorId: number): Promise<Provider> {
    const row = await db
      .selectFrom('providers')
      .selectAll()
      .where('actor_id', '=', actorId)
      .executeTakeFirst();
    if (row == null)
      throw new NotFoundError('ERR_MINER_NOT_FOUND', `provider f0${actorId} is not in the list`);
    return row;
  }

  async function refreshOne(actorId: number): Promise<void> {
    const now = Date.now();
    try {
      const info = await init.network.providerInfo(actorId);
      const ask = await init.network.ask(actorId);
      const stored: StoredAsk = {
        price: ask.price.toString(),
        verifiedPrice: ask.verifiedPrice.toString(),
        minPieceSize: ask.minPieceSize,
        maxPieceSize: ask.maxPieceSize
      };
      await db
        .updateTable('providers')
        .set({
          peer_id: info.peerId,
          multiaddrs: JSON.stringify(info.multiaddrs),
          ask: JSON.stringify(stored),
          ask_fetched_at: now,
          ask_error: '',
          updated_at: now
        })
        .where('actor_id', '=', actorId)
        .execute();
      changed();
    } catch (err) {
      const message = (err as Error).message;
      init.log.warn({ provider: actorId, err: message }, 'provider refresh failed');
      await db
        .updateTable('providers')
        .set({ ask_error: message, ask_fetched_at: now, updated_at: now })
        .where('actor_id', '=', actorId)
        .execute();
    }
  }

  return {
    list: () => db.selectFrom('providers').selectAll().orderBy('actor_id').execute(),
    get,
    async add(actorId, source = 'admin') {
      const now = Date.now();
      const existing = await db
        .selectFrom('providers')
        .select('id')
        .where('actor_id', '=', actorId)
        .executeTakeFirst();
      if (existing != null) {
        if (source === 'devnet') return get(actorId);
        throw new ConflictError('ERR_MINER_EXISTS', `provider f0${actorId} is already in the list`);
      }
      // An admin lists only a storage provider the chain knows: this throws (404, 400 or 503)
      // otherwise, before anything is written. The devnet's own providers are listed at start
      // whatever the chain says this moment; the background refresh fills them in.
      const info =
        source === 'admin'
          ? await init.network.providerInfo(actorId)
          : await init.network.providerInfo(actorId).catch(() => ({ peerId: '', multiaddrs: [] }));
      await db
        .insertInto('providers')
        .values({
          actor_id: actorId,
          peer_id: info.peerId,
          multiaddrs: JSON.stringify(info.multiaddrs),
          state: 'active',
          suspend_reason: '',
          source,
          ask: null,
          ask_fetched_at: null,
          ask_error: '',
          created_at: now,
          updated_at: now
        })
        .onConflict((oc) => oc.column('actor_id').doNothing())
        .execute();
      changed();
      await refreshOne(actorId);
      return get(actorId);
    },
    async remove(actorId) {
      await get(actorId);
      await db.deleteFrom('providers').where('actor_id', '=', actorId).execute();
      changed();
    },
    async suspend(actorId, reason) {
      await get(actorId);
      await db
        .updateTable('providers')
        .set({ state: 'suspended', suspend_reason: reason, updated_at: Date.now() })
        .where('actor_id', '=', actorId)
        .execute();
    },
    async unsuspend(actorId) {
      await get(actorId);
      await db
        .updateTable('providers')
        .set({ state: 'active', suspend_reason: '', updated_at: Date.now() })
        .where('actor_id', '=', actorId)
        .execute();
    },
    async refresh(maxAgeMs = 30 * 60_000) {
      const stale = await db
        .selectFrom('providers')
        .select('actor_id')
        .where((eb) =>
          eb.or([eb('ask_fetched_at', 'is', null), eb('ask_fetched_at', '<', Date.now() - maxAgeMs)])
        )
        .execute();
      await Promise.all(stale.map((p) => refreshOne(Number(p.actor_id))));
    }
  };
}
