// The bandwidth meter: every byte the service moves is reported here (HTTP uploads, bitswap in and
// out, gateway responses, deal transfers, retrievals), summed in memory per (minute, channel,
// content, user, peer) and flushed every few seconds into bandwidth_minute, bandwidth_hour and
// bandwidth_totals with add-on-conflict upserts, so the hot path never writes the database.
import { sql, type Kysely } from 'kysely';
import { CID } from 'multiformats/cid';
import type { Database } from '../db/schema.ts';
import type { Logger } from '../log.ts';

import { CHANNELS, type Channel } from '../../src/lib/stats-shapes.ts';

export { CHANNELS, type Channel };

export const INBOUND: ReadonlySet<Channel> = new Set(['http-upload', 'bitswap-in', 'retrieval-in']);

export const MINUTE_MS = 60_000;
export const HOUR_MS = 3_600_000;

export interface BandwidthSample {
  channel: Channel;
  bytes: number;
  contentId?: number;
  userId?: number;
  /** A libp2p peer ID or a provider address; never an IP address. */
  peer?: string;
  /** A root CID whose content and owner are looked up at flush time (gateway responses). */
  cid?: CID;
  /** Requests, messages or transfers this sample stands for. @default 1 */
  events?: number;
}

export interface BlockOwner {
  contentId: number;
  userId: number;
}

export interface BandwidthMeterInit {
  db: Kysely<Database>;
  log?: Logger;
  /** How often the sums are written. @default 10_000 */
  flushMs?: number;
  /** Minute rows older than this are deleted (hour rows stay). @default 48 hours */
  minuteRetentionMs?: number;
  /** Called for every sample (Prometheus counters). */
  onSample?(sample: BandwidthSample): void;
  now?: () => number;
}

export interface BandwidthMeter {
  record(sample: BandwidthSample): void;
  /**
   * Marks a block as wanted for a content: bytes of that block arriving over bitswap are counted for
   * the content and its owner. Returns the release to call once the block is in.
   */
  claim(cid: CID, owner: BlockOwner): () => void;
  /** Who a block arriving over bitswap is for, if anyone claimed it. */
  ownerOf(cid: CID): BlockOwner | undefined;
  /** Writes everything recorded so far; resolves when it is in the database. */
  flush(): Promise<void>;
  start(): void;
  /** Stops the timer and flushes what is left. */
  stop(): Promise<void>;
}

interface Sum {
  bytes: number;
  events: number;
}

interface Key {
  minute: number;
  channel: Channel;
  contentId: number;
  userId: number;
  peer: string;
  cid: string;
}

const keyOf = (k: Key) => `${k.minute}|${k.channel}|${k.contentId}|${k.userId}|${k.peer}|${k.cid}`;
const mhKey = (cid: CID) => Buffer.from(cid.multihash.bytes).toString('base64');
const BATCH = 200;

/** The string forms a stored content row may use for this CID (v1, and v0 for dag-pb sha2-256). */
export function cidForms(cid: CID): string[] {
  const forms = [cid.toV1().toString()];
  try {
    forms.push(cid.toV0().toString());
  } catch {
    // only dag-pb sha2-256 CIDs have a v0 form
  }
  return [...new Set(forms)];
}

export function createBandwidthMeter(init: BandwidthMeterInit): BandwidthMeter {
  const { db } = init;
  const now = init.now ?? Date.now;
  const flushMs = init.flushMs ?? 10_000;
  const retention = init.minuteRetentionMs ?? 48 * HOUR_MS;
  let pending = new Map<string, Key & Sum>();
  const claims = new Map<string, { owner: BlockOwner; count: number }>();
  // CID → owner, remembered so a popular CID costs one lookup, not one per flush. CIDs no content
  // has yet are looked up again next time (they may be uploaded meanwhile).
  const cidOwners = new Map<string, BlockOwner>();
  let timer: NodeJS.Timeout | undefined;
  let flushing: Promise<void> = Promise.resolve();
  let lastPrune = 0;

  function add(key: Key, bytes: number, events: number) {
    const k = keyOf(key);
    const entry = pending.get(k);
    if (entry == null) pending.set(k, { ...key, bytes, events });
    else {
      entry.bytes += bytes;
      entry.events += events;
    }
  }

  async function resolveCids(cids: string[]): Promise<void> {
    const unknown = cids.filter((c) => !cidOwners.has(c));
    for (let i = 0; i < unknown.length; i += BATCH) {
      const batch = unknown.slice(i, i + BATCH);
      const forms = new Map<string, string>();
      for (const c of batch) for (const f of cidForms(CID.parse(c))) forms.set(f, c);
      const rows = await db
        .selectFrom('contents')
        .select(['id', 'user_id', 'cid'])
        .where('cid', 'in', [...forms.keys()])
        .where('pin_status', '!=', 'removed')
        .orderBy('id')
        .execute();
      // Several users may hold one CID: the bytes go to the oldest live content (first uploader).
      for (const r of rows) {
        const c = forms.get(r.cid)!;
        if (cidOwners.get(c) == null)
          cidOwners.set(c, { contentId: Number(r.id), userId: Number(r.user_id) });
      }
    }
    if (cidOwners.size > 100_000) cidOwners.clear();
  }

  // Content → owner, for samples that name a content but not its user (retrievals).
  const contentOwners = new Map<number, number>();
  async function resolveContents(ids: number[]): Promise<void> {
    const unknown = [...new Set(ids)].filter((id) => !contentOwners.has(id));
    for (let i = 0; i < unknown.length; i += BATCH) {
      const rows = await db
        .selectFrom('contents')
        .select(['id', 'user_id'])
        .where('id', 'in', unknown.slice(i, i + BATCH))
        .execute();
      for (const r of rows) contentOwners.set(Number(r.id), Number(r.user_id));
    }
    if (contentOwners.size > 100_000) contentOwners.clear();
  }

  async function write(entries: Array<Key & Sum>): Promise<void> {
    await resolveCids([...new Set(entries.filter((e) => e.cid !== '').map((e) => e.cid))]);
    await resolveContents(entries.filter((e) => e.contentId > 0 && e.userId === 0).map((e) => e.contentId));
    const minutes = new Map<string, Key & Sum>();
    const hours = new Map<string, Key & Sum>();
    const totals = new Map<string, Sum>();
    for (const e of entries) {
      const owner = e.cid === '' ? undefined : cidOwners.get(e.cid);
      const base: Key = {
        ...e,
        cid: '',
        contentId: owner?.contentId ?? e.contentId,
        userId: owner?.userId ?? (e.userId || (contentOwners.get(e.contentId) ?? 0))
      };
      for (const [map, key] of [
        [minutes, base],
        [hours, { ...base, minute: Math.floor(e.minute / HOUR_MS) * HOUR_MS }]
      ] as const) {
        const k = keyOf(key);
        const m = map.get(k);
        if (m == null) map.set(k, { ...key, bytes: e.bytes, events: e.events });
        else {
          m.bytes += e.bytes;
          m.events += e.events;
        }
      }
      const t = totals.get(e.channel) ?? { bytes: 0, events: 0 };
      t.bytes += e.bytes;
      t.events += e.events;
      totals.set(e.channel, t);
    }
    await db.transaction().execute(async (tx) => {
      const rows = (list: Array<Key & Sum>) =>
        list.map((r) => ({
          channel: r.channel,
          content_id: r.contentId,
          user_id: r.userId,
          peer: r.peer,
          bytes: r.bytes,
          events: r.events,
          time: r.minute
        }));
      const all = [
        ['bandwidth_minute', 'minute', rows([...minutes.values()])],
        ['bandwidth_hour', 'hour', rows([...hours.values()])]
      ] as const;
      for (const [table, time, list] of all) {
        for (let i = 0; i < list.length; i += BATCH) {
          const values = list.slice(i, i + BATCH).map(({ time: t, ...r }) => ({ ...r, [time]: t }));
          await tx
            .insertInto(table)
            .values(values as never)
            .onConflict((oc) =>
              oc.columns([time, 'channel', 'content_id', 'user_id', 'peer'] as never).doUpdateSet({
                bytes: sql`${sql.ref(`${table}.bytes`)} + excluded.bytes`,
                events: sql`${sql.ref(`${table}.events`)} + excluded.events`
              } as never)
            )
            .execute();
        }
      }
      for (const [channel, t] of totals) {
        await tx
          .insertInto('bandwidth_totals')
          .values({ channel, bytes: t.bytes, events: t.events })
          .onConflict((oc) =>
            oc.column('channel').doUpdateSet({
              bytes: sql`bandwidth_totals.bytes + excluded.bytes`,
              events: sql`bandwidth_totals.events + excluded.events`
            })
          )
          .execute();
      }
    });
  }

  async function flushOnce(): Promise<void> {
    const batch = pending;
    pending = new Map();
    if (batch.size > 0) {
      try {
        await write([...batch.values()]);
      } catch (err) {
        // Keep the sums for the next flush rather than lose them.
        for (const e of batch.values()) add(e, e.bytes, e.events);
        init.log?.warn({ err }, 'bandwidth flush failed; retrying at the next flush');
      }
    }
    if (now() - lastPrune > 10 * MINUTE_MS) {
      lastPrune = now();
      await db
        .deleteFrom('bandwidth_minute')
        .where('minute', '<', now() - retention)
        .execute()
        .catch((err: unknown) => init.log?.warn({ err }, 'pruning old bandwidth minutes failed'));
    }
  }

  return {
    record(sample) {
      if (!(sample.bytes >= 0) || !Number.isFinite(sample.bytes)) return;
      init.onSample?.(sample);
      add(
        {
          minute: Math.floor(now() / MINUTE_MS) * MINUTE_MS,
          channel: sample.channel,
          contentId: sample.contentId ?? 0,
          userId: sample.userId ?? 0,
          peer: sample.peer ?? '',
          cid: sample.contentId == null && sample.cid != null ? sample.cid.toV1().toString() : ''
        },
        sample.bytes,
        sample.events ?? 1
      );
    },
    claim(cid, owner) {
      const k = mhKey(cid);
      const entry = claims.get(k);
      if (entry == null) claims.set(k, { owner, count: 1 });
      else entry.count++;
      return () => {
        const e = claims.get(k);
        if (e != null && --e.count <= 0) claims.delete(k);
      };
    },
    ownerOf: (cid) => claims.get(mhKey(cid))?.owner,
    flush() {
      // One flush at a time: a second caller waits for its own pass over what came in since.
      flushing = flushing.then(flushOnce, flushOnce);
      return flushing;
    },
    start() {
      timer ??= setInterval(() => void this.flush(), flushMs);
      timer.unref();
    },
    async stop() {
      if (timer != null) clearInterval(timer);
      timer = undefined;
      await this.flush();
    }
  };
}
