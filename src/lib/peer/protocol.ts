/**
 * The messages between the page and the import worker (`import.worker.ts`). Files travel as `File`
 * objects (structured clone shares the underlying blob, nothing is copied); the worker streams them.
 */

/** One file of an import: its path inside the upload ("photo.jpg" or "album/photo.jpg") and its bytes. */
export interface ImportEntry {
  path: string;
  file: File;
}

export type PageToWorker =
  { type: 'import'; id: string; entries: ImportEntry[] } | { type: 'cancel'; id: string };

export interface ImportProgress {
  /** Bytes of file content hashed and written to IndexedDB so far. */
  bytes: number;
  /** Bytes of file content in the whole import. */
  total: number;
}

export interface ImportSummary {
  /** The root CID: the file's, or the top directory's for a folder. */
  cid: string;
  /** Bytes of file content. */
  size: number;
  /** Bytes of all distinct blocks of the DAG (what the service reports as `dag_size` once it holds them all). */
  dagSize: number;
  /** Distinct blocks in the DAG. */
  blocks: number;
}

export type WorkerToPage =
  | ({ type: 'progress'; id: string } & ImportProgress)
  | ({ type: 'done'; id: string } & ImportSummary)
  | { type: 'error'; id: string; name: string; message: string };
