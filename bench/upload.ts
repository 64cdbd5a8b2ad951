import { execFile, spawn } from 'node:child_process';
import { createCipheriv, randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { promisify } from 'node:util';
import { registerAdmin, startServiceProcess, table } from './service-process.ts';

const run = promisify(execFile);
const MiB = 1024 * 1024;
const RUNS = 3;

/** Median seconds of RUNS curl uploads of `file` to bench/hash-only-server.ts. */
async function hashOnlyUpload(file: string): Promise<number> {
  const child = spawn(process.execPath, [path.join(import.meta.dirname, 'hash-only-server.ts')], {
    stdio: ['ignore', 'pipe', 'inherit']
  });
  try {
    const url = await new Promise<string>((resolve, reject) => {
      child.once('exit', (code) => reject(new Error(`hash-only server exited with ${code}`)));
      readline
        .createInterface({ input: child.stdout! })
        .once('line', (l) => resolve((JSON.parse(l) as { url: string }).url));
    });
    const runs: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      const start = performance.now();
      await run('curl', [
        '-sS',
        '--fail',
        '-o',
        '/dev/null',
        '-F',
        `data=@${file}`,
        `${url}/api/content/add`
      ]);
      runs.push((performance.now() - start) / 1000);
    }
    return median(runs);
  } finally {
    child.kill('SIGTERM');
  }
}

function median(xs: number[]): number {
  return [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
}

/**
 * `POST /api/content/add` of a 1 GiB file over loopback (curl as the client), beside `cp` of the
 * same file in the same run; reports MB/s and the service's peak RSS.
 */
export async function main(args: string[]): Promise<void> {
  const sizeMiB = Number(args[0] ?? 1024);
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'firth-bench-upload-'));
  const file = path.join(dir, 'input.bin');
  try {
    // Incompressible bytes, written in 16 MiB pieces so the generator's own memory stays small.
    const cipher = createCipheriv('chacha20', randomBytes(32), Buffer.alloc(16));
    const handle = await fs.open(file, 'w');
    for (let i = 0; i < sizeMiB; i += 16)
      await handle.write(cipher.update(Buffer.alloc(Math.min(16, sizeMiB - i) * MiB)));
    await handle.close();
    const bytes = sizeMiB * MiB;

    // Flush the generated file and warm the page cache, so both runs start from the same state.
    await run('sync', []);
    await run('sh', ['-c', `cat "${file}" > /dev/null`]);

    const cpRuns: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      const start = performance.now();
      await run('cp', [file, path.join(dir, 'copy.bin')]);
      await run('sync', []);
      cpRuns.push((performance.now() - start) / 1000);
      await fs.rm(path.join(dir, 'copy.bin'));
      await run('sync', []);
    }
    const cpSeconds = median(cpRuns);

    // Context: a server that only parses the multipart body and hashes it, storing nothing.
    const floor = await hashOnlyUpload(file);

    const svc = await startServiceProcess();
    try {
      const token = await registerAdmin(svc);
      const rssBefore = await svc.peakRss();
      const runs: number[] = [];
      let cid = '';
      for (let i = 0; i < RUNS; i++) {
        const start = performance.now();
        const { stdout } = await run(
          'curl',
          [
            '-sS',
            '--fail-with-body',
            '-H',
            `Authorization: Bearer ${token}`,
            '-F',
            `data=@${file}`,
            `${svc.apiUrl}/api/content/add`
          ],
          { maxBuffer: 16 * MiB }
        );
        await run('sync', []);
        runs.push((performance.now() - start) / 1000);
        cid = (JSON.parse(stdout) as { cid: string }).cid;
      }
      const seconds = median(runs);
      const peak = await svc.peakRss();
      const mbps = (n: number, s: number) => n / s / 1e6;
      process.stdout.write(
        `\nupload benchmark: ${sizeMiB} MiB of random bytes, ${os.cpus().length} cores, median of ${RUNS} runs each, root ${cid}\n` +
          `cp runs (s): ${cpRuns.map((x) => x.toFixed(2)).join(', ')}; upload runs (s): ${runs.map((x) => x.toFixed(2)).join(', ')}\n\n` +
          table([
            {
              what: 'cp (same file, same disk, + sync)',
              seconds: cpSeconds,
              'MB/s': mbps(bytes, cpSeconds),
              'peak RSS MB': '—'
            },
            {
              what: 'context: multipart parse + SHA-256 only, nothing stored',
              seconds: floor,
              'MB/s': mbps(bytes, floor),
              'peak RSS MB': '—'
            },
            {
              what: 'POST /api/content/add (curl, loopback, + sync)',
              seconds,
              'MB/s': mbps(bytes, seconds),
              'peak RSS MB': `${(peak / 1e6).toFixed(0)} (idle ${(rssBefore / 1e6).toFixed(0)})`
            }
          ]) +
          `\n\nratio upload/cp: ${(cpSeconds / seconds).toFixed(2)} (goal ≥ 0.5); peak RSS goal < 300 MB\n`
      );
    } finally {
      await svc.stop();
    }
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
}
