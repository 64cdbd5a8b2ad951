import { balanced } from 'ipfs-unixfs-importer/layout';
import { fixedSize } from 'ipfs-unixfs-importer/chunker';
import type { ImporterOptions } from 'ipfs-unixfs-importer';

/**
 * The one import profile of Firth (IPIP-0499 `unixfs-v1-2025`, the @helia/unixfs default): the
 * browser, `/api/content/add`, CARs and the CLI all give the same CID for the same bytes.
 */
export const CHUNK_SIZE = 1024 * 1024;
export const MAX_LINKS = 1024;

export function importProfile(): ImporterOptions {
  return {
    cidVersion: 1,
    rawLeaves: true,
    reduceSingleLeafToSelf: true,
    chunker: fixedSize({ chunkSize: CHUNK_SIZE }),
    layout: balanced({ maxChildrenPerNode: MAX_LINKS }),
    // Hash and write several blocks at once: writes overlap with hashing.
    blockWriteConcurrency: 16
  };
}
