import fs from 'node:fs/promises';
import path from 'node:path';
import { Kysely, Migrator, PostgresDialect } from 'kysely';
import pg from 'pg';
import { migrationProvider, type Dialect } from './migrations.ts';
import type { Database } from './schema.ts';
import { openSqlite } from './sqlite-dialect.ts';

export interface FirthDatabase {
  db: Kysely<Database>;
  dialect: Dialect;
  close(): Promise<void>;
}

export interface OpenDatabaseOptions {
  /** `postgres://…`; unset = SQLite file `firth.sqlite` in dataDir. */
  databaseUrl?: string;
  dataDir: string;
}

export class MigrationError extends Error {
  override name = 'MigrationError';
}

/** Opens the metadata database and applies every pending migration before returning. */
export async function openDatabase(opts: OpenDatabaseOptions): Promise<FirthDatabase> {
  let db: Kysely<Database>;
  let dialect: Dialect;
  if (opts.databaseUrl != null) {
    const pool = new pg.Pool({
      connectionString: opts.databaseUrl,
      max: 10,
      // BIGINT columns hold epoch ms and byte counts, all far below 2^53.
      types: {
        getTypeParser: (oid: number, format?: 'text' | 'binary') =>
          oid === 20 ? (v: string) => Number(v) : pg.types.getTypeParser(oid, format as 'text')
      }
    });
    // An idle pooled connection that the server drops (restart, failover) emits 'error' on the pool;
    // unhandled, that would crash the process. The pool replaces the connection on next use.
    pool.on('error', () => {});
    db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
    dialect = 'postgres';
  } else {
    await fs.mkdir(opts.dataDir, { recursive: true });
    const { dialect: sqlite } = openSqlite(path.join(opts.dataDir, 'firth.sqlite'));
    db = new Kysely<Database>({ dialect: sqlite });
    dialect = 'sqlite';
  }

  const migrator = new Migrator({ db, provider: migrationProvider(dialect) });
  const { error, results } = await migrator.migrateToLatest();
  if (error != null) {
    await db.destroy();
    const failed = results?.find((r) => r.status === 'Error');
    throw new MigrationError(`migration ${failed?.migrationName ?? '?'} failed: ${String(error)}`, {
      cause: error
    });
  }
  return { db, dialect, close: () => db.destroy() };
}
