// A read-only index over the CARs the provider holds: multihash → (file, offset, length). It backs
// trustless HTTP retrieval and bitswap, the way Boost's local index directory points into unsealed
// pieces. Keyed by multihash so a CIDv0/v1 or codec difference in a request still finds the block.
import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { CarIndexer } from '@ipld/car/indexer';
import * as dagCbor from '@ipld/dag-cbor';
import * as dagPb from '@ipld/dag-pb';
import { base58btc } from 'multiformats/bases/base58';
import { CID } from 'multiformats/cid';
import { readSegmentIndex } from './segments.ts';

export interface BlockLocation {
  cid: CID;
  file: string;
  offset: number;
  length: number;
  /** Deal that contributed the block (the first one wins). */
  dealUuid: string;
}

export interface IndexedCar {
  roots: CID[];
  blocks: CID[];
}

export interface CarIndex {
  /**
   * Index a deal's payload: a CAR, or (given the piece size) an FRC-0058 aggregate of CARs, indexed
   * segment by segment. Returns the roots and block CIDs.
   */
  add(dealUuid: string, file: string, pieceSize?: number): Promise<IndexedCar>;
  remove(dealUuid: string): void;
  locate(cid: CID): BlockLocation | undefined;
  has(cid: CID): boolean;
  read(cid: CID): Promise<Uint8Array | undefined>;
}

const mhKey = (cid: CID): string => base58btc.encode(cid.multihash.bytes);

export function createCarIndex(): CarIndex {
  const blocks = new Map<string, BlockLocation>();
  const indexed = new Map<string, IndexedCar>();
  return {
    async add(dealUuid, file, pieceSize) {
      // A deal's payload is indexed once (before activation); later calls get the same result.
      const done = indexed.get(dealUuid);
      if (done != null) return done;
      const roots: CID[] = [];
      const cids: CID[] = [];
      const indexRange = async (start: number, end?: number) => {
        const indexer = await CarIndexer.fromIterable(
          createReadStream(file, { start, end: end == null ? undefined : end - 1 })
        );
        roots.push(...(await indexer.getRoots()));
        try {
          for await (const entry of indexer) {
            cids.push(entry.cid);
            const key = mhKey(entry.cid);
            if (!blocks.has(key)) {
              blocks.set(key, {
                cid: entry.cid,
                file,
                offset: start + entry.blockOffset,
                length: entry.blockLength,
                dealUuid
              });
            }
          }
        } catch (err) {
          // A segment's CAR is followed by zero padding up to the segment's end: stop there.
          if (end == null) throw err;
        }
      };
      const segments = pieceSize == null ? [] : await readSegmentIndex(file, pieceSize);
      if (segments.length === 0) await indexRange(0);
      else for (const segment of segments) await indexRange(segment.start, segment.end);
      const result = { roots, blocks: cids };
      indexed.set(dealUuid, result);
      return result;
    },
    remove(dealUuid) {
      indexed.delete(dealUuid);
      for (const [key, location] of blocks) if (location.dealUuid === dealUuid) blocks.delete(key);
    },
    locate: (cid) => blocks.get(mhKey(cid)),
    has: (cid) => blocks.has(mhKey(cid)),
    async read(cid) {
      const location = blocks.get(mhKey(cid));
      if (location == null) return undefined;
      const handle = await open(location.file, 'r');
      try {
        const out = new Uint8Array(location.length);
        await handle.read(out, 0, location.length, location.offset);
        return out;
      } finally {
        await handle.close();
      }
    }
  };
}

/** The CIDs a block links to, for the codecs a CAR of IPFS data holds (dag-pb, dag-cbor, raw). */
export function blockLinks(cid: CID, bytes: Uint8Array): CID[] {
  try {
    if (cid.code === dagPb.code) return dagPb.decode(bytes).Links.map((link) => link.Hash);
    if (cid.code === dagCbor.code) {
      const out: CID[] = [];
      const walk = (value: unknown): void => {
        const asCid = CID.asCID(value);
        if (asCid != null) out.push(asCid);
        else if (Array.isArray(value)) value.forEach(walk);
        else if (value != null && typeof value === 'object' && !(value instanceof Uint8Array)) {
          Object.values(value).forEach(walk);
        }
      };
      walk(dagCbor.decode(bytes));
      return out;
    }
  } catch {
    // A block that doesn't decode has no links we can follow.
  }
  return [];
}
