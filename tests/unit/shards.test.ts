// Content larger than the largest piece: its CAR blocks cut into consecutive runs, each its own CAR
// within the limit, whose CommP and byte ranges are produced again identically from the blockstore.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CarReader } from '@ipld/car';
import { MemoryBlockstore } from 'blockstore-core/memory';
import { importer } from 'ipfs-unixfs-importer';
import toBuffer from 'it-to-buffer';
import type { CID } from 'multiformats/cid';
import { commp } from '../../filecoin/commp/index.ts';
import { contentCar } from '../../filecoin/pieces/car.ts';
import { openPiecePayload } from '../../filecoin/pieces/open-payload.ts';
import { payloadFromRegions } from '../../filecoin/pieces/payload.ts';
import { createPlanner } from '../../filecoin/pieces/planner.ts';
import { createPreparer } from '../../filecoin/pieces/prepare.ts';
import { estimateCarBytes, planShards, shardCar } from '../../filecoin/pieces/shards.ts';
import { createLeases } from '../../filecoin/store/leases.ts';
import { insertContent } from '../../server/content/records.ts';
import { importProfile } from '../../src/lib/import-profile.ts';
import { deterministicBytes } from '../helpers/bytes.ts';
import { DATABASES, freshDatabase } from '../helpers/databases.ts';

const MiB = 1024 * 1024;
const LIMIT = 3 * MiB;

async function collect(stream: AsyncIterable<Uint8Array>): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  for await (const chunk of stream) parts.push(chunk.slice());
  return Buffer.concat(parts);
}

async function blocksOf(car: Uint8Array) {
  const reader = await CarReader.fromBytes(car);
  const blocks: Array<{ cid: string; bytes: Uint8Array }> = [];
  for await (const block of reader.blocks()) blocks.push({ cid: block.cid.toString(), bytes: block.bytes });
  return { roots: (await reader.getRoots()).map(String), blocks };
}

describe('shards', () => {
  it('cuts a 10 MiB content into CARs within the limit that cover every block once, in order', async () => {
    const blockstore = new MemoryBlockstore();
    let root: CID | undefined;
    const bytes = deterministicBytes('shards', 10 * MiB);
    for await (const entry of importer([{ content: bytes }], blockstore, importProfile(8))) root = entry.cid;
    let loads = 0;
    const load = async (cid: CID) => {
      loads++;
      return toBuffer(blockstore.get(cid));
    };
    expect(estimateCarBytes(bytes.length)).toBeGreaterThan(LIMIT);

    const whole = await blocksOf(await collect(contentCar(root!, load)));
    const plans = await planShards(root!, load, LIMIT, { minPieceSize: 256 });
    expect(plans.length).toBeGreaterThanOrEqual(4);

    const seen: Array<{ cid: string; bytes: Uint8Array }> = [];
    let next = 0;
    for (const plan of plans) {
      expect(plan.firstBlock).toBe(next);
      next += plan.blockCount;
      loads = 0;
      const car = await collect(shardCar(root!, load, plan));
      // Raw leaves before the shard's run are walked past, not read.
      expect(loads).toBeLessThanOrEqual(plan.blockCount + 1);
      expect(car.byteLength).toBe(plan.payloadSize);
      expect(car.byteLength).toBeLessThanOrEqual(LIMIT);
      const { roots, blocks } = await blocksOf(car);
      expect(blocks).toHaveLength(plan.blockCount);
      expect(roots).toEqual([plan.index === 0 ? root!.toString() : blocks[0]!.cid]);
      expect(roots).toEqual([plan.root.toString()]);
      seen.push(...blocks);
      const info = await commp(car);
      expect(info.pieceCid.toString()).toBe(plan.pieceCid.toString());
      expect(info.pieceSize).toBe(plan.pieceSize);

      // Byte ranges of the regenerated payload are slices of it.
      const payload = payloadFromRegions(car.byteLength, [
        { offset: 0, length: car.byteLength, open: () => shardCar(root!, load, plan) }
      ]);
      for (const [start, end] of [
        [0, 100],
        [12_345, 1_234_567],
        [car.byteLength - 1000, car.byteLength + 50]
      ] as const) {
        const got = await collect(payload.read(start, end));
        expect(Buffer.compare(got, car.subarray(start, Math.min(end, car.byteLength)))).toBe(0);
      }
    }
    expect(next).toBe(whole.blocks.length);
    expect(seen.map((b) => b.cid)).toEqual(whole.blocks.map((b) => b.cid));
    expect(seen[0]!.cid).toBe(root!.toString());
  });

  it('refuses a block that cannot fit in any piece', async () => {
    const blockstore = new MemoryBlockstore();
    let root: CID | undefined;
    const bytes = deterministicBytes('shards-tiny', 2 * MiB);
    for await (const entry of importer([{ content: bytes }], blockstore, importProfile(8))) root = entry.cid;
    const load = async (cid: CID) => toBuffer(blockstore.get(cid));
    await expect(planShards(root!, load, 512 * 1024)).rejects.toThrow(/does not fit in a piece/);
  });
});

describe.each(DATABASES)('shard pieces on %s', (kind) => {
  let database: Awaited<ReturnType<typeof freshDatabase>>;
  let userId: number;
  const blockstore = new MemoryBlockstore();
  const load = async (cid: CID) => toBuffer(blockstore.get(cid));
  const quiet = { info() {}, warn() {} };

  beforeAll(async () => {
    database = await freshDatabase(kind);
    const user = await database.db
      .insertInto('users')
      .values({ username: 'sharder', password_hash: 'x', perm: 2, created_at: Date.now() })
      .returning('id')
      .executeTakeFirstOrThrow();
    userId = user.id;
  });
  afterAll(() => database.cleanup());

  const addContent = async (seed: string, size: number, dagSize: number) => {
    let root: CID | undefined;
    const bytes = deterministicBytes(seed, size);
    for await (const entry of importer([{ content: bytes }], blockstore, importProfile(8))) root = entry.cid;
    const content = await insertContent(database.db, {
      user_id: userId,
      cid: root!.toString(),
      name: seed,
      size,
      dag_size: dagSize,
      blocks: 1,
      type: 1,
      replication: 6,
      pin_status: 'pinned',
      origins: '[]',
      pin_meta: '{}',
      status_details: ''
    });
    return { id: content.id, root: root! };
  };

  it('plans shard 0, prepares every shard at once, and serves each shard payload', async () => {
    // One content announced at its size, one whose DAG size understates its CAR (prepared as a
    // single piece first, then found too large and split).
    const big = await addContent('shards-db-big', 10 * MiB, 10 * MiB);
    const sneaky = await addContent('shards-db-sneaky', 7 * MiB, 2 * MiB);
    const planner = createPlanner({
      db: database.db,
      dialect: database.dialect,
      minDealBytes: MiB,
      aggregateTargetBytes: MiB,
      aggregateMaxWaitMs: 60_000,
      maxPiecePayloadBytes: LIMIT
    });
    expect(await planner.planOnce()).toEqual({ singles: 2, aggregated: 0, flushed: 0, shared: 0 });
    const planned = await database.db.selectFrom('pieces').selectAll().orderBy('id').execute();
    expect(planned.map((p) => [p.kind, p.shard_index, p.state])).toEqual([
      ['shard', 0, 'preparing'],
      ['single', null, 'preparing']
    ]);

    const leases = createLeases({ db: database.db, dialect: database.dialect, owner: 'test' });
    const preparer = createPreparer({
      db: database.db,
      leases,
      load,
      minPieceSize: 256,
      maxPiecePayloadBytes: LIMIT,
      log: quiet
    });
    expect(await preparer.runOnce(5)).toBe(2);

    for (const content of [big, sneaky]) {
      const pieces = await database.db
        .selectFrom('pieces')
        .innerJoin('piece_members', 'piece_members.piece_id', 'pieces.id')
        .selectAll('pieces')
        .where('piece_members.content_id', '=', content.id)
        .orderBy('pieces.shard_index')
        .execute();
      expect(pieces.length).toBeGreaterThanOrEqual(3);
      const wholeCar = await blocksOf(await collect(contentCar(content.root, load)));
      const seen: string[] = [];
      for (const [i, piece] of pieces.entries()) {
        expect(piece.kind).toBe('shard');
        expect(piece.state).toBe('ready');
        expect(Number(piece.shard_index)).toBe(i);
        expect(Number(piece.replication)).toBe(6);
        const payload = await openPiecePayload(database.db, piece.id, load);
        const car = await collect(payload.read());
        expect(car.byteLength).toBe(Number(piece.payload_size));
        expect(car.byteLength).toBeLessThanOrEqual(LIMIT);
        const info = await commp(car);
        expect(info.pieceCid.toString()).toBe(piece.piece_cid);
        const { roots, blocks } = await blocksOf(car);
        expect(roots).toEqual([piece.root_cid]);
        seen.push(...blocks.map((b) => b.cid));
        const part = await collect(payload.read(1000, 2_000_000));
        expect(Buffer.compare(part, car.subarray(1000, 2_000_000))).toBe(0);
      }
      expect(seen).toEqual(wholeCar.blocks.map((b) => b.cid));
    }
  }, 60_000);
});
