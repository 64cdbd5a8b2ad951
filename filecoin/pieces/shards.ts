// Content too large for one piece is dealt as shards. A shard is a consecutive run of the content's
// CAR blocks, in the same depth-first order `contentCar` streams them, wrapped in a CARv1 of its
// own: shard 0's header root is the content root (its first block is the root block); shard k > 0
// has its own first block as its header root, so every shard is a valid CAR whose root it holds
// (providers index a deal by its DealDataRoot). Concatenating the shards' blocks in shard order
// gives the content's blocks exactly once. Cut points are chosen while the DAG is walked once at
// preparation: a shard takes blocks while its CAR stays within the largest piece payload, and
// stores (first block, block count) so its bytes can be produced again for any byte range.
import type { CID } from 'multiformats/cid';
import { createCommpHasher, padPieceCid, type CommpHasher } from '../commp/index.ts';
import { carHeader, carSection, carSectionLength, dagBlocks, type LoadBlock } from './car.ts';

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;

/** 32 GiB sectors hold 32 GiB·127/128 of payload (Fr32); less 16 MiB of margin. */
export const MAX_PIECE_PAYLOAD_BYTES = (32 * GiB * 127) / 128 - 16 * MiB;

/**
 * A content's CAR size from its DAG size, rounded up: the header, and per block a varint and a CID
 * (≤ 64 bytes for the CIDs we make), counting blocks as small as 64 KiB to stay on the safe side.
 */
export function estimateCarBytes(dagSize: number): number {
  return dagSize + 1024 + Math.ceil(dagSize / 65_536) * 64;
}

export interface ShardPlan {
  index: number;
  /** The shard CAR's header root: the content root for shard 0, else the shard's first block. */
  root: CID;
  firstBlock: number;
  blockCount: number;
  payloadSize: number;
  pieceCid: CID;
  pieceSize: number;
}

/**
 * Walks the content's DAG once, cutting its CAR blocks into shards whose CARs are each at most
 * `maxPayloadBytes`, and computes each shard's CommP on the way (padded to `minPieceSize`).
 */
export async function planShards(
  root: CID,
  load: LoadBlock,
  maxPayloadBytes: number,
  options: { minPieceSize?: number; signal?: AbortSignal } = {}
): Promise<ShardPlan[]> {
  const minPieceSize = options.minPieceSize ?? 256;
  const shards: ShardPlan[] = [];
  interface Open {
    root: CID;
    firstBlock: number;
    blockCount: number;
    payloadSize: number;
    hasher: CommpHasher;
  }
  let open: Open | undefined;
  const close = async (current: Open): Promise<void> => {
    const info = await current.hasher.digest();
    const pieceSize = Math.max(info.pieceSize, minPieceSize);
    shards.push({
      index: shards.length,
      root: current.root,
      firstBlock: current.firstBlock,
      blockCount: current.blockCount,
      payloadSize: info.payloadSize,
      pieceCid:
        pieceSize > info.pieceSize ? padPieceCid(info.pieceCid, info.pieceSize, pieceSize) : info.pieceCid,
      pieceSize
    });
  };
  const start = async (shardRoot: CID, firstBlock: number): Promise<Open> => {
    const header = carHeader([shardRoot]);
    const hasher = createCommpHasher();
    await hasher.write(header);
    return { root: shardRoot, firstBlock, blockCount: 0, payloadSize: header.byteLength, hasher };
  };
  try {
    for await (const block of dagBlocks(root, load, { signal: options.signal })) {
      const bytes = block.bytes!;
      const length = carSectionLength(block.cid, bytes.byteLength);
      if (open != null && open.blockCount > 0 && open.payloadSize + length > maxPayloadBytes) {
        const done = open;
        open = undefined;
        await close(done);
      }
      open ??= await start(block.index === 0 ? root : block.cid, block.index);
      if (open.payloadSize + length > maxPayloadBytes) {
        throw new Error(`block ${block.cid} (${bytes.byteLength} bytes) does not fit in a piece`);
      }
      for (const chunk of carSection(block.cid, bytes)) await open.hasher.write(chunk);
      open.payloadSize += length;
      open.blockCount++;
    }
    open ??= await start(root, 0);
    const last = open;
    open = undefined;
    await close(last);
    return shards;
  } catch (err) {
    open?.hasher.abort();
    throw err;
  }
}

/**
 * One shard's CAR, produced again from the blockstore: a header with the shard's root, then blocks
 * [firstBlock, firstBlock + blockCount) of the content's CAR order. Raw leaves before the run are
 * not read.
 */
export async function* shardCar(
  root: CID,
  load: LoadBlock,
  shard: { firstBlock: number; blockCount: number },
  options: { signal?: AbortSignal } = {}
): AsyncGenerator<Uint8Array> {
  const end = shard.firstBlock + shard.blockCount;
  if (shard.blockCount === 0) {
    yield carHeader([root]);
    return;
  }
  for await (const block of dagBlocks(root, load, {
    signal: options.signal,
    lazyBefore: shard.firstBlock,
    end
  })) {
    if (block.index < shard.firstBlock) continue;
    if (block.index === shard.firstBlock) yield carHeader([block.index === 0 ? root : block.cid]);
    yield* carSection(block.cid, block.bytes!);
    if (block.index + 1 >= end) return;
  }
  throw new Error(`content ${root} has fewer than ${end} blocks`);
}
