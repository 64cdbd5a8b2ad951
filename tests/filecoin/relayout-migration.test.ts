// Migration 0007 on SQLite and PostgreSQL: an aggregate laid out before duplicates shared one
// segment (its payload never matched its CommP) is prepared again, its live deals are ended, and
// its "commP mismatch" failures move to the client's account; other pieces are left alone.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Kysely } from 'kysely';
import { insertContent } from '../../server/content/records.ts';
import { migrations } from '../../server/db/migrations.ts';
import type { Database } from '../../server/db/schema.ts';
import { DATABASES, freshDatabase } from '../helpers/databases.ts';

const ROOT_A = 'bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy';
const ROOT_B = 'bafkreifjjcie6lypi6ny7amxnfftagclbuxndqonfipmb64f2km2devei4';
const ROOT_C = 'bafkreidon73zkcrwdb5iafqtijxildoonbwnpv7dyd6ef3qdgads2jc4su';
const MISMATCH = 'failed to verify CommP: commP mismatch, expected=baga…, actual=baga…';

describe.each(DATABASES)('migration 0007 on %s', (kind) => {
  let database: Awaited<ReturnType<typeof freshDatabase>>;
  beforeAll(async () => {
    database = await freshDatabase(kind);
  });
  afterAll(() => database.cleanup());

  async function aggregate(db: Kysely<Database>, userId: number, roots: string[]) {
    const now = Date.now();
    const piece = await db
      .insertInto('pieces')
      .values({
        kind: 'aggregate',
        state: 'ready',
        piece_cid: 'baga-old',
        piece_size: 4096,
        payload_size: 4064,
        root_cid: 'baga-old',
        replication: 6,
        items: roots.length,
        bytes: 100,
        last_error: '',
        next_run_at: now + 3600_000,
        attempts: 0,
        created_at: now,
        updated_at: now
      })
      .returning('id')
      .executeTakeFirstOrThrow();
    for (const [position, cid] of roots.entries()) {
      const c = await insertContent(db, {
        user_id: userId,
        cid,
        name: 'x',
        size: 10,
        dag_size: 10,
        blocks: 1,
        type: 1,
        replication: 6,
        pin_status: 'pinned',
        origins: '[]',
        pin_meta: '{}',
        status_details: ''
      });
      await db
        .insertInto('piece_members')
        .values({ piece_id: piece.id, position, content_id: c.id, byte_offset: 0, size: 10, added_at: now })
        .execute();
    }
    return piece.id;
  }

  async function deal(
    db: Kysely<Database>,
    pieceId: number,
    provider: number,
    state: 'failed' | 'transferring'
  ) {
    const now = Date.now() - 60_000;
    await db
      .insertInto('deals')
      .values({
        piece_id: pieceId,
        provider_actor: provider,
        uuid: `${pieceId}-${provider}-${state}`,
        state,
        failed_phase: state === 'failed' ? 'transfer' : null,
        message: state === 'failed' ? MISMATCH : '',
        label: '',
        price_per_epoch: '0',
        provider_collateral: '0',
        transfer_size: 0,
        bytes_received: 0,
        verified: 0,
        next_run_at: now,
        attempts: 0,
        created_at: now,
        updated_at: now
      })
      .execute();
  }

  it('prepares a duplicate-holding aggregate again and clears the providers of its failures', async () => {
    const db = database.db;
    const user = await db
      .insertInto('users')
      .values({ username: 'old', password_hash: 'x', perm: 2, created_at: Date.now() })
      .returning('id')
      .executeTakeFirstOrThrow();
    const broken = await aggregate(db, user.id, [ROOT_A, ROOT_B, ROOT_A]);
    const healthy = await aggregate(db, user.id, [ROOT_C, ROOT_B]);
    await deal(db, broken, 1000, 'failed');
    await deal(db, broken, 1001, 'failed');
    await deal(db, broken, 1002, 'transferring');
    await deal(db, healthy, 1000, 'failed');
    await deal(db, healthy, 1003, 'transferring');

    await migrations(database.dialect)['0007_relayout_duplicate_aggregates']!.up(db as Kysely<unknown>);

    const pieces = await db.selectFrom('pieces').select(['id', 'state', 'attempts']).orderBy('id').execute();
    expect(pieces.map((p) => [Number(p.id), p.state])).toEqual([
      [broken, 'preparing'],
      [healthy, 'ready']
    ]);
    const deals = await db
      .selectFrom('deals')
      .select(['piece_id', 'provider_actor', 'state', 'failed_phase'])
      .orderBy('id')
      .execute();
    expect(deals.map((d) => [Number(d.piece_id), Number(d.provider_actor), d.state, d.failed_phase])).toEqual(
      [
        [broken, 1000, 'failed', 'client'],
        [broken, 1001, 'failed', 'client'],
        [broken, 1002, 'failed', 'client'],
        [healthy, 1000, 'failed', 'transfer'],
        [healthy, 1003, 'transferring', null]
      ]
    );
  });
});
