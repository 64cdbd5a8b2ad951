import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { createCipheriv, randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { promisify } from 'node:util';
import autocannon from 'autocannon';
import { FsBlockstore } from 'blockstore-fs';
import { importByteStream } from 'ipfs-unixfs-importer';
import { fixedSize } from 'ipfs-unixfs-importer/chunker';
import { balanced } from 'ipfs-unixfs-importer/layout';
import { CID } from 'multiformats/cid';
import * as raw from 'multiformats/codecs/raw';
import { sha256 } from 'multiformats/hashes/sha2';
import { startServiceProcess, table } from './service-process.ts';

const run = promisify(execFile);
const MiB = 1024 * 1024;
const ROOT = path.resolve(import.meta.dirname, '..');

/** Pseudo-random incompressible bytes, in 16 MiB pieces. */
async function* randomStream(bytes: number): AsyncGenerator<Uint8Array> {
  const cipher = createCipheriv('chacha20', randomBytes(32), Buffer.alloc(16));
  for (let done = 0; done < bytes; done += 16 * MiB)
    yield cipher.update(Buffer.alloc(Math.min(16 * MiB, bytes - done)));
}

async function importInto(blocks: FsBlockstore, bytes: number): Promise<CID> {
  const r = await importByteStream(randomStream(bytes), blocks, {
    cidVersion: 1,
    rawLeaves: true,
    chunker: fixedSize({ chunkSize: MiB }),
    layout: balanced({ maxChildrenPerNode: 1024 })
  });
  return r.cid;
}

async function startBaseline(blocksDir: string): Promise<{ url: string; child: ChildProcess }> {
  const child = spawn(process.execPath, [path.join(ROOT, 'bench/verified-fetch-server.ts'), blocksDir], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'inherit']
  });
  const url = await new Promise<string>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`baseline exited with ${code}`)));
    readline
      .createInterface({ input: child.stdout! })
      .once('line', (line) => resolve((JSON.parse(line) as { url: string }).url));
  });
  return { url, child };
}

async function peakRss(pid: number): Promise<number> {
  const status = await fs.readFile(`/proc/${pid}/status`, 'utf8');
  return Number(/VmHWM:\s+(\d+) kB/.exec(status)![1]) * 1024;
}

/** Downloads with curl (the same client for both servers); returns seconds and bytes. */
async function download(url: string): Promise<{ seconds: number; bytes: number }> {
  const start = performance.now();
  const { stdout } = await run('curl', ['-sS', '--fail', '-o', '/dev/null', '-w', '%{size_download}', url]);
  return { seconds: (performance.now() - start) / 1000, bytes: Number(stdout) };
}

async function best(url: string, runs = 3): Promise<{ seconds: number; bytes: number }> {
  let result = await download(url);
  for (let i = 1; i < runs; i++) {
    const r = await download(url);
    if (r.seconds < result.seconds) result = r;
  }
  return result;
}

async function hammer(base: string, cids: CID[], seconds: number) {
  const result = await autocannon({
    url: base,
    connections: 64,
    duration: seconds,
    requests: cids.slice(0, 1000).map((cid) => ({ method: 'GET', path: `/ipfs/${cid}?format=raw` }))
  });
  return {
    rps: result.requests.average,
    p50: result.latency.p50,
    p99: result.latency.p99,
    errors: result.errors + result.non2xx
  };
}

/**
 * The gateway against a minimal @helia/verified-fetch server over the same blockstore, in one run:
 * (a) a cached 1 GiB file, (b) 1 KiB raw blocks at 64 connections, (c) their latency, (d) a
 * 100 MiB file as a CAR; and both servers' peak RSS.
 */
export async function main(args: string[]): Promise<void> {
  const bigMiB = Number(args[0] ?? 1024);
  const carMiB = Number(args[1] ?? 100);
  const seconds = Number(args[2] ?? 10);
  const dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'firth-bench-gw-'));
  const blocksDir = path.join(dataDir, 'blocks');
  const blocks = new FsBlockstore(blocksDir);
  await blocks.open();
  const big = await importInto(blocks, bigMiB * MiB);
  const car = await importInto(blocks, carMiB * MiB);
  const small: CID[] = [];
  for (let i = 0; i < 1000; i++) {
    const bytes = randomBytes(1024);
    const cid = CID.createV1(raw.code, await sha256.digest(bytes));
    await blocks.put(cid, bytes);
    small.push(cid);
  }
  await run('sync', []);

  const firth = await startServiceProcess({ FIRTH_DATA_DIR: dataDir });
  const gatewayUrl = firth.gatewayUrl;
  const baseline = await startBaseline(blocksDir);
  try {
    const rows: Array<Record<string, string | number>> = [];
    const bigUrl = (base: string) => `${base}/ipfs/${big}`;
    // Warm both (page cache, JIT) once.
    await download(bigUrl(gatewayUrl));
    await download(bigUrl(baseline.url));
    const a1 = await best(bigUrl(gatewayUrl));
    const a2 = await best(bigUrl(baseline.url));
    rows.push({
      what: `(a) ${bigMiB} MiB file, MB/s`,
      firth: a1.bytes / a1.seconds / 1e6,
      'verified-fetch': a2.bytes / a2.seconds / 1e6,
      ratio: `${(a2.seconds / a1.seconds).toFixed(2)}×`
    });

    const b1 = await hammer(gatewayUrl, small, seconds);
    const b2 = await hammer(baseline.url, small, seconds);
    // The same with Firth's small-block cache off: every request reads its block's file.
    const uncached = await startServiceProcess({ FIRTH_DATA_DIR: dataDir, FIRTH_GATEWAY_CACHE_MB: '0' });
    let b3: Awaited<ReturnType<typeof hammer>>;
    try {
      b3 = await hammer(uncached.gatewayUrl, small, seconds);
    } finally {
      await uncached.stop({ keepData: true });
    }
    rows.push({
      what: '(b) 1 KiB ?format=raw, req/s (64 conns)',
      firth: b1.rps,
      'verified-fetch': b2.rps,
      ratio: `${(b1.rps / b2.rps).toFixed(2)}×`
    });
    rows.push({
      what: '(b) same, Firth block cache off',
      firth: b3.rps,
      'verified-fetch': b2.rps,
      ratio: `${(b3.rps / b2.rps).toFixed(2)}×`
    });
    rows.push({
      what: '(c) latency p50 / p99, ms',
      firth: `${b1.p50} / ${b1.p99} (cache off: ${b3.p50} / ${b3.p99})`,
      'verified-fetch': `${b2.p50} / ${b2.p99}`,
      ratio: ''
    });

    const carUrl = (base: string) => `${base}/ipfs/${car}?format=car`;
    const d1 = await best(carUrl(gatewayUrl));
    const d2 = await best(carUrl(baseline.url));
    rows.push({
      what: `(d) ${carMiB} MiB as ?format=car, MB/s`,
      firth: d1.bytes / d1.seconds / 1e6,
      'verified-fetch': d2.bytes / d2.seconds / 1e6,
      ratio: `${(d2.seconds / d1.seconds).toFixed(2)}×`
    });
    rows.push({
      what: 'peak RSS, MB',
      firth: (await firth.peakRss()) / 1e6,
      'verified-fetch': (await peakRss(baseline.child.pid!)) / 1e6,
      ratio: ''
    });
    rows.push({
      what: 'errors / non-2xx in (b)',
      firth: String(b1.errors),
      'verified-fetch': String(b2.errors),
      ratio: ''
    });
    process.stdout.write(
      `\ngateway benchmark, ${os.cpus().length} cores, ${seconds} s per load run\n\n${table(rows)}\n\ngoals: (a) ≥ 1000 MB/s and ≥ 2× verified-fetch; (b) ≥ 3× verified-fetch; RSS flat with file size\n`
    );
  } finally {
    baseline.child.kill('SIGTERM');
    await firth.stop();
    await fs.rm(dataDir, { recursive: true, force: true });
  }
}
