// Decides which piece each pinned content goes into. Content of at least `minDealBytes` gets a
// piece of its own; smaller content joins the open aggregate of its replication target (an
// aggregate's members all asked for the same number of replicas, so each gets exactly what it
// asked for and nobody pays for replicas no member wanted). An aggregate is flushed when it holds
// `aggregateTargetBytes` or when its oldest member has waited `aggregateMaxWaitMs` — so no upload
// waits forever for enough neighbours (Estuary's staging zones closed only at 1.1 GB). Content
// whose CAR would not fit the largest piece is split into shards (see shards.ts): the planner makes
// shard 0, and the preparer, once it has walked the DAG, the others. Content whose root is already
// in a piece (the same bytes uploaded again, by anyone) joins that piece — or that content's shards —
// instead of getting pieces of its own: one set of deals serves every content with that root.
import { sql, type Kysely, type Transaction } from 'kysely';
import type { Dialect } from '../../server/db/migrations.ts';
import type { Database } from '../../server/db/schema.ts';
import { insertPiece, insertSoloPiece } from './rows.ts';
import { estimateCarBytes, MAX_PIECE_PAYLOAD_BYTES } from './shards.ts';

export interface PlannerInit {
  db: Kysely<Database>;
  dialect: Dialect;
  /** Content at or above this many DAG bytes is dealt alone. */
  minDealBytes: number;
  /** An aggregate is flushed once it holds this many bytes. */
  aggregateTargetBytes: number;
  /** …or once its oldest member has waited this long. */
  aggregateMaxWaitMs: number;
  /** Most members in one aggregate (bounded by the index size of the piece). */
  aggregateMaxItems?: number;
  /** Content whose CAR may be larger than this is split into shards. @default 32 GiB·127/128 − 16 MiB */
  maxPiecePayloadBytes?: number;
}

export interface PlanResult {
  /** Contents dealt on pieces of their own: one piece, or shards. */
  singles: number;
  aggregated: number;
  flushed: number;
  /** Contents that joined the pieces of an earlier content with the same root. */
  shared: number;
}

export interface Planner {
  /** Places up to `limit` unplaced pinned contents and flushes aggregates that are due. */
  planOnce(limit?: number): Promise<PlanResult>;
}

// One planner at a time across nodes (PostgreSQL advisory lock; SQLite has one writer anyway).
const PLANNER_LOCK = 0x46495254; // 'FIRT'

export function createPlanner(init: PlannerInit): Planner {
  const { db } = init;
  const maxPayload = init.maxPiecePayloadBytes ?? MAX_PIECE_PAYLOAD_BYTES;
  const maxItems = init.aggregateMaxItems ?? Math.min(4096, indexEntriesFor(init.aggregateTargetBytes * 2));

  async function lock(tx: Transaction<Database>): Promise<boolean> {
    if (init.dialect !== 'postgres') return true;
    const { rows } = await sql<{
      locked: boolean;
    }>`select pg_try_advisory_xact_lock(${PLANNER_LOCK}) as locked`.execute(tx);
    return rows[0]?.locked === true;
  }

  return {
    async planOnce(limit = 500) {
      return db.transaction().execute(async (tx) => {
        const result: PlanResult = { singles: 0, aggregated: 0, flushed: 0, shared: 0 };
        if (!(await lock(tx))) return result;
        const now = Date.now();
        const unplaced = await tx
          .selectFrom('contents')
          .select(['id', 'cid', 'dag_size', 'replication'])
          .where('pin_status', '=', 'pinned')
          .where(({ not, exists, selectFrom }) =>
            not(
              exists(
                selectFrom('piece_members')
                  .select('piece_id')
                  .whereRef('piece_members.content_id', '=', 'contents.id')
              )
            )
          )
          .orderBy('id')
          .limit(limit)
          .execute();

        for (const content of unplaced) {
          if (await joinSamePieces(tx, content, now)) {
            result.shared++;
            continue;
          }
          const size = Number(content.dag_size);
          if (size >= init.minDealBytes) {
            const sharded = estimateCarBytes(size) > maxPayload;
            await insertSoloPiece(
              tx,
              {
                kind: sharded ? 'shard' : 'single',
                shard_index: sharded ? 0 : null,
                state: 'preparing',
                content_id: content.id,
                root_cid: content.cid,
                replication: content.replication,
                items: 1,
                bytes: size
              },
              { contentId: content.id, size: 0 },
              now
            );
            result.singles++;
            continue;
          }
          let open = await tx
            .selectFrom('pieces')
            .select(['id', 'items', 'bytes', 'replication'])
            .where('kind', '=', 'aggregate')
            .where('state', '=', 'open')
            .where('replication', '=', content.replication)
            .orderBy('id')
            .executeTakeFirst();
          if (
            open != null &&
            (open.items >= maxItems || Number(open.bytes) + size > init.aggregateTargetBytes * 2)
          ) {
            await flush(tx, open.id, now);
            result.flushed++;
            open = undefined;
          }
          if (open == null) {
            const id = await insertPiece(
              tx,
              { kind: 'aggregate', state: 'open', replication: content.replication, items: 0, bytes: 0 },
              now
            );
            open = { id, items: 0, bytes: 0, replication: content.replication };
          }
          await tx
            .insertInto('piece_members')
            .values({
              piece_id: open.id,
              position: open.items,
              content_id: content.id,
              byte_offset: 0,
              size: 0,
              added_at: now
            })
            .execute();
          await tx
            .updateTable('pieces')
            .set({
              items: open.items + 1,
              bytes: Number(open.bytes) + size,
              updated_at: now
            })
            .where('id', '=', open.id)
            .execute();
          result.aggregated++;
        }

        // Flush open aggregates that are full enough or have waited long enough.
        const due = await tx
          .selectFrom('pieces')
          .select(['pieces.id', 'pieces.bytes'])
          .where('kind', '=', 'aggregate')
          .where('state', '=', 'open')
          .where((eb) =>
            eb.or([
              eb('bytes', '>=', init.aggregateTargetBytes),
              eb(
                'id',
                'in',
                eb
                  .selectFrom('piece_members')
                  .select('piece_id')
                  .where('added_at', '<=', now - init.aggregateMaxWaitMs)
              )
            ])
          )
          .execute();
        for (const piece of due) {
          await flush(tx, piece.id, now);
          result.flushed++;
        }
        return result;
      });
    }
  };
}

/**
 * FRC-0058 index entries in the piece that holds `payloadBytes` (data-segment's maxIndexEntriesInDeal:
 * piece size / 2048 / 64, at least 4). More members than this force a larger piece than the
 * data needs, so the planner closes an aggregate before that.
 */
export function indexEntriesFor(payloadBytes: number): number {
  let pieceSize = 256;
  while ((pieceSize * 127) / 128 < payloadBytes) pieceSize *= 2;
  return Math.max(4, pieceSize / 2048 / 64);
}

/**
 * Adds `content` to the pieces of the earliest other content with the same root, if that content
 * is in pieces that are not failed; returns whether it did. The new member copies its sibling's
 * place in each piece (offset, size, segment, proof), so an aggregate still holds the piece once.
 */
async function joinSamePieces(
  tx: Transaction<Database>,
  content: { id: number; cid: string; replication: number },
  now: number
): Promise<boolean> {
  const sibling = await tx
    .selectFrom('piece_members')
    .innerJoin('contents', 'contents.id', 'piece_members.content_id')
    .innerJoin('pieces', 'pieces.id', 'piece_members.piece_id')
    .select((eb) => eb.fn.min('piece_members.content_id').as('content_id'))
    .where('contents.cid', '=', content.cid)
    .where('contents.id', '!=', content.id)
    .where('pieces.state', '!=', 'failed')
    .executeTakeFirst();
  if (sibling?.content_id == null) return false;
  const siblingId = Number(sibling.content_id);
  const pieceIds = await tx
    .selectFrom('piece_members')
    .select('piece_id')
    .distinct()
    .where('content_id', '=', siblingId)
    .execute();
  for (const { piece_id: pieceId } of pieceIds) {
    // The piece row first: it serialises this insert with the preparer, which writes the members'
    // places after updating the piece (so either it sees this row, or this copies what it wrote).
    await tx
      .updateTable('pieces')
      .set((eb) => ({
        items: eb('items', '+', 1),
        replication: sql<number>`case when replication < ${content.replication} then ${content.replication} else replication end`,
        updated_at: now
      }))
      .where('id', '=', pieceId)
      .execute();
    // A ready piece recounts its replicas at once: the new content may want more.
    await tx
      .updateTable('pieces')
      .set({ next_run_at: now })
      .where('id', '=', pieceId)
      .where('state', '=', 'ready')
      .execute();
    const place = await tx
      .selectFrom('piece_members')
      .select(['byte_offset', 'size', 'segment_piece_cid', 'proof'])
      .where('piece_id', '=', pieceId)
      .where('content_id', '=', siblingId)
      .orderBy('position')
      .executeTakeFirstOrThrow();
    const last = await tx
      .selectFrom('piece_members')
      .select((eb) => eb.fn.max('position').as('position'))
      .where('piece_id', '=', pieceId)
      .executeTakeFirst();
    await tx
      .insertInto('piece_members')
      .values({
        piece_id: pieceId,
        position: Number(last?.position ?? -1) + 1,
        content_id: content.id,
        byte_offset: place.byte_offset,
        size: place.size,
        segment_piece_cid: place.segment_piece_cid,
        proof: place.proof,
        added_at: now
      })
      .execute();
  }
  return true;
}

async function flush(tx: Transaction<Database>, pieceId: number, now: number): Promise<void> {
  await tx
    .updateTable('pieces')
    .set({ state: 'preparing', next_run_at: now, updated_at: now })
    .where('id', '=', pieceId)
    .where('state', '=', 'open')
    .execute();
}
