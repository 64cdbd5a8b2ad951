import * as dagPb from '@ipld/dag-pb';
import * as dagCbor from '@ipld/dag-cbor';
import * as dagJson from '@ipld/dag-json';
import { UnixFS } from 'ipfs-unixfs';
import { CID } from 'multiformats/cid';
import * as raw from 'multiformats/codecs/raw';
import * as json from 'multiformats/codecs/json';
import { identity } from 'multiformats/hashes/identity';
import { sha256, sha512 } from 'multiformats/hashes/sha2';
import type { MultihashHasher } from 'multiformats/hashes/interface';
import { InvalidInputError } from '../errors.ts';

const HASHERS = new Map<number, MultihashHasher>([
  [sha256.code, sha256],
  [sha512.code, sha512]
]);

export class BlockHashMismatchError extends InvalidInputError {
  override name = 'BlockHashMismatchError';
}

/** Checks that `bytes` hash to `cid`; throws InvalidInputError with the CID in words if not. */
export async function verifyBlock(cid: CID, bytes: Uint8Array): Promise<void> {
  if (cid.multihash.code === identity.code) {
    if (!equalBytes(cid.multihash.digest, bytes)) {
      throw new BlockHashMismatchError('ERR_BLOCK_MISMATCH', `block ${cid} does not match its identity CID`);
    }
    return;
  }
  const hasher = HASHERS.get(cid.multihash.code);
  if (hasher == null) {
    throw new InvalidInputError(
      'ERR_UNSUPPORTED_HASH',
      `block ${cid} uses multihash 0x${cid.multihash.code.toString(16)}; supported: sha2-256, sha2-512, identity`
    );
  }
  const digest = await hasher.digest(bytes);
  if (!equalBytes(digest.digest, cid.multihash.digest)) {
    throw new BlockHashMismatchError('ERR_BLOCK_MISMATCH', `block ${cid}: its bytes do not hash to its CID`);
  }
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.byteLength !== b.byteLength) return false;
  for (let i = 0; i < a.byteLength; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** The CIDs a block links to, by its codec. */
export function linksOf(cid: CID, bytes: Uint8Array): CID[] {
  switch (cid.code) {
    case dagPb.code:
      return dagPb.decode(bytes).Links.map((l) => l.Hash);
    case raw.code:
    case json.code:
      return [];
    case dagCbor.code:
      return collectCids(dagCbor.decode(bytes));
    case dagJson.code:
      return collectCids(dagJson.decode(bytes));
    default:
      return [];
  }
}

function collectCids(value: unknown, out: CID[] = []): CID[] {
  const cid = CID.asCID(value);
  if (cid != null) {
    out.push(cid);
  } else if (Array.isArray(value)) {
    for (const v of value) collectCids(v, out);
  } else if (value != null && typeof value === 'object' && !(value instanceof Uint8Array)) {
    for (const v of Object.values(value)) collectCids(v, out);
  }
  return out;
}

export interface WalkProgress {
  blocks: number;
  bytes: number;
}

export interface WalkOptions {
  signal?: AbortSignal;
  /** Blocks fetched at once. @default 32 */
  concurrency?: number;
  onProgress?(p: WalkProgress): void;
}

/**
 * Visits every block of the DAG under `root` once (identity CIDs are inline and skipped), getting
 * each with `getBlock`, which may fetch from the network. Resolves with the totals.
 */
export async function walkDag(
  root: CID,
  getBlock: (cid: CID, opts: { signal?: AbortSignal }) => Promise<Uint8Array>,
  opts: WalkOptions = {}
): Promise<WalkProgress> {
  const concurrency = opts.concurrency ?? 32;
  const seen = new Set<string>();
  const queue: CID[] = [];
  let head = 0;
  const progress: WalkProgress = { blocks: 0, bytes: 0 };
  const enqueue = (cid: CID) => {
    if (cid.multihash.code === identity.code) return;
    const key = cid.toString();
    if (seen.has(key)) return;
    seen.add(key);
    queue.push(cid);
  };
  enqueue(root);

  await new Promise<void>((resolve, reject) => {
    let active = 0;
    let failed = false;
    const pump = () => {
      if (failed) return;
      if (head === queue.length && active === 0) return resolve();
      while (active < concurrency && head < queue.length) {
        const cid = queue[head++]!;
        active++;
        getBlock(cid, { signal: opts.signal })
          .then((bytes) => {
            for (const link of linksOf(cid, bytes)) enqueue(link);
            progress.blocks++;
            progress.bytes += bytes.byteLength;
            opts.onProgress?.({ ...progress });
            active--;
            pump();
          })
          .catch((err) => {
            failed = true;
            reject(err);
          });
      }
    };
    pump();
  });
  return progress;
}

/** Estuary's content type and the file size when the root is a UnixFS file. */
export function describeRoot(
  root: CID,
  bytes: Uint8Array | undefined,
  dagSize: number
): { type: number; size: number } {
  if (root.code === raw.code) return { type: 1, size: bytes?.byteLength ?? dagSize };
  if (root.code !== dagPb.code || bytes == null) return { type: 0, size: dagSize };
  try {
    const node = dagPb.decode(bytes);
    if (node.Data == null) return { type: 0, size: dagSize };
    const fs = UnixFS.unmarshal(node.Data);
    if (fs.isDirectory()) return { type: 2, size: dagSize };
    if (fs.type === 'file' || fs.type === 'raw') return { type: 1, size: Number(fs.fileSize()) };
  } catch {
    // Not UnixFS: keep the DAG size.
  }
  return { type: 0, size: dagSize };
}
