import type { ImporterOptions } from 'ipfs-unixfs-importer';
import { fixedSize } from 'ipfs-unixfs-importer/chunker';
import { balanced } from 'ipfs-unixfs-importer/layout';

// Shared by the page's importer worker and the service (server/content/upload.ts): keep this
// module free of app aliases and relative imports so both can load it.

/** 1 MiB fixed chunks and 1024 links per node: Firth's one import profile (IPIP-0499 `unixfs-v1-2025`). */
export const CHUNK_SIZE = 1024 * 1024;
export const MAX_LINKS = 1024;
/** A directory whose dag-pb block would be larger than this becomes a HAMT shard with 256 buckets. */
export const HAMT_THRESHOLD_BYTES = 256 * 1024;
export const HAMT_FANOUT_BITS = 8;

/**
 * The options that make the browser, `/api/content/add`, CARs and the CLI give the same CID for the
 * same bytes: CIDv1, raw leaves, 1 MiB fixed chunks, balanced layout, 1024 links per node, and a
 * directory sharded (HAMT, 256 fanout) once its whole block would exceed 256 KiB. The last is where
 * the importer's own default differs from Kubo's `unixfs-v1-2025`: it estimates by link name + CID
 * bytes only (`links-bytes`, the legacy profile's rule), so folders near the threshold got other CIDs.
 * `blockWriteConcurrency` is a speed setting only (it does not change CIDs).
 */
export function importProfile(blockWriteConcurrency: number): ImporterOptions {
  return {
    profile: 'unixfs-v1-2025',
    cidVersion: 1,
    rawLeaves: true,
    reduceSingleLeafToSelf: true,
    chunker: fixedSize({ chunkSize: CHUNK_SIZE }),
    layout: balanced({ maxChildrenPerNode: MAX_LINKS }),
    shardSplitStrategy: 'block-bytes',
    shardSplitThresholdBytes: HAMT_THRESHOLD_BYTES,
    shardFanoutBits: HAMT_FANOUT_BITS,
    fieldOrder: 'links-first',
    blockWriteConcurrency
  };
}
