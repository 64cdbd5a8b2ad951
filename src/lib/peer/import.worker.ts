/// <reference lib="webworker" />
// The import worker: chunks, hashes and stores files off the page's thread. It holds no libp2p node (the
// node lives on the page, see README.md); it writes blocks into the IndexedDB database the page's
// blockstore reads, many per transaction.
import { importer, type ImportCandidate } from 'ipfs-unixfs-importer';
import { BatchingBlockstore, openBlockDatabase } from './batching-blockstore';
import { BLOCKSTORE_DB } from './constants';
import { importProfile } from '../import-profile';
import type { ImportEntry, PageToWorker, WorkerToPage } from './protocol';

declare const self: DedicatedWorkerGlobalScope;

const running = new Map<string, AbortController>();
let database: Promise<IDBDatabase> | undefined;

function post(message: WorkerToPage): void {
  self.postMessage(message);
}

/** Streams a file chunk by chunk: memory stays flat whatever its size. */
async function* read(
  file: File,
  signal: AbortSignal,
  onBytes: (n: number) => void
): AsyncGenerator<Uint8Array> {
  const reader = file.stream().getReader();
  try {
    for (;;) {
      signal.throwIfAborted();
      const { done, value } = await reader.read();
      if (done) return;
      onBytes(value.byteLength);
      yield value;
    }
  } finally {
    await reader.cancel().catch(() => {});
  }
}

async function run(id: string, entries: ImportEntry[], signal: AbortSignal): Promise<void> {
  database ??= openBlockDatabase(BLOCKSTORE_DB);
  const blockstore = new BatchingBlockstore(await database);
  const total = entries.reduce((sum, e) => sum + e.file.size, 0);
  let hashed = 0;
  let lastPost = 0;
  const report = (force = false) => {
    const now = performance.now();
    if (!force && now - lastPost < 100) return;
    lastPost = now;
    post({ type: 'progress', id, bytes: hashed, total });
  };

  // Bytes count as hashed when their chunk's block is written (the `file:write` progress event).
  const written = new Map<string, number>();
  const candidates: ImportCandidate[] = entries.map((e) => ({
    path: e.path,
    content: read(e.file, signal, () => {})
  }));
  const options = {
    // Enough blocks in flight that the blockstore can fill a whole IndexedDB transaction.
    ...importProfile(32),
    signal,
    onProgress: (evt: { type: string; detail: unknown }) => {
      if (evt.type !== 'unixfs:importer:progress:file:write') return;
      const { bytesWritten, path } = evt.detail as { bytesWritten: bigint; path?: string };
      const key = path ?? '';
      const now = Number(bytesWritten);
      hashed += now - (written.get(key) ?? 0);
      written.set(key, now);
      report();
    }
  };

  let root: { cid: string; size: number } | undefined;
  for await (const entry of importer(candidates, blockstore, options)) {
    // The last entry is the root: the file itself, or the top directory of a folder.
    root = { cid: entry.cid.toString(), size: Number(entry.size) };
  }
  if (root === undefined) throw new Error('nothing to import');
  hashed = total;
  report(true);
  post({
    type: 'done',
    id,
    cid: root.cid,
    size: total,
    dagSize: blockstore.bytes,
    blocks: blockstore.blocks
  });
}

self.onmessage = (event: MessageEvent<PageToWorker>) => {
  const message = event.data;
  if (message.type === 'cancel') {
    running.get(message.id)?.abort(new DOMException('import cancelled', 'AbortError'));
    return;
  }
  const controller = new AbortController();
  running.set(message.id, controller);
  run(message.id, message.entries, controller.signal)
    .catch((err: unknown) => {
      const e = err instanceof Error ? err : new Error(String(err));
      post({ type: 'error', id: message.id, name: e.name, message: e.message });
    })
    .finally(() => running.delete(message.id));
};
