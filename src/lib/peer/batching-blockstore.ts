import type { CID } from 'multiformats/cid';
import { base32upper } from 'multiformats/bases/base32';
import { BLOCKS_PER_TRANSACTION } from './constants';

/**
 * The key `blockstore-idb` stores a block under: `/` + base32upper(multihash). Keyed by multihash, so a
 * block is found whatever CID version or codec asks for it.
 */
export function blockKey(cid: CID): string {
  return `/${base32upper.encoder.encode(cid.multihash.bytes)}`;
}

/** Opens (creating if needed) an IndexedDB database laid out like `blockstore-idb`'s: one store of the same name. */
export function openBlockDatabase(name: string): Promise<IDBDatabase> {
  return new Promise((resolve, reject) => {
    const request = indexedDB.open(name, 1);
    request.onupgradeneeded = () => {
      if (!request.result.objectStoreNames.contains(name)) request.result.createObjectStore(name);
    };
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error ?? new Error(`could not open IndexedDB ${name}`));
    request.onblocked = () => reject(new Error(`IndexedDB ${name} is blocked by another connection`));
  });
}

interface Pending {
  key: string;
  bytes: Uint8Array;
  resolve: () => void;
  reject: (err: unknown) => void;
}

export interface BatchingBlockstoreInit {
  /** Blocks per IndexedDB transaction. @default BLOCKS_PER_TRANSACTION */
  batchSize?: number;
  /** Transactions in flight at once. @default 2 */
  maxInFlight?: number;
}

/**
 * A write-only blockstore over the same IndexedDB database `blockstore-idb` reads, that writes many blocks
 * per transaction. `blockstore-idb` commits one transaction per `put`, which is what makes stock imports
 * slow; here `put` joins a batch that is committed when it is full or as soon as a transaction slot is free,
 * and resolves once its transaction commits (so an importer awaiting its puts has everything on disk when it
 * yields the root). `putMany` writes a list in one transaction.
 *
 * It also counts the distinct blocks and their bytes: the DAG's size as the service will report it.
 */
export class BatchingBlockstore {
  readonly #db: IDBDatabase;
  readonly #store: string;
  readonly #batchSize: number;
  readonly #maxInFlight: number;
  #pending: Pending[] = [];
  #inFlight = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;
  readonly #seen = new Set<string>();
  #bytes = 0;

  constructor(db: IDBDatabase, init: BatchingBlockstoreInit = {}) {
    this.#db = db;
    this.#store = db.name;
    this.#batchSize = init.batchSize ?? BLOCKS_PER_TRANSACTION;
    this.#maxInFlight = init.maxInFlight ?? 2;
  }

  /** Distinct blocks put so far. */
  get blocks(): number {
    return this.#seen.size;
  }

  /** Bytes of the distinct blocks put so far. */
  get bytes(): number {
    return this.#bytes;
  }

  async put(cid: CID, bytes: Uint8Array, options?: { signal?: AbortSignal }): Promise<CID> {
    options?.signal?.throwIfAborted();
    const key = blockKey(cid);
    if (this.#seen.has(key)) return cid;
    this.#seen.add(key);
    this.#bytes += bytes.byteLength;
    await new Promise<void>((resolve, reject) => {
      this.#pending.push({ key, bytes, resolve, reject });
      this.#schedule();
    });
    return cid;
  }

  /** Writes all the blocks in one transaction. */
  async putMany(blocks: Iterable<{ cid: CID; bytes: Uint8Array }>): Promise<void> {
    const batch: Pending[] = [];
    const done: Array<Promise<void>> = [];
    for (const { cid, bytes } of blocks) {
      const key = blockKey(cid);
      if (!this.#seen.has(key)) {
        this.#seen.add(key);
        this.#bytes += bytes.byteLength;
      }
      done.push(new Promise<void>((resolve, reject) => batch.push({ key, bytes, resolve, reject })));
    }
    this.#commit(batch);
    await Promise.all(done);
  }

  #schedule(): void {
    if (this.#pending.length >= this.#batchSize && this.#inFlight < this.#maxInFlight) {
      this.#take();
      return;
    }
    // Not full: commit soon anyway, so a lone last block does not wait for company.
    if (this.#timer === undefined)
      this.#timer = setTimeout(() => {
        this.#timer = undefined;
        if (this.#pending.length > 0) {
          if (this.#inFlight < this.#maxInFlight) this.#take();
          else this.#schedule();
        }
      }, 0);
  }

  #take(): void {
    const batch = this.#pending.splice(0, this.#batchSize);
    this.#commit(batch);
  }

  #commit(batch: Pending[]): void {
    if (batch.length === 0) return;
    this.#inFlight++;
    let settled = false;
    const settle = (err?: unknown) => {
      if (settled) return;
      settled = true;
      this.#inFlight--;
      for (const p of batch) {
        if (err === undefined) p.resolve();
        else p.reject(err);
      }
      if (this.#pending.length > 0) this.#schedule();
    };
    try {
      const tx = this.#db.transaction(this.#store, 'readwrite');
      const store = tx.objectStore(this.#store);
      for (const p of batch) store.put(p.bytes, p.key);
      tx.oncomplete = () => settle();
      tx.onerror = () => settle(tx.error ?? new Error('IndexedDB transaction failed'));
      tx.onabort = () => settle(tx.error ?? new Error('IndexedDB transaction aborted'));
    } catch (err) {
      settle(err);
    }
  }
}
