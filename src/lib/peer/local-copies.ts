import * as dagPb from '@ipld/dag-pb';
import type { IDBBlockstore } from 'blockstore-idb';
import toBuffer from 'it-to-buffer';
import { CID } from 'multiformats/cid';

type Blockstore = Pick<IDBBlockstore, 'get' | 'has' | 'delete'>;

/**
 * The blocks of a DAG that are in this blockstore (missing ones, and what hangs under them, are skipped: the
 * store is local, nothing is fetched). Keys are CID strings; values the block sizes.
 */
export async function localDag(blockstore: Blockstore, root: string): Promise<Map<string, number>> {
  const found = new Map<string, number>();
  const stack = [CID.parse(root)];
  while (stack.length > 0) {
    const cid = stack.pop()!;
    const key = cid.toString();
    if (found.has(key) || !(await blockstore.has(cid))) continue;
    if (cid.code === dagPb.code) {
      const bytes = await toBuffer(blockstore.get(cid));
      found.set(key, bytes.length);
      for (const link of dagPb.decode(bytes).Links) stack.push(link.Hash);
    } else {
      // Raw leaves: the size is not needed to delete them, and reading each one would be slow.
      found.set(key, 0);
    }
  }
  return found;
}

/**
 * Deletes the blocks of `root`'s DAG from the local blockstore, except blocks that are also part of one of
 * `keep` (other uploads that still need their local copy: same file added twice, shared folder entries).
 * Returns how many blocks were deleted.
 */
export async function dropLocalCopy(blockstore: Blockstore, root: string, keep: string[]): Promise<number> {
  const kept = new Set<string>();
  for (const other of keep) for (const key of (await localDag(blockstore, other)).keys()) kept.add(key);
  let deleted = 0;
  for (const key of (await localDag(blockstore, root)).keys()) {
    if (kept.has(key)) continue;
    await blockstore.delete(CID.parse(key));
    deleted++;
  }
  return deleted;
}
