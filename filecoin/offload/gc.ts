// Block-level garbage collection for offloading. The keep set is every block reachable from content
// that is held (not offloaded; queued, pinning or pinned), plus blocks running retrievals have
// verified; a Set of multihash keys in memory (≈100 bytes per block: 10 M blocks ≈ 1 GB, fine at
// this scale; a larger node would spill it to an on-disk set). Only the dropped content's blocks
// are candidates for deletion, so nothing else on disk is ever touched.
import type { FsBlockstore } from 'blockstore-fs';
import type { Kysely } from 'kysely';
import { CID } from 'multiformats/cid';
import type { Database } from '../../server/db/schema.ts';
import { blockKey, localDag } from '../retrieval/dag.ts';

export async function heldKeys(db: Kysely<Database>, blockstore: FsBlockstore): Promise<Set<string>> {
  const keep = new Set<string>();
  const held = await db
    .selectFrom('contents')
    .select(['cid'])
    .where('offloaded_at', 'is', null)
    .where('pin_status', 'in', ['queued', 'pinning', 'pinned'])
    .execute();
  const roots = new Set(held.map((r) => r.cid));
  for (const text of roots) {
    let root: CID;
    try {
      root = CID.parse(text);
    } catch {
      continue;
    }
    for await (const cid of localDag(blockstore, root)) keep.add(blockKey(cid));
  }
  return keep;
}

/** Deletes `blocks` except those in `keep`; returns how many were removed and kept. */
export async function deleteUnreferenced(
  blockstore: FsBlockstore,
  blocks: CID[],
  keep: Set<string>
): Promise<{ removed: number; kept: number }> {
  let removed = 0;
  let kept = 0;
  for (const cid of blocks) {
    if (keep.has(blockKey(cid))) {
      kept++;
      continue;
    }
    await blockstore.delete(cid);
    removed++;
  }
  return { removed, kept };
}
