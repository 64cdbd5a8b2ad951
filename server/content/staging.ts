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
 * move is one rename per block.
 */
export class StagingArea {
  readonly blockstore: FsBlockstore;
  readonly #main: FsBlockstore;
  readonly #dir: string;
  /** Staged blocks by file path: CIDs that share a multihash (v0/v1, other codecs) share a file. */
  readonly #cids = new Map<string, CID>();

  constructor(main: FsBlockstore, stagingRoot: string) {
    this.#main = main;
    this.#dir = path.join(stagingRoot, randomUUID());
    this.blockstore = new FsBlockstore(this.#dir, { shardingStrategy: SHARDING });
    // Remember every CID written so commit() can move them without listing the directory.
    const put = this.blockstore.put.bind(this.blockstore);
    this.blockstore.put = async (cid, bytes, options) => {
      this.#cids.set(fileOf(cid), cid);
      return put(cid, bytes, options);
    };
  }

  async open(): Promise<void> {
    await this.blockstore.open();
  }

  get size(): number {
    return this.#cids.size;
  }

  cids(): IterableIterator<CID> {
    return this.#cids.values();
  }

  /** Moves every staged block into the main blockstore, then removes the staging directory. */
  async commit(): Promise<void> {
    const made = new Set<string>();
    for (const cid of this.#cids.values()) {
      const { dir, file } = SHARDING.encode(cid);
      const target = path.join(this.#main.path, dir);
      if (!made.has(target)) {
        await fs.mkdir(target, { recursive: true });
        made.add(target);
      }
      // Same CID, same bytes: replacing an existing block with an identical one is harmless.
      await fs.rename(path.join(this.#dir, dir, file), path.join(target, file));
    }
    await this.discard();
  }

  async discard(): Promise<void> {
    await fs.rm(this.#dir, { recursive: true, force: true });
  }
}

function fileOf(cid: CID): string {
  const { dir, file } = SHARDING.encode(cid);
  return path.join(dir, file);
}

/** Removes staging directories left by a crash. Called at start, before any upload runs. */
export async function clearStaging(stagingRoot: string): Promise<void> {
  await fs.rm(stagingRoot, { recursive: true, force: true });
  await fs.mkdir(stagingRoot, { recursive: true });
}
