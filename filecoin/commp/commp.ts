// The streaming CommP hasher. The payload is cut into aligned subtrees of SUBTREE_QUADS × 127 bytes
// (8 323 072 B → 2^18 leaves); each is hashed to its root by a wasm kernel in a worker thread (or
// inline with `workers: 0`), and the main thread combines the roots, padding with zero commitments.
// Memory is flat: at most 2 tasks per worker in flight, each holding one reusable buffer.
import os from 'node:os';
import { Worker } from 'node:worker_threads';
import { SUBTREE_HEIGHT, SUBTREE_QUADS } from './constants.ts';
import type { CommpHasher, CommpHasherInit, PieceInfo } from './index.ts';
import { Kernel, QUAD } from './kernel.ts';
import { pieceCidV1, pieceCidV2, pieceGeometry, reduce } from './piece.ts';
import type { SubtreeResult, SubtreeTask } from './worker.ts';

export class AbortError extends Error {
  override name = 'AbortError';
  constructor(message = 'CommP was aborted') {
    super(message);
  }
}

export class CommpWorkerError extends Error {
  override name = 'CommpWorkerError';
}

const CAPACITY = SUBTREE_QUADS * QUAD;

let liveWorkers = 0;

/** Worker threads alive in this process (started and not yet exited); for tests and diagnostics. */
export function commpWorkerCount(): number {
  return liveWorkers;
}

interface PoolWorker {
  worker: Worker;
  busy: number;
}

/** Worker threads with per-task promises, a bound on tasks in flight and a free list of buffers. */
class Pool {
  readonly #workers: PoolWorker[] = [];
  readonly #tasks = new Map<number, { resolve(root: Uint8Array): void; reject(err: Error): void }>();
  readonly #free: ArrayBuffer[] = [];
  #waiters: Array<() => void> = [];
  #nextId = 0;
  #inflight = 0;
  readonly #limit: number;
  #failure: Error | undefined;

  constructor(size: number) {
    this.#limit = 2 * size;
    for (let i = 0; i < size; i++) {
      const entry: PoolWorker = { worker: new Worker(new URL('./worker.ts', import.meta.url)), busy: 0 };
      liveWorkers++;
      entry.worker.unref();
      entry.worker.on('message', (msg: SubtreeResult) => this.#settle(entry, msg));
      entry.worker.on('error', (err) =>
        this.#fail(new CommpWorkerError(`CommP worker failed: ${err.message}`))
      );
      entry.worker.on('exit', (code) => {
        liveWorkers--;
        this.#fail(new CommpWorkerError(`CommP worker exited with ${code}`));
      });
      this.#workers.push(entry);
    }
  }

  /** A payload buffer: a returned one if any, else a new one (at most limit + 1 exist). */
  buffer(): ArrayBuffer {
    return this.#free.pop() ?? new ArrayBuffer(CAPACITY);
  }

  /** Resolves when another task may be started. */
  async slot(): Promise<void> {
    while (this.#inflight >= this.#limit && this.#failure == null) {
      await new Promise<void>((resolve) => this.#waiters.push(resolve));
    }
    if (this.#failure != null) throw this.#failure;
  }

  /** Hashes `len` bytes of `buf` (transferred) to a root at `height`. */
  run(buf: ArrayBuffer, len: number, height: number): Promise<Uint8Array> {
    if (this.#failure != null) return Promise.reject(this.#failure);
    let entry = this.#workers[0]!;
    for (const w of this.#workers) if (w.busy < entry.busy) entry = w;
    if (entry.busy++ === 0) entry.worker.ref();
    this.#inflight++;
    const id = this.#nextId++;
    const task: SubtreeTask = { id, buf, len, height };
    return new Promise<Uint8Array>((resolve, reject) => {
      this.#tasks.set(id, { resolve, reject });
      entry.worker.postMessage(task, [buf]);
    });
  }

  #settle(entry: PoolWorker, msg: SubtreeResult): void {
    const task = this.#tasks.get(msg.id);
    if (task == null) return;
    this.#tasks.delete(msg.id);
    this.#inflight--;
    if (--entry.busy === 0) entry.worker.unref();
    this.#free.push(msg.buf);
    this.#waiters.shift()?.();
    if ('error' in msg) task.reject(new CommpWorkerError(msg.error));
    else task.resolve(msg.root);
  }

  #fail(err: Error): void {
    if (this.#failure != null) return;
    this.#failure = err;
    for (const task of this.#tasks.values()) task.reject(err);
    this.#tasks.clear();
    for (const wake of this.#waiters) wake();
    this.#waiters = [];
  }

  /** Stops every worker; tasks in flight reject with `reason`. */
  async terminate(reason: Error): Promise<void> {
    this.#fail(reason);
    this.#free.length = 0;
    await Promise.all(this.#workers.map((w) => w.worker.terminate()));
  }
}

export class Hasher implements CommpHasher {
  readonly #threads: number;
  readonly #onProgress: CommpHasherInit['onProgress'];
  #pool: Pool | undefined;
  #kernel: Kernel | undefined;
  #staging: Uint8Array<ArrayBuffer> | undefined;
  #fill = 0;
  #bytes = 0;
  #hashed = 0;
  #chunks = 0;
  readonly #roots: Uint8Array[] = [];
  readonly #pending = new Set<Promise<void>>();
  #error: Error | undefined;
  #chain: Promise<void> = Promise.resolve();
  #finished = false;

  constructor(init: CommpHasherInit = {}) {
    this.#threads = Math.max(0, Math.floor(init.workers ?? os.availableParallelism()));
    this.#onProgress = init.onProgress;
  }

  write(chunk: Uint8Array): Promise<void> {
    this.#chain = this.#chain.then(() => this.#write(chunk));
    return this.#chain;
  }

  async #write(chunk: Uint8Array): Promise<void> {
    this.#check();
    let off = 0;
    while (off < chunk.length) {
      this.#staging ??= new Uint8Array(this.#pool?.buffer() ?? new ArrayBuffer(CAPACITY));
      const n = Math.min(CAPACITY - this.#fill, chunk.length - off);
      this.#staging.set(chunk.subarray(off, off + n), this.#fill);
      this.#fill += n;
      this.#bytes += n;
      off += n;
      if (this.#fill === CAPACITY) await this.#flush(SUBTREE_HEIGHT);
    }
  }

  /** Hands the staged bytes to a worker (or hashes them inline) as the next subtree. */
  async #flush(height: number): Promise<void> {
    const index = this.#chunks++;
    const len = this.#fill;
    const staging = this.#staging ?? new Uint8Array(0);
    this.#staging = undefined;
    this.#fill = 0;
    // The last, partial subtree of a small payload is hashed inline: no threads for small pieces.
    if (this.#threads === 0 || (this.#pool == null && len < CAPACITY)) {
      const quads = 2 ** Math.ceil(Math.log2(Math.max(1, Math.ceil(len / QUAD))));
      const kernel =
        this.#kernel != null && this.#kernel.capacity >= len
          ? this.#kernel
          : new Kernel(Math.min(quads, SUBTREE_QUADS));
      if (len === CAPACITY) this.#kernel = kernel;
      kernel.input.set(staging.subarray(0, len));
      this.#roots[index] = kernel.root(len, height);
      this.#progress(len);
      if (len === CAPACITY) this.#staging = staging; // reuse
      return;
    }
    this.#pool ??= new Pool(this.#threads);
    await this.#pool.slot();
    const p = this.#pool.run(staging.buffer, len, height).then(
      (root) => {
        this.#roots[index] = root;
        this.#progress(len);
      },
      (err: Error) => {
        this.#error ??= err;
      }
    );
    this.#pending.add(p);
    void p.finally(() => this.#pending.delete(p));
  }

  #progress(len: number): void {
    this.#hashed += len;
    this.#onProgress?.({ type: 'firth:commp:progress', bytes: this.#hashed });
  }

  #check(): void {
    if (this.#error != null) throw this.#error;
    if (this.#finished) throw new Error('CommP hasher already finished');
  }

  digest(): Promise<PieceInfo> {
    const result = this.#chain.then(() => this.#digest());
    this.#chain = result.then(
      () => undefined,
      () => undefined
    );
    return result;
  }

  async #digest(): Promise<PieceInfo> {
    this.#check();
    try {
      const geometry = pieceGeometry(this.#bytes);
      if (this.#fill > 0 || this.#chunks === 0) {
        await this.#flush(this.#chunks === 0 ? geometry.height : SUBTREE_HEIGHT);
      }
      while (this.#pending.size > 0) await Promise.all(this.#pending);
      if (this.#error != null) throw this.#error;
      const root =
        this.#roots.length === 1 ? this.#roots[0]! : reduce(this.#roots, SUBTREE_HEIGHT, geometry.height);
      return {
        pieceCid: pieceCidV1(root),
        pieceCidV2: pieceCidV2(root, geometry.height, geometry.padding),
        pieceSize: geometry.pieceSize,
        payloadSize: this.#bytes
      };
    } finally {
      this.#finished = true;
      this.#release();
    }
  }

  abort(): void {
    this.#error ??= new AbortError();
    this.#release();
  }

  #release(): void {
    this.#staging = undefined;
    this.#kernel = undefined;
    const pool = this.#pool;
    this.#pool = undefined;
    void pool?.terminate(this.#error ?? new AbortError('CommP hasher finished'));
  }
}
