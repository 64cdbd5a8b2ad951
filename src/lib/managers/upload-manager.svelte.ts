import { errorMessage, isApiError, onServiceBack } from '$lib/api';
import type { BrowserPeer, LinkStatus } from '$lib/peer/node';
import { createImporter, type ImportEntry, type Importer } from '$lib/peer/importer';
import { createPinningClient, type PinningClient, type PinStatus } from '$lib/peer/pinning';
import { UploadStore, type UploadRecord, type UploadState } from '$lib/peer/upload-store';
import {
  GOSSIP_FRESH_MS,
  PIN_POLL_GOSSIP_MS,
  PIN_POLL_MS,
  RECONNECT_MAX_MS,
  RECONNECT_MIN_MS
} from '$lib/peer/constants';
import { session } from '$lib/session.svelte';
import { randomUuid } from '$lib/utils/uuid';

/** What the user picked or dropped, as one upload: a single file, or a folder with its files' relative paths. */
export interface UploadSelection {
  name: string;
  kind: 'file' | 'folder';
  entries: ImportEntry[];
}

const FINAL: readonly UploadState[] = ['pinned', 'failed', 'removed'];
/** Pinned uploads checked with the service at each start, newest first (a bound on requests). */
const RECHECK_PINNED = 100;
/** CIDs per pin listing: the Pinning Service API's limit for its `cid` filter. */
const PINS_PER_LIST = 10;
const PIN_STATES: readonly UploadState[] = ['queued', 'pinning', 'pinned', 'failed'];

/** A pin's status, from an HTTP poll or a gossip message. */
interface PinUpdate {
  requestid: string;
  status: PinStatus['status'];
  bytes: number;
  details?: string;
}

/** Parses a status message from the service (`server/pinning/status-events.ts`); null if it is not one. */
function parseStatusMessage(data: Uint8Array): PinUpdate | null {
  try {
    const m = JSON.parse(new TextDecoder().decode(data)) as Record<string, unknown>;
    if (m.v !== 1 || typeof m.requestid !== 'string' || !PIN_STATES.includes(m.status as UploadState))
      return null;
    return {
      requestid: m.requestid,
      status: m.status as PinStatus['status'],
      bytes: typeof m.bytes === 'number' && Number.isFinite(m.bytes) ? m.bytes : 0,
      details: typeof m.details === 'string' ? m.details : undefined
    };
  } catch {
    return null;
  }
}

/** One upload in the queue: its record (kept in IndexedDB) and, while it is hashed, live progress. */
export class UploadItem {
  #record = $state.raw<UploadRecord>() as UploadRecord;
  #hashed = $state(0);
  #rate = $state(0);
  #startedAt = 0;
  /** Whether a sync loop follows this upload (not shown, so not reactive). */
  syncing = false;
  /** The files, while this page holds them (a reloaded page no longer does). */
  entries: ImportEntry[] | undefined;

  constructor(record: UploadRecord, entries?: ImportEntry[]) {
    this.#record = record;
    this.entries = entries;
    if (record.state !== 'waiting' && record.state !== 'hashing') this.#hashed = record.size;
  }

  get record(): UploadRecord {
    return this.#record;
  }

  get id(): string {
    return this.#record.id;
  }

  get state(): UploadState {
    return this.#record.state;
  }

  get cid(): string | undefined {
    return this.#record.cid;
  }

  /** Bytes hashed and stored locally. */
  get hashed(): number {
    return this.#hashed;
  }

  /** Hashing speed in bytes per second, while hashing. */
  get rate(): number {
    return this.#rate;
  }

  /** Seconds of hashing left, when it can be told. */
  get secondsLeft(): number | null {
    if (this.#record.state !== 'hashing' || this.#rate <= 0) return null;
    return Math.max(0, (this.#record.size - this.#hashed) / this.#rate);
  }

  /** Bytes of the DAG the service holds, out of `record.dagSize`. */
  get fetched(): number {
    return this.#record.fetched ?? 0;
  }

  get final(): boolean {
    return FINAL.includes(this.#record.state);
  }

  update(patch: Partial<UploadRecord>): UploadRecord {
    this.#record = { ...this.#record, ...patch };
    return this.#record;
  }

  progress(bytes: number): void {
    const now = performance.now();
    if (this.#startedAt === 0) this.#startedAt = now;
    this.#hashed = bytes;
    const seconds = (now - this.#startedAt) / 1000;
    if (seconds > 0.2) this.#rate = bytes / seconds;
  }
}

/** Waits `ms`, or less when aborted or woken (the service answers again). */
const sleep = (ms: number, signal: AbortSignal, wakers?: Set<() => void>) =>
  new Promise<void>((resolve) => {
    const done = () => {
      clearTimeout(t);
      wakers?.delete(done);
      resolve();
    };
    const t = setTimeout(done, ms);
    wakers?.add(done);
    signal.addEventListener('abort', done, { once: true });
  });

/** Statuses of the service worth retrying: unreachable, overloaded, or its own failure. */
function transient(err: unknown): boolean {
  if (!isApiError(err)) return true;
  return err.status === 0 || err.status === 408 || err.status === 429 || err.status >= 500;
}

export interface UploadManagerInit {
  getToken(): string | null;
  onUnauthorized(): void;
}

/**
 * The upload queue of the signed-in account: imports files in the import worker (one upload at a time: the
 * IndexedDB writes are the bottleneck), then asks the service to pin each root with this browser peer as
 * origin and follows the pin to `pinned`. Records live in IndexedDB, so a reload resumes syncing.
 */
export class UploadManager {
  #items = $state.raw<UploadItem[]>([]);
  #linkStatus = $state<LinkStatus | 'idle'>('idle');
  #peerId = $state<string | null>(null);
  #peerError = $state<string | null>(null);
  #refused = $state<string | null>(null);
  #gossipMessages = $state(0);
  #lastGossipAt = 0;
  #storage = $state<{ usage: number; quota: number } | null>(null);
  #persisted = $state<boolean | null>(null);
  /** Topics to follow (not shown: no reactivity needed). */
  // eslint-disable-next-line svelte/prefer-svelte-reactivity
  readonly #topics = new Set<string>();
  #livePeer: BrowserPeer | undefined;
  #owner: number | null = null;
  #session: AbortController | null = null;
  #peer: Promise<BrowserPeer> | undefined;
  #importer: Importer | undefined;
  #imports: Promise<void> = Promise.resolve();
  readonly #store = new UploadStore();
  readonly #pinning: PinningClient;
  /** Sync loops backing off after failures, woken when the service answers again (not shown). */
  // eslint-disable-next-line svelte/prefer-svelte-reactivity
  readonly #wakers = new Set<() => void>();

  constructor(init: UploadManagerInit) {
    this.#pinning = createPinningClient({ getToken: init.getToken, onUnauthorized: init.onUnauthorized });
    onServiceBack(() => {
      this.#livePeer?.reconnect();
      for (const wake of [...this.#wakers]) wake();
    });
  }

  get items(): UploadItem[] {
    return this.#items;
  }

  /** How the browser peer's direct link to the service stands. */
  get linkStatus(): LinkStatus | 'idle' {
    return this.#linkStatus;
  }

  get peerId(): string | null {
    return this.#peerId;
  }

  /** Status messages received over gossipsub from the service (verified), this session. */
  get gossipMessages(): number {
    return this.#gossipMessages;
  }

  /** Whether live status is arriving over gossipsub (HTTP polling then slows down). */
  get gossipLive(): boolean {
    return this.#gossipMessages > 0 && performance.now() - this.#lastGossipAt < GOSSIP_FRESH_MS;
  }

  /** This origin's storage use and quota (`navigator.storage.estimate()`), when the browser tells. */
  get storage(): { usage: number; quota: number } | null {
    return this.#storage;
  }

  /** Whether the browser agreed not to evict this site's data. */
  get persisted(): boolean | null {
    return this.#persisted;
  }

  /** Reads the storage estimate again. */
  async refreshStorage(): Promise<void> {
    try {
      const e = await navigator.storage?.estimate?.();
      if (e?.quota !== undefined) this.#storage = { usage: e.usage ?? 0, quota: e.quota };
      this.#persisted = (await navigator.storage?.persisted?.()) ?? null;
    } catch {
      // No estimate in this browser.
    }
  }

  /** Why the browser peer could not start. */
  get peerError(): string | null {
    return this.#peerError;
  }

  /** Loads the account's queue and resumes whatever was not finished. Called when a session starts. */
  async start(owner: number): Promise<void> {
    if (this.#owner === owner) return;
    this.stop();
    this.#owner = owner;
    const session = new AbortController();
    this.#session = session;
    const records = await this.#store.list(owner);
    if (session.signal.aborted) return;
    const items = records.map((record) => {
      // The files of an import cut short by a reload are gone: say so rather than wait forever.
      if (record.state === 'waiting' || record.state === 'hashing') {
        record = { ...record, state: 'failed', error: 'Interrupted before it was hashed: add it again.' };
        void this.#store.put(record);
      }
      return new UploadItem(record);
    });
    this.#items = items;
    for (const r of records) if (r.statusTopic !== undefined) this.#listen(r.statusTopic);
    void this.refreshStorage();
    for (const item of items) if (!item.final) this.#sync(item, session.signal);
    void this.#recheckPinned(items, session.signal);
  }

  /** Marks the uploads of a pin just deleted on the service (My content's Delete) as removed. */
  async removed(requestid: string): Promise<void> {
    for (const item of this.#items)
      if (item.record.requestid === requestid && item.state !== 'removed')
        await this.#save(item, { state: 'removed', error: undefined });
  }

  /**
   * Asks the service whether the pinned uploads it lists are still pinned, ten CIDs a request: a pin
   * deleted from another device or through the API is no longer listed and shows as removed here.
   * Stops at the first failure (offline: the next start asks again).
   */
  async #recheckPinned(items: UploadItem[], signal: AbortSignal): Promise<void> {
    const pinned = items
      .filter((i) => i.state === 'pinned' && i.record.requestid !== undefined && i.cid !== undefined)
      .sort((a, b) => b.record.createdAt - a.record.createdAt)
      .slice(0, RECHECK_PINNED);
    for (let i = 0; i < pinned.length; i += PINS_PER_LIST) {
      const batch = pinned.slice(i, i + PINS_PER_LIST);
      const cids = batch.map((b) => b.cid!).filter((c, k, all) => all.indexOf(c) === k);
      let listed: string[];
      try {
        listed = (await this.#pinning.list(cids, { signal })).map((p) => p.requestid);
      } catch {
        return;
      }
      for (const item of batch)
        if (!listed.includes(item.record.requestid!)) await this.removed(item.record.requestid!);
    }
  }

  /** Stops syncing (sign-out): the queue stays in IndexedDB for the next session of this account. */
  stop(): void {
    this.#session?.abort();
    this.#session = null;
    this.#owner = null;
    this.#items = [];
  }

  /** Starts the browser peer now (the upload page does, to show its state before anything is added). */
  connect(): void {
    void this.#ensurePeer().catch(() => {});
  }

  /** Why the last selection was (partly) refused, in words. */
  get refused(): string | null {
    return this.#refused;
  }

  /**
   * Queues uploads: each is hashed in the worker, then synced to the service. Uploads that do not fit in the
   * browser's storage quota are refused up front (`refused` says which), so no import fails half-way.
   */
  async add(selections: UploadSelection[]): Promise<UploadItem[]> {
    const owner = this.#owner;
    const session = this.#session;
    if (owner === null || session === null) {
      this.#refused =
        'This device does not know your account yet and Firth cannot be reached: add them again once it can.';
      return [];
    }
    this.#refused = null;
    let free = Infinity;
    try {
      const estimate = await navigator.storage?.estimate?.();
      if (estimate?.quota !== undefined) free = estimate.quota - (estimate.usage ?? 0);
      // Ask the browser not to evict the blocks: until the service has them they may be the only copy.
      void navigator.storage?.persist?.().catch(() => false);
    } catch {
      // No estimate (an older browser): let the import find out.
    }
    const tooBig: string[] = [];
    const added: UploadItem[] = [];
    for (const s of selections) {
      if (s.entries.length === 0) continue;
      const size = s.entries.reduce((sum, e) => sum + e.file.size, 0);
      if (size > free) {
        tooBig.push(s.name);
        continue;
      }
      free -= size;
      const record: UploadRecord = {
        id: randomUuid(),
        owner,
        name: s.name,
        kind: s.kind,
        files: s.entries.length,
        size,
        createdAt: Date.now(),
        state: 'waiting'
      };
      added.push(new UploadItem(record, s.entries));
    }
    if (tooBig.length > 0) {
      this.#refused = `Not enough storage in this browser for ${tooBig.join(', ')}: free some space or add less at once.`;
    }
    if (session.signal.aborted) return [];
    this.#items = [...this.#items, ...added];
    if (added.length > 0) this.connect();
    for (const item of added) {
      void this.#store.put(item.record);
      this.#imports = this.#imports.then(() => this.#import(item, session.signal));
    }
    return added;
  }

  /**
   * Asks the service again for an upload whose pin failed or was deleted (its blocks are still here): replaces the failed
   * pin request (`POST /pins/:requestid`) with one naming this peer's current addresses. The service keeps
   * the blocks it already fetched, so only the missing ones travel.
   */
  retry(item: UploadItem): void {
    if (
      (item.state !== 'failed' && item.state !== 'removed') ||
      item.cid === undefined ||
      item.record.localDropped ||
      this.#session === null
    )
      return;
    void this.#save(item, { state: 'hashed', error: undefined });
    this.#sync(item, this.#session.signal);
  }

  /**
   * Deletes this upload's blocks from IndexedDB, keeping blocks that other uploads still kept here share.
   * Refused unless the service has pinned it (checked with the service again, not only the queue's state).
   */
  async dropLocal(item: UploadItem): Promise<void> {
    if (item.state !== 'pinned' || item.cid === undefined || item.record.requestid === undefined)
      throw new Error('Only an upload the service has pinned can be removed from this device.');
    if (item.record.localDropped) return;
    const status = await this.#pinning.get(item.record.requestid);
    if (status.status !== 'pinned')
      throw new Error(`The service has not pinned it (it says "${status.status}"): keeping the local copy.`);
    const peer = await this.#ensurePeer();
    const keep = (await this.#store.all())
      .filter((r) => r.id !== item.id && r.cid !== undefined && !r.localDropped)
      .map((r) => r.cid!);
    const { dropLocalCopy } = await import('$lib/peer/local-copies');
    await dropLocalCopy(peer.localBlocks, item.cid, keep);
    await this.#save(item, { localDropped: true });
    await this.refreshStorage();
  }

  /** Forgets a finished upload from the queue (its blocks stay in IndexedDB). */
  async dismiss(item: UploadItem): Promise<void> {
    if (!item.final) return;
    this.#items = this.#items.filter((i) => i !== item);
    await this.#store.delete(item.id);
  }

  async #save(item: UploadItem, patch: Partial<UploadRecord>): Promise<void> {
    const record = item.update(patch);
    try {
      await this.#store.put(record);
    } catch {
      // The queue on screen is still right; only resuming after a reload would miss this change.
    }
  }

  async #import(item: UploadItem, signal: AbortSignal): Promise<void> {
    if (signal.aborted || item.entries === undefined) return;
    await this.#save(item, { state: 'hashing' });
    try {
      this.#importer ??= createImporter();
      const summary = await this.#importer.import(item.entries, {
        signal,
        onProgress: (p) => item.progress(p.bytes)
      });
      item.entries = undefined;
      item.progress(summary.size);
      await this.#save(item, {
        state: 'hashed',
        cid: summary.cid,
        dagSize: summary.dagSize,
        blocks: summary.blocks
      });
      this.#sync(item, signal);
    } catch (err) {
      if (signal.aborted) return;
      item.entries = undefined;
      await this.#save(item, { state: 'failed', error: `Could not hash it: ${errorMessage(err)}` });
    }
  }

  /** Follows an account's status topic (now if the peer runs, else once it starts). */
  #listen(topic: string): void {
    if (!topic.startsWith('/firth/')) return;
    this.#topics.add(topic);
    this.#livePeer?.subscribe(topic);
  }

  /** A verified status message from the service: updates the upload it is about. */
  #onStatusMessage(data: Uint8Array): void {
    const update = parseStatusMessage(data);
    if (update === null) return;
    this.#gossipMessages++;
    this.#lastGossipAt = performance.now();
    const item = this.#items.find((i) => i.record.requestid === update.requestid);
    if (item !== undefined) void this.#apply(item, update);
  }

  /** Applies a pin status to an upload (never moving it out of a final state). */
  async #apply(item: UploadItem, update: PinUpdate): Promise<void> {
    if (item.final || item.record.requestid !== update.requestid) return;
    const patch: Partial<UploadRecord> = {
      state: update.status,
      fetched: Number.isFinite(update.bytes) ? update.bytes : 0
    };
    if (update.status === 'failed') patch.error = update.details ?? 'The service could not pin it.';
    if (update.status === 'pinned') patch.fetched = item.record.dagSize ?? patch.fetched;
    if (update.status !== item.state || patch.fetched !== item.record.fetched) await this.#save(item, patch);
    if (update.status === 'pinned') void this.refreshStorage();
  }

  #ensurePeer(): Promise<BrowserPeer> {
    this.#peer ??= (async () => {
      this.#linkStatus = 'starting';
      try {
        const { createBrowserPeer } = await import('$lib/peer/node');
        const peer = await createBrowserPeer({
          serviceAddrs: async (signal) => {
            const response = await fetch('/api/public/net/addrs', {
              signal,
              headers: { accept: 'application/json' }
            });
            if (!response.ok) throw new Error(`the service answered ${response.status}`);
            return (await response.json()) as { id: string; addresses: string[] };
          },
          onChange: (status) => {
            this.#linkStatus = status;
          },
          onServiceMessage: (_topic, data) => this.#onStatusMessage(data)
        });
        this.#livePeer = peer;
        for (const topic of this.#topics) peer.subscribe(topic);
        this.#peerId = peer.peerId.toString();
        this.#linkStatus = peer.status;
        return peer;
      } catch (err) {
        this.#peerError = `The browser's IPFS node could not start: ${errorMessage(err)}`;
        this.#linkStatus = 'offline';
        this.#peer = undefined;
        throw err;
      }
    })();
    return this.#peer;
  }

  /** Hands a hashed upload to the service and follows its pin until pinned or failed; retries with backoff. */
  #sync(item: UploadItem, signal: AbortSignal): void {
    if (item.syncing || item.cid === undefined) return;
    item.syncing = true;
    void (async () => {
      let failures = 0;
      while (!signal.aborted && !item.final) {
        try {
          const peer = await this.#ensurePeer();
          let status: PinStatus;
          if (item.state === 'hashed') {
            await peer.ready({ signal });
            const pin = { cid: item.cid!, name: item.record.name, origins: peer.addresses().slice(0, 20) };
            const old = item.record.requestid;
            // A retry replaces the failed request; if the service no longer has it, pin afresh.
            status =
              old === undefined
                ? await this.#pinning.add(pin, { signal })
                : await this.#pinning.replace(old, pin, { signal }).catch((err: unknown) => {
                    if (isApiError(err) && err.status === 404) return this.#pinning.add(pin, { signal });
                    throw err;
                  });
            await this.#save(item, { requestid: status.requestid, fetched: 0 });
          } else {
            // The service pulls from this peer: keep the link up while it does.
            peer.reconnect();
            status = await this.#pinning.get(item.record.requestid!, { signal });
          }
          failures = 0;
          const contentId = Number(status.info.content_id);
          if (Number.isSafeInteger(contentId) && contentId > 0 && contentId !== item.record.contentId)
            await this.#save(item, { contentId });
          const topic = status.info.status_topic;
          if (topic !== undefined && topic !== item.record.statusTopic) {
            this.#listen(topic);
            await this.#save(item, { statusTopic: topic });
          }
          const fetched = Number(status.info.dag_size ?? 0);
          await this.#apply(item, {
            requestid: status.requestid,
            status: status.status,
            bytes: Number.isFinite(fetched) ? fetched : 0,
            details: status.info.status_details
          });
          if (!item.final) await sleep(this.gossipLive ? PIN_POLL_GOSSIP_MS : PIN_POLL_MS, signal);
        } catch (err) {
          if (signal.aborted) break;
          if (!transient(err)) {
            const gone = isApiError(err) && err.status === 404 && item.state !== 'hashed';
            await this.#save(item, {
              state: 'failed',
              error: gone ? 'The service no longer has this pin request.' : errorMessage(err)
            });
            break;
          }
          failures++;
          await sleep(Math.min(RECONNECT_MAX_MS, RECONNECT_MIN_MS * 2 ** failures), signal, this.#wakers);
        }
      }
      item.syncing = false;
    })();
  }
}

/** The app's upload queue; the layout starts it for the signed-in account. */
export const uploads = new UploadManager({
  getToken: () => session.token,
  onUnauthorized: () => session.expire()
});
