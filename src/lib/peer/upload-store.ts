import { UPLOADS_DB } from './constants';

/**
 * Where an upload stands. `waiting`/`hashing`: being imported; `hashed`: its blocks are in IndexedDB and
 * its CID is known, not yet handed to the service; `queued`/`pinning`/`pinned`/`failed`: the service's
 * pin status; `removed`: the pin was deleted on the service (from any device or the API).
 */
export type UploadState =
  'waiting' | 'hashing' | 'hashed' | 'queued' | 'pinning' | 'pinned' | 'failed' | 'removed';

/** One upload as kept in IndexedDB, so the queue survives reloads. */
export interface UploadRecord {
  id: string;
  /** The account it belongs to (`viewer.id`): several accounts can use the same browser. */
  owner: number;
  name: string;
  kind: 'file' | 'folder';
  files: number;
  /** Bytes of file content. */
  size: number;
  createdAt: number;
  state: UploadState;
  cid?: string;
  /** Bytes of the DAG's distinct blocks: what the service holds when it has everything. */
  dagSize?: number;
  blocks?: number;
  /** The service's pin request. */
  requestid?: string;
  /** The content the pin made on the service (its page: `/content/:id`). */
  contentId?: number;
  /** Bytes of the DAG the service holds (its `info.dag_size`). */
  fetched?: number;
  error?: string;
  /** The account's gossipsub topic with live pin status (the service's `info.status_topic`). */
  statusTopic?: string;
  /** Set once the user dropped this upload's blocks from IndexedDB (only ever after it was pinned). */
  localDropped?: boolean;
}

const STORE = 'uploads';

function request<T>(req: IDBRequest<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error ?? new Error('IndexedDB request failed'));
  });
}

/** The upload queue in IndexedDB (`/firth/uploads`). */
export class UploadStore {
  #db: Promise<IDBDatabase> | undefined;

  #open(): Promise<IDBDatabase> {
    this.#db ??= new Promise((resolve, reject) => {
      const req = indexedDB.open(UPLOADS_DB, 1);
      req.onupgradeneeded = () => {
        const store = req.result.createObjectStore(STORE, { keyPath: 'id' });
        store.createIndex('owner', 'owner');
      };
      req.onsuccess = () => resolve(req.result);
      req.onerror = () => reject(req.error ?? new Error('could not open the upload queue'));
    });
    return this.#db;
  }

  async list(owner: number): Promise<UploadRecord[]> {
    const db = await this.#open();
    const records = await request(
      db.transaction(STORE).objectStore(STORE).index('owner').getAll(owner) as IDBRequest<UploadRecord[]>
    );
    return records.sort((a, b) => a.createdAt - b.createdAt);
  }

  /** Every account's uploads in this browser (blocks are shared between accounts). */
  async all(): Promise<UploadRecord[]> {
    const db = await this.#open();
    return request(db.transaction(STORE).objectStore(STORE).getAll() as IDBRequest<UploadRecord[]>);
  }

  async put(record: UploadRecord): Promise<void> {
    const db = await this.#open();
    const tx = db.transaction(STORE, 'readwrite');
    tx.objectStore(STORE).put(record);
    await new Promise<void>((resolve, reject) => {
      tx.oncomplete = () => resolve();
      tx.onerror = () => reject(tx.error ?? new Error('could not save the upload queue'));
      tx.onabort = () => reject(tx.error ?? new Error('could not save the upload queue'));
    });
  }

  async delete(id: string): Promise<void> {
    const db = await this.#open();
    await request(db.transaction(STORE, 'readwrite').objectStore(STORE).delete(id));
  }
}
