// Boost's HTTP pull (transport/httptransport/http_transport.go): HEAD for the size, then ranged
// GETs in NChunks (5, or 1 below 10 MiB) with `Range: bytes=start-end` where `end` is the chunk's
// exclusive end (Boost over-asks by one byte and reads exactly end-start bytes). Bytes go to a file;
// a retry or a restart resumes from the bytes already on disk. Faults: stall (stop reading) and
// truncate (stop early and call it complete, so the CommP check fails as on a real SP).
import { open, stat } from 'node:fs/promises';

const READ_BUFFER = 1024 * 1024;
const DEFAULT_CHUNKS = 5;

export interface TransferFaults {
  stall: () => boolean;
  truncate: () => boolean;
}

export interface HttpTransferInit {
  url: string;
  headers: Record<string, string>;
  size: number;
  file: string;
  faults?: TransferFaults;
  attempts?: number;
  backoffMs?: number;
  onProgress?: (received: number) => void;
  signal?: AbortSignal;
}

export class TransferError extends Error {}

async function fileSize(path: string): Promise<number> {
  try {
    return (await stat(path)).size;
  } catch {
    return 0;
  }
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener(
      'abort',
      () => {
        clearTimeout(timer);
        reject(signal.reason as Error);
      },
      { once: true }
    );
  });
}

/** Resolves with the number of bytes on disk when the transfer is (considered) complete. */
export async function httpTransfer(init: HttpTransferInit): Promise<number> {
  const attempts = init.attempts ?? 5;
  let lastError: unknown;
  for (let attempt = 0; attempt < attempts; attempt++) {
    init.signal?.throwIfAborted();
    try {
      return await transferOnce(init);
    } catch (err) {
      if (init.signal?.aborted) throw err;
      lastError = err;
      await sleep((init.backoffMs ?? 250) * 2 ** attempt, init.signal);
    }
  }
  throw new TransferError(`data transfer failed after ${attempts} attempts: ${(lastError as Error).message}`);
}

async function transferOnce(init: HttpTransferInit): Promise<number> {
  const { url, headers, size, signal } = init;
  const head = await fetch(url, { method: 'HEAD', headers, signal, redirect: 'follow' });
  if (head.status !== 200)
    throw new TransferError(`http req failed: code: ${head.status}, status: ${head.statusText}`);
  const length = Number(head.headers.get('content-length'));
  if (!Number.isSafeInteger(length))
    throw new TransferError('failed to get Content-Length from HEAD response');
  if (size > 0 && length !== size) {
    throw new TransferError(`mismatch in dealSize vs HEAD size: ${size} vs ${length}`);
  }
  const chunks = size < 10 * READ_BUFFER ? 1 : DEFAULT_CHUNKS;
  const chunkSize = Math.ceil(size / chunks);
  let received = await fileSize(init.file);
  if (received > size)
    throw new TransferError(`received more bytes (${received}) than the deal size ${size}`);
  init.onProgress?.(received);
  const handle = await open(init.file, 'a');
  try {
    for (let c = 0; c < chunks; c++) {
      const start = c * chunkSize;
      const end = Math.min(size, start + chunkSize);
      if (end <= received) continue;
      const from = Math.max(start, received);
      const response = await fetch(url, { headers: { ...headers, Range: `bytes=${from}-${end}` }, signal });
      if (response.status !== 200 && response.status !== 206) {
        await response.body?.cancel();
        throw new TransferError(`http req failed: code: ${response.status}, status: ${response.statusText}`);
      }
      if (response.body == null) throw new TransferError('empty response body');
      if (init.faults?.stall()) {
        // Keep the connection open and read nothing: no progress until the deal is stopped.
        await new Promise<never>((_, reject) => {
          signal?.addEventListener('abort', () => reject(signal.reason as Error), { once: true });
        });
      }
      const reader = response.body.getReader();
      let want = end - from;
      try {
        while (want > 0) {
          const { done, value } = await reader.read();
          if (done) throw new TransferError(`unexpected EOF: expected ${end - from} bytes from ${from}`);
          const truncating = init.faults?.truncate() === true;
          const limit = truncating ? Math.max(0, Math.floor(size / 2) - received) : want;
          const piece = value.subarray(0, Math.min(want, limit, value.length));
          await handle.write(piece);
          want -= piece.length;
          received += piece.length;
          init.onProgress?.(received);
          if (truncating && received >= Math.floor(size / 2)) return received;
        }
      } finally {
        await reader.cancel().catch(() => undefined);
      }
    }
  } finally {
    await handle.close();
  }
  if (received !== size) throw new TransferError(`received ${received} bytes, expected ${size}`);
  return received;
}
