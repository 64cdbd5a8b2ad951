import { randomUUID } from 'node:crypto';
import type { Kysely, Transaction } from 'kysely';
import type { Content, Database, NewContent, PinStatus } from '../db/schema.ts';

/** Content JSON in Estuary's shape (`util.Content`), plus Firth's own fields. */
export interface ContentJson {
  id: number;
  createdAt: string;
  updatedAt: string;
  cid: string;
  name: string;
  userId: number;
  description: string;
  size: number;
  dagSize: number;
  type: number;
  active: boolean;
  offloaded: boolean;
  replication: number;
  aggregatedIn: number;
  aggregate: boolean;
  pinning: boolean;
  pinMeta: string;
  replace: boolean;
  origins: string;
  failed: boolean;
  location: string;
  dagSplit: boolean;
  splitFrom: number;
  pinningStatus: PinStatus;
  dealStatus: string;
  requestId: string;
}

export function contentJson(c: Content): ContentJson {
  return {
    id: Number(c.id),
    createdAt: new Date(c.created_at).toISOString(),
    updatedAt: new Date(c.updated_at).toISOString(),
    cid: c.cid,
    name: c.name,
    userId: Number(c.user_id),
    description: '',
    size: c.size,
    dagSize: c.dag_size,
    type: c.type,
    active: c.pin_status === 'pinned',
    offloaded: c.offloaded_at != null,
    replication: c.replication,
    aggregatedIn: 0,
    aggregate: false,
    pinning: c.pin_status === 'queued' || c.pin_status === 'pinning',
    pinMeta: c.pin_meta,
    replace: false,
    origins: c.origins,
    failed: c.pin_status === 'failed',
    location: 'local',
    dagSplit: false,
    splitFrom: 0,
    pinningStatus: c.pin_status,
    dealStatus: '',
    requestId: c.request_id
  };
}

type Db = Kysely<Database> | Transaction<Database>;

let lastCreated = 0;

/**
 * Inserts a content row with a globally unique `created_at` (the Pinning API pages by it). Within
 * one process a counter keeps it strictly increasing; another node may have taken the same
 * millisecond, so the insert skips a taken value (ON CONFLICT DO NOTHING: no error, so an enclosing
 * PostgreSQL transaction stays usable) and moves past the newest value in the table.
 */
export async function insertContent(
  db: Db,
  values: Omit<NewContent, 'created_at' | 'updated_at' | 'request_id'>
): Promise<Content> {
  for (let attempt = 0; attempt < 100; attempt++) {
    const created = Math.max(Date.now(), lastCreated + 1);
    lastCreated = created;
    const row = await db
      .insertInto('contents')
      .values({ ...values, request_id: randomUUID(), created_at: created, updated_at: created })
      .onConflict((oc) => oc.column('created_at').doNothing())
      .returningAll()
      .executeTakeFirst();
    if (row != null) return row;
    const newest = await db
      .selectFrom('contents')
      .select((eb) => eb.fn.max('created_at').as('max'))
      .executeTakeFirst();
    lastCreated = Math.max(lastCreated, Number(newest?.max ?? 0));
  }
  throw new Error('no free created_at value after 100 attempts');
}
