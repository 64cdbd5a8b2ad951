// The bitswap want hook on a real database: a want for a block of offloaded content starts that
// content's retrieval, a want for a held content's root is a read, anything else is neither (and is
// not looked up again for a while).
import { CID } from 'multiformats/cid';
import * as raw from 'multiformats/codecs/raw';
import { sha256 } from 'multiformats/hashes/sha2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { recordOffloadedBlocks } from '../../filecoin/retrieval/block-index.ts';
import { createWantTrigger } from '../../filecoin/retrieval/wants.ts';
import { insertContent } from '../../server/content/records.ts';
import { createLogger } from '../../server/log.ts';
import { DATABASES, freshDatabase } from '../helpers/databases.ts';

const cidOf = async (text: string) =>
  CID.create(1, raw.code, await sha256.digest(new TextEncoder().encode(text)));

describe.each(DATABASES)('bitswap wants (%s)', (kind) => {
  let database: Awaited<ReturnType<typeof freshDatabase>>;
  const retrieved: number[] = [];
  const touched: string[] = [];
  const held = new Set<string>();
  let lookups = 0;
  let trigger: ReturnType<typeof createWantTrigger>;
  let offloadedId: number;
  let heldRoot: CID;
  let droppedLeaf: CID;

  beforeAll(async () => {
    database = await freshDatabase(kind);
    const db = database.db;
    const user = await db
      .insertInto('users')
      .values({ username: 'wants', password_hash: 'x', perm: 1, created_at: Date.now() })
      .returning('id')
      .executeTakeFirstOrThrow();
    const row = (cid: CID, name: string) => ({
      user_id: Number(user.id),
      cid: cid.toString(),
      name,
      size: 1,
      dag_size: 1,
      blocks: 1,
      type: 1,
      replication: 6,
      pin_status: 'pinned' as const,
      origins: '[]',
      pin_meta: '{}',
      status_details: ''
    });
    heldRoot = await cidOf('held root');
    held.add(heldRoot.toString());
    await insertContent(db, row(heldRoot, 'held'));
    const offRoot = await cidOf('offloaded root');
    droppedLeaf = await cidOf('offloaded leaf');
    const off = await insertContent(db, row(offRoot, 'offloaded'));
    offloadedId = Number(off.id);
    await db
      .updateTable('contents')
      .set({ offloaded_at: Date.now() })
      .where('id', '=', offloadedId)
      .execute();
    await recordOffloadedBlocks(db, offloadedId, [offRoot, droppedLeaf]);
    trigger = createWantTrigger({
      db,
      retriever: {
        retrieve: async (id) => {
          retrieved.push(id);
          return undefined as never;
        }
      },
      has: async (cid) => {
        lookups++;
        return held.has(cid.toString());
      },
      reads: { touch: (root) => touched.push(root.toString()) },
      log: createLogger('silent')
    });
  });
  afterAll(() => database.cleanup());

  const settle = () => new Promise((r) => setTimeout(r, 100));

  it('a want for a dropped block (not a root) retrieves its content', async () => {
    trigger('peer-a', [droppedLeaf]);
    await settle();
    expect(retrieved).toEqual([offloadedId]);
    expect(touched).toEqual([]);
  });

  it('a want for a held root is a read and retrieves nothing', async () => {
    trigger('peer-a', [heldRoot]);
    await settle();
    expect(touched).toEqual([heldRoot.toString()]);
    expect(retrieved).toEqual([offloadedId]);
  });

  it('an unknown block is neither, and is not looked up again at once', async () => {
    const unknown = await cidOf('nobody has this');
    trigger('peer-b', [unknown]);
    await settle();
    const after = lookups;
    trigger('peer-b', [unknown]);
    await settle();
    expect(lookups).toBe(after);
    expect(retrieved).toEqual([offloadedId]);
    expect(touched).toEqual([heldRoot.toString()]);
  });
});
