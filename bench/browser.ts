import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { chromium, type Page } from 'playwright-core';
import { assertAppBuilt, CHROMIUM, CHROMIUM_ARGS, VIEWPORT } from '../tests/e2e/helpers/browser.ts';
import { heapSampler, type HeapSample } from './browser-cdp.ts';
import { startServiceProcess, table } from './service-process.ts';

const MiB = 1024 * 1024;
const mbps = (bytes: number, ms: number) => bytes / (ms / 1000) / 1e6;

// ---- In the page (each function is serialised by Playwright: self-contained, no closures) ----

interface BenchWindow {
  benchFiles: Record<string, File>;
  firthBench?: {
    uploads: {
      linkStatus: string;
      add(
        s: Array<{ name: string; kind: 'file'; entries: Array<{ path: string; file: File }> }>
      ): Promise<Array<{ state: string; record: { requestid?: string; dagSize?: number; cid?: string } }>>;
    };
    createImporter(): {
      import(e: Array<{ path: string; file: File }>): Promise<{ cid: string }>;
      terminate(): void;
    };
  };
}

/** Builds a File of `mib` MiB of xorshift32 bytes (every MiB distinct), 16 MiB at a time so the JS heap stays small. */
function makeFile([name, mib, seed]: [string, number, number]): number {
  const w = globalThis as unknown as BenchWindow;
  let blob = new Blob([]);
  let s = seed >>> 0 || 1;
  let parts: Array<Uint32Array<ArrayBuffer>> = [];
  for (let i = 0; i < mib; i++) {
    const u = new Uint32Array(262_144);
    for (let j = 0; j < u.length; j++) {
      s ^= s << 13;
      s ^= s >>> 17;
      s ^= s << 5;
      u[j] = s >>> 0;
    }
    parts.push(u);
    if (parts.length === 16) {
      blob = new Blob([blob, ...parts]);
      parts = [];
    }
  }
  blob = new Blob([blob, ...parts]);
  w.benchFiles ??= {};
  w.benchFiles[name] = new File([blob], name);
  return blob.size;
}

/** Raw baseline: the file's bytes as 1 MiB values, 16 per transaction, into a database of its own. Returns ms. */
async function rawIdb(name: string): Promise<number> {
  const file = (globalThis as unknown as BenchWindow).benchFiles[name]!;
  const DB = 'firth-bench-raw';
  const done = (r: IDBRequest | IDBOpenDBRequest) =>
    new Promise<void>((resolve, reject) => {
      r.onsuccess = () => resolve();
      r.onerror = () => reject(r.error);
    });
  await done(indexedDB.deleteDatabase(DB));
  const open = indexedDB.open(DB, 1);
  open.onupgradeneeded = () => open.result.createObjectStore('blocks');
  await done(open);
  const db = open.result;
  const chunk = 1024 * 1024;
  const read = (at: number) =>
    Promise.all(
      Array.from({ length: 16 }, (_, k) => at + k * chunk)
        .filter((o) => o < file.size)
        .map(async (o) => new Uint8Array(await file.slice(o, o + chunk).arrayBuffer()))
    );
  const start = performance.now();
  let next = read(0);
  for (let at = 0; at < file.size; at += 16 * chunk) {
    const values = await next;
    // Read the next group while this transaction commits.
    next = read(at + 16 * chunk);
    const tx = db.transaction('blocks', 'readwrite');
    values.forEach((v, k) => tx.objectStore('blocks').put(v, at + k * chunk));
    await new Promise<void>((resolve, reject) => {
      tx.oncomplete = () => resolve();
      tx.onerror = () => reject(tx.error);
    });
  }
  const ms = performance.now() - start;
  db.close();
  await done(indexedDB.deleteDatabase(DB));
  return ms;
}

/**
 * The app's path: `uploads.add()` imports in the worker (to `hashed`), then pins with this peer as origin;
 * the service pulls over bitswap. Returns when the Pinning API says `pinned`.
 */
async function appUpload(
  name: string
): Promise<{ importMs: number; pinMs: number; cid: string; dag: number }> {
  const w = globalThis as unknown as BenchWindow;
  const file = w.benchFiles[name]!;
  const token = localStorage.getItem('firth.token') ?? '';
  const start = performance.now();
  const [item] = await w.firthBench!.uploads.add([{ name, kind: 'file', entries: [{ path: name, file }] }]);
  if (item === undefined) throw new Error('the upload queue refused the file');
  const tick = () => new Promise((r) => setTimeout(r, 10));
  while (item.state === 'waiting' || item.state === 'hashing') await tick();
  const hashed = performance.now();
  if (item.state === 'failed') throw new Error('import failed');
  while (item.record.requestid === undefined) await tick();
  for (;;) {
    const r = await fetch(`/api/pinning/pins/${item.record.requestid}`, {
      headers: { authorization: `Bearer ${token}` }
    });
    const status = ((await r.json()) as { status: string }).status;
    if (status === 'pinned') break;
    if (status === 'failed') throw new Error('the service failed the pin');
    await new Promise((r) => setTimeout(r, 50));
  }
  const pinned = performance.now();
  return {
    importMs: hashed - start,
    pinMs: pinned - hashed,
    cid: item.record.cid ?? '',
    dag: item.record.dagSize ?? 0
  };
}

/** Raw baseline: the same bytes, 1 MiB messages, over one WebSocket to the service's bench sink. Returns ms. */
async function rawWs([name, url]: [string, string]): Promise<number> {
  const file = (globalThis as unknown as BenchWindow).benchFiles[name]!;
  const ws = new WebSocket(url);
  ws.binaryType = 'arraybuffer';
  await new Promise((resolve, reject) => {
    ws.onopen = resolve;
    ws.onerror = () => reject(new Error('bench WebSocket sink refused'));
  });
  const answer = new Promise<number>((resolve) => {
    ws.onmessage = (e) => resolve((JSON.parse(String(e.data)) as { bytes: number }).bytes);
  });
  const chunk = 1024 * 1024;
  const read = (o: number) => file.slice(o, o + chunk).arrayBuffer();
  const start = performance.now();
  // Up to 8 reads ahead, so the page's blob reads do not hold the socket back.
  const ahead: Array<Promise<ArrayBuffer>> = [];
  for (let o = 0; o < Math.min(file.size, 8 * chunk); o += chunk) ahead.push(read(o));
  for (let at = 0; at < file.size; at += chunk) {
    const buf = await ahead.shift()!;
    if (at + 8 * chunk < file.size) ahead.push(read(at + 8 * chunk));
    while (ws.bufferedAmount > 16 * chunk) await new Promise((r) => setTimeout(r, 1));
    ws.send(buf);
  }
  ws.send('done');
  const bytes = await answer;
  const ms = performance.now() - start;
  ws.close();
  if (bytes !== file.size) throw new Error(`the sink counted ${bytes} bytes of ${file.size}`);
  return ms;
}

/** The app's importer alone (its own worker), no sync. Returns ms. */
async function importOnly(name: string): Promise<number> {
  const w = globalThis as unknown as BenchWindow;
  const file = w.benchFiles[name]!;
  const importer = w.firthBench!.createImporter();
  const start = performance.now();
  await importer.import([{ path: name, file }]);
  const ms = performance.now() - start;
  importer.terminate();
  return ms;
}

// ---- In Node ----

function flag(args: string[], name: string, fallback: number): number {
  const i = args.indexOf(name);
  const v = i >= 0 ? Number(args[i + 1]) : fallback;
  if (!Number.isFinite(v) || v <= 0) throw new Error(`${name} wants a positive number`);
  return v;
}

async function register(page: Page, origin: string, invite: string): Promise<void> {
  await page.goto(`${origin}/register?invite=${encodeURIComponent(invite)}`);
  await page.getByLabel('Username', { exact: true }).fill('bench');
  await page.getByLabel('Password', { exact: true }).fill('bench-Passw0rd');
  await page.getByRole('button', { name: 'Create account' }).click();
  await page.getByText('Signed in as bench').waitFor();
}

/**
 * `npm run bench -- browser [--mib 256] [--heap-mib 1024]`: in headless Chromium against the real service
 * (its own process) and the built app, (a) the app's import (worker, IndexedDB) beside raw batched
 * IndexedDB puts of the same bytes in the same page; (b) the service pulling them over bitswap (pin with
 * the page as origin, until `pinned`) beside a raw WebSocket of the same bytes from the page to the same
 * service; (c) the peak JS heap of the page and its workers while the importer takes `--heap-mib`.
 */
export async function main(args: string[]): Promise<void> {
  const sizeMiB = flag(args, '--mib', 256);
  const heapMiB = flag(args, '--heap-mib', 1024);
  assertAppBuilt();
  const svc = await startServiceProcess({
    FIRTH_BENCH_WS_SINK: '1',
    // No Filecoin network: the deal pipeline would compete for the two cores during the measurement.
    FIRTH_DEVNET: 'off'
  });
  // A pin the service found stalled (no block for 30 s) and queued again: a stall in the transfer, not slowness.
  let stalls = 0;
  svc.child.stdout!.on('data', (d: Buffer) => {
    stalls += d.toString().split('pin stalled').length - 1;
  });
  const profileDir = await fs.mkdtemp(path.join(os.tmpdir(), 'firth-bench-chromium-'));
  const context = await chromium.launchPersistentContext(profileDir, {
    executablePath: CHROMIUM,
    // A DevTools port beside Playwright's pipe, for the workers' heaps (bench/browser-cdp.ts).
    args: [...CHROMIUM_ARGS, '--remote-debugging-port=0'],
    viewport: VIEWPORT
  });
  try {
    const origin = svc.apiUrl.replace(/\/+$/, '');
    const page = context.pages()[0] ?? (await context.newPage());
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(String(e)));
    await register(page, origin, svc.adminInvite);
    await page.goto(`${origin}/upload?bench`);
    await page.waitForFunction(
      () => (globalThis as unknown as BenchWindow).firthBench?.uploads.linkStatus === 'connected',
      undefined,
      { timeout: 60_000 }
    );

    const bytes = sizeMiB * MiB;
    await page.evaluate(makeFile, ['bench-a.bin', sizeMiB, 0x9e3779b9] as [string, number, number]);
    const rawIdbMs = await page.evaluate(rawIdb, 'bench-a.bin');
    const app = await page.evaluate(appUpload, 'bench-a.bin');
    const wsUrl = `${origin.replace(/^http/, 'ws')}/api/bench/ws-sink`;
    const rawWsMs = await page.evaluate(rawWs, ['bench-a.bin', wsUrl] as [string, string]);
    process.stderr.write(`(a)+(b) done: ${app.cid}\n`);

    // (c): the heap of the page and its workers, sampled every 100 ms while the importer takes heapMiB.
    await page.evaluate(makeFile, ['bench-c.bin', heapMiB, 0x85ebca6b] as [string, number, number]);
    const sampler = await heapSampler(profileDir, '/upload?bench');
    // Start from a collected heap: the generator's garbage is not the importer's.
    await sampler.collectGarbage();
    const peak = { page: 0, worker: 0, sum: 0, sumWithBacking: 0 };
    const take = (s: { page: HeapSample; workers: HeapSample[] }) => {
      const workerUsed = s.workers.reduce((a, h) => a + h.used, 0);
      const backing = s.page.backing + s.workers.reduce((a, h) => a + h.backing, 0);
      peak.page = Math.max(peak.page, s.page.used);
      peak.worker = Math.max(peak.worker, ...s.workers.map((h) => h.used));
      peak.sum = Math.max(peak.sum, s.page.used + workerUsed);
      peak.sumWithBacking = Math.max(peak.sumWithBacking, s.page.used + workerUsed + backing);
    };
    let sampling = true;
    const loop = (async () => {
      while (sampling) {
        take(await sampler.sample());
        await new Promise((r) => setTimeout(r, 100));
      }
    })();
    let heapImportMs: number;
    try {
      heapImportMs = await page.evaluate(importOnly, 'bench-c.bin');
    } finally {
      sampling = false;
      await loop;
      sampler.close();
    }
    if (errors.length > 0) process.stderr.write(`page errors:\n${errors.join('\n')}\n`);

    const ratio = (x: number, goal: number) =>
      `${x.toFixed(2)} (goal ≥ ${goal}: ${x >= goal ? 'met' : 'NOT met'})`;
    const importMBs = mbps(bytes, app.importMs);
    const rawIdbMBs = mbps(bytes, rawIdbMs);
    const pullMBs = mbps(bytes, app.pinMs);
    const rawWsMBs = mbps(bytes, rawWsMs);
    const heapMB = peak.sum / 1e6;
    process.stdout.write(
      `\nbrowser benchmark: ${sizeMiB} MiB (a, b) and ${heapMiB} MiB (c) of pseudo-random bytes made in the page; ` +
        `headless Chromium, ${os.cpus().length} cores, loopback, single run; root ${app.cid} (DAG ${app.dag} bytes)\n\n` +
        table([
          {
            what: `(a) import through the app (worker → IndexedDB), ${sizeMiB} MiB`,
            'MB/s': importMBs,
            baseline: `raw IndexedDB puts, 1 MiB × 16 per tx, same page: ${rawIdbMBs.toFixed(1)} MB/s`,
            ratio: ratio(importMBs / rawIdbMBs, 0.7)
          },
          {
            what: `(b) service pulls it over bitswap (pin with page as origin → pinned)${stalls > 0 ? `; ${stalls} stall(s) of 30 s` : ''}`,
            'MB/s': pullMBs,
            baseline: `raw WebSocket, page → same service, same bytes: ${rawWsMBs.toFixed(1)} MB/s`,
            ratio: ratio(pullMBs / rawWsMBs, 0.5)
          },
          {
            what: `(c) peak JS heap importing ${heapMiB} MiB (page + import worker, V8 heap used)`,
            'MB/s': `${heapMB.toFixed(0)} MB`,
            baseline: `page ${(peak.page / 1e6).toFixed(0)} MB, worker ${(peak.worker / 1e6).toFixed(0)} MB; with ArrayBuffer stores ${(peak.sumWithBacking / 1e6).toFixed(0)} MB; import ${mbps(heapMiB * MiB, heapImportMs).toFixed(1)} MB/s`,
            ratio: `goal < 300 MB: ${heapMB < 300 ? 'met' : 'NOT met'}`
          }
        ]) +
        '\n'
    );
  } finally {
    await context.close();
    await svc.stop({ allowUncleanExit: true });
    await fs.rm(profileDir, { recursive: true, force: true });
  }
}
