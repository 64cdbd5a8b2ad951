import { multiaddr } from '@multiformats/multiaddr';
import type { Kysely } from 'kysely';
import { CID } from 'multiformats/cid';
import type { FirthPeer } from '../../relay/peer.ts';
import { collectBytes } from '../content/bytes.ts';
import { describeRoot, walkDag } from '../content/dag.ts';
import type { Database, Job } from '../db/schema.ts';
import type { JobQueue } from '../jobs/queue.ts';
import type { Logger } from '../log.ts';

export const PIN_JOB = 'pin';

export interface PinnerInit {
  db: Kysely<Database>;
  queue: JobQueue;
  peer: FirthPeer;
  log: Logger;
  /** Pins fetched at once. */
  concurrency: number;
  /** A pin that has not got all its blocks by then fails. */
  timeoutMs: number;
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
    this.#loop = this.#run();
  }

  /** Stops claiming, aborts fetches in flight and hands their jobs back to the queue. */
  async stop(): Promise<void> {
    this.#running = false;
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
    await db
      .updateTable('contents')
      .set({ pin_status: 'pinning', updated_at: Date.now() })
      .where('id', '=', content.id)
      .where('pin_status', 'in', ['queued', 'pinning'])
      .execute();

    const root = CID.parse(content.cid);
    const signal = AbortSignal.any([ctl.signal, AbortSignal.timeout(timeoutMs)]);
    const origins = JSON.parse(content.origins) as string[];
    await Promise.allSettled(
      origins.map((addr) =>
        peer.libp2p.dial(multiaddr(addr), { signal: AbortSignal.any([signal, AbortSignal.timeout(10_000)]) })
      )
    );

    let rootBytes: Uint8Array | undefined;
    let last = { blocks: 0, bytes: 0 };
    // Progress and lease renewal once a second; a removed pin or a lost lease stops the fetch.
    const ticker = setInterval(() => {
      void (async () => {
        await db
          .updateTable('contents')
          .set({ blocks: last.blocks, dag_size: last.bytes, updated_at: Date.now() })
          .where('id', '=', content.id)
          .execute();
        const current = await db
          .selectFrom('contents')
          .select('pin_status')
          .where('id', '=', content.id)
          .executeTakeFirst();
        if (current == null || current.pin_status === 'removed') ctl.abort(new Error('pin removed'));
        else if (!(await queue.renew(job.id))) ctl.abort(new Error('lease lost'));
      })().catch((err) => log.warn({ err }, 'pin progress update failed'));
    }, 1000);

    try {
      const total = await walkDag(
        root,
        async (cid, o) => {
          const bytes = await collectBytes(peer.blockstore.get(cid, { signal: o.signal }));
          if (cid.equals(root)) rootBytes = bytes;
          return bytes;
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
      log.info({ content: content.id, cid: content.cid, blocks: total.blocks, bytes: total.bytes }, 'pinned');
    } catch (err) {
      if (ctl.signal.aborted) {
        // Shutdown, removal or a lost lease: not a failure of the pin itself.
        if (String(ctl.signal.reason).includes('pin removed'))
          await queue.finish(db, job.id, { state: 'done' });
        return;
      }
      const details = signal.aborted
        ? `timed out after ${Math.round(timeoutMs / 1000)} s with ${last.blocks} blocks (${last.bytes} bytes) fetched: no peer provided the rest`
        : `could not fetch the DAG: ${(err as Error).message}`;
      await db.transaction().execute(async (tx) => {
        await tx
          .updateTable('contents')
          .set({
            pin_status: 'failed',
            status_details: details,
            blocks: last.blocks,
            dag_size: last.bytes,
            updated_at: Date.now()
          })
          .where('id', '=', content.id)
          .where('pin_status', '=', 'pinning')
          .execute();
        await queue.finish(tx, job.id, { state: 'failed', error: details });
      });
      log.warn({ content: content.id, cid: content.cid, details }, 'pin failed');
    } finally {
      clearInterval(ticker);
    }
  }
}
