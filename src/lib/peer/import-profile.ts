import type { ImporterOptions } from 'ipfs-unixfs-importer';
import { fixedSize } from 'ipfs-unixfs-importer/chunker';
import { balanced } from 'ipfs-unixfs-importer/layout';

/** 1 MiB fixed chunks and 1024 links per node: Firth's one import profile (IPIP-0499 `unixfs-v1-2025`). */
export const CHUNK_SIZE = 1024 * 1024;
export const MAX_LINKS = 1024;

/**
 * The same options the service uses (`server/content/import-profile.ts`), so the browser and the service
 * compute the same CID for the same bytes: CIDv1, raw leaves, 1 MiB fixed chunks, balanced layout, 1024 links.
 */
export function importProfile(): ImporterOptions {
  return {
    cidVersion: 1,
    rawLeaves: true,
    reduceSingleLeafToSelf: true,
    chunker: fixedSize({ chunkSize: CHUNK_SIZE }),
    layout: balanced({ maxChildrenPerNode: MAX_LINKS }),
    // Enough blocks in flight that the blockstore can fill a whole transaction.
    blockWriteConcurrency: 32
  };
}
