import { multiaddr } from '@multiformats/multiaddr';
import type { Kysely } from 'kysely';
import * as dagPb from '@ipld/dag-pb';
import { CID } from 'multiformats/cid';
import * as raw from 'multiformats/codecs/raw';
import type { FirthPeer } from '../../relay/peer.ts';
import toBuffer from 'it-to-buffer';
import { describeRoot, walkDag } from '../content/dag.ts';
import type { Content, Database, Job } from '../db/schema.ts';
import type { JobQueue } from '../jobs/queue.ts';
import type { Logger } from '../log.ts';
import type { PinStatusEvent, StatusEvents } from './status-events.ts';

export const PIN_JOB = 'pin';

export interface PinnerInit {
  db: Kysely<Database>;
  queue: JobQueue;
  peer: FirthPeer;
  log: Logger;
  /** Pins fetched at once. */
  concurrency: number;
  /** A pin that has not got all its blocks by then fails (unless its origin browser is away: then it waits). */
  timeoutMs: number;
  /** Live status on gossipsub; the pinner publishes each change and its once-a-second progress. */
  statusEvents?: StatusEvents;
  /** Longest wait before a held pin (origin browser away) is looked at again. @default 30_000 */
  holdMaxMs?: number;
  /**
   * A walk with no new block for this long is stopped and the pin queued again (a retry asks only
   * for the blocks still missing): a want that went unanswered, say to a browser whose connection
   * was still opening, must not hang until the pin's timeout. @default 30_000
   */
  stallMs?: number;
  /**
   * With no new block for this long, every outstanding want is cancelled and asked for again (and again
   * every quarter of this while nothing arrives), before the stall detector's requeue. It must exceed the
   * sending peer's bitswap `doNotResendBlockWindow` (5 s by default), during which it ignores a repeated
   * want for a block it thinks it sent. See `WantWindow`. @default 8_000
   */
  rewantMs?: number;
  /** Bandwidth meter: blocks this pin fetches are claimed so bitswap bytes count for the content. */
  bandwidth?: { claim(cid: CID, owner: { contentId: number; userId: number }): () => void };
}

/** Origins split by how we reach them. */
export interface OriginPlan {
  /** Addresses worth dialling. */
  dial: string[];
  /**
   * Peers whose only addresses route through our own relay (`/p2p/<us>/p2p-circuit/p2p/<them>`): browsers.
   * They are reachable only while they hold a connection to us, so we do not dial them (a circuit through
   * ourselves would fail anyway) and hold the pin while they are away.
   */
  viaUs: string[];
}

export function planOrigins(origins: string[], ourId: string): OriginPlan {
  const dial: string[] = [];
  const viaUs = new Set<string>();
  for (const addr of origins) {
    let parts: Array<{ name: string; value?: string }>;
    try {
      parts = multiaddr(addr).getComponents();
    } catch {
      continue;
    }
    const circuit = parts.findIndex((c) => c.name === 'p2p-circuit');
    const relay = circuit > 0 ? parts[circuit - 1] : undefined;
    const target = parts.at(-1);
    if (relay?.name === 'p2p' && relay.value === ourId && target?.name === 'p2p' && target.value != null) {
      viaUs.add(target.value);
    } else if (target?.value !== ourId) {
      dial.push(addr);
    }
  }
  return { dial, viaUs: [...viaUs] };
}

/**
 * Works the pin queue: for each queued content, dials its origins, then walks its DAG fetching the
 * blocks it lacks over bitswap (from the origins and every connected peer), recording progress as it
 * goes, until the content is pinned or fails.
 */
export class Pinner {
  readonly #init: PinnerInit;
  readonly #active = new Map<number, AbortController>();
  #running = false;
  #wake: (() => void) | undefined;
  #loop: Promise<void> | undefined;

  constructor(init: PinnerInit) {
    this.#init = init;
  }

  start(): void {
    this.#running = true;
    this.#init.peer.libp2p.addEventListener('peer:connect', this.#onPeerConnect);
    this.#loop = this.#run();
  }

  /** An origin browser came back: its held pins are due now, not at the end of their backoff. */
  readonly #onPeerConnect = (evt: CustomEvent<{ toString(): string }>): void => {
    const id = evt.detail.toString();
    const { db, log } = this.#init;
    void (async () => {
      const res = await db
        .updateTable('jobs')
        .set({ run_after: Date.now(), updated_at: Date.now() })
        .where('kind', '=', PIN_JOB)
        .where('state', '=', 'ready')
        .where('run_after', '>', Date.now())
        .where('content_id', 'in', (eb) =>
          eb
            .selectFrom('contents')
            .select('id')
            .where('pin_status', '=', 'queued')
            .where('origins', 'like', `%/p2p-circuit/p2p/${id}%`)
        )
        .executeTakeFirst();
      if (Number(res.numUpdatedRows) > 0) this.wake();
    })().catch((err) => log.warn({ err }, 'waking held pins failed'));
  };

  /** Stops claiming, aborts fetches in flight and hands their jobs back to the queue. */
  async stop(): Promise<void> {
    this.#running = false;
    this.#init.peer.libp2p.removeEventListener('peer:connect', this.#onPeerConnect);
    this.#wake?.();
    for (const ctl of this.#active.values()) ctl.abort(new Error('shutting down'));
    await this.#loop;
    while (this.#active.size > 0) await new Promise((r) => setTimeout(r, 20));
    await this.#init.queue.releaseAll();
  }

  /** Called when a pin is added so it starts without waiting for the next poll. */
  wake(): void {
    this.#wake?.();
  }

  async #run(): Promise<void> {
    const { queue, concurrency, log } = this.#init;
    while (this.#running) {
      const free = concurrency - this.#active.size;
      let claimed: Job[] = [];
      if (free > 0) {
        try {
          claimed = await queue.claim(PIN_JOB, free);
        } catch (err) {
          log.error({ err }, 'claiming pin jobs failed');
        }
      }
      for (const job of claimed) this.#spawn(job);
      if (claimed.length === 0 || this.#active.size >= concurrency) {
        await new Promise<void>((resolve) => {
          const t = setTimeout(resolve, 1000);
          this.#wake = () => {
            clearTimeout(t);
            resolve();
          };
        });
      }
    }
  }

  #spawn(job: Job): void {
    const ctl = new AbortController();
    this.#active.set(job.id, ctl);
    this.#pin(job, ctl)
      .catch((err) => this.#init.log.error({ err, job: job.id }, 'pin job crashed'))
      .finally(() => {
        this.#active.delete(job.id);
        this.#wake?.();
      });
  }

  #publish(content: Content, event: Omit<PinStatusEvent, 'requestid' | 'cid'>): void {
    this.#init.statusEvents?.publish(content.user_id, {
      requestid: content.request_id,
      cid: content.cid,
      ...event
    });
  }

  /** Whether one of these peers holds a direct (not relayed) connection to us. */
  #connected(peerIds: string[]): boolean {
    const ids = new Set(peerIds);
    return this.#init.peer.libp2p
      .getConnections()
      .some((c) => ids.has(c.remotePeer.toString()) && c.limits == null);
  }

  /**
   * Puts a pin back in the queue, `queued`, to be looked at again after a backoff (or as soon as one of its
   * origin browsers connects): its origin is a browser that is away, which is not a failure of the pin.
   */
  async #hold(job: Job, content: Content, details: string, last: { blocks: number; bytes: number }) {
    const { db, queue, log } = this.#init;
    const delay = Math.min(this.#init.holdMaxMs ?? 30_000, 1000 * 2 ** Math.min(job.attempts, 10));
    const now = Date.now();
    const held = await db.transaction().execute(async (tx) => {
      const res = await tx
        .updateTable('contents')
        .set({
          pin_status: 'queued',
          status_details: details,
          blocks: last.blocks,
          dag_size: last.bytes,
          updated_at: now
        })
        .where('id', '=', content.id)
        .where('pin_status', 'in', ['queued', 'pinning'])
        .executeTakeFirst();
      await tx
        .updateTable('jobs')
        .set({
          state: 'ready',
          run_after: now + delay,
          lease_owner: null,
          lease_expires_at: null,
          updated_at: now
        })
        .where('id', '=', job.id)
        .where('lease_owner', '=', queue.owner)
        .execute();
      return Number(res.numUpdatedRows) === 1;
    });
    if (!held) return;
    if (content.pin_status !== 'queued' || content.status_details !== details)
      this.#publish(content, { status: 'queued', ...last, details });
    log.debug({ content: content.id, delay }, 'pin held: origin browser away');
  }

  async #pin(job: Job, ctl: AbortController): Promise<void> {
    const { db, queue, peer, log, timeoutMs } = this.#init;
    const content = await db
      .selectFrom('contents')
      .selectAll()
      .where('id', '=', job.content_id)
      .executeTakeFirst();
    if (content == null || content.pin_status === 'removed' || content.pin_status === 'pinned') {
      await queue.finish(db, job.id, { state: 'done' });
      return;
    }

    const root = CID.parse(content.cid);
    const stall = new AbortController();
    const signal = AbortSignal.any([ctl.signal, stall.signal, AbortSignal.timeout(timeoutMs)]);
    const plan = planOrigins(JSON.parse(content.origins) as string[], peer.libp2p.peerId.toString());
    const dialled = await Promise.allSettled(
      plan.dial.map((addr) =>
        peer.libp2p.dial(multiaddr(addr), { signal: AbortSignal.any([signal, AbortSignal.timeout(10_000)]) })
      )
    );
    let last = { blocks: content.blocks, bytes: content.dag_size };
    // Said in status_details while pinning and in the failure reason: an origin that gave a bad address
    // (Kubo announces every address it has) must not leave a pin that fails for no stated reason.
    const dialNote = describeDials(plan.dial, dialled);
    const away = () => plan.viaUs.length > 0 && !this.#connected(plan.viaUs);
    // Its browser is away and no other origin answered: wait for it rather than spend the timeout.
    if (away() && !dialled.some((d) => d.status === 'fulfilled')) {
      await this.#hold(job, content, 'waiting for the origin browser to connect', last);
      return;
    }

    await db
      .updateTable('contents')
      .set({ pin_status: 'pinning', status_details: dialNote, updated_at: Date.now() })
      .where('id', '=', content.id)
      .where('pin_status', 'in', ['queued', 'pinning'])
      .execute();
    this.#publish(content, { status: 'pinning', ...last });

    let rootBytes: Uint8Array | undefined;
    let sent = { blocks: -1, bytes: -1 };
    let progressAt = Date.now();
    const stallMs = this.#init.stallMs ?? 30_000;
    // Progress and lease renewal once a second; a removed pin or a lost lease stops the fetch.
    const ticker = setInterval(() => {
      void (async () => {
        const now = last;
        if (now.blocks !== sent.blocks) progressAt = Date.now();
        else if (Date.now() - progressAt > stallMs) stall.abort(new Error('stalled'));
        await db
          .updateTable('contents')
          .set({ blocks: now.blocks, dag_size: now.bytes, updated_at: Date.now() })
          .where('id', '=', content.id)
          .execute();
        if (now.blocks !== sent.blocks || now.bytes !== sent.bytes) {
          sent = now;
          this.#publish(content, { status: 'pinning', ...now });
        }
        const current = await db
          .selectFrom('contents')
          .select('pin_status')
          .where('id', '=', content.id)
          .executeTakeFirst();
        if (current == null || current.pin_status === 'removed') ctl.abort(new Error('pin removed'));
        else if (!(await queue.renew(job.id))) ctl.abort(new Error('lease lost'));
      })().catch((err) => log.warn({ err }, 'pin progress update failed'));
    }, 1000);

    const wants = new WantWindow({
      rewantMs: this.#init.rewantMs ?? 8_000,
      onRewant: (n) =>
        log.info({ content: content.id, cid: content.cid, wants: n }, 'no block for a while: wanting again')
    });
    try {
      const total = await walkDag(
        root,
        async (cid, o) => {
          const release = this.#init.bandwidth?.claim(cid, {
            contentId: Number(content.id),
            userId: Number(content.user_id)
          });
          try {
            const bytes = await wants.get(
              cid,
              (s) => toBuffer(peer.blockstore.get(cid, { signal: s })),
              o.signal
            );
            if (cid.equals(root)) rootBytes = bytes;
            return bytes;
          } finally {
            release?.();
          }
        },
        { signal, concurrency: 64, onProgress: (p) => (last = p) }
      );
      const { type, size } = describeRoot(root, rootBytes, total.bytes);
      await db.transaction().execute(async (tx) => {
        await tx
          .updateTable('contents')
          .set({
            pin_status: 'pinned',
            blocks: total.blocks,
            dag_size: total.bytes,
            size,
            type,
            status_details: '',
            updated_at: Date.now()
          })
          .where('id', '=', content.id)
          .where('pin_status', '=', 'pinning')
          .execute();
        await queue.finish(tx, job.id, { state: 'done' });
      });
      this.#publish(content, { status: 'pinned', ...total });
      log.info({ content: content.id, cid: content.cid, blocks: total.blocks, bytes: total.bytes }, 'pinned');
    } catch (err) {
      if (ctl.signal.aborted) {
        // Shutdown, removal or a lost lease: not a failure of the pin itself.
        if (String(ctl.signal.reason).includes('pin removed'))
          await queue.finish(db, job.id, { state: 'done' });
        return;
      }
      // No block for a while: try again shortly; the blocks it has stay, so the retry asks only for the rest.
      // (Within the pin's time budget, counted from when it was asked for; after that it fails below.)
      if (stall.signal.aborted && Date.now() - content.created_at < timeoutMs) {
        log.info({ content: content.id, cid: content.cid, blocks: last.blocks }, 'pin stalled: retrying');
        await this.#hold(
          job,
          content,
          [`no block arrived for ${Math.round(stallMs / 1000)} s: retrying`, dialNote]
            .filter(Boolean)
            .join('; '),
          last
        );
        return;
      }
      // Timed out while its browser is away: the blocks it has stay, and the walk resumes (asking only for
      // the missing ones) when the browser is back.
      if (signal.aborted && away()) {
        await this.#hold(job, content, 'waiting for the origin browser to connect', last);
        return;
      }
      const details = stall.signal.aborted
        ? `no block arrived for ${Math.round(stallMs / 1000)} s and the pin is older than ${Math.round(timeoutMs / 1000)} s: no peer provided the rest (${last.blocks} blocks fetched)`
        : signal.aborted
          ? `timed out after ${Math.round(timeoutMs / 1000)} s with ${last.blocks} blocks (${last.bytes} bytes) fetched: no peer provided the rest`
          : `could not fetch the DAG: ${(err as Error).message}`;
      const reason = dialNote === '' ? details : `${details}; ${dialNote}`;
      await db.transaction().execute(async (tx) => {
        await tx
          .updateTable('contents')
          .set({
            pin_status: 'failed',
            status_details: reason,
            blocks: last.blocks,
            dag_size: last.bytes,
            updated_at: Date.now()
          })
          .where('id', '=', content.id)
          .where('pin_status', '=', 'pinning')
          .execute();
        await queue.finish(tx, job.id, { state: 'failed', error: reason });
      });
      this.#publish(content, { status: 'failed', ...last, details: reason });
      log.warn({ content: content.id, cid: content.cid, details: reason }, 'pin failed');
    } finally {
      clearInterval(ticker);
      wants.stop();
    }
  }
}

/**
 * What dialling a pin's origins gave, for its status: '' when there were none or one answered, else
 * how many could not be dialled and the first error (e.g. `connect ECONNREFUSED 127.0.0.1:1`).
 */
export function describeDials(addrs: string[], results: Array<PromiseSettledResult<unknown>>): string {
  if (addrs.length === 0 || results.some((r) => r.status === 'fulfilled')) return '';
  const i = Math.max(
    0,
    results.findIndex((r) => r.status === 'rejected')
  );
  const first = results[i];
  const why =
    first?.status === 'rejected' ? `: ${(first.reason as Error)?.message ?? String(first.reason)}` : '';
  return `none of its ${addrs.length} origin address${addrs.length === 1 ? '' : 'es'} could be dialled (${addrs[i]}${why})`;
}

/** Time for bitswap to drop a cancelled want before the same block is wanted again. */
const REWANT_SETTLE_MS = 200;
/**
 * Bytes of blocks wanted at once by one pin. A js-libp2p peer drops an incoming bitswap stream that
 * carries more than its read-buffer limit before its handler reads it (see `WantWindow`); the sending
 * peer puts every block we want into one stream, so we keep what we want below the limit our own
 * peer sets (relay/peer.ts `BITSWAP_READ_BUFFER_BYTES`, 32 MiB), with room for framing. At 4 MiB
 * (the library default) only ~3 blocks fit per round trip and the browser pull fell to 5 MB/s.
 */
export const WANT_WINDOW_BYTES = 24 * 1024 * 1024;
/** The size assumed for a block whose parent did not say (the root, non-dag-pb links). */
const UNKNOWN_BLOCK_BYTES = 1024 * 1024;

/**
 * How a pin asks bitswap for blocks: a bounded number of bytes at once, and again when nothing arrives.
 *
 * Why: @helia/bitswap 4.0.19 over js-libp2p 3 loses a message of blocks for good when the message is
 * bigger than 4 MiB, and nothing asks for those blocks again (the stall `stallMs` catches):
 *
 * - The sender's ledger (@helia/bitswap dist/src/peer-want-lists/ledger.js `sendBlocksToPeer`) puts every
 *   block the peer wants into one message, which `network.js sendMessage` writes as 4 MiB parts on one
 *   new stream.
 * - On our side, before any handler reads that stream, libp2p negotiates it and awaits a peer-store write
 *   (libp2p dist/src/connection.js `onIncomingStream`: `peerStore.merge`, on disk here), then bitswap
 *   awaits `stream.close()` (network.js `_onStream`). yamux grants window as data arrives, not as it is
 *   read (@chainsafe/libp2p-yamux stream.js `handleData`), so the bytes pile up in the stream's read
 *   buffer; past 4 MiB (@libp2p/utils abstract-message-stream.js `checkReadBufferLength`) the stream is
 *   aborted with a StreamBufferError. Measured: four 1 MiB blocks per message stall almost every time.
 * - The sender only logs the failure (`sendMessage` catches it) after its ledger marked the blocks
 *   `sent`; it ignores a repeated want for them for `doNotResendBlockWindow` (5 s), then forgets them.
 *   Our want list sends a want to a peer only once (want-list.js `sendMessages` skips `sentWants`).
 *
 * Upstream: https://github.com/ipfs/helia/blob/main/packages/bitswap/src/network.ts (`_onStream`,
 * `sendMessage`) and https://github.com/ipfs/helia/blob/main/packages/bitswap/src/peer-want-lists/ledger.ts.
 *
 * So: (1) the blocks wanted at once stay within `maxBytes` (sizes from the parents' dag-pb link `Tsize`;
 * one block is always allowed); (2) when no block has arrived for `rewantMs`, every outstanding `get` is
 * aborted and started again (the abort cancels the want, the new `get` sends a fresh one). The peer drops
 * its stale `sent` entry on the first repeat (`removeExpiredWants`) and answers a later one, so repeats go
 * on every `rewantMs / 4` while nothing arrives. A want that was only slow costs a small want message.
 */
export class WantWindow {
  readonly #maxBytes: number;
  readonly #rewantMs: number;
  readonly #onRewant: ((wants: number) => void) | undefined;
  readonly #sizes = new Map<string, number>();
  readonly #outstanding = new Set<AbortController>();
  readonly #waiting: Array<{ bytes: number; go: () => void }> = [];
  readonly #timer: ReturnType<typeof setInterval>;
  #inFlight = 0;
  #lastBlockAt = Date.now();
  #lastRewantAt = 0;

  constructor(opts: { maxBytes?: number; rewantMs: number; onRewant?: (wants: number) => void }) {
    this.#maxBytes = opts.maxBytes ?? WANT_WINDOW_BYTES;
    this.#rewantMs = opts.rewantMs;
    this.#onRewant = opts.onRewant;
    this.#timer = setInterval(() => this.#tick(), Math.max(50, Math.min(1000, opts.rewantMs / 8)));
  }

  /** Gets `cid` with `fetch` (which must honour its signal), waiting for room and wanting it again if need be. */
  async get(
    cid: CID,
    fetch: (signal: AbortSignal) => Promise<Uint8Array>,
    signal?: AbortSignal
  ): Promise<Uint8Array> {
    const key = cid.toString();
    const expected = this.#sizes.get(key) ?? UNKNOWN_BLOCK_BYTES;
    this.#sizes.delete(key);
    await this.#acquire(expected, signal);
    try {
      const bytes = await this.#want(fetch, signal);
      if (cid.code === dagPb.code) {
        for (const link of dagPb.decode(bytes).Links) {
          const size = link.Tsize ?? UNKNOWN_BLOCK_BYTES;
          // A raw link's Tsize is its block's size; a dag-pb link's is its whole subtree's.
          this.#sizes.set(
            link.Hash.toString(),
            link.Hash.code === raw.code ? size : Math.min(size, UNKNOWN_BLOCK_BYTES)
          );
        }
      }
      return bytes;
    } finally {
      this.#release(expected);
    }
  }

  stop(): void {
    clearInterval(this.#timer);
  }

  async #want(
    fetch: (signal: AbortSignal) => Promise<Uint8Array>,
    signal?: AbortSignal
  ): Promise<Uint8Array> {
    for (;;) {
      const want = new AbortController();
      this.#outstanding.add(want);
      try {
        const bytes = await fetch(signal == null ? want.signal : AbortSignal.any([signal, want.signal]));
        this.#lastBlockAt = Date.now();
        return bytes;
      } catch (err) {
        if (signal?.aborted === true || !want.signal.aborted) throw err;
      } finally {
        this.#outstanding.delete(want);
      }
      // Let bitswap drop the cancelled want first: a new want for the same block would otherwise join
      // the cancelled entry and never be sent.
      await sleep(REWANT_SETTLE_MS, signal);
    }
  }

  #tick(): void {
    const now = Date.now();
    if (this.#outstanding.size === 0) this.#lastBlockAt = now;
    if (now - this.#lastBlockAt < this.#rewantMs || now - this.#lastRewantAt < this.#rewantMs / 4) return;
    this.#lastRewantAt = now;
    this.#onRewant?.(this.#outstanding.size);
    for (const want of this.#outstanding) want.abort(new Error('wanting again'));
  }

  async #acquire(bytes: number, signal?: AbortSignal): Promise<void> {
    if (this.#inFlight === 0 || (this.#waiting.length === 0 && this.#inFlight + bytes <= this.#maxBytes)) {
      this.#inFlight += bytes;
      return;
    }
    await new Promise<void>((resolve, reject) => {
      const waiter = {
        bytes,
        go: () => {
          signal?.removeEventListener('abort', onAbort);
          resolve();
        }
      };
      const onAbort = () => {
        const i = this.#waiting.indexOf(waiter);
        if (i >= 0) this.#waiting.splice(i, 1);
        reject(signal?.reason as Error);
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.#waiting.push(waiter);
    });
  }

  #release(bytes: number): void {
    this.#inFlight -= bytes;
    while (this.#waiting.length > 0) {
      const next = this.#waiting[0]!;
      if (this.#inFlight > 0 && this.#inFlight + next.bytes > this.#maxBytes) break;
      this.#waiting.shift();
      this.#inFlight += next.bytes;
      next.go();
    }
  }
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const onAbort = () => {
      clearTimeout(t);
      reject(signal?.reason as Error);
    };
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
