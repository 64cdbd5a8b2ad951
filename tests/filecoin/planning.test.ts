// Placing pinned content into pieces and counting replicas, on SQLite and PostgreSQL.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { insertContent } from '../../server/content/records.ts';
import { createPlanner } from '../../filecoin/pieces/planner.ts';
import { createLeases } from '../../filecoin/store/leases.ts';
import { createReplicator } from '../../filecoin/deals/replicator.ts';
import type { Chooser } from '../../filecoin/providers/chooser.ts';
import { DATABASES, freshDatabase } from '../helpers/databases.ts';
import { CID } from 'multiformats/cid';
import * as raw from 'multiformats/codecs/raw';
import { sha256 } from 'multiformats/hashes/sha2';

/** A distinct root per content unless a test means the same one: the planner shares pieces by root. */
let rootCounter = 0;
async function nextRoot(): Promise<string> {
  const digest = await sha256.digest(new TextEncoder().encode(`planning-root-${rootCounter++}`));
  return CID.createV1(raw.code, digest).toString();
}

const quiet = { info() {}, warn() {} };

describe.each(DATABASES)('deal planning on %s', (kind) => {
  let database: Awaited<ReturnType<typeof freshDatabase>>;
  let userId: number;

  beforeAll(async () => {
    database = await freshDatabase(kind);
    const user = await database.db
      .insertInto('users')
      .values({ username: 'planner', password_hash: 'x', perm: 2, created_at: Date.now() })
      .returning('id')
      .executeTakeFirstOrThrow();
    userId = user.id;
  });
  afterAll(() => database.cleanup());

  const addContent = async (
    size: number,
    status: 'pinned' | 'pinning' = 'pinned',
    replication = 6,
    cid?: string
  ) =>
    insertContent(database.db, {
      user_id: userId,
      cid: cid ?? (await nextRoot()),
      name: 'x',
      size,
      dag_size: size,
      blocks: 1,
      type: 1,
      replication,
      pin_status: status,
      origins: '[]',
      pin_meta: '{}',
      status_details: ''
    });

  it('deals big content alone, aggregates small content by replication target, and flushes by size and by age', async () => {
    const planner = createPlanner({
      db: database.db,
      dialect: database.dialect,
      minDealBytes: 1000,
      aggregateTargetBytes: 300,
      aggregateMaxWaitMs: 60_000
    });
    const big = await addContent(5000);
    const small = [await addContent(100), await addContent(100, 'pinned', 3)];
    await addContent(100, 'pinning'); // not pinned yet: not placed
    expect(await planner.planOnce()).toEqual({ singles: 1, aggregated: 2, flushed: 0, shared: 0 });
    expect(await planner.planOnce()).toEqual({ singles: 0, aggregated: 0, flushed: 0, shared: 0 });

    // Each small content sits with contents of its own replication target, and gets exactly that.
    const pieces = await database.db.selectFrom('pieces').selectAll().orderBy('id').execute();
    expect(pieces.map((p) => [p.kind, p.state, Number(p.items), Number(p.replication)])).toEqual([
      ['single', 'preparing', 1, 6],
      ['aggregate', 'open', 1, 6],
      ['aggregate', 'open', 1, 3]
    ]);
    expect(Number(pieces[0]!.content_id)).toBe(big.id);
    const membersOf = async (pieceId: number) =>
      (
        await database.db.selectFrom('piece_members').selectAll().where('piece_id', '=', pieceId).execute()
      ).map((m) => Number(m.content_id));
    expect(await membersOf(pieces[1]!.id)).toEqual([small[0]!.id]);
    expect(await membersOf(pieces[2]!.id)).toEqual([small[1]!.id]);
    // Another content with target 6 joins the target-6 aggregate.
    const six = await addContent(50);
    expect(await planner.planOnce()).toEqual({ singles: 0, aggregated: 1, flushed: 0, shared: 0 });
    expect(await membersOf(pieces[1]!.id)).toEqual([small[0]!.id, six.id]);

    // A third small one reaches the target: flushed.
    await addContent(150);
    expect(await planner.planOnce()).toMatchObject({ aggregated: 1, flushed: 1 });
    const flushed = await database.db
      .selectFrom('pieces')
      .select('state')
      .where('id', '=', pieces[1]!.id)
      .executeTakeFirstOrThrow();
    expect(flushed.state).toBe('preparing');

    // A lone small upload is flushed once it has waited long enough.
    const lone = await addContent(10);
    const aged = createPlanner({
      db: database.db,
      dialect: database.dialect,
      minDealBytes: 1000,
      aggregateTargetBytes: 300,
      aggregateMaxWaitMs: 0
    });
    // Flushed with it: the target-3 aggregate, which has waited as long.
    expect(await aged.planOnce()).toMatchObject({ aggregated: 1, flushed: 2 });
    const loneMember = await database.db
      .selectFrom('piece_members')
      .innerJoin('pieces', 'pieces.id', 'piece_members.piece_id')
      .select('pieces.state')
      .where('piece_members.content_id', '=', lone.id)
      .executeTakeFirstOrThrow();
    expect(loneMember.state).toBe('preparing');
  });

  it('places content whose root is already in a piece in that piece, never in a second one', async () => {
    const planner = createPlanner({
      db: database.db,
      dialect: database.dialect,
      minDealBytes: 1000,
      aggregateTargetBytes: 10_000,
      aggregateMaxWaitMs: 60_000
    });
    const db = database.db;
    const membersOf = (pieceId: number) =>
      db
        .selectFrom('piece_members')
        .selectAll()
        .where('piece_id', '=', pieceId)
        .orderBy('position')
        .execute();
    const piecesOf = (contentId: number) =>
      db
        .selectFrom('piece_members')
        .innerJoin('pieces', 'pieces.id', 'piece_members.piece_id')
        .select(['pieces.id', 'pieces.kind', 'pieces.state', 'pieces.items', 'pieces.replication'])
        .where('piece_members.content_id', '=', contentId)
        .execute();

    // The same small bytes twice in one aggregation window: one segment, two contents. The
    // second asks for more replicas than the aggregate's target: the shared piece gets them.
    const root = await nextRoot();
    const first = await addContent(100, 'pinned', 3, root);
    const other = await addContent(120, 'pinned', 3);
    const again = await addContent(100, 'pinned', 6, root);
    expect(await planner.planOnce()).toMatchObject({ aggregated: 2, shared: 1 });
    const [aggregate] = await piecesOf(first.id);
    expect(aggregate).toMatchObject({ kind: 'aggregate', state: 'open' });
    expect((await piecesOf(again.id)).map((p) => p.id)).toEqual([aggregate!.id]);
    expect((await piecesOf(other.id)).map((p) => p.id)).toEqual([aggregate!.id]);
    const members = await membersOf(aggregate!.id);
    expect(members.map((m) => Number(m.content_id))).toEqual([first.id, other.id, again.id]);
    expect(members.map((m) => Number(m.position))).toEqual([0, 1, 2]);
    const piece = await db
      .selectFrom('pieces')
      .selectAll()
      .where('id', '=', aggregate!.id)
      .executeTakeFirstOrThrow();
    // Counted once in the bytes; the most demanding member's replication.
    expect([Number(piece.items), Number(piece.bytes), Number(piece.replication)]).toEqual([3, 220, 6]);

    // A big content already prepared and dealt: the second copy joins that piece, in its place.
    const bigRoot = await nextRoot();
    const big = await addContent(5000, 'pinned', 6, bigRoot);
    expect(await planner.planOnce()).toMatchObject({ singles: 1 });
    const [single] = await piecesOf(big.id);
    await db
      .updateTable('pieces')
      .set({
        state: 'ready',
        piece_cid: 'baga-test',
        piece_size: 8192,
        payload_size: 5100,
        next_run_at: Date.now() + 3600_000
      })
      .where('id', '=', single!.id)
      .execute();
    await db.updateTable('piece_members').set({ size: 5100 }).where('piece_id', '=', single!.id).execute();
    const bigAgain = await addContent(5000, 'pinned', 6, bigRoot);
    expect(await planner.planOnce()).toEqual({ singles: 0, aggregated: 0, flushed: 0, shared: 1 });
    expect((await piecesOf(bigAgain.id)).map((p) => p.id)).toEqual([single!.id]);
    const singleMembers = await membersOf(single!.id);
    expect(singleMembers.map((m) => [Number(m.content_id), Number(m.size)])).toEqual([
      [big.id, 5100],
      [bigAgain.id, 5100]
    ]);
    const woken = await db
      .selectFrom('pieces')
      .select('next_run_at')
      .where('id', '=', single!.id)
      .executeTakeFirstOrThrow();
    expect(Number(woken.next_run_at)).toBeLessThanOrEqual(Date.now());

    // A failed piece is nobody's to share: a third copy gets a piece of its own.
    await db.updateTable('pieces').set({ state: 'failed' }).where('id', '=', single!.id).execute();
    const third = await addContent(5000, 'pinned', 6, bigRoot);
    expect(await planner.planOnce()).toMatchObject({ singles: 1, shared: 0 });
    const [own] = await piecesOf(third.id);
    expect(own!.id).not.toBe(single!.id);
  });

  it('schedules only the missing replicas, each with a different provider, and counts expiring deals as gone', async () => {
    const now = Date.now();
    const piece = await database.db
      .insertInto('pieces')
      .values({
        kind: 'single',
        state: 'ready',
        piece_cid: 'baga6ea4seaqdomn3tgwgrh3g532zopskstnbrd2n3sxfqbze7rxt7vqn7veigmy',
        piece_size: 2048,
        payload_size: 1000,
        replication: 4,
        items: 1,
        bytes: 1000,
        last_error: '',
        next_run_at: now,
        attempts: 0,
        created_at: now,
        updated_at: now
      })
      .returning('id')
      .executeTakeFirstOrThrow();
    const deal = (provider: number, state: 'active' | 'failed' | 'accepted', endEpoch = 10_000_000) => ({
      piece_id: piece.id,
      provider_actor: provider,
      uuid: crypto.randomUUID(),
      state,
      message: '',
      label: '',
      price_per_epoch: '0',
      provider_collateral: '0',
      transfer_size: 0,
      bytes_received: 0,
      verified: 1,
      end_epoch: endEpoch,
      next_run_at: now + 3600_000,
      attempts: 0,
      created_at: now,
      updated_at: now
    });
    await database.db
      .insertInto('deals')
      .values([
        deal(1001, 'active'),
        deal(1002, 'accepted'),
        deal(1003, 'failed'),
        deal(1004, 'active', 1000 + 100)
      ])
      .execute();
    const asked: Array<{ count: number; exclude: number[] }> = [];
    const chooser: Chooser = {
      async choose(request) {
        asked.push({ count: request.count, exclude: [...request.exclude].sort() });
        return [2001, 2002, 2003].slice(0, request.count);
      }
    };
    const leases = createLeases({ db: database.db, dialect: database.dialect, owner: 'test' });
    const replicator = createReplicator({
      db: database.db,
      leases,
      chooser,
      head: async () => 1000,
      verified: async () => true,
      log: quiet
    });
    expect(await replicator.runOnce()).toBe(2);
    // Good: 1001 (active, lasting) and 1002 (in flight). 1004 ends within 3 weeks; 1003 failed just now.
    expect(asked).toEqual([{ count: 2, exclude: [1001, 1002, 1003, 1004] }]);
    const scheduled = await database.db
      .selectFrom('deals')
      .select(['provider_actor', 'state'])
      .where('state', '=', 'proposing')
      .execute();
    expect(scheduled.map((d) => Number(d.provider_actor)).sort()).toEqual([2001, 2002]);
    // Looked at again later, not at once; and when due again, nothing more is needed.
    expect(await replicator.runOnce()).toBe(0);
    await database.db.updateTable('pieces').set({ next_run_at: 0 }).where('id', '=', piece.id).execute();
    expect(await replicator.runOnce()).toBe(0);
    expect(asked).toHaveLength(1);
  });
});
