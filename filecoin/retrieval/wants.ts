// Bitswap as a Case B trigger: a peer wanting a block we dropped when offloading its content starts
// that content's retrieval (shared with any other reader); each block stored is announced to
// bitswap, which then sends it to the peers still wanting it.
import type { Kysely } from 'kysely';
import type { CID } from 'multiformats/cid';
import type { Database } from '../../server/db/schema.ts';
import type { Logger } from '../../server/log.ts';
import { offloadedContentOf } from './block-index.ts';
import { blockKey } from './dag.ts';
import type { Retriever } from './retriever.ts';

export interface WantTriggerInit {
  db: Kysely<Database>;
  retriever: Pick<Retriever, 'retrieve'>;
  /** Held locally (wants for held blocks are bitswap's own business). */
  has(cid: CID): Promise<boolean>;
  log: Logger;
  /** Wants looked at per message; the rest wait for the peer's next want list. @default 256 */
  maxPerMessage?: number;
}

/** A block checked lately and not offloaded is not looked up again for this long. */
const MISS_TTL_MS = 30_000;
const MISS_MAX = 50_000;

export function createWantTrigger(init: WantTriggerInit): (peer: string, wants: CID[]) => void {
  const misses = new Map<string, number>();
  const max = init.maxPerMessage ?? 256;
  // One lookup at a time: want lists arrive in bursts and repeat.
  let chain: Promise<void> = Promise.resolve();

  async function look(peer: string, wants: CID[]): Promise<void> {
    const now = Date.now();
    const missing: CID[] = [];
    for (const cid of wants.slice(0, max)) {
      const key = blockKey(cid);
      const missedAt = misses.get(key);
      if (missedAt != null && now - missedAt < MISS_TTL_MS) continue;
      if (!(await init.has(cid))) missing.push(cid);
    }
    if (missing.length === 0) return;
    const owners = await offloadedContentOf(init.db, missing);
    for (const cid of missing) {
      if (owners.has(blockKey(cid))) continue;
      misses.set(blockKey(cid), now);
      if (misses.size > MISS_MAX) misses.delete(misses.keys().next().value!);
    }
    for (const contentId of new Set(owners.values())) {
      init.log.info({ peer, content: contentId }, 'a bitswap peer wants offloaded content: retrieving it');
      init.retriever.retrieve(contentId).catch((err: unknown) => {
        init.log.warn({ err, content: contentId, peer }, 'retrieval for a bitswap want failed');
      });
    }
  }

  return (peer, wants) => {
    chain = chain
      .then(() => look(peer, wants))
      .catch((err: unknown) => init.log.warn({ err, peer }, 'could not look up wanted blocks'));
  };
}
