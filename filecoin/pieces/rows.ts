// Writing piece rows: the planner (a content's own piece, a new aggregate) and preparation (a large
// content's further shards) add pieces with the same work-row bookkeeping.
import type { Insertable, Transaction } from 'kysely';
import type { Database, PiecesTable } from '../../server/db/schema.ts';

type PieceFields = Omit<
  Insertable<PiecesTable>,
  'last_error' | 'next_run_at' | 'attempts' | 'created_at' | 'updated_at'
>;

/** Inserts a piece due for work now, never tried; returns its id. */
export async function insertPiece(
  tx: Transaction<Database>,
  fields: PieceFields,
  now: number
): Promise<number> {
  const row = await tx
    .insertInto('pieces')
    .values({ ...fields, last_error: '', next_run_at: now, attempts: 0, created_at: now, updated_at: now })
    .returning('id')
    .executeTakeFirstOrThrow();
  return row.id;
}

/** Inserts a piece that holds one content alone (its own piece, or one shard of it), with its member row. */
export async function insertSoloPiece(
  tx: Transaction<Database>,
  fields: PieceFields & { content_id: number },
  member: { contentId: number; size: number },
  now: number
): Promise<number> {
  const id = await insertPiece(tx, fields, now);
  await tx
    .insertInto('piece_members')
    .values({
      piece_id: id,
      position: 0,
      content_id: member.contentId,
      byte_offset: 0,
      size: member.size,
      added_at: now
    })
    .execute();
  return id;
}
