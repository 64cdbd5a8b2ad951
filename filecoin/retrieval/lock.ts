/**
 * Block writes vs. garbage collection: retrievals write blocks under the shared side (many at
 * once); GC computes what to keep and deletes under the exclusive side, so it never deletes a block
 * that a retrieval wrote after GC decided what was held.
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
