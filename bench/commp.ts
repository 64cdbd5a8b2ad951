import { createCipheriv } from 'node:crypto';
import os from 'node:os';
import * as PieceHasher from '@web3-storage/data-segment/multihash';
import { Piece } from '@web3-storage/data-segment';
import * as WasmHasher from 'fr32-sha2-256-trunc254-padded-binary-tree-multihash';
import { CID } from 'multiformats/cid';
import * as Digest from 'multiformats/hashes/digest';
import { createCommpHasher } from '../filecoin/commp/index.ts';
import { table } from './service-process.ts';

const MiB = 1024 * 1024;

interface Result {
  name: string;
  mib: number;
  seconds: number;
  cid: string;
}

/** `mib` chunks of 1 MiB of deterministic pseudo-random bytes (chacha20, fixed key). */
function payload(mib: number): Uint8Array[] {
  const cipher = createCipheriv('chacha20', Buffer.alloc(32, 7), Buffer.alloc(16));
  const zero = Buffer.alloc(MiB);
  return Array.from({ length: mib }, () => new Uint8Array(cipher.update(zero)));
}

async function time(name: string, chunks: Uint8Array[], run: () => Promise<string>): Promise<Result> {
  const start = performance.now();
  const cid = await run();
  return { name, mib: chunks.length, seconds: (performance.now() - start) / 1000, cid };
}

async function firth(chunks: Uint8Array[], workers: number): Promise<string> {
  const hasher = createCommpHasher({ workers });
  for (const chunk of chunks) await hasher.write(chunk);
  return (await hasher.digest()).pieceCidV2.toString();
}

async function wasm(chunks: Uint8Array[]): Promise<string> {
  const hasher = WasmHasher.create();
  for (const chunk of chunks) hasher.write(chunk);
  const bytes = new Uint8Array(hasher.multihashByteLength());
  hasher.digestInto(bytes, 0, true);
  hasher.free();
  return CID.createV1(0x55, Digest.decode(bytes)).toString();
}

async function dataSegment(chunks: Uint8Array[]): Promise<string> {
  const hasher = PieceHasher.create();
  for (const chunk of chunks) hasher.write(chunk);
  return Piece.fromDigest(hasher.digest()).link.toString();
}

function flag(args: string[], name: string, fallback: number): number {
  const i = args.indexOf(name);
  const value = i >= 0 ? Number(args[i + 1]) : fallback;
  if (!Number.isInteger(value) || value <= 0) throw new Error(`${name} wants a positive integer`);
  return value;
}

/**
 * CommP of `--mib N` (1024) MiB streamed in 1 MiB chunks: Firth's hasher with 2 and 1 worker
 * threads, beside the Rust→WASM `fr32-sha2-256-trunc254-padded-binary-tree-multihash` and
 * `@web3-storage/data-segment`'s JS hasher. The two baselines are slow, so they hash the first
 * `--baseline-mib M` (128) MiB only; Firth hashes that prefix too, to check all agree.
 */
export async function main(args: string[]): Promise<void> {
  const mib = flag(args, '--mib', 1024);
  const baselineMib = Math.min(mib, flag(args, '--baseline-mib', 128));
  const chunks = payload(mib);
  const prefix = chunks.slice(0, baselineMib);
  process.stderr.write(
    `CommP of ${mib} MiB (baselines: ${baselineMib} MiB), ${os.availableParallelism()} cores\n`
  );

  // Warm up (wasm compile, worker start) on a small input, then the measured runs.
  await firth(chunks.slice(0, 16), 2);
  const results: Result[] = [];
  for (const workers of [2, 1])
    results.push(await time(`firth (workers=${workers})`, chunks, () => firth(chunks, workers)));
  const w = await time('fr32-sha2-256-trunc254-padded-binary-tree-multihash (WASM)', prefix, () =>
    wasm(prefix)
  );
  results.push(w);
  results.push(await time('@web3-storage/data-segment (JS)', prefix, () => dataSegment(prefix)));

  // Agreement: every implementation on the prefix, and Firth's two runs on the whole input.
  const firthPrefix = await firth(prefix, 2);
  const disagree = results.filter((r) => r.cid !== (r.mib === baselineMib ? firthPrefix : results[0]!.cid));
  const wasmRate = (w.mib * MiB) / 1e6 / w.seconds;
  process.stdout.write(
    table(
      results.map((r) => ({
        implementation: r.name,
        'input MiB': String(r.mib),
        seconds: r.seconds,
        'MB/s': (r.mib * MiB) / 1e6 / r.seconds,
        'vs WASM': `${((r.mib * MiB) / 1e6 / r.seconds / wasmRate).toFixed(1)}×`
      }))
    ) + '\n'
  );
  process.stdout.write(`piece CID (${mib} MiB): ${results[0]!.cid}\n`);
  process.stdout.write(`piece CID (${baselineMib} MiB, all implementations): ${firthPrefix}\n`);
  if (disagree.length > 0) {
    process.stdout.write(`DISAGREE: ${disagree.map((r) => `${r.name} ${r.cid}`).join(', ')}\n`);
    process.exitCode = 1;
  } else {
    process.stdout.write('all implementations agree\n');
  }
}
