// When content was last read (the offload policy's clock): the gateway reports each response's
// root; one UPDATE per root per minute at most, so hot content costs no database load.
import type { Kysely } from 'kysely';
import type { CID } from 'multiformats/cid';
import type { Database } from '../../server/db/schema.ts';

export interface ReadTracker {
  touch(root: CID): void;
  flush(): Promise<void>;
}

const EVERY_MS = 60_000;

export function createReadTracker(
  db: Kysely<Database>,
  log?: { warn(o: object, m: string): void }
): ReadTracker {
  const lastWrite = new Map<string, number>();
  let writing: Promise<void> = Promise.resolve();
  return {
    touch(root) {
      const now = Date.now();
      const text = root.toString();
      const last = lastWrite.get(text);
      if (last != null && now - last < EVERY_MS) return;
      lastWrite.set(text, now);
      if (lastWrite.size > 100_000) lastWrite.clear();
      const forms = [...new Set([text, root.toV1().toString()])];
      writing = writing
        .then(() => db.updateTable('contents').set({ last_read_at: now }).where('cid', 'in', forms).execute())
        .then(
          () => undefined,
          (err: unknown) => log?.warn({ err }, 'could not record a read')
        );
    },
    flush: () => writing
  };
}
