import { randomUUID } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { FsBlockstore } from 'blockstore-fs';
import { NextToLast } from 'blockstore-fs/sharding';
import type { CID } from 'multiformats/cid';

/** The blockstore's file layout; staging uses the same so a commit is a rename per block. */
export const SHARDING = new NextToLast();

/** The service's one blockstore, under `dir`. */
export function openBlockstore(dir: string): FsBlockstore {
  return new FsBlockstore(dir, { shardingStrategy: SHARDING });
}

/**
 * Blocks of an upload are written to a staging area first and moved into the blockstore only once
 * the upload is complete and valid, so a failed or interrupted upload leaves nothing behind and
 * never touches blocks stored before. Staging sits under the data dir (same filesystem), so the
 * move is one rename per block. Files are written directly (no temp file + rename as blockstore-fs
 * does): a staged file is never read by anyone until the commit.
 */
export class StagingArea {
  readonly #mainDir: string;
  readonly #dir: string;
  /** Staged blocks by file path: CIDs that share a multihash (v0/v1, other codecs) share a file. */
  readonly #files = new Map<string, Promise<void>>();
  readonly #dirs = new Map<string, Promise<unknown>>();
  /** Called with a block's bytes once they are written, e.g. to reuse the buffer. */
  onWritten: ((bytes: Uint8Array) => void) | undefined;
  /** Writes under way. `put` returns before its write ends (write-behind) so the importer never
   * stalls on the disk; at most `maxPending` are in flight, and `flush` waits for all of them. */
  readonly #pending = new Set<Promise<void>>();
  readonly #maxPending: number;
  #failure: unknown;

  constructor(main: FsBlockstore, stagingRoot: string, maxPending = 32) {
    this.#maxPending = maxPending;
    this.#mainDir = main.path;
    this.#dir = path.join(stagingRoot, randomUUID());
  }

  get size(): number {
    return this.#files.size;
  }

  async put(cid: CID, bytes: Uint8Array, options?: { signal?: AbortSignal }): Promise<CID> {
    options?.signal?.throwIfAborted();
    if (this.#failure != null) throw this.#failure;
    while (this.#pending.size >= this.#maxPending) await Promise.race(this.#pending);
    const { dir, file } = SHARDING.encode(cid);
    const rel = path.join(dir, file);
    let written = this.#files.get(rel);
    if (written == null) {
      let made = this.#dirs.get(dir);
      if (made == null) {
        made = fs.mkdir(path.join(this.#dir, dir), { recursive: true });
        this.#dirs.set(dir, made);
      }
      written = made.then(() => fs.writeFile(path.join(this.#dir, rel), bytes));
      this.#files.set(rel, written);
    }
    const done: Promise<void> = written.then(
      () => {
        this.#pending.delete(done);
        this.onWritten?.(bytes);
      },
      (err: unknown) => {
        this.#pending.delete(done);
        this.#failure ??= err;
      }
    );
    this.#pending.add(done);
    return cid;
  }

  /** Waits for every write under way; throws the first write error. */
  async flush(): Promise<void> {
    while (this.#pending.size > 0) await Promise.all(this.#pending);
    if (this.#failure != null) throw this.#failure;
  }

  /** Moves every staged block into the main blockstore, then removes the staging directory. */
  async commit(): Promise<void> {
    await this.flush();
    for (const dir of this.#dirs.keys()) await fs.mkdir(path.join(this.#mainDir, dir), { recursive: true });
    // Same CID, same bytes: replacing an existing block with an identical one is harmless.
    for (const rel of this.#files.keys())
      await fs.rename(path.join(this.#dir, rel), path.join(this.#mainDir, rel));
    await this.discard();
  }

  async discard(): Promise<void> {
    await Promise.allSettled(this.#pending);
    await fs.rm(this.#dir, { recursive: true, force: true });
  }
}

/** Removes staging directories left by a crash. Called at start, before any upload runs. */
export async function clearStaging(stagingRoot: string): Promise<void> {
  await fs.rm(stagingRoot, { recursive: true, force: true });
  await fs.mkdir(stagingRoot, { recursive: true });
}
