// A piece's payload as the providers download it: the bytes, their length, and any byte range of
// them, produced again from the blockstore on every request (nothing is staged on disk).
// A single piece's payload is its content's CAR. An aggregate's payload is its members' CARs at
// their offsets, zeros between, and the segment index at the end (FRC-0058).

export type ByteStream = AsyncIterable<Uint8Array>;

export interface PayloadRegion {
  offset: number;
  length: number;
  /** The region's bytes from its start; omitted for zeros. */
  open?: () => ByteStream;
}

export interface PiecePayload {
  size: number;
  /** Bytes [start, end) (end exclusive, clamped to the size). */
  read(start?: number, end?: number, options?: { signal?: AbortSignal }): ByteStream;
}

const ZERO_CHUNK = new Uint8Array(1 << 20);

/** Builds a payload from non-overlapping regions sorted by offset; gaps are zeros. */
export function payloadFromRegions(size: number, regions: PayloadRegion[]): PiecePayload {
  return {
    size,
    async *read(start = 0, end = size, options = {}) {
      end = Math.min(end, size);
      let cursor = start;
      for (const region of regions) {
        if (cursor >= end) return;
        const regionEnd = region.offset + region.length;
        if (regionEnd <= cursor) continue;
        if (region.offset > cursor) {
          yield* zeros(Math.min(region.offset, end) - cursor);
          cursor = Math.min(region.offset, end);
          if (cursor >= end) return;
        }
        const from = cursor - region.offset;
        const to = Math.min(regionEnd, end) - region.offset;
        if (region.open == null) yield* zeros(to - from);
        else yield* slice(region.open(), from, to, region.length, options.signal);
        cursor = region.offset + to;
      }
      if (cursor < end) yield* zeros(end - cursor);
    }
  };
}

function* zeros(length: number): Generator<Uint8Array> {
  while (length > 0) {
    const n = Math.min(length, ZERO_CHUNK.length);
    yield ZERO_CHUNK.subarray(0, n);
    length -= n;
  }
}

/**
 * Bytes [from, to) of a stream that should be `expected` bytes long. Skips what comes before
 * `from` (streams here are regenerated, not seekable) and fails if the source is shorter than it
 * should be, so a transfer never silently carries wrong bytes.
 */
async function* slice(
  source: ByteStream,
  from: number,
  to: number,
  expected: number,
  signal?: AbortSignal
): AsyncGenerator<Uint8Array> {
  let position = 0;
  for await (const chunk of source) {
    signal?.throwIfAborted();
    const chunkEnd = position + chunk.byteLength;
    if (chunkEnd > from && position < to) {
      yield chunk.subarray(Math.max(0, from - position), Math.min(chunk.byteLength, to - position));
    }
    position = chunkEnd;
    if (position >= to) return;
  }
  if (position < Math.min(to, expected)) {
    throw new Error(`payload source ended at byte ${position}, expected ${expected}`);
  }
}
