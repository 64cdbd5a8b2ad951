import type { ImporterOptions } from 'ipfs-unixfs-importer';
import { fixedSize } from 'ipfs-unixfs-importer/chunker';
import { balanced } from 'ipfs-unixfs-importer/layout';

// Shared by the page's importer worker and the service (server/content/upload.ts): keep this
// module free of app aliases and relative imports so both can load it.

/** 1 MiB fixed chunks and 1024 links per node: Firth's one import profile (IPIP-0499 `unixfs-v1-2025`). */
export const CHUNK_SIZE = 1024 * 1024;
export const MAX_LINKS = 1024;

/**
 * The options that make the browser, `/api/content/add`, CARs and the CLI give the same CID for the
 * same bytes: CIDv1, raw leaves, 1 MiB fixed chunks, balanced layout, 1024 links per node.
 * `blockWriteConcurrency` is a speed setting only (it does not change CIDs).
 */
export function importProfile(blockWriteConcurrency: number): ImporterOptions {
  return {
    cidVersion: 1,
    rawLeaves: true,
    reduceSingleLeafToSelf: true,
    chunker: fixedSize({ chunkSize: CHUNK_SIZE }),
    layout: balanced({ maxChildrenPerNode: MAX_LINKS }),
    blockWriteConcurrency
  };
}
