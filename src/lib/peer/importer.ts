import { randomUuid } from '$lib/utils/uuid';
import type { ImportEntry, ImportProgress, ImportSummary, PageToWorker, WorkerToPage } from './protocol';

export type { ImportEntry, ImportProgress, ImportSummary } from './protocol';

export interface ImportOptions {
  signal?: AbortSignal;
  onProgress?: (progress: ImportProgress) => void;
}

/** The page's handle on the import worker. */
export interface Importer {
  /** Imports files (one file, or the files of a folder with their relative paths) and resolves to the root. */
  import(entries: ImportEntry[], options?: ImportOptions): Promise<ImportSummary>;
  terminate(): void;
}

/** Raised when the worker fails an import; `name` is the worker-side error's name. */
export class ImportError extends Error {
  constructor(name: string, message: string) {
    super(message);
    this.name = name === 'Error' ? 'ImportError' : name;
  }
}

interface Job {
  resolve: (summary: ImportSummary) => void;
  reject: (err: Error) => void;
  onProgress?: (progress: ImportProgress) => void;
}

/** Starts the import worker (one per page; imports run in it one after another or side by side). */
export function createImporter(): Importer {
  const worker = new Worker(new URL('./import.worker.ts', import.meta.url), {
    type: 'module',
    name: 'firth-import'
  });
  const jobs = new Map<string, Job>();
  const send = (message: PageToWorker) => worker.postMessage(message);

  worker.onmessage = (event: MessageEvent<WorkerToPage>) => {
    const message = event.data;
    const job = jobs.get(message.id);
    if (job === undefined) return;
    if (message.type === 'progress') {
      job.onProgress?.({ bytes: message.bytes, total: message.total });
    } else if (message.type === 'done') {
      jobs.delete(message.id);
      job.resolve({ cid: message.cid, size: message.size, dagSize: message.dagSize, blocks: message.blocks });
    } else {
      jobs.delete(message.id);
      job.reject(new ImportError(message.name, message.message));
    }
  };
  worker.onerror = (event) => {
    const err = new ImportError('ImportError', event.message || 'the import worker failed');
    for (const job of jobs.values()) job.reject(err);
    jobs.clear();
  };

  return {
    import(entries, options = {}) {
      const id = randomUuid();
      return new Promise<ImportSummary>((resolve, reject) => {
        if (options.signal?.aborted) {
          reject(options.signal.reason as Error);
          return;
        }
        jobs.set(id, { resolve, reject, onProgress: options.onProgress });
        options.signal?.addEventListener(
          'abort',
          () => {
            send({ type: 'cancel', id });
            jobs.delete(id);
            reject(options.signal?.reason as Error);
          },
          { once: true }
        );
        send({ type: 'import', id, entries });
      });
    },
    terminate() {
      worker.terminate();
      for (const job of jobs.values()) job.reject(new ImportError('AbortError', 'the importer was stopped'));
      jobs.clear();
    }
  };
}
