import { createWriter, headerLength } from '@ipld/car/buffer-writer';
import { varint } from 'multiformats';
import type { CID } from 'multiformats/cid';

export interface Block {
  cid: CID;
  bytes: Uint8Array;
}

/** Blocks at most this big are sent in one chunk with their section prefix (fewer, larger writes). */
const COALESCE_BYTES = 16 * 1024;

/** The CARv1 header (`varint | dag-cbor {version: 1, roots}`), encoded by @ipld/car. */
export function carHeader(roots: CID[]): Uint8Array {
  return createWriter(new ArrayBuffer(headerLength({ roots })), { roots }).close();
}

/** A section's prefix: `varint(len(cid) + len(bytes)) | cid`; the block bytes follow it. */
export function sectionPrefix(block: Block): Uint8Array {
  const length = block.cid.bytes.byteLength + block.bytes.byteLength;
  const size = varint.encodingLength(length);
  const prefix = new Uint8Array(size + block.cid.bytes.byteLength);
  varint.encodeTo(length, prefix, 0);
  prefix.set(block.cid.bytes, size);
  return prefix;
}

/**
 * Streams a CARv1: the header first, then one section per block as the blocks arrive, so a CAR of
 * any size is never held in memory. An error from `blocks` ends the stream there (the router then
 * cuts the response short, which is how a trustless client learns the CAR is incomplete).
 */
export async function* encodeCar(roots: CID[], blocks: AsyncIterable<Block>): AsyncGenerator<Uint8Array> {
  yield carHeader(roots);
  for await (const block of blocks) {
    const prefix = sectionPrefix(block);
    if (block.bytes.byteLength <= COALESCE_BYTES) {
      const section = new Uint8Array(prefix.byteLength + block.bytes.byteLength);
      section.set(prefix, 0);
      section.set(block.bytes, prefix.byteLength);
      yield section;
    } else {
      yield prefix;
      yield block.bytes;
    }
  }
}
