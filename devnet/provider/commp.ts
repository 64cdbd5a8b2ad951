// CommP of received bytes, as Boost verifies after a transfer (deal_commp.go): stream the file
// through data-segment's fr32 tree hasher, then zero-pad the commitment up to the proposal's
// PieceSize (PadCommP: root = H(root ‖ Z_level) per level) and compare with the PieceCID.
import { Worker } from 'node:worker_threads';
import { sha256 } from '@noble/hashes/sha2.js';
import { Piece } from '@web3-storage/data-segment';
import { CID } from 'multiformats/cid';
import * as Digest from 'multiformats/hashes/digest';
import { FIL_COMMITMENT_UNSEALED, SHA2_256_TRUNC254_PADDED } from '../wire/deal-proposal.ts';

function hashNode(left: Uint8Array, right: Uint8Array): Uint8Array {
  const out = sha256(Buffer.concat([left, right]));
  out[31]! &= 0x3f;
  return out;
}

/** Z_i: the commitment of 32·2^i zero bytes. */
function zeroCommitments(levels: number): Uint8Array[] {
  const out: Uint8Array[] = [new Uint8Array(32)];
  for (let i = 1; i <= levels; i++) out.push(hashNode(out[i - 1]!, out[i - 1]!));
  return out;
}

export function padCommP(root: Uint8Array, fromSize: number, toSize: number): Uint8Array {
  if (toSize < fromSize) throw new RangeError(`cannot pad a ${fromSize} B piece down to ${toSize} B`);
  const from = Math.log2(fromSize / 32);
  const to = Math.log2(toSize / 32);
  const zeros = zeroCommitments(to);
  let current = root;
  for (let level = from; level < to; level++) current = hashNode(current, zeros[level]!);
  return current;
}

export function pieceCidFromRoot(root: Uint8Array): CID {
  return CID.createV1(FIL_COMMITMENT_UNSEALED, Digest.create(SHA2_256_TRUNC254_PADDED, root));
}

/** CommP v1 of `bytes` zero-padded to `pieceSize` (≥ the natural size). */
export function commPOfBytes(bytes: Uint8Array, pieceSize: number): CID {
  const piece = Piece.fromPayload(bytes);
  return pad(piece, pieceSize);
}

function pad(piece: ReturnType<typeof Piece.fromDigest>, pieceSize: number): CID {
  const natural = Number(piece.size);
  const root = piece.toInfo().link.multihash.digest;
  return pieceCidFromRoot(natural >= pieceSize ? root : padCommP(root, natural, pieceSize));
}

export async function commPOfFile(
  path: string,
  pieceSize: number,
  options: { signal?: AbortSignal } = {}
): Promise<CID> {
  options.signal?.throwIfAborted();
  const worker = new Worker(new URL('./commp-worker.ts', import.meta.url), { workerData: { path } });
  const onAbort = () => void worker.terminate();
  options.signal?.addEventListener('abort', onAbort, { once: true });
  try {
    const { root, size } = await new Promise<{ root: Uint8Array; size: number }>((resolve, reject) => {
      worker.once('message', resolve);
      worker.once('error', reject);
      worker.once('exit', (code) => {
        if (options.signal?.aborted) reject(options.signal.reason as Error);
        else reject(new Error(`CommP worker exited with ${code}`));
      });
    });
    return pieceCidFromRoot(size >= pieceSize ? root : padCommP(root, size, pieceSize));
  } finally {
    options.signal?.removeEventListener('abort', onAbort);
    void worker.terminate();
  }
}
