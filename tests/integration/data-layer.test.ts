import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createAccounts } from '../../server/accounts/accounts.ts';
import { insertContent } from '../../server/content/records.ts';
import { JobQueue } from '../../server/jobs/queue.ts';
import { DATABASES, freshDatabase } from '../helpers/databases.ts';

describe.each(DATABASES)('data layer on %s', (kind) => {
  let db: Awaited<ReturnType<typeof freshDatabase>>;

  beforeEach(async () => {
    db = await freshDatabase(kind);
  });
  afterEach(async () => {
    await db.cleanup();
  });

  async function user(): Promise<number> {
    const accounts = createAccounts(db.db);
    const invite = await accounts.createInvite({});
    await accounts.register({
      username: `u${Math.random().toString(36).slice(2, 8)}`,
      password: 'password-123',
      inviteCode: invite
    });
    const row = await db.db.selectFrom('users').select('id').orderBy('id', 'desc').executeTakeFirstOrThrow();
    return Number(row.id);
  }

  function content(userId: number) {
    return insertContent(db.db, {
      user_id: userId,
      cid: 'bafkreifjjcie6lypi6ny7amxnfftagclbuxndqonfipmb64f2km2devei4',
      name: 'hello',
      size: 12,
      dag_size: 12,
      blocks: 1,
      type: 1,
      replication: 6,
      pin_status: 'queued',
      origins: '[]',
      pin_meta: '{}',
      status_details: ''
    });
  }

  it('applies the migrations and is idempotent on reopen', async () => {
    const tables = await db.db.introspection.getTables();
    const names = tables.map((t) => t.name);
    for (const t of ['users', 'auth_tokens', 'invite_codes', 'contents', 'content_meta', 'jobs'])
      expect(names).toContain(t);
  });

  it('gives every content a unique, increasing created_at and its own requestid', async () => {
    const u = await user();
    const rows = await Promise.all(Array.from({ length: 50 }, () => content(u)));
    const created = rows.map((r) => r.created_at);
    expect(new Set(created).size).toBe(50);
    expect(new Set(rows.map((r) => r.request_id)).size).toBe(50);
  });

  it('rejects a pin state outside the state machine', async () => {
    const u = await user();
    const c = await content(u);
    await expect(
      db.db
        .updateTable('contents')
        .set({ pin_status: 'bogus' as never })
        .where('id', '=', c.id)
        .execute()
    ).rejects.toThrow();
  });

  it('hands each job to one worker, and back to the queue when its lease runs out', async () => {
    const u = await user();
    const a = new JobQueue({ db: db.db, dialect: db.dialect, leaseMs: 200 });
    const b = new JobQueue({ db: db.db, dialect: db.dialect, leaseMs: 200 });
    for (let i = 0; i < 10; i++) await a.enqueue(db.db, 'pin', (await content(u)).id);

    const [ca, cb] = await Promise.all([a.claim('pin', 10), b.claim('pin', 10)]);
    const ids = [...ca, ...cb].map((j) => j.id);
    expect(ids.length).toBe(10);
    expect(new Set(ids).size).toBe(10);
    expect(await a.claim('pin', 10)).toEqual([]);

    // a's leases lapse without renewal: b may take them.
    await new Promise((r) => setTimeout(r, 300));
    const retaken = await b.claim('pin', 20);
    expect(retaken.length).toBe(10);
    expect(
      retaken.every(
        (j) =>
          j.lease_owner === b.owner &&
          j.attempts >= 2 === (ca.some((x) => x.id === j.id) || cb.some((x) => x.id === j.id))
      )
    ).toBe(true);
    // a can no longer renew or finish what it lost.
    for (const j of ca) expect(await a.renew(j.id)).toBe(false);

    for (const j of retaken) await b.finish(db.db, j.id, { state: 'done' });
    expect(await b.depth('pin')).toBe(0);
  });

  it('releases running jobs at shutdown so they restart at once', async () => {
    const u = await user();
    const q = new JobQueue({ db: db.db, dialect: db.dialect, leaseMs: 60_000 });
    await q.enqueue(db.db, 'pin', (await content(u)).id);
    expect((await q.claim('pin', 1)).length).toBe(1);
    await q.releaseAll();
    const other = new JobQueue({ db: db.db, dialect: db.dialect });
    expect((await other.claim('pin', 1)).length).toBe(1);
  });
});
