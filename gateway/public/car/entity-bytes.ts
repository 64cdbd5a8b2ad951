/**
 * `entity-bytes=from:to` arithmetic (trustless gateway spec, §entity-bytes): resolving the requested
 * range against an entity's size, and picking the children of a UnixFS file node that overlap it.
 */

/** As requested: inclusive, negative counts from the end, `to` undefined means `*`. */
export interface RequestedRange {
  from: number;
  to: number | undefined;
}

/** Resolved against a known size: `0 <= from <= to < size`, inclusive. */
export interface ByteRange {
  from: number;
  to: number;
}

export type ResolvedRange =
  /** Some bytes of the entity: send the blocks that hold them. */
  | { kind: 'range'; range: ByteRange }
  /** Zero-length (e.g. `500:-600` of 1000 bytes): the spec makes this `dag-scope=block`. */
  | { kind: 'empty' }
  /** Starts at or after the end: known up front, so the spec wants a 400. */
  | { kind: 'outside' };

export function resolveRange(requested: RequestedRange, size: number): ResolvedRange {
  // An empty entity has no bytes to be outside of: answer with its root block, not an error.
  if (size === 0) return { kind: 'empty' };
  const from = requested.from < 0 ? Math.max(0, size + requested.from) : requested.from;
  if (from >= size) return { kind: 'outside' };
  const to =
    requested.to === undefined
      ? size - 1
      : requested.to < 0
        ? size + requested.to
        : Math.min(requested.to, size - 1);
  if (to < from) return { kind: 'empty' };
  return { kind: 'range', range: { from, to } };
}

export interface ChildSlice {
  /** Index of the child link. */
  index: number;
  /** The part of the range inside this child, relative to the child's first byte. */
  range: ByteRange;
  /** Whether the range covers the whole child (then its whole DAG is needed). */
  whole: boolean;
}

/**
 * The children of a UnixFS file node that hold bytes of `range` (relative to the node's first
 * byte). Layout per the UnixFS spec: the node's own `data` first, then child `i` with
 * `blockSizes[i]` bytes, in link order.
 */
export function overlappingChildren(
  dataLength: number,
  blockSizes: number[],
  range: ByteRange
): ChildSlice[] {
  const out: ChildSlice[] = [];
  let start = dataLength;
  for (let index = 0; index < blockSizes.length; index++) {
    const size = blockSizes[index]!;
    const end = start + size - 1;
    if (start > range.to) break;
    if (size > 0 && end >= range.from) {
      const from = Math.max(range.from, start) - start;
      const to = Math.min(range.to, end) - start;
      out.push({ index, range: { from, to }, whole: from === 0 && to === size - 1 });
    }
    start += size;
  }
  return out;
}
