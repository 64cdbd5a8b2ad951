// DAG-JSON links are links everywhere: offloading's GC keep set follows them (a pinned dag-json DAG
// that shares a block with offloaded content keeps that block) and retrieval's walk follows them
// (an offloaded dag-json DAG is fetched back whole), as the upload path always did.
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import * as dagJson from '@ipld/dag-json';
import { FsBlockstore } from 'blockstore-fs';
import { CID } from 'multiformats/cid';
import * as raw from 'multiformats/codecs/raw';
import { sha256 } from 'multiformats/hashes/sha2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deleteUnreferenced, heldKeys } from '../../filecoin/offload/gc.ts';
import { blockKey, linksOf as retrievalLinks, localDag } from '../../filecoin/retrieval/index.ts';
import { insertContent } from '../../server/content/records.ts';
import { DATABASES, freshDatabase } from '../helpers/databases.ts';

async function block(code: number, bytes: Uint8Array): Promise<{ cid: CID; bytes: Uint8Array }> {
  return { cid: CID.createV1(code, await sha256.digest(bytes)), bytes };
}

describe('retrieval walks dag-json links', () => {
  it('links of a dag-json block are its CIDs, nested ones included', async () => {
    const a = await block(raw.code, new TextEncoder().encode('a'));
    const b = await block(raw.code, new TextEncoder().encode('b'));
    const doc = dagJson.encode({ first: a.cid, more: [{ x: b.cid }], n: 1 });
    const root = await block(dagJson.code, doc);
    expect(retrievalLinks(root.cid, root.bytes).map(String)).toEqual([a.cid, b.cid].map(String));
  });
});

describe.each(DATABASES)('offloading GC keeps what a pinned dag-json DAG links to (%s)', (kind) => {
  let database: Awaited<ReturnType<typeof freshDatabase>>;
  let dir: string;
  let blockstore: FsBlockstore;
  beforeAll(async () => {
    database = await freshDatabase(kind);
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'firth-dagjson-'));
    blockstore = new FsBlockstore(dir);
    await blockstore.open();
  });
  afterAll(async () => {
    await blockstore.close();
    await fs.rm(dir, { recursive: true, force: true });
    await database.cleanup();
  });

  it('a shared leaf survives the offload of the other content, and the walk reaches it', async () => {
    const db = database.db;
    const shared = await block(raw.code, new TextEncoder().encode('shared leaf'));
    const own = await block(raw.code, new TextEncoder().encode('only the offloaded content'));
    const pinnedRoot = await block(dagJson.code, dagJson.encode({ data: shared.cid }));
    const offloadedRoot = await block(dagJson.code, dagJson.encode({ data: [shared.cid, own.cid] }));
    for (const b of [shared, own, pinnedRoot, offloadedRoot]) await blockstore.put(b.cid, b.bytes);

    const user = await db
      .insertInto('users')
      .values({ username: 'dagjson', password_hash: 'x', perm: 2, created_at: Date.now() })
      .returning('id')
      .executeTakeFirstOrThrow();
    const content = (cid: CID) =>
      insertContent(db, {
        user_id: user.id,
        cid: cid.toString(),
        name: 'doc.json',
        size: 10,
        dag_size: 10,
        blocks: 2,
        type: 0,
        replication: 6,
        pin_status: 'pinned',
        origins: '[]',
        pin_meta: '{}',
        status_details: ''
      });
    await content(pinnedRoot.cid);
    const dropped = await content(offloadedRoot.cid);
    await db.updateTable('contents').set({ offloaded_at: Date.now() }).where('id', '=', dropped.id).execute();

    const walked: CID[] = [];
    for await (const cid of localDag(blockstore, offloadedRoot.cid)) walked.push(cid);
    expect(walked.map(String).sort()).toEqual([offloadedRoot.cid, shared.cid, own.cid].map(String).sort());

    const keep = await heldKeys(db, blockstore);
    expect(keep.has(blockKey(shared.cid))).toBe(true);
    expect(await deleteUnreferenced(blockstore, walked, keep)).toEqual({ removed: 2, kept: 1 });
    expect(await blockstore.has(shared.cid)).toBe(true);
    expect(await blockstore.has(own.cid)).toBe(false);
  });
});
