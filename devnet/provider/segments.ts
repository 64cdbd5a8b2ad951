// FRC-0058 data segments: a deal's payload may be an aggregate of several CARs, with an index of
// segments at the end of the piece. Boost indexes such deals segment by segment; so does the devnet
// provider, so content aggregated by a client stays retrievable by its own root CID.
import { createHash } from 'node:crypto';
import { open } from 'node:fs/promises';
import { Fr32, Index } from '@web3-storage/data-segment';

const ENTRY = 64;

export interface SegmentRange {
  /** Byte range of the segment within the (unpadded) payload. */
  start: number;
  end: number;
}

/**
 * The valid segments of a payload that fills a piece of `pieceSize` padded bytes, or [] when it
 * carries no segment index (a plain CAR).
 */
export async function readSegmentIndex(file: string, pieceSize: number): Promise<SegmentRange[]> {
  const entries = Index.maxIndexEntriesInDeal(BigInt(pieceSize) as never);
  const paddedStart = pieceSize - entries * ENTRY;
  const start = (paddedStart * 127) / 128;
  const length = (entries * ENTRY * 127) / 128;
  const handle = await open(file, 'r');
  let tail: Uint8Array;
  try {
    const { size } = await handle.stat();
    if (size < start + length) return [];
    tail = new Uint8Array(length);
    await handle.read(tail, 0, length, start);
  } finally {
    await handle.close();
  }
  const padded = Fr32.pad(tail);
  const segments: SegmentRange[] = [];
  for (let i = 0; i < entries; i++) {
    const entry = padded.subarray(i * ENTRY, (i + 1) * ENTRY);
    if (entry.every((b) => b === 0)) continue;
    const view = new DataView(entry.buffer, entry.byteOffset, ENTRY);
    const offset = view.getBigUint64(32, true);
    const size = view.getBigUint64(40, true);
    // The checksum covers the entry with its own 16 bytes zeroed (data-segment's Segment.toBytes).
    const checksum = createHash('sha256')
      .update(entry.subarray(0, 48))
      .update(new Uint8Array(16))
      .digest()
      .subarray(0, 16);
    checksum[15]! &= 0x3f;
    if (Buffer.compare(checksum, entry.subarray(48, 64)) !== 0 || offset % 128n !== 0n) continue;
    segments.push({ start: Number((offset * 127n) / 128n), end: Number(((offset + size) * 127n) / 128n) });
  }
  return segments;
}
