import { importer, type ImportCandidate } from 'ipfs-unixfs-importer';

/**
 * The CID `ipfs-unixfs-importer` gives these entries with the `unixfs-v1-2025` profile (CIDv1, raw leaves,
 * 1 MiB chunks, balanced, 1024 links): the last entry, i.e. the file or the top directory.
 */
export async function expectedCid(entries: Array<{ path: string; bytes: Uint8Array }>): Promise<string> {
  const candidates: ImportCandidate[] = entries.map((e) => ({ path: e.path, content: e.bytes }));
  let root: string | undefined;
  for await (const entry of importer(
    candidates,
    { put: async (cid) => cid },
    { profile: 'unixfs-v1-2025' }
  )) {
    root = entry.cid.toString();
  }
  if (root === undefined) throw new Error('nothing imported');
  return root;
}
