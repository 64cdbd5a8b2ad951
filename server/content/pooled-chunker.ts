import type { Chunker } from 'ipfs-unixfs-importer/chunker';

/**
 * A fixed-size chunker (same output as ipfs-unixfs-importer's `fixedSize`) that fills chunks into a
 * small pool of reusable buffers instead of allocating a new one per chunk. A buffer goes back to
 * the pool when its block has been written (`release`), so an upload of any size allocates
 * `poolSize` chunks once: no per-chunk garbage for the collector, flat memory.
 *
 * Why not `fixedSize`: it concatenates into a fresh 1 MiB buffer per chunk; at upload speed the
 * garbage collector then spends as long as the hashing does (measured in bench/upload.ts).
 */
export interface PooledChunker {
  chunker: Chunker;
  /** Returns the buffer under a chunk to the pool; call once its block is durably written. */
  release(chunk: Uint8Array): void;
}

export function pooledChunker(chunkSize: number, poolSize: number): PooledChunker {
  const free: ArrayBuffer[] = [];
  const waiters: Array<(b: ArrayBuffer) => void> = [];
  let allocated = 0;

  const take = async (): Promise<ArrayBuffer> => {
    const buf = free.pop();
    if (buf != null) return buf;
    if (allocated < poolSize) {
      allocated++;
      return new ArrayBuffer(chunkSize);
    }
    return new Promise((resolve) => waiters.push(resolve));
  };

  const release = (chunk: Uint8Array): void => {
    const buf = chunk.buffer as ArrayBuffer;
    if (buf.byteLength !== chunkSize) return; // not one of ours
    const waiter = waiters.shift();
    if (waiter != null) waiter(buf);
    else free.push(buf);
  };

  async function* chunker(source: AsyncIterable<Uint8Array>): AsyncGenerator<Uint8Array> {
    let current = new Uint8Array(await take());
    let filled = 0;
    let emitted = false;
    for await (const input of source) {
      let offset = 0;
      while (offset < input.byteLength) {
        const n = Math.min(chunkSize - filled, input.byteLength - offset);
        current.set(input.subarray(offset, offset + n), filled);
        filled += n;
        offset += n;
        if (filled === chunkSize) {
          yield current;
          emitted = true;
          current = new Uint8Array(await take());
          filled = 0;
        }
      }
    }
    if (!emitted || filled > 0) yield current.subarray(0, filled);
    else release(current);
  }

  return { chunker, release };
}
