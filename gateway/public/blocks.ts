import { access, readFile } from 'node:fs';
import path from 'node:path';
import type { FsBlockstore } from 'blockstore-fs';
import type { Blockstore } from 'interface-blockstore';
import type { CID } from 'multiformats/cid';
import { identity } from 'multiformats/hashes/identity';
import { collectBytes } from '../../server/content/bytes.ts';
import { SHARDING } from '../../server/content/staging.ts';

/**
 * Where the gateway gets blocks: the service's own blockstore first, then the network (connected
 * peers over bitswap), until the request's signal aborts. Retrieval from Filecoin providers plugs in
 * here later, behind the same interface.
 */
export interface BlockSource {
  /** The block's bytes; with `offline` only what is held locally. */
  get(cid: CID, options: { signal?: AbortSignal; offline?: boolean }): Promise<Uint8Array>;
  /** Held locally, without touching the network. */
  has(cid: CID): Promise<boolean>;
  /** The same, in the shape ipfs-unixfs-exporter reads (`get` yields chunks). */
  readonly storage: {
    get(cid: CID, options?: { signal?: AbortSignal; offline?: boolean }): AsyncGenerator<Uint8Array>;
  };
}

export interface BlockSourceInit {
  /** The service's blockstore; local blocks are read straight from its files. */
  local: FsBlockstore;
  /** Local, then the network (Helia's blockstore). */
  networked: Pick<Blockstore, 'get'>;
}

class BlockNotFoundError extends Error {
  override name = 'NotFoundError';
}

export function createBlockSource(init: BlockSourceInit): BlockSource {
  const root = init.local.path;
  const fileOf = (cid: CID): string => {
    const { dir, file } = SHARDING.encode(cid);
    return path.join(root, dir, file);
  };
  // One readFile per block, with the callback API: blockstore-fs's get opens a read stream and
  // fs/promises wraps each step in a FileHandle, both several times slower for the small blocks
  // trustless clients ask for (bench/gateway.ts).
  const readLocal = (cid: CID, signal?: AbortSignal): Promise<Uint8Array | undefined> =>
    new Promise((resolve, reject) => {
      readFile(fileOf(cid), { signal }, (err, bytes) => {
        if (err == null) resolve(bytes);
        else if (err.code === 'ENOENT') resolve(undefined);
        else reject(err);
      });
    });
  const get = async (cid: CID, options: { signal?: AbortSignal; offline?: boolean }): Promise<Uint8Array> => {
    // Identity CIDs carry their bytes inline.
    if (cid.multihash.code === identity.code) return cid.multihash.digest;
    const local = await readLocal(cid, options.signal);
    if (local != null) return local;
    if (options.offline === true) throw new BlockNotFoundError(`block ${cid} is not held locally`);
    return collectBytes(init.networked.get(cid, { signal: options.signal }));
  };
  return {
    get,
    has: async (cid) =>
      cid.multihash.code === identity.code ||
      (await new Promise<boolean>((resolve) => access(fileOf(cid), (err) => resolve(err == null)))),
    storage: {
      async *get(cid, options = {}) {
        yield await get(cid, options);
      }
    }
  };
}
