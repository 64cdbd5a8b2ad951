import { sql, type Kysely, type Migration, type MigrationProvider } from 'kysely';

export type Dialect = 'sqlite' | 'postgres';

/**
 * Versioned migrations, one list for both databases. Append new ones; never edit a shipped one.
 * Only the id column differs between dialects.
 */
export function migrations(dialect: Dialect): Record<string, Migration> {
  const id = (db: Kysely<unknown>, table: string) =>
    dialect === 'postgres'
      ? db.schema.createTable(table).addColumn('id', 'bigserial', (c) => c.primaryKey())
      : db.schema.createTable(table).addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement());

  return {
    '0001_accounts_content_jobs': {
      async up(db) {
        await id(db, 'users')
          .addColumn('username', 'text', (c) => c.notNull().unique())
          .addColumn('password_hash', 'text', (c) => c.notNull())
          .addColumn('perm', 'integer', (c) => c.notNull())
          .addColumn('created_at', 'bigint', (c) => c.notNull())
          .execute();

        await id(db, 'auth_tokens')
          .addColumn('token_hash', 'text', (c) => c.notNull().unique())
          .addColumn('user_id', 'bigint', (c) => c.notNull().references('users.id').onDelete('cascade'))
          .addColumn('label', 'text', (c) => c.notNull().defaultTo(''))
          .addColumn('expiry', 'bigint', (c) => c.notNull())
          .addColumn('scope', 'text', (c) => c.notNull().check(sql`scope in ('all', 'upload')`))
          .addColumn('kind', 'text', (c) => c.notNull().check(sql`kind in ('session', 'api-key')`))
          .addColumn('created_at', 'bigint', (c) => c.notNull())
          .execute();
        await db.schema.createIndex('auth_tokens_user').on('auth_tokens').column('user_id').execute();

        await id(db, 'invite_codes')
          .addColumn('code', 'text', (c) => c.notNull().unique())
          .addColumn('created_by', 'bigint', (c) => c.references('users.id').onDelete('set null'))
          .addColumn('claimed_by', 'bigint', (c) => c.references('users.id').onDelete('set null'))
          .addColumn('grants_admin', 'integer', (c) => c.notNull().defaultTo(0))
          .addColumn('created_at', 'bigint', (c) => c.notNull())
          .execute();

        await id(db, 'contents')
          .addColumn('request_id', 'text', (c) => c.notNull().unique())
          .addColumn('user_id', 'bigint', (c) => c.notNull().references('users.id').onDelete('cascade'))
          .addColumn('cid', 'text', (c) => c.notNull())
          .addColumn('name', 'text', (c) => c.notNull().defaultTo(''))
          .addColumn('size', 'bigint', (c) => c.notNull().defaultTo(0))
          .addColumn('dag_size', 'bigint', (c) => c.notNull().defaultTo(0))
          .addColumn('blocks', 'bigint', (c) => c.notNull().defaultTo(0))
          .addColumn('type', 'integer', (c) => c.notNull().defaultTo(0))
          .addColumn('replication', 'integer', (c) => c.notNull())
          .addColumn('pin_status', 'text', (c) =>
            c.notNull().check(sql`pin_status in ('queued', 'pinning', 'pinned', 'failed', 'removed')`)
          )
          .addColumn('origins', 'text', (c) => c.notNull().defaultTo('[]'))
          .addColumn('pin_meta', 'text', (c) => c.notNull().defaultTo('{}'))
          .addColumn('status_details', 'text', (c) => c.notNull().defaultTo(''))
          .addColumn('created_at', 'bigint', (c) => c.notNull().unique())
          .addColumn('updated_at', 'bigint', (c) => c.notNull())
          .execute();
        await db.schema
          .createIndex('contents_user_created')
          .on('contents')
          .columns(['user_id', 'created_at'])
          .execute();
        await db.schema.createIndex('contents_cid').on('contents').column('cid').execute();

        // Pinning API `meta`, one row per key, so `?meta=` filters in SQL on both databases.
        await db.schema
          .createTable('content_meta')
          .addColumn('content_id', 'bigint', (c) => c.notNull().references('contents.id').onDelete('cascade'))
          .addColumn('key', 'text', (c) => c.notNull())
          .addColumn('value', 'text', (c) => c.notNull())
          .addPrimaryKeyConstraint('content_meta_pk', ['content_id', 'key'])
          .execute();
        await db.schema.createIndex('content_meta_kv').on('content_meta').columns(['key', 'value']).execute();

        await id(db, 'jobs')
          .addColumn('kind', 'text', (c) => c.notNull())
          .addColumn('content_id', 'bigint', (c) => c.notNull().references('contents.id').onDelete('cascade'))
          .addColumn('state', 'text', (c) =>
            c.notNull().check(sql`state in ('ready', 'running', 'done', 'failed')`)
          )
          .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
          .addColumn('run_after', 'bigint', (c) => c.notNull())
          .addColumn('lease_owner', 'text')
          .addColumn('lease_expires_at', 'bigint')
          .addColumn('last_error', 'text')
          .addColumn('created_at', 'bigint', (c) => c.notNull())
          .addColumn('updated_at', 'bigint', (c) => c.notNull())
          .execute();
        await db.schema
          .createIndex('jobs_claim')
          .on('jobs')
          .columns(['kind', 'state', 'run_after'])
          .execute();
        await db.schema.createIndex('jobs_content').on('jobs').column('content_id').execute();
      }
    }
  };
}

export function migrationProvider(dialect: Dialect): MigrationProvider {
  return { getMigrations: async () => migrations(dialect) };
}
