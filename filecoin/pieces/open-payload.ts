// Opens a prepared piece's payload from the database records and the blockstore.
import type { Kysely } from 'kysely';
import { CID } from 'multiformats/cid';
import type { Database } from '../../server/db/schema.ts';
import { layoutAggregate } from './aggregate.ts';
import { contentCar, type LoadBlock } from './car.ts';
import { payloadFromRegions, type PayloadRegion, type PiecePayload } from './payload.ts';
import { shardCar } from './shards.ts';

export async function openPiecePayload(
  db: Kysely<Database>,
  pieceId: number,
  load: LoadBlock
): Promise<PiecePayload> {
  const piece = await db.selectFrom('pieces').selectAll().where('id', '=', pieceId).executeTakeFirstOrThrow();
  if (piece.state !== 'ready' || piece.payload_size == null || piece.piece_size == null) {
    throw new Error(`piece ${pieceId} is not prepared`);
  }
  const members = await db
    .selectFrom('piece_members')
    .innerJoin('contents', 'contents.id', 'piece_members.content_id')
    .select([
      'piece_members.byte_offset',
      'piece_members.size',
      'piece_members.segment_piece_cid',
      'contents.cid'
    ])
    .where('piece_members.piece_id', '=', pieceId)
    .orderBy('piece_members.position')
    .execute();
  if (piece.kind === 'shard') {
    // A shard's payload is its own CAR: its run of the content's blocks (shards.ts).
    const member = members[0];
    if (member == null || piece.shard_first_block == null || piece.shard_block_count == null) {
      throw new Error(`piece ${pieceId}: shard without its content or block range`);
    }
    const shard = {
      firstBlock: Number(piece.shard_first_block),
      blockCount: Number(piece.shard_block_count)
    };
    const size = Number(piece.payload_size);
    return payloadFromRegions(size, [
      { offset: 0, length: size, open: () => shardCar(CID.parse(member.cid), load, shard) }
    ]);
  }
  // Contents with the same root share one region (an aggregate holds their piece once).
  const regions: PayloadRegion[] = [];
  const seen = new Set<number>();
  for (const m of members) {
    const offset = Number(m.byte_offset);
    if (seen.has(offset)) continue;
    seen.add(offset);
    regions.push({ offset, length: Number(m.size), open: () => contentCar(CID.parse(m.cid), load) });
  }
  regions.sort((a, b) => a.offset - b.offset);
  if (piece.kind === 'aggregate') {
    // The index is derived from the members' pieces, exactly as when the piece was prepared.
    const layout = layoutAggregate(
      members.map((m) => ({
        segmentPiece: CID.parse(m.segment_piece_cid!) as never,
        payloadSize: Number(m.size)
      })),
      Number(piece.piece_size)
    );
    if (layout.pieceCidV1 !== piece.piece_cid)
      throw new Error(`piece ${pieceId}: layout no longer matches its CommP`);
    regions.push({
      offset: layout.index.offset,
      length: layout.index.bytes.length,
      open: async function* () {
        yield layout.index.bytes;
      }
    });
  }
  return payloadFromRegions(Number(piece.payload_size), regions);
}
