// The files and folders the UnixFS CID interop tests import in Kubo (with its `unixfs-v1-2025` profile)
// and in Firth, written to a temp dir, and Kubo's own answers for them. Shared by the Node test
// (multipart, CAR) and the Chromium test (the app's importer worker).
import { spawn } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import * as dagPb from '@ipld/dag-pb';
import { UnixFS } from 'ipfs-unixfs';
import { CID } from 'multiformats/cid';
import * as raw from 'multiformats/codecs/raw';
import { sha256 } from 'multiformats/hashes/sha2';
import { deterministicBytes } from '../helpers/bytes.ts';
import { runKubo } from './kubo.ts';
import { KUBO_BINARY } from './tools.ts';

const MiB = 1024 * 1024;
/** IPIP-0499 `unixfs-v1-2025`: a directory whose dag-pb block would exceed this becomes a HAMT. */
export const HAMT_THRESHOLD = 256 * 1024;

export interface FileCase {
  name: string;
  bytes: Uint8Array;
}

export const FILE_CASES: FileCase[] = [
  { name: 'empty', bytes: new Uint8Array(0) },
  { name: 'one-byte', bytes: Uint8Array.of(0x61) },
  { name: 'one-chunk', bytes: deterministicBytes('unixfs-one-chunk', MiB) },
  { name: 'one-chunk-plus-one', bytes: deterministicBytes('unixfs-one-chunk-plus-one', MiB + 1) },
  { name: 'five-mib-plus-123', bytes: deterministicBytes('unixfs-five-mib', 5 * MiB + 123) }
];

/** One file of a folder case: its path inside the folder (no leading folder name). */
export interface FolderFile {
  path: string;
  bytes: Uint8Array;
}

export interface FolderCase {
  /** The folder's own name (the top directory of the import). */
  name: string;
  files: FolderFile[];
  /** Directories with nothing in them (Kubo adds them: `--empty-dirs` defaults to true). */
  emptyDirs: string[];
}

const text = (s: string) => new TextEncoder().encode(s);

/** The same one-byte file under each name: all children share one CID, so the sizes are exact. */
function flatFolder(name: string, names: string[]): FolderCase {
  return { name, files: names.map((n) => ({ path: n, bytes: text('x') })), emptyDirs: [] };
}

/** The dag-pb block of a flat directory of those names, each linking to the raw block of "x". */
export async function flatDirectoryBlockSize(names: string[]): Promise<number> {
  const leaf = CID.createV1(raw.code, await sha256.digest(text('x')));
  const node = dagPb.prepare({
    Data: new UnixFS({ type: 'directory' }).marshal(),
    Links: names.map((n) => ({ Name: n, Hash: leaf, Tsize: 1 }))
  });
  return dagPb.encode(node).byteLength;
}

/**
 * Names whose flat directory block is exactly `target` bytes: 20-byte names, then some made one byte
 * longer until the block size is hit. Each link is 64 bytes, the UnixFS data 4.
 */
export async function namesForBlockSize(target: number): Promise<string[]> {
  const count = Math.floor((target - 4) / 64);
  const extra = target - 4 - count * 64;
  if (extra > count) throw new Error(`cannot reach ${target} bytes`);
  const names = Array.from(
    { length: count },
    (_, i) => `entry-${String(i).padStart(8, '0')}-abcde` + (i < extra ? 'z' : '')
  );
  const size = await flatDirectoryBlockSize(names);
  if (size !== target) throw new Error(`names give a ${size}-byte block, not ${target}`);
  return names;
}

export async function folderCases(): Promise<FolderCase[]> {
  return [
    {
      name: 'nested',
      files: [
        { path: 'readme.txt', bytes: text('a folder with nested subfolders\n') },
        { path: 'docs/guide.md', bytes: text('# Guide\n') },
        { path: 'docs/deep/er/still.bin', bytes: deterministicBytes('unixfs-nested-still', 70_000) },
        { path: 'media/big.bin', bytes: deterministicBytes('unixfs-nested-big', 2 * MiB + 7) },
        { path: 'media/empty.dat', bytes: new Uint8Array(0) }
      ],
      emptyDirs: ['docs/nothing-here']
    },
    { name: 'empty-folder', files: [], emptyDirs: [] },
    {
      name: 'ünïcödé-名前',
      files: [
        { path: 'naïve café.txt', bytes: text('accents\n') },
        { path: '日本語/ファイル.txt', bytes: text('japanese\n') },
        { path: 'emoji-😀/🚀 launch.txt', bytes: text('emoji\n') },
        { path: 'Ελληνικά.md', bytes: text('greek\n') }
      ],
      emptyDirs: []
    },
    // Over the threshold when the whole block is counted (IPIP-0499 "block" estimation), well under
    // it when only name + CID bytes are (the legacy "links" estimation): 4200 links of 63 bytes.
    flatFolder(
      'hamt-by-block-size',
      Array.from({ length: 4200 }, (_, i) => `file-${String(i).padStart(6, '0')}-padding`)
    ),
    // The edge: a block of exactly the threshold stays flat, one byte more is sharded.
    flatFolder('block-at-threshold', await namesForBlockSize(HAMT_THRESHOLD)),
    flatFolder('block-over-threshold', await namesForBlockSize(HAMT_THRESHOLD + 1))
  ];
}

export async function writeFolder(parent: string, folder: FolderCase): Promise<string> {
  const root = path.join(parent, folder.name);
  await fs.mkdir(root, { recursive: true });
  for (const dir of folder.emptyDirs) await fs.mkdir(path.join(root, dir), { recursive: true });
  for (const file of folder.files) {
    await fs.mkdir(path.dirname(path.join(root, file.path)), { recursive: true });
    await fs.writeFile(path.join(root, file.path), file.bytes);
  }
  return root;
}

/** A Kubo repo (no daemon) initialised with the `unixfs-v1-2025` import profile. */
export async function kuboRepo(): Promise<string> {
  const repo = await fs.mkdtemp(path.join(os.tmpdir(), 'firth-kubo-cids-'));
  const r = await runKubo(repo, ['init', '--profile=test,unixfs-v1-2025', '--empty-repo']);
  if (r.code !== 0) throw new Error(`ipfs init failed: ${r.stderr}`);
  return repo;
}

async function kubo(repo: string, args: string[]): Promise<string> {
  const r = await runKubo(repo, args);
  if (r.code !== 0) throw new Error(`ipfs ${args.join(' ')} failed (${r.code}): ${r.stderr}`);
  return r.stdout;
}

/** `ipfs add -r` of a path (file or folder) into the repo: the root CID. */
export async function kuboAdd(repo: string, target: string, onlyHash = false): Promise<string> {
  const args = ['add', '-Q', '-r', ...(onlyHash ? ['--only-hash'] : []), target];
  return (await kubo(repo, args)).trim();
}

/** `ipfs dag export` of an added root: the CAR's bytes. */
export function kuboCar(repo: string, cid: string): Promise<Uint8Array> {
  // Binary stdout: read it as bytes, not through runKubo's string output.
  return new Promise((resolve, reject) => {
    const child = spawn(KUBO_BINARY, ['dag', 'export', cid], {
      env: { ...process.env, IPFS_PATH: repo },
      stdio: ['ignore', 'pipe', 'pipe']
    });
    const out: Buffer[] = [];
    let err = '';
    child.stdout.on('data', (c: Buffer) => out.push(c));
    child.stderr.on('data', (c: Buffer) => (err += c.toString()));
    child.on('error', reject);
    child.on('close', (code) =>
      code === 0 ? resolve(new Uint8Array(Buffer.concat(out))) : reject(new Error(`dag export: ${err}`))
    );
  });
}
