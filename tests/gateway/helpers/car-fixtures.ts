import fs from 'node:fs/promises';
import path from 'node:path';
import { CarBlockIterator } from '@ipld/car';
import * as dagPb from '@ipld/dag-pb';
import type { CID } from 'multiformats/cid';
import { identity } from 'multiformats/hashes/identity';
import { sha256 } from 'multiformats/hashes/sha2';
import { equals } from 'multiformats/bytes';

export const FIXTURES = path.resolve(import.meta.dirname, '../../../../shared/fixtures/gateway-conformance');

export interface FixtureBlocks {
  roots: CID[];
  /** Every block of the CAR by CID string, as stored. */
  blocks: Map<string, Uint8Array>;
}

/**
 * Puts every block of a conformance fixture CAR into a blockstore as-is (no completeness check:
 * one fixture lacks a block on purpose).
 */
export async function loadFixture(
  blockstore: { put(cid: CID, bytes: Uint8Array): Promise<unknown> },
  relative: string
): Promise<FixtureBlocks> {
  const it = await CarBlockIterator.fromBytes(await fs.readFile(path.join(FIXTURES, relative)));
  const blocks = new Map<string, Uint8Array>();
  for await (const { cid, bytes } of it) {
    // A plain copy: the iterator hands out Buffer views, which do not compare equal to Uint8Arrays.
    const copy = new Uint8Array(bytes);
    await blockstore.put(cid, copy);
    blocks.set(cid.toString(), copy);
  }
  return { roots: await it.getRoots(), blocks };
}

export interface ParsedCar {
  version: number;
  roots: string[];
  /** Block CIDs in stream order (duplicates kept). */
  cids: string[];
  blocks: Array<{ cid: CID; bytes: Uint8Array }>;
}

/**
 * Parses a CAR and checks what a trustless client checks: every block hashes to its CID, and no
 * identity CID is sent as a block.
 */
export async function parseCar(bytes: Uint8Array): Promise<ParsedCar> {
  const it = await CarBlockIterator.fromBytes(bytes);
  const blocks: Array<{ cid: CID; bytes: Uint8Array }> = [];
  for await (const block of it) {
    if (block.cid.multihash.code === identity.code)
      throw new Error(`identity CID ${block.cid} sent as a block`);
    if (block.cid.multihash.code !== sha256.code) throw new Error(`unexpected hash in ${block.cid}`);
    const digest = await sha256.digest(block.bytes);
    if (!equals(digest.digest, block.cid.multihash.digest)) throw new Error(`${block.cid} does not verify`);
    blocks.push(block);
  }
  return {
    version: it.version,
    roots: (await it.getRoots()).map(String),
    cids: blocks.map((b) => b.cid.toString()),
    blocks
  };
}

/**
 * The HAMT shards between a sharded directory and the entry `name`, found by searching every shard
 * (no murmur3 here, so this does not share the gateway's lookup): shard links are named by their
 * bucket alone, entries by bucket + name.
 */
export function hamtRoute(
  blocks: Map<string, Uint8Array>,
  root: CID,
  name: string
): { shards: CID[]; entry: CID } {
  const search = (cid: CID): { shards: CID[]; entry: CID } | undefined => {
    const bytes = blocks.get(cid.toString());
    if (bytes == null) return undefined;
    for (const link of dagPb.decode(bytes).Links) {
      const linkName = link.Name ?? '';
      if (linkName.length === 2) {
        const found = search(link.Hash);
        if (found != null) return { shards: [link.Hash, ...found.shards], entry: found.entry };
      } else if (linkName.slice(2) === name) {
        return { shards: [], entry: link.Hash };
      }
    }
    return undefined;
  };
  const found = search(root);
  if (found == null) throw new Error(`${name} is not in the HAMT ${root}`);
  return found;
}

/** Every shard node under a HAMT root, depth first in link order (the root itself excluded). */
export function hamtShards(blocks: Map<string, Uint8Array>, root: CID): CID[] {
  const out: CID[] = [];
  const walk = (cid: CID) => {
    for (const link of dagPb.decode(blocks.get(cid.toString())!).Links) {
      if ((link.Name ?? '').length === 2) {
        out.push(link.Hash);
        walk(link.Hash);
      }
    }
  };
  walk(root);
  return out;
}
