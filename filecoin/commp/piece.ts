// Piece sizes, zero-subtree commitments, node hashing for the few nodes above the subtrees, and
// Piece CIDs v1 (fil-commitment-unsealed) and v2 (FRC-0069).
import { hash } from 'node:crypto';
import { CID } from 'multiformats/cid';
import * as Digest from 'multiformats/hashes/digest';
import { varint } from 'multiformats';
import {
  FIL_COMMITMENT_UNSEALED,
  RAW,
  SHA2_256_TRUNC254_PADDED,
  FR32_SHA256_TRUNC254_PADBINTREE
} from './constants.ts';

export class InvalidPieceSizeError extends Error {
  override name = 'InvalidPieceSizeError';
}

export class InvalidPieceCIDError extends Error {
  override name = 'InvalidPieceCIDError';
}

/** SHA-256(left ‖ right) with the top two bits of byte 31 cleared. */
export function hashNode(left: Uint8Array, right: Uint8Array): Uint8Array {
  const buf = new Uint8Array(64);
  buf.set(left, 0);
  buf.set(right, 32);
  const out = new Uint8Array(hash('sha256', buf, 'buffer'));
  out[31]! &= 0x3f;
  return out;
}

const ZEROS: Uint8Array[] = [new Uint8Array(32)];

/** Zi: the root of a subtree of 2^i zero leaves (Z0 = 32 zero bytes, Zi = H(Zi−1 ‖ Zi−1)). */
export function zeroCommitment(level: number): Uint8Array {
  if (!Number.isInteger(level) || level < 0 || level > 255) throw new RangeError(`bad level ${level}`);
  while (ZEROS.length <= level) {
    const z = ZEROS[ZEROS.length - 1]!;
    ZEROS.push(hashNode(z, z));
  }
  return ZEROS[level]!;
}

/** Sizes of the piece that holds `payloadSize` bytes (FRC-0069: at least one 127-byte quad). */
export function pieceGeometry(payloadSize: number): {
  quads: number;
  pieceSize: number;
  height: number;
  padding: number;
} {
  if (!Number.isSafeInteger(payloadSize) || payloadSize < 0)
    throw new RangeError(`bad payload size ${payloadSize}`);
  const needed = Math.max(1, Math.ceil(payloadSize / 127));
  let quads = 1;
  let log = 0;
  while (quads < needed) {
    quads *= 2;
    log++;
  }
  return { quads, pieceSize: quads * 128, height: log + 2, padding: quads * 127 - payloadSize };
}

/** Reduces `nodes` at `level` to one node at `height`, padding odd levels with zero commitments. */
export function reduce(nodes: Uint8Array[], level: number, height: number): Uint8Array {
  let layer = nodes;
  for (; level < height; level++) {
    const next: Uint8Array[] = [];
    for (let i = 0; i < layer.length; i += 2)
      next.push(hashNode(layer[i]!, layer[i + 1] ?? zeroCommitment(level)));
    layer = next;
  }
  if (layer.length !== 1) throw new RangeError('too many nodes for the tree height');
  return layer[0]!;
}

export function pieceCidV1(root: Uint8Array): CID {
  return CID.createV1(FIL_COMMITMENT_UNSEALED, Digest.create(SHA2_256_TRUNC254_PADDED, root));
}

export function pieceCidV2(root: Uint8Array, height: number, padding: number): CID {
  const len = varint.encodingLength(padding);
  const digest = new Uint8Array(len + 1 + 32);
  varint.encodeTo(padding, digest, 0);
  digest[len] = height;
  digest.set(root, len + 1);
  return CID.createV1(RAW, Digest.create(FR32_SHA256_TRUNC254_PADBINTREE, digest));
}

function log2Exact(size: number, what: string): number {
  if (!Number.isSafeInteger(size) || size < 128 || !Number.isInteger(Math.log2(size))) {
    throw new InvalidPieceSizeError(`${what} ${size} is not a power of two ≥ 128`);
  }
  return Math.round(Math.log2(size));
}

/**
 * Zero-pads a piece commitment from padded size `fromSize` to `toSize` (Boost's PadCommP):
 * `root = H(root ‖ Z_level)` for each level between. Equals CommP of the payload zero-extended.
 */
export function padPieceCid(pieceCid: CID, fromSize: number, toSize: number): CID {
  if (pieceCid.code !== FIL_COMMITMENT_UNSEALED || pieceCid.multihash.code !== SHA2_256_TRUNC254_PADDED) {
    throw new InvalidPieceCIDError(`${pieceCid.toString()} is not a v1 piece CID (baga…)`);
  }
  const from = log2Exact(fromSize, 'piece size') - 5;
  const to = log2Exact(toSize, 'piece size') - 5;
  if (to < from) throw new InvalidPieceSizeError(`cannot pad a ${fromSize}-byte piece down to ${toSize}`);
  let root: Uint8Array = pieceCid.multihash.digest;
  for (let level = from; level < to; level++) root = hashNode(root, zeroCommitment(level));
  return pieceCidV1(root);
}
