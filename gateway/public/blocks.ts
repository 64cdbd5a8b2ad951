import type { Blockstore } from 'interface-blockstore';
import type { CID } from 'multiformats/cid';
import { identity } from 'multiformats/hashes/identity';
import { collectBytes } from '../../server/content/bytes.ts';

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
  /** Local blocks only. */
  local: Pick<Blockstore, 'get' | 'has'>;
  /** Local, then the network (Helia's blockstore). */
  networked: Pick<Blockstore, 'get'>;
}

export function createBlockSource(init: BlockSourceInit): BlockSource {
  const get = async (cid: CID, options: { signal?: AbortSignal; offline?: boolean }): Promise<Uint8Array> => {
    // Identity CIDs carry their bytes inline.
    if (cid.multihash.code === identity.code) return cid.multihash.digest;
    if (options.offline === true || (await init.local.has(cid))) {
      return collectBytes(init.local.get(cid, { signal: options.signal }));
    }
    return collectBytes(init.networked.get(cid, { signal: options.signal }));
  };
  return {
    get,
    has: async (cid) => cid.multihash.code === identity.code || init.local.has(cid),
    storage: {
      async *get(cid, options = {}) {
        yield await get(cid, options);
      }
    }
  };
}
