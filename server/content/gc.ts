// Deleting content's blocks. A removed pin is marked in the database first (the reply depends only on
// that), then its DAG's blocks that no held content needs are deleted under the block lock's
// exclusive side and dropped from the gateway's cache. A crash between the two leaves a removed
// content whose root is still on disk: `sweep` at start finds those and finishes them.
import type { FsBlockstore } from 'blockstore-fs';
import type { Kysely } from 'kysely';
import { CID } from 'multiformats/cid';
import { deleteUnreferenced, heldKeys } from '../../filecoin/offload/gc.ts';
import { blockKey, localDag } from '../../filecoin/retrieval/dag.ts';
import type { Database } from '../db/schema.ts';
import type { Logger } from '../log.ts';
import type { BlockLock } from './block-lock.ts';
import { cidForms } from './queries.ts';

export interface ContentGcInit {
  db: Kysely<Database>;
  blockstore: FsBlockstore;
  lock: BlockLock;
  /** Drops deleted blocks from caches that serve them (the gateway's). */
  evict: (blocks: CID[]) => void;
  log: Logger;
}

export interface ContentGc {
  /** GCs the blocks of a content just marked removed; resolves once they are gone. */
  removed(cid: string): Promise<{ removed: number; kept: number }>;
  /** Finishes every removed content whose root block is still held and needed by nothing held. */
  sweep(): Promise<{ contents: number; removed: number }>;
  /**
   * Whether users deleted this root and no content of it is held any more: the gateway's block
   * source then answers 410 Gone rather than look for it on the network (a deleting user's own
   * browser may still hold it).
   */
  deleted(root: CID): Promise<boolean>;
  /** Runs `sweep` in the background (at start; a failure is logged and the next start retries). */
  start(): void;
  /** Waits for a background sweep to end. */
  stop(): Promise<void>;
}

export function createContentGc(init: ContentGcInit): ContentGc {
  const { db, blockstore, lock } = init;

  // Leaves before the nodes that link them, the root last: a crash midway leaves every remaining
  // block reachable from the root, so collecting the same root again finishes the job.
  const collect = async (root: CID, keep: Set<string>) => {
    const blocks: CID[] = [];
    for await (const block of localDag(blockstore, root)) blocks.push(block);
    blocks.reverse();
    const result = await deleteUnreferenced(blockstore, blocks, keep);
    init.evict(blocks.filter((b) => !keep.has(blockKey(b))));
    return result;
  };

  const parse = (text: string): CID | undefined => {
    try {
      return CID.parse(text);
    } catch {
      return undefined;
    }
  };

  let sweeping: Promise<void> | undefined;

  const gc: ContentGc = {
    removed: (cid) =>
      lock.exclusive(async () => {
        const root = parse(cid);
        if (root == null) return { removed: 0, kept: 0 };
        return collect(root, await heldKeys(db, blockstore));
      }),

    sweep: () =>
      lock.exclusive(async () => {
        const rows = await db
          .selectFrom('contents')
          .select('cid')
          .distinct()
          .where('pin_status', '=', 'removed')
          .execute();
        let contents = 0;
        let removed = 0;
        let keep: Set<string> | undefined;
        for (const { cid } of rows) {
          const root = parse(cid);
          if (root == null || !(await blockstore.has(root))) continue;
          keep ??= await heldKeys(db, blockstore);
          // A root some held content needs is held with its whole DAG: nothing to collect.
          if (keep.has(blockKey(root))) continue;
          contents++;
          removed += (await collect(root, keep)).removed;
        }
        if (contents > 0) init.log.info({ contents, blocks: removed }, 'finished deleting removed content');
        return { contents, removed };
      }),

    async deleted(root) {
      // Contents keep the CID text they were pinned with: a v0 root may be asked for as v1, and back.
      const rows = await db
        .selectFrom('contents')
        .select('pin_status')
        .where('cid', 'in', cidForms(root.toString()))
        .execute();
      return rows.length > 0 && rows.every((r) => r.pin_status === 'removed');
    },

    start() {
      sweeping ??= gc.sweep().then(
        () => undefined,
        (err: unknown) => init.log.warn({ err }, 'finishing interrupted deletions failed; next start retries')
      );
    },

    async stop() {
      await sweeping;
    }
  };
  return gc;
}
