// IPNI metadata (go-libipni metadata/): entries sorted by transport code, each a uvarint code then
// its payload. Used by the devnet's providers to announce, and handy for tests to read results.
import * as dagCbor from '@ipld/dag-cbor';
import type { CID } from 'multiformats/cid';
import { decodeFirst } from 'cborg';
import { varint } from 'multiformats';

export const TRANSPORT_BITSWAP = 0x0900;
export const TRANSPORT_GRAPHSYNC_FILECOINV1 = 0x0910;
export const TRANSPORT_IPFS_GATEWAY_HTTP = 0x0920;
export const TRANSPORT_FILECOIN_PIECE_HTTP = 0x0930;

export type MetadataEntry =
  | { code: typeof TRANSPORT_BITSWAP }
  | {
      code: typeof TRANSPORT_GRAPHSYNC_FILECOINV1;
      pieceCid: CID;
      verifiedDeal: boolean;
      fastRetrieval: boolean;
    }
  | { code: typeof TRANSPORT_IPFS_GATEWAY_HTTP }
  | { code: typeof TRANSPORT_FILECOIN_PIECE_HTTP };

export function encodeMetadata(entries: MetadataEntry[]): Uint8Array {
  const parts: Uint8Array[] = [];
  for (const entry of [...entries].sort((a, b) => a.code - b.code)) {
    parts.push(varint.encodeTo(entry.code, new Uint8Array(varint.encodingLength(entry.code))));
    if (entry.code === TRANSPORT_GRAPHSYNC_FILECOINV1) {
      parts.push(
        dagCbor.encode({
          PieceCID: entry.pieceCid,
          VerifiedDeal: entry.verifiedDeal,
          FastRetrieval: entry.fastRetrieval
        })
      );
    } else if (entry.code !== TRANSPORT_BITSWAP) {
      parts.push(Uint8Array.of(0)); // HTTP entries carry an empty, length-prefixed payload
    }
  }
  return Buffer.concat(parts);
}

/** The transport codes present in a metadata value (graphsync's CBOR payload is skipped over). */
export function transportCodes(metadata: Uint8Array): number[] {
  const codes: number[] = [];
  let offset = 0;
  while (offset < metadata.length) {
    const [code, length] = varint.decode(metadata, offset);
    offset += length;
    codes.push(code);
    if (code === TRANSPORT_GRAPHSYNC_FILECOINV1) {
      const [, rest] = decodeFirst(metadata.subarray(offset), dagCbor.decodeOptions);
      offset = metadata.length - rest.length;
    } else if (code !== TRANSPORT_BITSWAP) {
      const [size, sizeLength] = varint.decode(metadata, offset);
      offset += sizeLength + size;
    }
  }
  return codes;
}
