// The CARv1 of one content's DAG, streamed from the blockstore: header, then every block once in
// depth-first link order — the same bytes every time, which the HTTP pull transfer relies on (a
// provider fetches ranges in several requests and may resume). Every block is re-hashed on the way
// out, so a corrupted block fails the piece here instead of failing a deal at the provider
// (Estuary #391).
import { createWriter, headerLength } from '@ipld/car/buffer-writer';
import { varint } from 'multiformats';
import type { CID } from 'multiformats/cid';
import { identity } from 'multiformats/hashes/identity';
import { linksOf, verifyBlock } from '../../server/content/dag.ts';

export type LoadBlock = (cid: CID, options: { signal?: AbortSignal }) => Promise<Uint8Array>;

export interface ContentCarOptions {
  signal?: AbortSignal;
  /** Re-hash every block against its CID. @default true */
  verify?: boolean;
  /** Blocks read ahead of the writer. @default 16 */
  readAhead?: number;
}

export function carHeader(roots: CID[]): Uint8Array {
  return createWriter(new ArrayBuffer(headerLength({ roots })), { roots }).close();
}

function sectionPrefix(cid: CID, blockLength: number): Uint8Array {
  const length = cid.bytes.byteLength + blockLength;
  const size = varint.encodingLength(length);
  const prefix = new Uint8Array(size + cid.bytes.byteLength);
  varint.encodeTo(length, prefix, 0);
  prefix.set(cid.bytes, size);
  return prefix;
}

/** One block of a content's CAR, in the order the CAR holds them. */
export interface CarBlock {
  /** Position among the CAR's blocks (identity CIDs and repeats are not blocks of the CAR). */
  index: number;
  cid: CID;
  /** The block's bytes; null for a raw leaf before `lazyBefore`, which was not read. */
  bytes: Uint8Array | null;
}

export interface DagBlocksOptions extends ContentCarOptions {
  /**
   * Raw leaves (no links) at positions before this are not read: a caller that only wants a later
   * run of blocks still walks the DAG's inner nodes to find them, but skips the data. @default 0
   */
  lazyBefore?: number;
  /** Stop before the block at this position (and read nothing ahead past it). @default no end */
  end?: number;
}

const RAW_CODE = 0x55;

/**
 * The content's blocks in CAR order: depth-first link order, each block once. Missing blocks throw
 * (the DAG must be complete before a deal). Sibling blocks are read ahead so the disk is kept busy
 * while earlier ones are written.
 */
export async function* dagBlocks(
  root: CID,
  load: LoadBlock,
  options: DagBlocksOptions = {}
): AsyncGenerator<CarBlock> {
  const verify = options.verify ?? true;
  const readAhead = options.readAhead ?? 16;
  const lazyBefore = options.lazyBefore ?? 0;
  const end = options.end ?? Infinity;
  const seen = new Set<string>();
  let written = 0;

  const read = async (cid: CID): Promise<Uint8Array> => {
    const bytes = await load(cid, { signal: options.signal });
    if (verify) await verifyBlock(cid, bytes);
    return bytes;
  };
  // While still before `lazyBefore`, raw leaves are neither read nor read ahead.
  const lazy = (cid: CID) => written < lazyBefore && cid.code === RAW_CODE;

  // Explicit DFS stack of sibling lists, so very deep or wide DAGs don't recurse.
  interface Frame {
    cids: CID[];
    next: number;
    pending: Map<number, Promise<Uint8Array>>;
  }
  const frame = (cids: CID[]): Frame => ({ cids, next: 0, pending: new Map() });
  const stack: Frame[] = [frame([root])];
  while (stack.length > 0 && written < end) {
    options.signal?.throwIfAborted();
    const top = stack[stack.length - 1]!;
    if (top.next >= top.cids.length) {
      stack.pop();
      continue;
    }
    const index = top.next++;
    const cid = top.cids[index]!;
    const key = cid.toString();
    if (seen.has(key)) {
      top.pending.delete(index);
      continue;
    }
    seen.add(key);
    const isIdentity = cid.multihash.code === identity.code;
    if (!isIdentity && !top.pending.has(index) && lazy(cid)) {
      yield { index: written++, cid, bytes: null };
      continue;
    }
    // Start reads of the next siblings not yet seen (the i-th is at position written + i - index or later).
    const ahead = Math.min(top.cids.length, index + 1 + readAhead, index + end - written);
    for (let i = index + 1; i < ahead; i++) {
      const sibling = top.cids[i]!;
      if (!top.pending.has(i) && !lazy(sibling)) {
        const p = read(sibling);
        p.catch(() => {}); // awaited later, or dropped when the sibling turns out to be a duplicate
        top.pending.set(i, p);
      }
    }
    const bytes = isIdentity ? cid.multihash.digest : await (top.pending.get(index) ?? read(cid));
    top.pending.delete(index);
    // Identity blocks are walked through but not written: their bytes are in the CID.
    if (!isIdentity) yield { index: written++, cid, bytes };
    const links = linksOf(cid, bytes);
    if (links.length > 0) stack.push(frame(links));
  }
}

/** A block's CAR section: varint length, CID, bytes. */
export function carSection(cid: CID, bytes: Uint8Array): Uint8Array[] {
  return [sectionPrefix(cid, bytes.byteLength), bytes];
}

/** Bytes of a block's CAR section. */
export function carSectionLength(cid: CID, blockLength: number): number {
  const length = cid.bytes.byteLength + blockLength;
  return varint.encodingLength(length) + length;
}

/** Yields the content's CAR in chunks: the header with [root], then every block once in DFS order. */
export async function* contentCar(
  root: CID,
  load: LoadBlock,
  options: ContentCarOptions = {}
): AsyncGenerator<Uint8Array> {
  yield carHeader([root]);
  for await (const block of dagBlocks(root, load, options)) {
    yield* carSection(block.cid, block.bytes!);
  }
}
