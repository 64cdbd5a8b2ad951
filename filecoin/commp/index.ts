// CommP (piece commitment) of a payload streamed in chunks, with flat memory: Fr32 expansion and
// SHA-256 tree hashing in a SIMD wasm kernel, aligned 8 MB subtrees hashed by worker threads.
//
//   const info = await commp(carStream, { signal })   // { pieceCid, pieceCidV2, pieceSize, payloadSize }
//   const padded = padPieceCid(info.pieceCid, info.pieceSize, 1 << 20)
import type { CID } from 'multiformats/cid';
import { AbortError, Hasher } from './commp.ts';

export { AbortError, CommpWorkerError } from './commp.ts';
export {
  InvalidPieceCIDError,
  InvalidPieceSizeError,
  padPieceCid,
  pieceGeometry,
  zeroCommitment
} from './piece.ts';

export interface PieceInfo {
  /** Piece CID v1 (`baga…`, fil-commitment-unsealed / sha2-256-trunc254-padded). */
  pieceCid: CID;
  /** Piece CID v2 (`bafkz…`, FRC-0069): also carries the tree height and the padding. */
  pieceCidV2: CID;
  /** Padded piece size P: a power of two ≥ 128. */
  pieceSize: number;
  /** Bytes of payload hashed. */
  payloadSize: number;
}

export interface CommpProgressEvent {
  type: 'firth:commp:progress';
  /** Payload bytes hashed so far. */
  bytes: number;
}

export interface CommpHasherInit {
  /**
   * Worker threads hashing subtrees; 0 hashes on the calling thread (blocking it). Payloads below
   * one subtree (8 323 072 bytes) never start a thread.
   * @default os.availableParallelism()
   */
  workers?: number;
  onProgress?: (evt: CommpProgressEvent) => void;
}

export interface CommpHasher {
  /** Copies `chunk` in; resolves when the hasher can take more (backpressure). Await each write. */
  write(chunk: Uint8Array): Promise<void>;
  /** Finishes: the piece of everything written. The hasher cannot be written to afterwards. */
  digest(): Promise<PieceInfo>;
  /** Stops the workers and frees the buffers; pending and later calls reject with `AbortError`. */
  abort(): void;
}

export function createCommpHasher(init?: CommpHasherInit): CommpHasher {
  return new Hasher(init);
}

export interface CommpOptions extends CommpHasherInit {
  signal?: AbortSignal;
}

/** CommP of `source` (bytes or a stream of chunks). */
export async function commp(
  source: AsyncIterable<Uint8Array> | Iterable<Uint8Array> | Uint8Array,
  options: CommpOptions = {}
): Promise<PieceInfo> {
  const { signal } = options;
  signal?.throwIfAborted();
  const hasher = createCommpHasher(options);
  const onAbort = (): void => hasher.abort();
  signal?.addEventListener('abort', onAbort, { once: true });
  try {
    const chunks = source instanceof Uint8Array ? [source] : source;
    for await (const chunk of chunks) {
      if (signal?.aborted === true) throw new AbortError();
      await hasher.write(chunk);
    }
    return await hasher.digest();
  } catch (err) {
    hasher.abort();
    throw err;
  } finally {
    signal?.removeEventListener('abort', onAbort);
  }
}
