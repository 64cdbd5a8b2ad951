import { access, readFile } from 'node:fs';
import path from 'node:path';
import type { FsBlockstore } from 'blockstore-fs';
import type { Blockstore } from 'interface-blockstore';
import type { CID } from 'multiformats/cid';
import { identity } from 'multiformats/hashes/identity';
import toBuffer from 'it-to-buffer';
import { SHARDING } from '../../server/content/staging.ts';
import { GatewayError } from './types.ts';

/**
 * Where the gateway gets blocks: the service's own blockstore first, then the network (connected
 * peers over bitswap), until the request's signal aborts. Content we made deals for but no longer
 * hold is retrieved from Filecoin providers instead (`retrieve`).
 */
export interface BlockSource {
  /** The block's bytes; with `offline` only what is held locally. `root`: the DAG it is read for. */
  get(cid: CID, options: { signal?: AbortSignal; offline?: boolean; root?: CID }): Promise<Uint8Array>;
  /** Held locally, without touching the network. */
  has(cid: CID): Promise<boolean>;
  /** Drops these blocks from the cache: deleted content must not be served from it. */
  evict(cids: Iterable<CID>): void;
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
  /** Bytes of small blocks kept in memory for repeated reads. @default 64 MiB */
  cacheBytes?: number;
  /**
   * Retrieval from Filecoin providers for roots we made deals for but no longer hold; undefined
   * when `root` is not such content (then peers are asked over bitswap).
   */
  retrieve?: (root: CID, cid: CID, options: { signal?: AbortSignal }) => Promise<Uint8Array | undefined>;
  /**
   * Roots this service's users deleted: asked only when a request's root is not held locally, and
   * answered 410 Gone instead of being looked up on the network.
   */
  deleted?: (root: CID) => Promise<boolean>;
}

/** Blocks up to this size are cached: roots, directory nodes and the small blocks trustless
 * clients fetch one request at a time. File leaves (1 MiB) stream from disk. */
const CACHEABLE = 64 * 1024;

/**
 * A least-recently-used cache of small blocks bounded by bytes (a Map keeps insertion order; a hit
 * moves the entry to the end). Blocks are immutable, so entries never go stale.
 */
class BlockCache {
  readonly #max: number;
  readonly #blocks = new Map<string, Uint8Array>();
  #bytes = 0;

  constructor(max: number) {
    this.#max = max;
  }

  get(key: string): Uint8Array | undefined {
    const bytes = this.#blocks.get(key);
    if (bytes != null) {
      this.#blocks.delete(key);
      this.#blocks.set(key, bytes);
    }
    return bytes;
  }

  set(key: string, bytes: Uint8Array): void {
    if (bytes.byteLength > CACHEABLE || this.#max === 0 || this.#blocks.has(key)) return;
    this.#blocks.set(key, bytes);
    this.#bytes += bytes.byteLength;
    for (const [k, v] of this.#blocks) {
      if (this.#bytes <= this.#max) break;
      this.#blocks.delete(k);
      this.#bytes -= v.byteLength;
    }
  }

  delete(key: string): void {
    const bytes = this.#blocks.get(key);
    if (bytes == null) return;
    this.#blocks.delete(key);
    this.#bytes -= bytes.byteLength;
  }
}

class BlockNotFoundError extends Error {
  override name = 'NotFoundError';
}

export function createBlockSource(init: BlockSourceInit): BlockSource {
  const root = init.local.path;
  const cache = new BlockCache(init.cacheBytes ?? 64 * 1024 * 1024);
  const fileOf = (cid: CID): string => {
    const { dir, file } = SHARDING.encode(cid);
    return path.join(root, dir, file);
  };
  // One readFile per block, with the callback API: blockstore-fs's get opens a read stream and
  // fs/promises wraps each step in a FileHandle, both several times slower for the small blocks
  // trustless clients ask for (bench/gateway.ts).
  const readLocal = (cid: CID): Promise<Uint8Array | undefined> =>
    new Promise((resolve, reject) => {
      readFile(fileOf(cid), (err, bytes) => {
        if (err == null) resolve(bytes);
        else if (err.code === 'ENOENT') resolve(undefined);
        else reject(err);
      });
    });
  const get = async (
    cid: CID,
    options: { signal?: AbortSignal; offline?: boolean; root?: CID }
  ): Promise<Uint8Array> => {
    // Identity CIDs carry their bytes inline.
    if (cid.multihash.code === identity.code) return cid.multihash.digest;
    // Keyed by multihash: v0 and v1 CIDs (and other codecs) of the same bytes share an entry.
    const key = SHARDING.encode(cid).file;
    const cached = cache.get(key);
    if (cached != null) return cached;
    let bytes = await readLocal(cid);
    if (bytes == null) {
      if (options.root?.equals(cid) === true && (await init.deleted?.(cid)) === true)
        throw new GatewayError(410, 'this content was deleted from this service');
      if (options.offline === true) throw new BlockNotFoundError(`block ${cid} is not held locally`);
      if (options.root != null && init.retrieve != null) {
        try {
          bytes = await init.retrieve(options.root, cid, { signal: options.signal });
        } catch (err) {
          if (options.signal?.aborted === true) throw err;
          throw new GatewayError(
            502,
            `could not retrieve ${cid} from a Filecoin provider: ${(err as Error).message}`
          );
        }
      }
      bytes ??= await toBuffer(init.networked.get(cid, { signal: options.signal }));
    }
    cache.set(key, bytes);
    return bytes;
  };
  return {
    get,
    evict(cids) {
      for (const cid of cids) cache.delete(SHARDING.encode(cid).file);
    },
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
