// Offloading's GC against every writer of blocks: puts through Helia's blockstore and upload commits
// wait while GC holds the lock, and a CAR upload whose relied-on block GC removed is refused.
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { CarWriter } from '@ipld/car/writer';
import * as dagPb from '@ipld/dag-pb';
import { FsBlockstore } from 'blockstore-fs';
import { CID } from 'multiformats/cid';
import * as raw from 'multiformats/codecs/raw';
import { sha256 } from 'multiformats/hashes/sha2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BlockLock, lockWrites } from '../../server/content/block-lock.ts';
import { stageCar, stageFile, type UploadContext } from '../../server/content/upload.ts';
import { freshDatabase } from '../helpers/databases.ts';

const rawBlock = async (text: string) => {
  const bytes = new TextEncoder().encode(text);
  return { cid: CID.create(1, raw.code, await sha256.digest(bytes)), bytes };
};

/** Resolves `gate()` and returns; `hold` keeps the lock's exclusive side until then. */
function holdExclusive(lock: BlockLock) {
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  let entered!: () => void;
  const inside = new Promise<void>((r) => (entered = r));
  const done = lock.exclusive(async () => {
    entered();
    await gate;
  });
  return { inside, release: () => (release(), done) };
}

const settledSoon = async (p: Promise<unknown>) => {
  let settled = false;
  p.then(
    () => (settled = true),
    () => (settled = true)
  );
  await new Promise((r) => setTimeout(r, 50));
  return settled;
};

describe('the block lock covers every writer', () => {
  let dir: string;
  let blockstore: FsBlockstore;
  let database: Awaited<ReturnType<typeof freshDatabase>>;
  let ctx: UploadContext;
  let userId: number;
  const lock = new BlockLock();

  beforeAll(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'firth-lock-'));
    blockstore = new FsBlockstore(path.join(dir, 'blocks'));
    await blockstore.open();
    database = await freshDatabase('sqlite');
    const user = await database.db
      .insertInto('users')
      .values({ username: 'lock', password_hash: 'x', perm: 1, created_at: Date.now() })
      .returning('id')
      .executeTakeFirstOrThrow();
    userId = Number(user.id);
    ctx = { db: database.db, blockstore, stagingDir: path.join(dir, 'staging'), lock };
    await fs.mkdir(ctx.stagingDir, { recursive: true });
  });
  afterAll(async () => {
    await database.cleanup();
    await fs.rm(dir, { recursive: true, force: true });
  });

  it('a put through Helia’s blockstore waits for GC, and GC waits for a put in flight', async () => {
    const locked = lockWrites(blockstore, lock);
    const { cid, bytes } = await rawBlock('put during gc');
    const gc = holdExclusive(lock);
    await gc.inside;
    const put = Promise.resolve(locked.put(cid, bytes));
    expect(await settledSoon(put)).toBe(false);
    expect(await blockstore.has(cid)).toBe(false);
    await gc.release();
    await put;
    expect(await blockstore.has(cid)).toBe(true);

    // The other way round: GC starts only once the put has finished.
    const second = await rawBlock('put before gc');
    let putDone = false;
    const slowPut = lock.shared(async () => {
      await new Promise((r) => setTimeout(r, 50));
      await blockstore.put(second.cid, second.bytes);
      putDone = true;
    });
    const sawPut = await lock.exclusive(async () => putDone);
    await slowPut;
    expect(sawPut).toBe(true);
  });

  it('an upload commit waits while GC runs, then records its content', async () => {
    const staged = await stageFile(
      ctx,
      (async function* () {
        yield new TextEncoder().encode('an upload committed during gc');
      })(),
      { maxBytes: 1 << 20 }
    );
    const gc = holdExclusive(lock);
    await gc.inside;
    const commit = staged.commit(userId, { name: 'a.txt', replication: 6 });
    expect(await settledSoon(commit)).toBe(false);
    const rows = await database.db.selectFrom('contents').select('id').execute();
    expect(rows).toHaveLength(0);
    await gc.release();
    const content = await commit;
    expect(content.cid).toBe(staged.root.toString());
    expect(await blockstore.has(staged.root)).toBe(true);
  });

  it('a CAR relying on a held block that GC removed before the commit is refused, recording nothing', async () => {
    const held = await rawBlock('held by content that was then offloaded');
    const carried = await rawBlock('carried by the CAR');
    await blockstore.put(held.cid, held.bytes);
    const rootBytes = dagPb.encode(dagPb.prepare({ Links: [{ Hash: held.cid }, { Hash: carried.cid }] }));
    const root = CID.create(1, dagPb.code, await sha256.digest(rootBytes));
    const { writer, out } = CarWriter.create([root]);
    const chunks: Uint8Array[] = [];
    const collected = (async () => {
      for await (const c of out) chunks.push(c);
    })();
    await writer.put({ cid: root, bytes: rootBytes });
    await writer.put(carried);
    await writer.close();
    await collected;

    const staged = await stageCar(
      ctx,
      (async function* () {
        yield* chunks;
      })(),
      { maxBytes: 1 << 20 }
    );
    const before = await database.db.selectFrom('contents').select('id').execute();
    // GC drops the held block between the upload's check and its commit.
    await lock.exclusive(() => blockstore.delete(held.cid));
    await expect(staged.commit(userId, { name: 'x.car', replication: 6 })).rejects.toMatchObject({
      reason: 'ERR_INCOMPLETE_DAG'
    });
    const after = await database.db.selectFrom('contents').select('id').execute();
    expect(after).toHaveLength(before.length);
    await staged.discard();
  });
});
