// The two CIDs Filecoin gives CBOR objects: chain objects (messages, on-chain deal proposals) use
// blake2b-256; Boost's SignedProposalCid uses sha2-256 (filecoin.md §1.3, §2.6).
import { blake2b } from '@noble/hashes/blake2.js';
import { CID } from 'multiformats/cid';
import * as Digest from 'multiformats/hashes/digest';
import { sha256 } from 'multiformats/hashes/sha2';

export const DAG_CBOR = 0x71;
export const BLAKE2B_256 = 0xb220;

export function blake2bCid(bytes: Uint8Array): CID {
  return CID.createV1(DAG_CBOR, Digest.create(BLAKE2B_256, blake2b(bytes, { dkLen: 32 })));
}

export async function sha256Cid(bytes: Uint8Array): Promise<CID> {
  return CID.createV1(DAG_CBOR, await sha256.digest(bytes));
}
