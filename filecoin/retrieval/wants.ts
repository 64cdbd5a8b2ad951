// Bitswap as a Case B trigger: a peer wanting a block we dropped when offloading its content starts
// that content's retrieval (shared with any other reader); each block stored is announced to
// bitswap, which then sends it to the peers still wanting it. A want for a content's root also
// counts as a read of it (the offload policy's clock), as a gateway response does.
import type { Kysely } from 'kysely';
import { CID } from 'multiformats/cid';
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
  /** Where reads are recorded (filecoin/offload/reads.ts). */
  reads?: { touch(root: CID): void };
  /** Wants looked at per message; the rest wait for the peer's next want list. @default 256 */
  maxPerMessage?: number;
}

/** A block checked lately and not offloaded is not looked up again for this long. */
const MISS_TTL_MS = 30_000;
const MISS_MAX = 50_000;

/** Remembers keys for a while, bounded (oldest dropped first). */
class RecentSet {
  readonly #at = new Map<string, number>();
  has(key: string, now: number): boolean {
    const at = this.#at.get(key);
    return at != null && now - at < MISS_TTL_MS;
  }
  add(key: string, now: number): void {
    this.#at.set(key, now);
    if (this.#at.size > MISS_MAX) this.#at.delete(this.#at.keys().next().value!);
  }
}

export function createWantTrigger(init: WantTriggerInit): (peer: string, wants: CID[]) => void {
  const misses = new RecentSet();
  const notRoots = new RecentSet();
  const touched = new RecentSet();
  const max = init.maxPerMessage ?? 256;
  // One lookup at a time: want lists arrive in bursts and repeat.
  let chain: Promise<void> = Promise.resolve();

  async function look(peer: string, wants: CID[]): Promise<void> {
    const now = Date.now();
    const looked = wants.slice(0, max);
    if (init.reads != null) await touchRoots(looked, now);
    const missing: CID[] = [];
    for (const cid of looked) {
      if (misses.has(blockKey(cid), now)) continue;
      if (!(await init.has(cid))) missing.push(cid);
    }
    if (missing.length === 0) return;
    const owners = await offloadedContentOf(init.db, missing);
    for (const cid of missing) if (!owners.has(blockKey(cid))) misses.add(blockKey(cid), now);
    for (const contentId of new Set(owners.values())) {
      init.log.info({ peer, content: contentId }, 'a bitswap peer wants offloaded content: retrieving it');
      init.retriever.retrieve(contentId).catch((err: unknown) => {
        init.log.warn({ err, content: contentId, peer }, 'retrieval for a bitswap want failed');
      });
    }
  }

  /** Wants naming a content's root are reads of that content. */
  async function touchRoots(wants: CID[], now: number): Promise<void> {
    const forms = new Map<string, CID>();
    for (const cid of wants) {
      // Known not to be a root, or touched lately (the tracker writes once a minute anyway).
      if (notRoots.has(cid.toString(), now) || touched.has(cid.toString(), now)) continue;
      forms.set(cid.toString(), cid);
      if (cid.version === 1 && cid.code === 0x70 && cid.multihash.code === 0x12)
        forms.set(cid.toV0().toString(), cid);
      else if (cid.version === 0) forms.set(cid.toV1().toString(), cid);
    }
    if (forms.size === 0) return;
    const rows = await init.db
      .selectFrom('contents')
      .select('cid')
      .where('cid', 'in', [...forms.keys()])
      .where('pin_status', '=', 'pinned')
      .execute();
    const roots = new Set<string>();
    for (const r of rows) {
      roots.add(forms.get(r.cid)!.toString());
      touched.add(forms.get(r.cid)!.toString(), now);
      init.reads!.touch(CID.parse(r.cid)); // as stored, so v0 and v1 rows both match
    }
    for (const cid of forms.values()) if (!roots.has(cid.toString())) notRoots.add(cid.toString(), now);
  }

  return (peer, wants) => {
    chain = chain
      .then(() => look(peer, wants))
      .catch((err: unknown) => init.log.warn({ err, peer }, 'could not look up wanted blocks'));
  };
}
