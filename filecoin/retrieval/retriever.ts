// Case B retrieval: content we made deals for but no longer hold is fetched back from a provider,
// verified block by block against its CID and linked from the root (nothing else is accepted),
// written to the blockstore as it arrives, and handed at once to whoever waits for that block
// (the gateway streams while the retrieval runs). One retrieval per content at a time: concurrent
// requests join it. A failing or lying provider is recorded and the next candidate is tried.
import { CarBlockIterator } from '@ipld/car/iterator';
import type { FsBlockstore } from 'blockstore-fs';
import type { Kysely } from 'kysely';
import { CID } from 'multiformats/cid';
import { request } from 'undici';
import type { Logger } from '../../server/log.ts';
import type { Database } from '../../server/db/schema.ts';
import { findCandidates, type Candidate, type CandidateInit } from './candidates.ts';
import { clearOffloadedBlocks } from './block-index.ts';
import { blockKey, isIdentity, linksOf, verifyBlock } from './dag.ts';
import type { BlockLock } from '../../server/content/block-lock.ts';

export interface RetrieverInit extends CandidateInit {
  db: Kysely<Database>;
  blockstore: FsBlockstore;
  lock: BlockLock;
  log: Logger;
  /** An attempt that receives nothing for this long moves on to the next provider. @default 30000 */
  stallMs?: number;
  /** Verified blocks being written at once (they are served from memory meanwhile). @default 16 */
  writeConcurrency?: number;
  /**
   * Bitswap as a retrieval transport (providers that serve no HTTP, or whose HTTP failed): the
   * service's own libp2p node dials the provider and fetches blocks through Helia, which verifies and
   * stores each one. Undefined: bitswap candidates are skipped.
   */
  bitswap?: BitswapFetcher;
  /** Blocks fetched over bitswap at once (16 MiB of 1 MiB leaves: within the peer's stream read buffer). @default 16 */
  bitswapConcurrency?: number;
  /** Each block stored by a retrieval (e.g. to tell bitswap peers that wanted it). */
  onBlock?: (cid: CID) => void;
  /** Every finished attempt, for bandwidth and provider tracking. */
  onResult?: (attempt: {
    contentId: number;
    provider: string;
    transport: string;
    bytes: number;
    ok: boolean;
  }) => void;
}

export interface BitswapFetcher {
  /**
   * Connects to the provider (its addresses, with or without /p2p/) and opens a session that asks
   * only it for the blocks of `root`, content `contentId`'s (whose bandwidth they are): a want
   * sent to every connected peer would bring a copy from every provider holding the piece.
   */
  connect(
    peerId: string | undefined,
    multiaddrs: string[],
    signal: AbortSignal,
    content: { root: CID; contentId: number }
  ): Promise<BitswapSession>;
}

export interface BitswapSession {
  /** One block of the session's DAG; already verified and stored when it resolves. */
  get(cid: CID, signal: AbortSignal): Promise<Uint8Array>;
  close(): void;
}

export interface RetrievalResult {
  contentId: number;
  root: string;
  provider: string;
  transport: Candidate['transport'];
  bytes: number;
  blocks: number;
  ttfbMs: number;
  durationMs: number;
  /** Providers tried before the one that served it, with why they failed. */
  failures: Array<{ provider: string; transport: string; error: string }>;
}

export interface KnownContent {
  id: number;
  root: CID;
  offloaded: boolean;
}

export class RetrievalFailedError extends Error {
  override name = 'RetrievalFailedError';
}

export interface Retriever {
  /** Content whose root is `root` that we can retrieve (offloaded, or with an active deal). */
  known(root: CID): Promise<KnownContent | undefined>;
  /** Starts, or joins, the retrieval of a content; resolves once it is held again. */
  retrieve(contentId: number): Promise<RetrievalResult>;
  /**
   * A block of `root`'s DAG for a reader: undefined when the root is not a content we can retrieve
   * (the caller tries elsewhere); otherwise waits for the (shared) retrieval to deliver it.
   */
  block(root: CID, cid: CID, options: { signal?: AbortSignal }): Promise<Uint8Array | undefined>;
  /** Blocks verified by running retrievals (GC keeps them). */
  inFlightKeys(): Set<string>;
  running(): Array<{ contentId: number; root: string; blocks: number; bytes: number; provider: string }>;
  /** Drop what `known` remembered (content was offloaded or re-pinned). */
  forget(): void;
  stop(): Promise<void>;
}

interface Waiter {
  resolve(bytes: Uint8Array): void;
  reject(err: unknown): void;
}

interface Session {
  content: KnownContent;
  done: Promise<RetrievalResult>;
  waiters: Map<string, Waiter[]>;
  /** Verified blocks not yet on disk. */
  pending: Map<string, Uint8Array>;
  received: Set<string>;
  blocks: number;
  bytes: number;
  provider: string;
}

const KNOWN_TTL_MS = 5_000;

export function createRetriever(init: RetrieverInit): Retriever {
  const { db, blockstore, lock, log } = init;
  const stallMs = init.stallMs ?? 30_000;
  const writeConcurrency = init.writeConcurrency ?? 16;
  const sessions = new Map<number, Session>();
  const knownCache = new Map<string, { at: number; value: KnownContent | undefined }>();
  /** Recent failures per provider: providers that failed lately are tried last. */
  const failures = new Map<string, number>();
  const stopping = new AbortController();

  const who = (c: Candidate) => (c.actor != null ? `f0${c.actor}` : (c.peerId ?? c.url));

  async function known(root: CID): Promise<KnownContent | undefined> {
    const text = root.toString();
    const hit = knownCache.get(text);
    if (hit != null && Date.now() - hit.at < KNOWN_TTL_MS) return hit.value;
    const forms = new Set([text, root.toV1().toString()]);
    if (root.code === 0x70 && root.multihash.code === 0x12) forms.add(root.toV0().toString());
    const rows = await db
      .selectFrom('contents')
      .select(['id', 'cid', 'offloaded_at'])
      .where('cid', 'in', [...forms])
      .where('pin_status', '=', 'pinned')
      .orderBy('id')
      .execute();
    let value: KnownContent | undefined;
    // Offloaded first: that is the case retrieval is for.
    const off = rows.find((r) => r.offloaded_at != null);
    if (off != null) value = { id: Number(off.id), root, offloaded: true };
    else {
      for (const r of rows) {
        const deal = await db
          .selectFrom('piece_members')
          .innerJoin('deals', 'deals.piece_id', 'piece_members.piece_id')
          .select('deals.id')
          .where('piece_members.content_id', '=', r.id)
          .where('deals.state', '=', 'active')
          .limit(1)
          .executeTakeFirst();
        if (deal != null) {
          value = { id: Number(r.id), root, offloaded: false };
          break;
        }
      }
    }
    knownCache.set(text, { at: Date.now(), value });
    if (knownCache.size > 10_000) knownCache.delete(knownCache.keys().next().value!);
    return value;
  }

  async function contentById(contentId: number): Promise<KnownContent> {
    const row = await db
      .selectFrom('contents')
      .select(['id', 'cid', 'offloaded_at', 'pin_status'])
      .where('id', '=', contentId)
      .executeTakeFirst();
    if (row == null || row.pin_status === 'removed')
      throw new RetrievalFailedError(`content ${contentId} not found`);
    return { id: Number(row.id), root: CID.parse(row.cid), offloaded: row.offloaded_at != null };
  }

  function deliver(s: Session, key: string, bytes: Uint8Array): void {
    const waiting = s.waiters.get(key);
    if (waiting == null) return;
    s.waiters.delete(key);
    for (const w of waiting) w.resolve(bytes);
  }

  /** A verified block of `s`'s DAG: counted, kept from GC (`received`), handed to waiters. */
  function accepted(s: Session, key: string, bytes: Uint8Array): void {
    s.blocks++;
    s.bytes += bytes.byteLength;
    s.received.add(key);
    deliver(s, key, bytes);
  }

  /**
   * Bitswap: the DAG is walked from the root, `bitswapConcurrency` blocks at a time, children
   * first-in-line so the gateway's in-order reads are served early. Helia checks each block's hash
   * against its CID before storing it (under the block lock), so it is not hashed again here.
   */
  async function bitswapBlocks(
    s: Session,
    c: Candidate,
    signal: AbortSignal,
    poke: () => void
  ): Promise<{ bytes: number; blocks: number; firstBlockAt: number | undefined }> {
    const fetcher = await init.bitswap!.connect(c.peerId, c.multiaddrs ?? [], signal, {
      root: s.content.root,
      contentId: s.content.id
    });
    try {
      return await sessionBlocks(s, fetcher, signal, poke);
    } finally {
      fetcher.close();
    }
  }

  async function sessionBlocks(
    s: Session,
    fetcher: BitswapSession,
    signal: AbortSignal,
    poke: () => void
  ): Promise<{ bytes: number; blocks: number; firstBlockAt: number | undefined }> {
    poke();
    const root = s.content.root;
    const queue: CID[] = [root];
    const seen = new Set<string>([blockKey(root)]);
    const limit = init.bitswapConcurrency ?? 16;
    let active = 0;
    let bytes = 0;
    let blocks = 0;
    let firstBlockAt: number | undefined;
    await new Promise<void>((resolve, reject) => {
      let failed = false;
      const pump = () => {
        if (failed) return;
        if (queue.length === 0 && active === 0) return resolve();
        while (active < limit && queue.length > 0) {
          const cid = queue.shift()!;
          active++;
          fetcher
            .get(cid, signal)
            .then((block) => {
              poke();
              firstBlockAt ??= performance.now();
              bytes += block.byteLength;
              blocks++;
              accepted(s, blockKey(cid), block);
              init.onBlock?.(cid);
              const next = linksOf(cid, block).filter((l) => !isIdentity(l) && !seen.has(blockKey(l)));
              for (const l of next) seen.add(blockKey(l));
              queue.unshift(...next);
              active--;
              pump();
            })
            .catch((err: unknown) => {
              failed = true;
              reject(err);
            });
        }
      };
      pump();
    });
    return { bytes, blocks, firstBlockAt };
  }

  async function attempt(s: Session, c: Candidate): Promise<Omit<RetrievalResult, 'failures'>> {
    const started = performance.now();
    const ctrl = new AbortController();
    const onStop = () => ctrl.abort(new Error('service stopping'));
    stopping.signal.addEventListener('abort', onStop);
    const idle = setTimeout(() => ctrl.abort(new Error(`no data for ${stallMs} ms`)), stallMs);
    const poke = () => idle.refresh();
    try {
      const root = s.content.root;
      if (c.transport === 'bitswap') {
        const got = await bitswapBlocks(s, c, ctrl.signal, poke);
        return {
          contentId: s.content.id,
          root: root.toString(),
          provider: who(c),
          transport: c.transport,
          bytes: got.bytes,
          blocks: got.blocks,
          ttfbMs: Math.round((got.firstBlockAt ?? performance.now()) - started),
          durationMs: Math.round(performance.now() - started)
        };
      }
      const headers: Record<string, string> = {};
      let url: string;
      if (c.transport === 'http-piece') {
        url = `${c.url}/piece/${c.pieceCid}`;
        headers.range = `bytes=${c.offset}-${c.offset! + c.size! - 1}`;
      } else {
        // The whole DAG: the content is pinned again, so every block is needed.
        url = `${c.url}/ipfs/${root.toString()}?format=car&dag-scope=all`;
        headers.accept = 'application/vnd.ipld.car';
      }
      // undici's request, not fetch: no WHATWG stream per chunk, measured ~25 % less CPU per byte
      // received (the retriever's CPU is what bounds Case B throughput, bench/retrieval.ts).
      const res = await request(url, { headers, signal: ctrl.signal });
      poke();
      if (c.transport === 'http-piece' && res.statusCode === 200 && c.offset !== 0) {
        res.body.destroy();
        throw new Error('the provider ignored the Range header');
      }
      if (res.statusCode < 200 || res.statusCode > 299) {
        const text = (await res.body.text().catch(() => '')).slice(0, 200).trim();
        throw new Error(`HTTP ${res.statusCode}${text === '' ? '' : `: ${text}`}`);
      }
      let bytesIn = 0;
      const body = res.body;
      const counted = (async function* () {
        for await (const chunk of body as AsyncIterable<Buffer>) {
          poke();
          bytesIn += chunk.byteLength;
          yield chunk;
        }
      })();
      const car = await CarBlockIterator.fromIterable(counted);
      const roots = await car.getRoots();
      if (
        !roots.some(
          (r) => r.multihash.bytes.length === root.multihash.bytes.length && blockKey(r) === blockKey(root)
        )
      ) {
        throw new Error(`the CAR's roots (${roots.join(', ')}) do not include ${root}`);
      }
      const expected = new Set<string>([blockKey(root)]);
      const got = new Set<string>();
      const writes = new Set<Promise<void>>();
      let ttfbMs: number | undefined;
      let blocks = 0;
      for await (const { cid, bytes } of car) {
        const key = blockKey(cid);
        if (!expected.has(key)) {
          if (got.has(key)) continue; // a duplicate (car-dups=y): already verified
          throw new Error(`the provider sent block ${cid}, which is not part of ${root}`);
        }
        await verifyBlock(cid, bytes);
        expected.delete(key);
        got.add(key);
        for (const link of linksOf(cid, bytes)) {
          const lk = blockKey(link);
          if (!isIdentity(link) && !got.has(lk)) expected.add(lk);
        }
        ttfbMs ??= performance.now() - started;
        blocks++;
        s.pending.set(key, bytes);
        accepted(s, key, bytes);
        const write = lock
          .shared(async () => {
            await blockstore.put(cid, bytes);
          })
          .then(() => init.onBlock?.(cid))
          .finally(() => {
            s.pending.delete(key);
            writes.delete(write);
          });
        writes.add(write);
        // Handled here too: if the CAR fails meanwhile, nobody awaits this write any more.
        write.catch(() => undefined);
        // Bounded memory: wait for the disk when too many blocks are in flight.
        if (writes.size >= writeConcurrency) await Promise.race(writes);
      }
      await Promise.all(writes);
      if (expected.size > 0)
        throw new Error(`the CAR ended with ${expected.size} block(s) of ${root} missing`);
      return {
        contentId: s.content.id,
        root: root.toString(),
        provider: who(c),
        transport: c.transport,
        bytes: bytesIn,
        blocks,
        ttfbMs: Math.round(ttfbMs ?? performance.now() - started),
        durationMs: Math.round(performance.now() - started)
      };
    } catch (err) {
      if (ctrl.signal.aborted && ctrl.signal.reason instanceof Error) throw ctrl.signal.reason;
      throw err;
    } finally {
      clearTimeout(idle);
      stopping.signal.removeEventListener('abort', onStop);
      // A failed attempt leaves nothing running: bitswap wants still out, an unread response.
      ctrl.abort(new Error('retrieval attempt ended'));
    }
  }

  async function run(s: Session): Promise<RetrievalResult> {
    const root = s.content.root;
    const candidates = await findCandidates(init, s.content.id, root, (p) => failures.get(p) ?? 0, log);
    if (candidates.length === 0) {
      throw new RetrievalFailedError(`no provider has an active deal or an IPNI record for ${root}`);
    }
    const failed: RetrievalResult['failures'] = [];
    for (const c of candidates) {
      if (stopping.signal.aborted) break;
      if (c.transport === 'bitswap' && init.bitswap == null) continue;
      s.provider = who(c);
      const now = Date.now();
      const row = await db
        .insertInto('retrievals')
        .values({
          content_id: s.content.id,
          root_cid: root.toString(),
          provider_actor: c.actor ?? null,
          provider_url: c.url,
          transport: c.transport,
          state: 'running',
          bytes: 0,
          blocks: 0,
          error: '',
          started_at: now
        })
        .returning('id')
        .executeTakeFirstOrThrow();
      try {
        const result = await attempt(s, c);
        await db
          .updateTable('retrievals')
          .set({
            state: 'done',
            bytes: result.bytes,
            blocks: result.blocks,
            ttfb_ms: result.ttfbMs,
            duration_ms: result.durationMs,
            ended_at: Date.now()
          })
          .where('id', '=', row.id)
          .execute();
        // Held again: the same content row, still 'pinned', no longer offloaded.
        await db.transaction().execute(async (tx) => {
          await tx
            .updateTable('contents')
            .set({ offloaded_at: null, updated_at: Date.now() })
            .where('id', '=', s.content.id)
            .execute();
          await clearOffloadedBlocks(tx, s.content.id);
        });
        knownCache.clear();
        failures.delete(who(c));
        init.onResult?.({
          contentId: s.content.id,
          provider: who(c),
          transport: c.transport,
          bytes: result.bytes,
          ok: true
        });
        log.info(
          {
            content: s.content.id,
            root: result.root,
            provider: result.provider,
            transport: c.transport,
            bytes: result.bytes,
            ms: result.durationMs
          },
          'retrieved from a provider and pinned again'
        );
        return { ...result, failures: failed };
      } catch (err) {
        const message = (err as Error).message ?? String(err);
        failures.set(who(c), (failures.get(who(c)) ?? 0) + 1);
        failed.push({ provider: who(c), transport: c.transport, error: message });
        init.onResult?.({
          contentId: s.content.id,
          provider: who(c),
          transport: c.transport,
          bytes: 0,
          ok: false
        });
        log.warn(
          { content: s.content.id, provider: who(c), transport: c.transport, err: message },
          'retrieval attempt failed'
        );
        await db
          .updateTable('retrievals')
          .set({ state: 'failed', error: message.slice(0, 1000), ended_at: Date.now(), duration_ms: 0 })
          .where('id', '=', row.id)
          .execute()
          .catch(() => undefined);
      }
    }
    throw new RetrievalFailedError(
      `could not retrieve ${root} from any provider: ${failed.map((f) => `${f.provider} (${f.transport}): ${f.error}`).join('; ') || 'stopped'}`
    );
  }

  function start(content: KnownContent): Session {
    const existing = sessions.get(content.id);
    if (existing != null) return existing;
    const s: Session = {
      content,
      done: undefined as unknown as Promise<RetrievalResult>,
      waiters: new Map(),
      pending: new Map(),
      received: new Set(),
      blocks: 0,
      bytes: 0,
      provider: ''
    };
    s.done = run(s).finally(() => {
      sessions.delete(content.id);
      // Whoever still waits gets the block from disk if it is there, or the reason it is not.
      for (const [key, waiting] of s.waiters) {
        for (const w of waiting) w.reject(new RetrievalFailedError(`block ${key} did not arrive`));
      }
      s.waiters.clear();
    });
    s.done.catch(() => undefined);
    sessions.set(content.id, s);
    return s;
  }

  return {
    known,
    async retrieve(contentId) {
      return start(await contentById(contentId)).done;
    },
    async block(root, cid, options) {
      const content = await known(root);
      if (content == null) return undefined;
      const key = blockKey(cid);
      const s = start(content);
      return await new Promise<Uint8Array>((resolve, reject) => {
        const signal = options.signal;
        const waiter: Waiter = {
          resolve: (bytes) => {
            signal?.removeEventListener('abort', onAbort);
            resolve(bytes);
          },
          reject: (err) => {
            signal?.removeEventListener('abort', onAbort);
            // The session ended: the block may be on disk after all (held by other content).
            toBufferOrUndefined(blockstore, cid).then(
              (bytes) => (bytes == null ? reject(err) : resolve(bytes)),
              reject
            );
          }
        };
        const onAbort = () => {
          const list = s.waiters.get(key);
          if (list != null) {
            const i = list.indexOf(waiter);
            if (i >= 0) list.splice(i, 1);
            if (list.length === 0) s.waiters.delete(key);
          }
          reject(signal!.reason);
        };
        if (signal?.aborted) return reject(signal.reason);
        signal?.addEventListener('abort', onAbort, { once: true });
        // Registered first, then checked, so a block arriving in between is never missed.
        const list = s.waiters.get(key) ?? [];
        list.push(waiter);
        s.waiters.set(key, list);
        const pending = s.pending.get(key);
        if (pending != null) return deliver(s, key, pending);
        void toBufferOrUndefined(blockstore, cid).then((bytes) => {
          if (bytes != null) deliver(s, key, bytes);
        });
      });
    },
    inFlightKeys() {
      const keys = new Set<string>();
      for (const s of sessions.values()) for (const k of s.received) keys.add(k);
      return keys;
    },
    running() {
      return [...sessions.values()].map((s) => ({
        contentId: s.content.id,
        root: s.content.root.toString(),
        blocks: s.blocks,
        bytes: s.bytes,
        provider: s.provider
      }));
    },
    forget() {
      knownCache.clear();
    },
    async stop() {
      stopping.abort();
      await Promise.allSettled([...sessions.values()].map((s) => s.done));
    }
  };
}

async function toBufferOrUndefined(blockstore: FsBlockstore, cid: CID): Promise<Uint8Array | undefined> {
  try {
    const chunks: Uint8Array[] = [];
    for await (const chunk of blockstore.get(cid)) chunks.push(chunk);
    return chunks.length === 1 ? chunks[0] : Buffer.concat(chunks);
  } catch {
    return undefined;
  }
}
