import type { Blockstore, InputPair } from 'interface-blockstore';

/**
 * Block writes vs. garbage collection. Everything that adds blocks to the service's blockstore —
 * upload commits, bitswap pins (through `lockWrites`), Case B retrievals — writes under the shared
 * side, many at once; offloading's GC computes what to keep and deletes under the exclusive side.
 * So GC never deletes a block written after it decided what is held, and a write never relies on a
 * block GC is deleting.
 */
export class BlockLock {
  #readers = 0;
  #writer: Promise<void> | undefined;
  #idle: Array<() => void> = [];

  async shared<T>(fn: () => Promise<T>): Promise<T> {
    while (this.#writer != null) await this.#writer;
    this.#readers++;
    try {
      return await fn();
    } finally {
      if (--this.#readers === 0) for (const wake of this.#idle.splice(0)) wake();
    }
  }

  async exclusive<T>(fn: () => Promise<T>): Promise<T> {
    while (this.#writer != null) await this.#writer;
    let release!: () => void;
    this.#writer = new Promise<void>((resolve) => (release = resolve));
    try {
      while (this.#readers > 0) await new Promise<void>((resolve) => this.#idle.push(resolve));
      return await fn();
    } finally {
      this.#writer = undefined;
      release();
    }
  }
}

/**
 * `inner` with every put taken under `lock`'s shared side: the blockstore Helia (bitswap pins) writes
 * through. A pin reads a parent's links only after the parent is written, so a GC running between
 * the two makes the pin fetch a deleted child again instead of relying on it.
 */
export function lockWrites(inner: Blockstore, lock: BlockLock): Blockstore {
  return {
    put: (cid, bytes, options) => lock.shared(() => Promise.resolve(inner.put(cid, bytes, options))),
    async *putMany(source: Iterable<InputPair> | AsyncIterable<InputPair>, options) {
      for await (const { cid, bytes } of source) {
        yield await lock.shared(() => Promise.resolve(inner.put(cid, bytes, options)));
      }
    },
    get: (cid, options) => inner.get(cid, options),
    getMany: (source, options) => inner.getMany(source, options),
    getAll: (options) => inner.getAll(options),
    has: (cid, options) => inner.has(cid, options),
    delete: (cid, options) => inner.delete(cid, options),
    deleteMany: (source, options) => inner.deleteMany(source, options)
  };
}
