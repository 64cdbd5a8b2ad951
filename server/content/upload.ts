import { CarBlockIterator } from '@ipld/car';
import type { FsBlockstore } from 'blockstore-fs';
import { importByteStream, importer, type ImportCandidate } from 'ipfs-unixfs-importer';
import type { Kysely } from 'kysely';
import { CID } from 'multiformats/cid';
import { identity } from 'multiformats/hashes/identity';
import type { Content, Database } from '../db/schema.ts';
import { InvalidInputError, TooLargeError } from '../errors.ts';
import { CHUNK_SIZE, importProfile } from '../../src/lib/import-profile.ts';
import { pooledChunker } from './pooled-chunker.ts';
import { describeRoot, linksOf, verifyBlock } from './dag.ts';
import { insertContent } from './records.ts';
import { StagingArea } from './staging.ts';
import type { BlockLock } from './block-lock.ts';

export interface UploadProgress {
  /** Bytes of the request body read so far. */
  bytes: number;
}

export interface UploadOptions {
  signal?: AbortSignal;
  maxBytes: number;
  onProgress?(p: UploadProgress): void;
}

export interface UploadMeta {
  name: string;
  replication: number;
}

/** An upload whose blocks are all staged and checked, waiting to be committed or discarded. */
export interface StagedUpload {
  root: CID;
  /** File size (UnixFS) or DAG bytes (CAR). */
  size: number;
  dagSize: number;
  blocks: number;
  /** Estuary's content type: 0 unknown, 1 file, 2 directory. */
  type: number;
  /** Request body bytes read for this upload (what the bandwidth meter counts). */
  received: number;
  commit(userId: number, meta: UploadMeta): Promise<Content>;
  discard(): Promise<void>;
}

export interface UploadContext {
  db: Kysely<Database>;
  blockstore: FsBlockstore;
  stagingDir: string;
  /** Taken (shared) while a commit moves blocks in and records the content, against offloading's GC. */
  lock?: BlockLock;
  /** Bandwidth hook: an upload was committed as `content` after `bytes` of request body. */
  onReceived?(content: Content, bytes: number): void;
}

/** Counts bytes as they stream past and stops at the limit (`before`: bytes of earlier files). */
async function* metered(
  source: AsyncIterable<Uint8Array>,
  opts: UploadOptions,
  onBytes: (n: number) => void,
  before = 0
): AsyncGenerator<Uint8Array> {
  let total = before;
  let reported = 0;
  for await (const chunk of source) {
    opts.signal?.throwIfAborted();
    total += chunk.byteLength;
    if (total > opts.maxBytes) {
      throw new TooLargeError(
        'ERR_CONTENT_SIZE_OVER_LIMIT',
        `upload is larger than the limit of ${opts.maxBytes} bytes`
      );
    }
    onBytes(chunk.byteLength);
    if (total - reported >= 8 * 1024 * 1024) {
      reported = total;
      opts.onProgress?.({ bytes: total });
    }
    yield chunk;
  }
  opts.onProgress?.({ bytes: total });
}

function staged(
  ctx: UploadContext,
  staging: StagingArea,
  fields: Omit<StagedUpload, 'commit' | 'discard'>,
  /** Blocks the DAG links to that the upload did not carry (a CAR relying on blocks we hold). */
  relied: Array<{ cid: CID; from: CID | undefined }> = []
): StagedUpload {
  const commit = async (userId: number, meta: UploadMeta): Promise<Content> => {
    // Offloading may have dropped a relied-on block since it was checked; under the lock it can't now.
    for (const { cid, from } of relied) {
      if (!(await ctx.blockstore.has(cid))) {
        throw new InvalidInputError(
          'ERR_INCOMPLETE_DAG',
          `the DAG is incomplete: block ${cid}${from == null ? '' : ` (linked from ${from})`} is no longer held`
        );
      }
    }
    // Blocks first, then the row: a crash in between leaves unreferenced blocks (collected later),
    // never a content row without its blocks.
    await staging.commit();
    const content = await insertContent(ctx.db, {
      user_id: userId,
      cid: fields.root.toString(),
      name: meta.name,
      size: fields.size,
      dag_size: fields.dagSize,
      blocks: fields.blocks,
      type: fields.type,
      replication: meta.replication,
      pin_status: 'pinned',
      origins: '[]',
      pin_meta: '{}',
      status_details: ''
    });
    ctx.onReceived?.(content, fields.received);
    return content;
  };
  return {
    ...fields,
    commit: (userId, meta) =>
      ctx.lock == null ? commit(userId, meta) : ctx.lock.shared(() => commit(userId, meta)),
    discard: () => staging.discard()
  };
}

/** Chunks and hashes a byte stream with the import profile into a staging area. */
export async function stageFile(
  ctx: UploadContext,
  source: AsyncIterable<Uint8Array>,
  opts: UploadOptions
): Promise<StagedUpload> {
  const staging = new StagingArea(ctx.blockstore, ctx.stagingDir);
  try {
    let size = 0;
    let dagSize = 0;
    // Hash and write several blocks at once: writes overlap with hashing.
    const profile = importProfile(16);
    const pool = pooledChunker(CHUNK_SIZE, profile.blockWriteConcurrency! + 4);
    staging.onWritten = (bytes) => {
      dagSize += bytes.byteLength;
      pool.release(bytes);
    };
    const result = await importByteStream(
      metered(source, opts, (n) => (size += n)),
      staging,
      { ...profile, chunker: pool.chunker }
    );
    await staging.flush();
    return staged(ctx, staging, {
      root: result.cid,
      size,
      dagSize,
      blocks: staging.size,
      type: 1,
      received: size
    });
  } catch (err) {
    await staging.discard();
    throw err;
  }
}

/** The most files (and directories) one multipart folder upload may carry. */
export const MAX_FOLDER_FILES = 10_000;

/** One entry of a folder upload: a file (with its bytes) or an empty directory (no content). */
export interface FolderEntry {
  /** Its path with the folder's name first, "/"-separated: "album/photos/a.jpg". */
  path: string;
  content?: AsyncIterable<Uint8Array>;
}

/** A relative path with no empty, "." or ".." segments, or a 400 that names it. */
export function folderPath(text: string): string {
  const segments = text.replace(/\/+$/, '').split('/');
  if (text === '' || segments.some((s) => s === '' || s === '.' || s === '..')) {
    throw new InvalidInputError(
      'ERR_INVALID_INPUT',
      `"${text.slice(0, 200)}" is not a relative path inside a folder`
    );
  }
  return segments.join('/');
}

/**
 * Chunks and hashes the files of one folder (entries in any order, all under one top folder) with
 * the import profile into a staging area; the root is the top folder. Files are read one after the
 * other, as a multipart body delivers them.
 */
export async function stageFolder(
  ctx: UploadContext,
  entries: AsyncIterable<FolderEntry>,
  opts: UploadOptions
): Promise<StagedUpload> {
  const staging = new StagingArea(ctx.blockstore, ctx.stagingDir);
  try {
    let size = 0;
    let dagSize = 0;
    let top: string | undefined;
    staging.onWritten = (bytes) => (dagSize += bytes.byteLength);
    async function* candidates(): AsyncGenerator<ImportCandidate> {
      for await (const entry of entries) {
        const path = folderPath(entry.path);
        const head = path.split('/')[0]!;
        if (top !== undefined && head !== top) {
          throw new InvalidInputError(
            'ERR_INVALID_INPUT',
            `a folder upload has one top folder: "${path}" is not inside "${top}"`
          );
        }
        top = head;
        if (entry.content == null) yield { path };
        else yield { path, content: metered(entry.content, opts, (n) => (size += n), size) };
      }
    }
    let root: CID | undefined;
    // One file at a time: the next multipart part is readable only once this one is consumed.
    const options = { ...importProfile(16), fileImportConcurrency: 1, signal: opts.signal };
    for await (const entry of importer(candidates(), staging, options)) {
      if (entry.path === top) root = entry.cid;
    }
    if (root == null) throw new InvalidInputError('ERR_INVALID_INPUT', 'the folder upload is empty');
    await staging.flush();
    return staged(ctx, staging, { root, size, dagSize, blocks: staging.size, type: 2, received: size });
  } catch (err) {
    await staging.discard();
    throw err;
  }
}

/**
 * Reads a CARv1 stream into a staging area: exactly one root, every block's bytes checked against
 * its CID, and every link resolvable from the CAR or the blockstore (the DAG is complete).
 */
export async function stageCar(
  ctx: UploadContext,
  source: AsyncIterable<Uint8Array>,
  opts: UploadOptions
): Promise<StagedUpload> {
  const staging = new StagingArea(ctx.blockstore, ctx.stagingDir);
  try {
    let carBytes = 0;
    let reader: CarBlockIterator;
    try {
      reader = await CarBlockIterator.fromIterable(metered(source, opts, (n) => (carBytes += n)));
    } catch (err) {
      if (err instanceof TooLargeError) throw err;
      throw new InvalidInputError('ERR_INVALID_CAR', `not a CAR file: ${(err as Error).message}`);
    }
    const roots = await reader.getRoots();
    if (roots.length !== 1) {
      throw new InvalidInputError(
        'ERR_INVALID_CAR',
        `a CAR must have exactly one root, this one has ${roots.length}`
      );
    }
    const root = roots[0]!;
    const received = new Set<string>();
    const linked = new Map<string, { cid: CID; from: CID }>();
    let dagSize = 0;
    let rootBytes: Uint8Array | undefined;
    try {
      for await (const { cid, bytes } of reader) {
        await verifyBlock(cid, bytes);
        const key = cid.toString();
        if (received.has(key)) continue;
        received.add(key);
        linked.delete(key);
        if (cid.multihash.code !== identity.code) {
          await staging.put(cid, bytes, { signal: opts.signal });
          dagSize += bytes.byteLength;
        }
        if (cid.equals(root)) rootBytes = bytes;
        for (const link of linksOf(cid, bytes)) {
          const k = link.toString();
          if (!received.has(k) && link.multihash.code !== identity.code)
            linked.set(k, { cid: link, from: cid });
        }
      }
    } catch (err) {
      if (err instanceof InvalidInputError || err instanceof TooLargeError) throw err;
      throw new InvalidInputError(
        'ERR_INVALID_CAR',
        `malformed CAR after ${carBytes} bytes: ${(err as Error).message}`
      );
    }
    await staging.flush();
    // Links to blocks the CAR did not carry are fine only if we already hold them.
    for (const { cid, from } of linked.values()) {
      if (!(await ctx.blockstore.has(cid))) {
        throw new InvalidInputError(
          'ERR_INCOMPLETE_DAG',
          `the DAG is incomplete: block ${cid} (linked from ${from}) is missing`
        );
      }
    }
    if (rootBytes == null && root.multihash.code !== identity.code && !(await ctx.blockstore.has(root))) {
      throw new InvalidInputError(
        'ERR_INCOMPLETE_DAG',
        `the DAG is incomplete: the root block ${root} is missing`
      );
    }
    const { type, size } = describeRoot(root, rootBytes, dagSize);
    const relied: Array<{ cid: CID; from: CID | undefined }> = [...linked.values()];
    if (rootBytes == null && root.multihash.code !== identity.code)
      relied.push({ cid: root, from: undefined });
    return staged(
      ctx,
      staging,
      { root, size, dagSize, blocks: staging.size, type, received: carBytes },
      relied
    );
  } catch (err) {
    await staging.discard();
    throw err;
  }
}

export function parseCid(text: string): CID {
  try {
    return CID.parse(text.trim());
  } catch {
    throw new InvalidInputError('ERR_INVALID_CID', `"${text.slice(0, 100)}" is not a valid CID`);
  }
}
