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

/**
 * Yields the CAR in chunks. Missing blocks throw (the DAG must be complete before a deal). Sibling
 * blocks are read ahead so the disk is kept busy while earlier ones are written.
 */
export async function* contentCar(
  root: CID,
  load: LoadBlock,
  options: ContentCarOptions = {}
): AsyncGenerator<Uint8Array> {
  const verify = options.verify ?? true;
  const readAhead = options.readAhead ?? 16;
  const seen = new Set<string>();
  yield carHeader([root]);

  const read = async (cid: CID): Promise<Uint8Array> => {
    const bytes = await load(cid, { signal: options.signal });
    if (verify) await verifyBlock(cid, bytes);
    return bytes;
  };

  // Explicit DFS stack of sibling lists, so very deep or wide DAGs don't recurse.
  interface Frame {
    cids: CID[];
    next: number;
    pending: Map<number, Promise<Uint8Array>>;
  }
  const frame = (cids: CID[]): Frame => ({ cids, next: 0, pending: new Map() });
  const stack: Frame[] = [frame([root])];
  while (stack.length > 0) {
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
    // Start reads of the next siblings not yet seen.
    for (let i = index + 1; i < Math.min(top.cids.length, index + 1 + readAhead); i++) {
      if (!top.pending.has(i)) {
        const p = read(top.cids[i]!);
        p.catch(() => {}); // awaited later, or dropped when the sibling turns out to be a duplicate
        top.pending.set(i, p);
      }
    }
    const bytes =
      cid.multihash.code === identity.code
        ? cid.multihash.digest
        : await (top.pending.get(index) ?? read(cid));
    top.pending.delete(index);
    // Identity blocks are walked through but not written: their bytes are in the CID.
    if (cid.multihash.code !== identity.code) {
      yield sectionPrefix(cid, bytes.byteLength);
      yield bytes;
    }
    const links = linksOf(cid, bytes);
    if (links.length > 0) stack.push(frame(links));
  }
}
