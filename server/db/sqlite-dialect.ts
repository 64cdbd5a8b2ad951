import { DatabaseSync, type StatementSync } from 'node:sqlite';
import { SqliteDialect, type SqliteDatabase, type SqliteStatement } from 'kysely';

/**
 * Kysely's SqliteDialect expects better-sqlite3's shape; Node's built-in `node:sqlite` is close
 * enough that a few lines bridge it, so the embedded default needs no native addon.
 */
class NodeSqliteStatement implements SqliteStatement {
  readonly reader: boolean;
  readonly #stmt: StatementSync;

  constructor(stmt: StatementSync) {
    this.#stmt = stmt;
    this.reader = stmt.columns().length > 0;
  }

  all(parameters: ReadonlyArray<unknown>): unknown[] {
    return this.#stmt.all(...(parameters as SqlParam[]));
  }

  run(parameters: ReadonlyArray<unknown>): { changes: number | bigint; lastInsertRowid: number | bigint } {
    return this.#stmt.run(...(parameters as SqlParam[]));
  }

  *iterate(parameters: ReadonlyArray<unknown>): IterableIterator<unknown> {
    yield* this.#stmt.iterate(...(parameters as SqlParam[]));
  }
}

type SqlParam = null | number | bigint | string | NodeJS.ArrayBufferView;

export function openSqlite(file: string): { dialect: SqliteDialect; raw: DatabaseSync } {
  const raw = new DatabaseSync(file);
  raw.exec('PRAGMA journal_mode = WAL');
  raw.exec('PRAGMA synchronous = NORMAL');
  raw.exec('PRAGMA foreign_keys = ON');
  raw.exec('PRAGMA busy_timeout = 5000');
  // SQLite's lower() folds ASCII only; the Pinning API's iexact/ipartial need every letter folded
  // the way JavaScript (and PostgreSQL with a UTF-8 locale) does.
  raw.function('lower', { deterministic: true }, (v) => (typeof v === 'string' ? v.toLowerCase() : v));
  const database: SqliteDatabase = {
    close: () => raw.close(),
    prepare: (sql: string) => new NodeSqliteStatement(raw.prepare(sql))
  };
  return { dialect: new SqliteDialect({ database }), raw };
}
