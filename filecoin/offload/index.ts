// Offloading: drop the local blocks of content that Filecoin deals hold (at least its replication
// target of active deals, one per provider) — by an admin (POST /api/admin/cm/offload/:content) or by
// the FIRTH_OFFLOAD_AFTER policy for content not read for that long. The row stays 'pinned' with
// `offloaded_at` set; a later read retrieves it back (filecoin/retrieval).
import type { FsBlockstore } from 'blockstore-fs';
import type { Kysely } from 'kysely';
import { CID } from 'multiformats/cid';
import type { Database } from '../../server/db/schema.ts';
import { ConflictError, InvalidInputError, NotFoundError } from '../../server/errors.ts';
import type { Logger } from '../../server/log.ts';
import { recordOffloadedBlocks } from '../retrieval/block-index.ts';
import { localDag } from '../retrieval/dag.ts';
import type { BlockLock } from '../../server/content/block-lock.ts';
import type { Retriever } from '../retrieval/retriever.ts';
import { deleteUnreferenced, heldKeys } from './gc.ts';

export interface OffloaderInit {
  db: Kysely<Database>;
  blockstore: FsBlockstore;
  lock: BlockLock;
  retriever: Retriever;
  log: Logger;
  /** Offload content not read for this long (ms); undefined = the policy is off. */
  offloadAfterMs: number | undefined;
  /** How often the policy looks. @default min(offloadAfterMs, 60 s) */
  intervalMs?: number;
}

export interface OffloadResult {
  contentId: number;
  cid: string;
  activeDeals: number;
  replication: number;
  blocksRemoved: number;
  /** Blocks of this content still referenced by held content. */
  blocksKept: number;
}

export interface Offloader {
  /** Offloads one content now (the admin action; read time is not considered). */
  offload(contentId: number): Promise<OffloadResult>;
  /** One pass of the policy: content idle since before `now - offloadAfter`. */
  sweep(now?: number): Promise<OffloadResult[]>;
  /** Active deals with distinct providers for the content, per piece, the lowest (0 without pieces). */
  activeReplicas(contentId: number): Promise<number>;
  start(): void;
  stop(): Promise<void>;
}

export function createOffloader(init: OffloaderInit): Offloader {
  const { db, blockstore, lock, retriever, log } = init;
  // One offload at a time: each one's GC must see the others' results.
  let chain: Promise<unknown> = Promise.resolve();
  const serial = <T>(fn: () => Promise<T>): Promise<T> => {
    const next = chain.then(fn, fn);
    chain = next.catch(() => undefined);
    return next;
  };

  async function activeReplicas(contentId: number): Promise<number> {
    const rows = await db
      .selectFrom('piece_members')
      .leftJoin('deals', (j) =>
        j.onRef('deals.piece_id', '=', 'piece_members.piece_id').on('deals.state', '=', 'active')
      )
      .select(['piece_members.piece_id', 'deals.provider_actor'])
      .where('piece_members.content_id', '=', contentId)
      .execute();
    if (rows.length === 0) return 0;
    const perPiece = new Map<number, Set<number>>();
    for (const r of rows) {
      const set = perPiece.get(Number(r.piece_id)) ?? new Set<number>();
      if (r.provider_actor != null) set.add(Number(r.provider_actor));
      perPiece.set(Number(r.piece_id), set);
    }
    return Math.min(...[...perPiece.values()].map((s) => s.size));
  }

  async function offloadNow(contentId: number): Promise<OffloadResult> {
    const c = await db
      .selectFrom('contents')
      .select(['id', 'cid', 'pin_status', 'replication', 'offloaded_at'])
      .where('id', '=', contentId)
      .executeTakeFirst();
    if (c == null || c.pin_status === 'removed')
      throw new NotFoundError('ERR_CONTENT_NOT_FOUND', `no content ${contentId}`);
    if (c.offloaded_at != null)
      throw new ConflictError('ERR_ALREADY_OFFLOADED', `content ${contentId} is already offloaded`);
    if (c.pin_status !== 'pinned') {
      throw new InvalidInputError(
        'ERR_NOT_PINNED',
        `content ${contentId} is ${c.pin_status}, not pinned: only pinned content can be offloaded`
      );
    }
    const active = await activeReplicas(contentId);
    if (active < c.replication) {
      throw new InvalidInputError(
        'ERR_BELOW_REPLICATION',
        `content ${contentId} has ${active} of ${c.replication} active deals: it is offloaded only once its replication target is met`
      );
    }
    const root = CID.parse(c.cid);
    // Its blocks, listed before anything is deleted (the DAG's inner nodes are read to find them).
    const blocks: CID[] = [];
    for await (const cid of localDag(blockstore, root)) blocks.push(cid);
    // Marked and its blocks recorded together, before any is deleted: a crash after this point
    // leaves content that reads retrieve back, never content held nowhere without a record.
    const marked = await db.transaction().execute(async (tx) => {
      const updated = await tx
        .updateTable('contents')
        .set({ offloaded_at: Date.now(), updated_at: Date.now() })
        .where('id', '=', contentId)
        .where('offloaded_at', 'is', null)
        .executeTakeFirst();
      if (Number(updated.numUpdatedRows) === 0) return false;
      await recordOffloadedBlocks(tx, contentId, blocks);
      return true;
    });
    if (!marked)
      throw new ConflictError('ERR_ALREADY_OFFLOADED', `content ${contentId} is already offloaded`);
    retriever.forget();
    const { removed, kept } = await lock.exclusive(async () => {
      const keep = await heldKeys(db, blockstore);
      for (const k of retriever.inFlightKeys()) keep.add(k);
      return deleteUnreferenced(blockstore, blocks, keep);
    });
    log.info({ content: contentId, cid: c.cid, removed, kept, activeDeals: active }, 'content offloaded');
    return {
      contentId,
      cid: c.cid,
      activeDeals: active,
      replication: c.replication,
      blocksRemoved: removed,
      blocksKept: kept
    };
  }

  async function sweep(now = Date.now()): Promise<OffloadResult[]> {
    if (init.offloadAfterMs == null) return [];
    const cutoff = now - init.offloadAfterMs;
    const idle = await db
      .selectFrom('contents')
      .select(['id'])
      .where('pin_status', '=', 'pinned')
      .where('offloaded_at', 'is', null)
      .where((eb) =>
        eb.or([
          eb('last_read_at', '<', cutoff),
          eb.and([eb('last_read_at', 'is', null), eb('created_at', '<', cutoff)])
        ])
      )
      .orderBy('id')
      .limit(100)
      .execute();
    const done: OffloadResult[] = [];
    for (const { id } of idle) {
      const contentId = Number(id);
      const row = await db
        .selectFrom('contents')
        .select('replication')
        .where('id', '=', contentId)
        .executeTakeFirst();
      if (row == null || (await activeReplicas(contentId)) < row.replication) continue; // never below the target
      try {
        done.push(await serial(() => offloadNow(contentId)));
      } catch (err) {
        log.warn({ err, content: contentId }, 'offload policy: could not offload');
      }
    }
    return done;
  }

  let timer: NodeJS.Timeout | undefined;
  let sweeping: Promise<unknown> | undefined;
  return {
    offload: (contentId) => serial(() => offloadNow(contentId)),
    sweep,
    activeReplicas,
    start() {
      if (init.offloadAfterMs == null || timer != null) return;
      const every = init.intervalMs ?? Math.min(init.offloadAfterMs, 60_000);
      timer = setInterval(() => {
        if (sweeping != null) return;
        sweeping = sweep()
          .catch((err: unknown) => log.warn({ err }, 'offload policy pass failed'))
          .finally(() => (sweeping = undefined));
      }, every);
      timer.unref();
    },
    async stop() {
      if (timer != null) clearInterval(timer);
      timer = undefined;
      await sweeping;
      await chain;
    }
  };
}

export { createReadTracker, type ReadTracker } from './reads.ts';
