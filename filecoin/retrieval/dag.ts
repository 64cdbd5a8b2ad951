// Block-level helpers shared by retrieval and offloading: a key per block (its multihash, so v0/v1
// CIDs of the same bytes are one block, as in the blockstore), links by codec (re-exported), hash
// verification, and a walk over the blocks of a DAG held locally.
import type { Blockstore } from 'interface-blockstore';
import toBuffer from 'it-to-buffer';
import { CID } from 'multiformats/cid';
import * as raw from 'multiformats/codecs/raw';
import { identity } from 'multiformats/hashes/identity';
import { sha256, sha512 } from 'multiformats/hashes/sha2';
// One links-by-codec helper for upload, retrieval and GC: a copy that missed dag-json once let GC
// drop blocks a pinned dag-json DAG needed.
import { linksOf } from '../../server/content/dag.ts';

export { linksOf };

export class BlockVerificationError extends Error {
  override name = 'BlockVerificationError';
}

export const blockKey = (cid: CID): string => Buffer.from(cid.multihash.bytes).toString('base64');

export const isIdentity = (cid: CID): boolean => cid.multihash.code === identity.code;

interface Hasher {
  digest(bytes: Uint8Array): Promise<{ digest: Uint8Array }> | { digest: Uint8Array };
}

const HASHERS = new Map<number, Hasher>([
  [sha256.code, sha256],
  [sha512.code, sha512]
]);

/** Throws unless `bytes` hash to `cid`'s multihash. */
export async function verifyBlock(cid: CID, bytes: Uint8Array): Promise<void> {
  if (isIdentity(cid)) {
    if (!Buffer.from(cid.multihash.digest).equals(bytes))
      throw new BlockVerificationError(`identity block ${cid} does not match`);
    return;
  }
  const hasher = HASHERS.get(cid.multihash.code);
  if (hasher == null)
    throw new BlockVerificationError(
      `block ${cid}: hash function 0x${cid.multihash.code.toString(16)} is not supported`
    );
  const { digest } = await hasher.digest(bytes);
  if (!Buffer.from(digest).equals(cid.multihash.digest)) {
    throw new BlockVerificationError(`block ${cid} does not hash to its CID (corrupted by the provider)`);
  }
}

/**
 * Every block of `root`'s DAG that is held locally (missing ones end their branch, so a DAG still
 * being pinned yields what it has). Raw leaves are never read: their CID says they have no links.
 */
export async function* localDag(
  blockstore: Pick<Blockstore, 'get' | 'has'>,
  root: CID,
  options: { signal?: AbortSignal } = {}
): AsyncGenerator<CID> {
  const seen = new Set<string>();
  const stack: CID[] = [root];
  while (stack.length > 0) {
    const cid = stack.pop()!;
    const key = blockKey(cid);
    if (seen.has(key) || isIdentity(cid)) continue;
    seen.add(key);
    if (cid.code === raw.code) {
      if (await blockstore.has(cid, options)) yield cid;
      continue;
    }
    let bytes: Uint8Array;
    try {
      bytes = await toBuffer(blockstore.get(cid, options));
    } catch (err) {
      if ((err as Error).name === 'NotFoundError') continue;
      throw err;
    }
    yield cid;
    const links = linksOf(cid, bytes);
    for (let i = links.length - 1; i >= 0; i--) stack.push(links[i]!);
  }
}
