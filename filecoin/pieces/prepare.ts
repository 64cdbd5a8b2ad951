// Prepares pieces for deals: streams each content's CAR out of the blockstore (re-hashing every
// block), computes CommP while streaming, and for aggregates lays the members out (FRC-0058) and
// keeps each member's inclusion proof. A content too large for one piece is cut into shards here
// (shards.ts): the planner made shard 0, this walks the DAG once and makes the rest. A piece in `preparing` is a leased work item, so a crash
// mid-way just means another worker (or this one after restart) prepares it again.
import type { Kysely } from 'kysely';
import { CID } from 'multiformats/cid';
import type { Database } from '../../server/db/schema.ts';
import { commp, padPieceCid } from '../commp/index.ts';
import type { Leases } from '../store/leases.ts';
import { fitAggregate, type AggregateMember } from './aggregate.ts';
import { contentCar, type LoadBlock } from './car.ts';
import { insertSoloPiece } from './rows.ts';
import { MAX_PIECE_PAYLOAD_BYTES, planShards } from './shards.ts';

export interface PreparerInit {
  db: Kysely<Database>;
  leases: Leases;
  load: LoadBlock;
  /** Pieces are padded up to at least this size, so providers' minimum piece sizes are met. @default 256 */
  minPieceSize: number;
  /** Most payload bytes in one piece; larger content is prepared as shards. @default 32 GiB·127/128 − 16 MiB */
  maxPiecePayloadBytes?: number;
  log: { info(obj: object, msg: string): void; warn(obj: object, msg: string): void };
  onProgress?: (evt: { type: 'firth:piece:prepared'; pieceId: number; pieceCid: string }) => void;
}

export interface Preparer {
  /** Prepares up to `limit` due pieces; returns how many it finished. */
  runOnce(limit?: number, options?: { signal?: AbortSignal }): Promise<number>;
}

const MAX_ATTEMPTS = 5;

export function createPreparer(init: PreparerInit): Preparer {
  const { db, leases } = init;
  const maxPayload = init.maxPiecePayloadBytes ?? MAX_PIECE_PAYLOAD_BYTES;

  /** Cuts the content of shard 0 into shards and records them all, ready for deals, at once. */
  async function prepareShards(
    piece: { id: number; content_id: number | null; replication: number },
    member: { content_id: number; cid: string },
    signal?: AbortSignal
  ): Promise<void> {
    const plans = await planShards(CID.parse(member.cid), init.load, maxPayload, {
      minPieceSize: init.minPieceSize,
      signal
    });
    const contentId = piece.content_id ?? member.content_id;
    const ids = [piece.id];
    await db.transaction().execute(async (tx) => {
      const now = Date.now();
      const first = plans[0]!;
      const updated = await tx
        .updateTable('pieces')
        .set({
          state: 'ready',
          kind: 'shard',
          shard_index: 0,
          root_cid: first.root.toString(),
          piece_cid: first.pieceCid.toString(),
          piece_size: first.pieceSize,
          payload_size: first.payloadSize,
          shard_first_block: first.firstBlock,
          shard_block_count: first.blockCount,
          bytes: first.payloadSize,
          last_error: '',
          next_run_at: now,
          lease_owner: null,
          lease_expires_at: null,
          updated_at: now
        })
        .where('id', '=', piece.id)
        .where('state', '=', 'preparing')
        .where('lease_owner', '=', leases.owner)
        .executeTakeFirst();
      if (Number(updated.numUpdatedRows) !== 1)
        throw new Error(`piece ${piece.id}: lease lost while preparing`);
      await tx
        .updateTable('piece_members')
        .set({ size: first.payloadSize })
        .where('piece_id', '=', piece.id)
        .execute();
      // Contents with the same root that joined shard 0 ride on every shard.
      const sharing = await tx
        .selectFrom('piece_members')
        .select('content_id')
        .where('piece_id', '=', piece.id)
        .where('content_id', '!=', member.content_id)
        .orderBy('position')
        .execute();
      for (const plan of plans.slice(1)) {
        const id = await insertSoloPiece(
          tx,
          {
            kind: 'shard',
            shard_index: plan.index,
            state: 'ready',
            content_id: contentId,
            root_cid: plan.root.toString(),
            piece_cid: plan.pieceCid.toString(),
            piece_size: plan.pieceSize,
            payload_size: plan.payloadSize,
            shard_first_block: plan.firstBlock,
            shard_block_count: plan.blockCount,
            replication: piece.replication,
            items: 1 + sharing.length,
            bytes: plan.payloadSize
          },
          { contentId: member.content_id, size: plan.payloadSize },
          now
        );
        for (const [i, other] of sharing.entries()) {
          await tx
            .insertInto('piece_members')
            .values({
              piece_id: id,
              position: i + 1,
              content_id: other.content_id,
              byte_offset: 0,
              size: plan.payloadSize,
              added_at: now
            })
            .execute();
        }
        ids.push(id);
      }
    });
    init.log.info({ pieceId: piece.id, contentId, shards: plans.length }, 'content split into shards');
    for (const [i, plan] of plans.entries()) {
      init.onProgress?.({
        type: 'firth:piece:prepared',
        pieceId: ids[i]!,
        pieceCid: plan.pieceCid.toString()
      });
    }
  }

  async function prepare(pieceId: number, signal?: AbortSignal): Promise<void> {
    const piece = await db
      .selectFrom('pieces')
      .selectAll()
      .where('id', '=', pieceId)
      .executeTakeFirstOrThrow();
    const members = await db
      .selectFrom('piece_members')
      .innerJoin('contents', 'contents.id', 'piece_members.content_id')
      .select(['piece_members.position', 'piece_members.content_id', 'contents.cid'])
      .where('piece_members.piece_id', '=', pieceId)
      .orderBy('piece_members.position')
      .execute();
    if (members.length === 0) throw new Error(`piece ${pieceId} has no members`);
    const now = () => Date.now();

    if (piece.kind === 'shard') {
      await prepareShards(piece, members[0]!, signal);
      return;
    }

    if (piece.kind === 'single') {
      const info = await commp(contentCar(CID.parse(members[0]!.cid), init.load, { signal }), { signal });
      // The planner's estimate of the CAR's size was short: deal it as shards after all.
      if (info.payloadSize > maxPayload) {
        await prepareShards(piece, members[0]!, signal);
        return;
      }
      const pieceSize = Math.max(info.pieceSize, init.minPieceSize);
      const pieceCid =
        pieceSize > info.pieceSize ? padPieceCid(info.pieceCid, info.pieceSize, pieceSize) : info.pieceCid;
      await db.transaction().execute(async (tx) => {
        await tx
          .updateTable('pieces')
          .set({
            state: 'ready',
            piece_cid: pieceCid.toString(),
            piece_size: pieceSize,
            payload_size: info.payloadSize,
            last_error: '',
            next_run_at: now(),
            lease_owner: null,
            lease_expires_at: null,
            updated_at: now()
          })
          .where('id', '=', pieceId)
          .where('lease_owner', '=', leases.owner)
          .execute();
        // After the piece row (see the planner's joinSamePieces): every member, late joiners too.
        await tx
          .updateTable('piece_members')
          .set({ size: info.payloadSize })
          .where('piece_id', '=', pieceId)
          .execute();
      });
      init.onProgress?.({ type: 'firth:piece:prepared', pieceId, pieceCid: pieceCid.toString() });
      return;
    }

    // Aggregate: each member's own piece first (once per root), then the layout.
    const byCid = new Map<string, AggregateMember>();
    for (const member of members) {
      if (byCid.has(member.cid)) continue;
      const info = await commp(contentCar(CID.parse(member.cid), init.load, { signal }), { signal });
      byCid.set(member.cid, { segmentPiece: info.pieceCidV2 as never, payloadSize: info.payloadSize });
    }
    const segments = members.map((m) => byCid.get(m.cid)!);
    const layout = fitAggregate(segments, init.minPieceSize);
    await db.transaction().execute(async (tx) => {
      await tx
        .updateTable('pieces')
        .set({
          state: 'ready',
          root_cid: layout.pieceCidV1,
          piece_cid: layout.pieceCidV1,
          piece_size: layout.pieceSize,
          payload_size: layout.payloadSize,
          last_error: '',
          next_run_at: now(),
          lease_owner: null,
          lease_expires_at: null,
          updated_at: now()
        })
        .where('id', '=', pieceId)
        .where('lease_owner', '=', leases.owner)
        .execute();
      // After the piece row (see the planner's joinSamePieces), by root: a content that joined
      // while this was being prepared gets the same place as the one it duplicates.
      const done = new Set<string>();
      for (const [i, member] of members.entries()) {
        if (done.has(member.cid)) continue;
        done.add(member.cid);
        await tx
          .updateTable('piece_members')
          .set({
            byte_offset: layout.offsets[i]!,
            size: segments[i]!.payloadSize,
            segment_piece_cid: String(segments[i]!.segmentPiece),
            proof: layout.proofs[i]!
          })
          .where('piece_id', '=', pieceId)
          .where('content_id', 'in', (eb) =>
            eb.selectFrom('contents').select('contents.id').where('contents.cid', '=', member.cid)
          )
          .execute();
      }
    });
    init.onProgress?.({ type: 'firth:piece:prepared', pieceId, pieceCid: layout.pieceCidV1 });
  }

  return {
    async runOnce(limit = 2, options = {}) {
      const ids = await leases.claim('pieces', ['preparing'], limit);
      let done = 0;
      for (const id of ids) {
        try {
          await prepare(id, options.signal);
          done++;
        } catch (err) {
          if (options.signal?.aborted) {
            await leases.release('pieces', id, Date.now());
            throw err;
          }
          const message = (err as Error).message;
          const row = await db
            .updateTable('pieces')
            .set((eb) => ({ attempts: eb('attempts', '+', 1), last_error: message, updated_at: Date.now() }))
            .where('id', '=', id)
            .returning('attempts')
            .executeTakeFirst();
          const attempts = row?.attempts ?? MAX_ATTEMPTS;
          if (attempts >= MAX_ATTEMPTS) {
            await db.updateTable('pieces').set({ state: 'failed' }).where('id', '=', id).execute();
            await leases.release('pieces', id, Date.now());
            init.log.warn({ pieceId: id, err: message }, 'piece preparation failed for good');
          } else {
            // Back off: 30 s, 1 min, 2 min, 4 min.
            await leases.release('pieces', id, Date.now() + 30_000 * 2 ** (attempts - 1));
            init.log.warn({ pieceId: id, attempts, err: message }, 'piece preparation failed; will retry');
          }
        }
      }
      return done;
    }
  };
}
