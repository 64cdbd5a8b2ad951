import { multiaddr } from '@multiformats/multiaddr';
import { sql, type Kysely, type Transaction } from 'kysely';
import type { Dialect } from '../db/migrations.ts';
import type { Content, Database, PinStatus } from '../db/schema.ts';
import { InvalidInputError, NotFoundError } from '../errors.ts';
import type { JobQueue } from '../jobs/queue.ts';
import { parseCid } from '../content/upload.ts';
import { insertContent } from '../content/records.ts';
import { PIN_JOB } from './pinner.ts';

/** The `Pin` object of the IPFS Pinning Service API, validated. */
export interface PinRequest {
  cid: string;
  name?: string;
  origins?: string[];
  meta?: Record<string, string>;
}

export interface PinStatusJson {
  requestid: string;
  status: Exclude<PinStatus, 'removed'>;
  created: string;
  pin: { cid: string; name?: string; origins: string[]; meta: Record<string, string> };
  delegates: string[];
  info: Record<string, string>;
}

export type TextMatch = 'exact' | 'iexact' | 'partial' | 'ipartial';

export interface PinFilter {
  cid?: string[];
  name?: string;
  match?: TextMatch;
  status?: Array<Exclude<PinStatus, 'removed'>>;
  before?: number;
  after?: number;
  limit?: number;
  meta?: Record<string, string>;
}

const PIN_FIELDS = new Set(['cid', 'name', 'origins', 'meta']);
const STATUSES = ['queued', 'pinning', 'pinned', 'failed'] as const;
const MATCHES = ['exact', 'iexact', 'partial', 'ipartial'] as const;

function bad(details: string): never {
  throw new InvalidInputError('BAD_REQUEST', details);
}

/** Validates a `Pin` body: known fields only, a valid CID, ≤ 255-char name, ≤ 20 origins ending in /p2p/. */
export function parsePinRequest(body: unknown): PinRequest {
  if (body == null || typeof body !== 'object' || Array.isArray(body))
    bad('the body must be a JSON Pin object');
  const obj = body as Record<string, unknown>;
  for (const key of Object.keys(obj))
    if (!PIN_FIELDS.has(key)) bad(`unknown field "${key}" (a Pin has cid, name, origins, meta)`);
  if (typeof obj.cid !== 'string') bad('"cid" is required and must be a string');
  parseCid(obj.cid);
  const pin: PinRequest = { cid: obj.cid.trim() };
  if (obj.name != null) {
    if (typeof obj.name !== 'string' || obj.name.length > 255)
      bad('"name" must be a string of at most 255 characters');
    pin.name = obj.name;
  }
  if (obj.origins != null) {
    if (!Array.isArray(obj.origins) || obj.origins.length > 20)
      bad('"origins" must be an array of at most 20 multiaddrs');
    pin.origins = [...new Set(obj.origins.map((o) => parseOrigin(o)))];
  }
  if (obj.meta != null) pin.meta = parseMeta(obj.meta);
  return pin;
}

function parseOrigin(value: unknown): string {
  if (typeof value !== 'string') bad('each origin must be a multiaddr string');
  try {
    const ma = multiaddr(value);
    if (ma.getComponents().at(-1)?.name !== 'p2p') bad(`origin "${value}" must end with /p2p/<peer id>`);
    return ma.toString();
  } catch (err) {
    if (err instanceof InvalidInputError) throw err;
    bad(`origin "${value}" is not a valid multiaddr`);
  }
}

export function parseMeta(value: unknown): Record<string, string> {
  if (value == null || typeof value !== 'object' || Array.isArray(value))
    bad('"meta" must be an object of strings');
  const entries = Object.entries(value as Record<string, unknown>);
  if (entries.length > 1000) bad('"meta" has more than 1000 keys');
  for (const [k, v] of entries) {
    if (typeof v !== 'string') bad(`meta "${k}" must be a string`);
    if (k.length > 255 || v.length > 4096) bad(`meta "${k}" is too long`);
  }
  return Object.fromEntries(entries) as Record<string, string>;
}

/** Parses the query of `GET /pins` as the spec defines it. */
export function parsePinFilter(q: Record<string, unknown>): PinFilter {
  const known = new Set(['cid', 'name', 'match', 'status', 'before', 'after', 'limit', 'meta']);
  // Besides the spec's `meta=<URL-encoded JSON>`, accept `meta[key]=value`, which the generated npm
  // client (@ipfs-shipyard/pinning-service-client) sends.
  const bracketMeta: Record<string, string> = {};
  for (const key of Object.keys(q)) {
    const m = /^meta\[(.+)\]$/.exec(key);
    if (m != null && typeof q[key] === 'string') bracketMeta[m[1]!] = q[key];
    else if (!known.has(key)) bad(`unknown query parameter "${key}"`);
  }
  const str = (k: string): string | undefined => {
    const v = q[k];
    if (v == null) return undefined;
    if (typeof v !== 'string') bad(`"${k}" must be given once`);
    return v;
  };
  const filter: PinFilter = {};
  const cid = str('cid');
  if (cid != null) {
    const list = cid
      .split(',')
      .map((c) => c.trim())
      .filter(Boolean);
    if (list.length < 1 || list.length > 10) bad('"cid" takes 1 to 10 CIDs, comma separated');
    for (const c of list) parseCid(c);
    filter.cid = list;
  }
  const name = str('name');
  if (name != null) {
    if (name.length > 255) bad('"name" is longer than 255 characters');
    filter.name = name;
  }
  const match = str('match');
  if (match != null) {
    if (!(MATCHES as readonly string[]).includes(match)) bad(`"match" must be one of ${MATCHES.join(', ')}`);
    filter.match = match as TextMatch;
  }
  const status = str('status');
  if (status != null) {
    const list = status.split(',').map((s) => s.trim());
    for (const s of list)
      if (!(STATUSES as readonly string[]).includes(s))
        bad(`"status" values must be among ${STATUSES.join(', ')}`);
    filter.status = [...new Set(list)] as PinFilter['status'];
  }
  for (const k of ['before', 'after'] as const) {
    const v = str(k);
    if (v == null) continue;
    const t = Date.parse(v);
    if (!/^\d{4}-\d{2}-\d{2}T/.test(v) || Number.isNaN(t)) bad(`"${k}" must be an RFC 3339 date-time`);
    filter[k] = t;
  }
  const limit = str('limit');
  if (limit != null) {
    const n = Number(limit);
    if (!Number.isInteger(n) || n < 1 || n > 1000) bad('"limit" must be an integer from 1 to 1000');
    filter.limit = n;
  }
  const meta = str('meta');
  if (meta != null) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(meta);
    } catch {
      bad('"meta" must be URL-encoded JSON');
    }
    filter.meta = parseMeta(parsed);
  }
  if (Object.keys(bracketMeta).length > 0) filter.meta = { ...filter.meta, ...parseMeta(bracketMeta) };
  return filter;
}

export interface PinsInit {
  db: Kysely<Database>;
  dialect: Dialect;
  queue: JobQueue;
  /** Our multiaddrs, returned as `delegates`. */
  delegates(): string[];
  /** Called after a pin is queued so work starts at once. */
  onQueued(): void;
  defaultReplication: number;
  /** The gossipsub topic with an account's live pin status, given in each pin's `info.status_topic`. */
  statusTopic?: (userId: number) => string;
  /** Called after a content is removed, before the reply: stops serving it and GCs its blocks. */
  onRemoved?: (cid: string) => Promise<void>;
}

export function createPins(init: PinsInit) {
  const { db, queue } = init;

  function toJson(c: Content, meta: Record<string, string>): PinStatusJson {
    const pin: PinStatusJson['pin'] = { cid: c.cid, origins: JSON.parse(c.origins) as string[], meta };
    if (c.name !== '') pin.name = c.name;
    // content_id: the content this pin made (its page in the app, `/api/content/:id`).
    const info: Record<string, string> = {
      dag_size: String(c.dag_size),
      blocks: String(c.blocks),
      content_id: String(c.id)
    };
    if (c.status_details !== '') info.status_details = c.status_details;
    if (init.statusTopic != null) info.status_topic = init.statusTopic(c.user_id);
    return {
      requestid: c.request_id,
      status: c.pin_status === 'removed' ? 'failed' : c.pin_status,
      created: new Date(c.created_at).toISOString(),
      pin,
      delegates: init.delegates().slice(0, 20),
      info
    };
  }

  async function metaOf(ids: number[]): Promise<Map<number, Record<string, string>>> {
    const out = new Map<number, Record<string, string>>(ids.map((id) => [id, {}]));
    if (ids.length === 0) return out;
    const rows = await db.selectFrom('content_meta').selectAll().where('content_id', 'in', ids).execute();
    for (const r of rows) out.get(Number(r.content_id))![r.key] = r.value;
    return out;
  }

  async function insertPin(tx: Transaction<Database>, userId: number, pin: PinRequest, replication: number) {
    const content = await insertContent(tx, {
      user_id: userId,
      cid: pin.cid,
      name: pin.name ?? '',
      size: 0,
      dag_size: 0,
      blocks: 0,
      type: 0,
      replication,
      pin_status: 'queued',
      origins: JSON.stringify(pin.origins ?? []),
      pin_meta: JSON.stringify(pin.meta ?? {}),
      status_details: ''
    });
    const meta = Object.entries(pin.meta ?? {});
    if (meta.length > 0) {
      await tx
        .insertInto('content_meta')
        .values(meta.map(([key, value]) => ({ content_id: content.id, key, value })))
        .execute();
    }
    await queue.enqueue(tx, PIN_JOB, content.id);
    return content;
  }

  async function own(userId: number, requestId: string, from: Kysely<Database> = db): Promise<Content> {
    const c = await from
      .selectFrom('contents')
      .selectAll()
      .where('request_id', '=', requestId)
      .where('user_id', '=', userId)
      .where('pin_status', '!=', 'removed')
      .executeTakeFirst();
    if (c == null) throw new NotFoundError('NOT_FOUND', `no pin with requestid "${requestId}"`);
    return c;
  }

  return {
    async add(
      userId: number,
      pin: PinRequest,
      replication = init.defaultReplication
    ): Promise<PinStatusJson> {
      const content = await db.transaction().execute((tx) => insertPin(tx, userId, pin, replication));
      init.onQueued();
      return toJson(content, pin.meta ?? {});
    },

    async get(userId: number, requestId: string): Promise<PinStatusJson> {
      const c = await own(userId, requestId);
      return toJson(c, (await metaOf([c.id])).get(c.id)!);
    },

    async list(userId: number, f: PinFilter): Promise<{ count: number; results: PinStatusJson[] }> {
      let q = db.selectFrom('contents').where('user_id', '=', userId);
      // The spec: with no status filter, only pinned items.
      q = q.where('pin_status', 'in', f.status ?? ['pinned']);
      if (f.cid != null) q = q.where('cid', 'in', f.cid);
      if (f.before != null) q = q.where('created_at', '<', f.before);
      if (f.after != null) q = q.where('created_at', '>', f.after);
      if (f.name != null) {
        const find = init.dialect === 'postgres' ? 'strpos' : 'instr';
        const name = f.name;
        switch (f.match ?? 'exact') {
          case 'exact':
            q = q.where('name', '=', name);
            break;
          case 'iexact':
            q = q.where(sql`lower(name)`, '=', name.toLowerCase());
            break;
          case 'partial':
            q = q.where(sql`${sql.raw(find)}(name, ${name})`, '>', 0);
            break;
          case 'ipartial':
            q = q.where(sql`${sql.raw(find)}(lower(name), ${name.toLowerCase()})`, '>', 0);
            break;
        }
      }
      for (const [key, value] of Object.entries(f.meta ?? {})) {
        q = q.where((eb) =>
          eb.exists(
            eb
              .selectFrom('content_meta')
              .select('content_meta.key')
              .whereRef('content_meta.content_id', '=', 'contents.id')
              .where('content_meta.key', '=', key)
              .where('content_meta.value', '=', value)
          )
        );
      }
      const [{ n }, rows] = await Promise.all([
        q.select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow(),
        q
          .selectAll()
          .orderBy('created_at', 'desc')
          .limit(f.limit ?? 10)
          .execute()
      ]);
      const meta = await metaOf(rows.map((r) => r.id));
      return { count: Number(n), results: rows.map((r) => toJson(r, meta.get(r.id)!)) };
    },

    /** Replaces a pin with a new one in one step: a new requestid, the old one gone. */
    async replace(userId: number, requestId: string, pin: PinRequest): Promise<PinStatusJson> {
      const { content, oldCid } = await db.transaction().execute(async (tx) => {
        const old = await own(userId, requestId, tx);
        const removed = await tx
          .updateTable('contents')
          .set({ pin_status: 'removed', updated_at: Date.now() })
          .where('id', '=', old.id)
          .where('pin_status', '!=', 'removed')
          .executeTakeFirst();
        if (Number(removed.numUpdatedRows) !== 1)
          throw new NotFoundError('NOT_FOUND', `no pin with requestid "${requestId}"`);
        return { content: await insertPin(tx, userId, pin, old.replication), oldCid: old.cid };
      });
      init.onQueued();
      // A replaced pin is a removed one: its blocks the new pin does not need go too.
      if (oldCid !== content.cid) await init.onRemoved?.(oldCid);
      return toJson(content, pin.meta ?? {});
    },

    async remove(userId: number, requestId: string): Promise<void> {
      const res = await db
        .updateTable('contents')
        .set({ pin_status: 'removed', updated_at: Date.now() })
        .where('request_id', '=', requestId)
        .where('user_id', '=', userId)
        .where('pin_status', '!=', 'removed')
        .executeTakeFirst();
      if (Number(res.numUpdatedRows) !== 1)
        throw new NotFoundError('NOT_FOUND', `no pin with requestid "${requestId}"`);
      const row = await db
        .selectFrom('contents')
        .select(['cid'])
        .where('request_id', '=', requestId)
        .where('user_id', '=', userId)
        .executeTakeFirst();
      if (row != null) await init.onRemoved?.(row.cid);
    }
  };
}

export type Pins = ReturnType<typeof createPins>;
