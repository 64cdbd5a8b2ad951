import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { openDatabase, type FirthDatabase } from '../../server/db/database.ts';
import { createTempPostgres } from './postgres.ts';

export const DATABASES = ['sqlite', 'postgres'] as const;
export type DatabaseKind = (typeof DATABASES)[number];

/** Opens a fresh, migrated database of the given kind; `cleanup()` closes and removes it. */
export async function freshDatabase(
  kind: DatabaseKind
): Promise<FirthDatabase & { cleanup(): Promise<void> }> {
  if (kind === 'sqlite') {
    const dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'firth-db-'));
    const db = await openDatabase({ dataDir });
    return {
      ...db,
      async cleanup() {
        await db.close();
        await fs.rm(dataDir, { recursive: true, force: true });
      }
    };
  }
  const pg = await createTempPostgres();
  const db = await openDatabase({ dataDir: os.tmpdir(), databaseUrl: pg.url });
  return {
    ...db,
    async cleanup() {
      await db.close();
      await pg.drop();
    }
  };
}

/** Service options for a test over the given database kind, and a cleanup for it. */
export async function serviceDatabase(
  kind: DatabaseKind
): Promise<{ databaseUrl?: string; drop(): Promise<void> }> {
  if (kind === 'sqlite') return { drop: async () => {} };
  const pg = await createTempPostgres();
  return { databaseUrl: pg.url, drop: pg.drop };
}
