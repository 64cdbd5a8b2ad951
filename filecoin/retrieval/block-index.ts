// The blocks offloading dropped, by content (table offloaded_blocks). A root is enough for the
// gateway to start a Case B retrieval; a bitswap want or a repaired deal's transfer asks for a single
// block, and this says which offloaded content to retrieve for it.
import type { Kysely } from 'kysely';
import type { CID } from 'multiformats/cid';
import type { Database } from '../../server/db/schema.ts';
import { blockKey } from './dag.ts';

/** Rows per INSERT / keys per IN list: well under SQLite's and PostgreSQL's parameter limits. */
const BATCH = 400;

/** Records `blocks` as dropped for `contentId` (in the offload's transaction). */
export async function recordOffloadedBlocks(
  db: Kysely<Database>,
  contentId: number,
  blocks: CID[]
): Promise<void> {
  const keys = [...new Set(blocks.map(blockKey))];
  for (let i = 0; i < keys.length; i += BATCH) {
    await db
      .insertInto('offloaded_blocks')
      .values(keys.slice(i, i + BATCH).map((block) => ({ content_id: contentId, block })))
      .onConflict((oc) => oc.doNothing())
      .execute();
  }
}

/** Forgets a content's dropped blocks once it is held again. */
export async function clearOffloadedBlocks(db: Kysely<Database>, contentId: number): Promise<void> {
  await db.deleteFrom('offloaded_blocks').where('content_id', '=', contentId).execute();
}

/**
 * For each of `cids` that belongs to content still offloaded, that content's id (the oldest such
 * content when several share the block). Bounded: at most `limit` CIDs are looked up.
 */
export async function offloadedContentOf(
  db: Kysely<Database>,
  cids: CID[],
  limit = 4096
): Promise<Map<string, number>> {
  const keys = [...new Set(cids.slice(0, limit).map(blockKey))];
  const found = new Map<string, number>();
  for (let i = 0; i < keys.length; i += BATCH) {
    const rows = await db
      .selectFrom('offloaded_blocks')
      .innerJoin('contents', 'contents.id', 'offloaded_blocks.content_id')
      .select(['offloaded_blocks.block', 'offloaded_blocks.content_id'])
      .where('offloaded_blocks.block', 'in', keys.slice(i, i + BATCH))
      .where('contents.offloaded_at', 'is not', null)
      .where('contents.pin_status', '=', 'pinned')
      .orderBy('offloaded_blocks.content_id')
      .execute();
    for (const r of rows) if (!found.has(r.block)) found.set(r.block, Number(r.content_id));
  }
  return found;
}
