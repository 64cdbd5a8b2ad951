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
    },
    '0002_filecoin': {
      async up(db) {
        // Lease columns shared by the rows that are also work items (pieces, deals): a worker claims
        // a row by setting lease_owner/lease_expires_at, so a crashed node's work is picked up again.
        const leased = <T extends ReturnType<typeof id>>(table: T) =>
          table
            .addColumn('next_run_at', 'bigint', (c) => c.notNull())
            .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
            .addColumn('lease_owner', 'text')
            .addColumn('lease_expires_at', 'bigint')
            .addColumn('created_at', 'bigint', (c) => c.notNull())
            .addColumn('updated_at', 'bigint', (c) => c.notNull());

        await id(db, 'providers')
          .addColumn('actor_id', 'bigint', (c) => c.notNull().unique())
          .addColumn('peer_id', 'text', (c) => c.notNull().defaultTo(''))
          .addColumn('multiaddrs', 'text', (c) => c.notNull().defaultTo('[]'))
          .addColumn('state', 'text', (c) => c.notNull().check(sql`state in ('active', 'suspended')`))
          .addColumn('suspend_reason', 'text', (c) => c.notNull().defaultTo(''))
          .addColumn('source', 'text', (c) => c.notNull().check(sql`source in ('admin', 'devnet')`))
          .addColumn('ask', 'text')
          .addColumn('ask_fetched_at', 'bigint')
          .addColumn('ask_error', 'text', (c) => c.notNull().defaultTo(''))
          .addColumn('created_at', 'bigint', (c) => c.notNull())
          .addColumn('updated_at', 'bigint', (c) => c.notNull())
          .execute();

        await leased(
          id(db, 'pieces')
            .addColumn('kind', 'text', (c) =>
              c.notNull().check(sql`kind in ('single', 'aggregate', 'shard')`)
            )
            .addColumn('state', 'text', (c) =>
              c.notNull().check(sql`state in ('open', 'preparing', 'ready', 'failed')`)
            )
            .addColumn('content_id', 'bigint', (c) => c.references('contents.id').onDelete('cascade'))
            .addColumn('shard_index', 'integer')
            .addColumn('root_cid', 'text')
            .addColumn('piece_cid', 'text')
            .addColumn('piece_size', 'bigint')
            .addColumn('payload_size', 'bigint')
            .addColumn('replication', 'integer', (c) => c.notNull())
            .addColumn('items', 'integer', (c) => c.notNull().defaultTo(0))
            .addColumn('bytes', 'bigint', (c) => c.notNull().defaultTo(0))
            .addColumn('last_error', 'text', (c) => c.notNull().defaultTo(''))
        ).execute();
        await db.schema.createIndex('pieces_work').on('pieces').columns(['state', 'next_run_at']).execute();
        await db.schema.createIndex('pieces_piece_cid').on('pieces').column('piece_cid').execute();

        // Which content each piece carries, where, and (for aggregates) its inclusion proof.
        await db.schema
          .createTable('piece_members')
          .addColumn('piece_id', 'bigint', (c) => c.notNull().references('pieces.id').onDelete('cascade'))
          .addColumn('position', 'integer', (c) => c.notNull())
          .addColumn('content_id', 'bigint', (c) => c.notNull().references('contents.id').onDelete('cascade'))
          .addColumn('byte_offset', 'bigint', (c) => c.notNull().defaultTo(0))
          .addColumn('size', 'bigint', (c) => c.notNull().defaultTo(0))
          .addColumn('segment_piece_cid', 'text')
          .addColumn('proof', 'text')
          .addColumn('added_at', 'bigint', (c) => c.notNull())
          .addPrimaryKeyConstraint('piece_members_pk', ['piece_id', 'position'])
          .execute();
        await db.schema
          .createIndex('piece_members_content')
          .on('piece_members')
          .column('content_id')
          .execute();

        await leased(
          id(db, 'deals')
            .addColumn('piece_id', 'bigint', (c) => c.notNull().references('pieces.id').onDelete('cascade'))
            .addColumn('provider_actor', 'bigint', (c) => c.notNull())
            .addColumn('uuid', 'text', (c) => c.notNull().unique())
            .addColumn('state', 'text', (c) =>
              c
                .notNull()
                .check(
                  sql`state in ('proposing', 'accepted', 'transferring', 'transferred', 'published', 'active', 'failed', 'slashed', 'expired')`
                )
            )
            .addColumn('failed_phase', 'text')
            .addColumn('message', 'text', (c) => c.notNull().defaultTo(''))
            .addColumn('verified', 'integer', (c) => c.notNull().defaultTo(0))
            .addColumn('label', 'text', (c) => c.notNull().defaultTo(''))
            .addColumn('start_epoch', 'bigint')
            .addColumn('end_epoch', 'bigint')
            .addColumn('price_per_epoch', 'text', (c) => c.notNull().defaultTo('0'))
            .addColumn('provider_collateral', 'text', (c) => c.notNull().defaultTo('0'))
            .addColumn('proposal', 'text')
            .addColumn('proposal_cid', 'text')
            .addColumn('signed_proposal_cid', 'text')
            .addColumn('chain_deal_id', 'bigint')
            .addColumn('publish_cid', 'text')
            .addColumn('sector_start_epoch', 'bigint')
            .addColumn('transfer_token_hash', 'text')
            .addColumn('transfer_size', 'bigint', (c) => c.notNull().defaultTo(0))
            .addColumn('bytes_received', 'bigint', (c) => c.notNull().defaultTo(0))
            .addColumn('accepted_at', 'bigint')
            .addColumn('transferred_at', 'bigint')
            .addColumn('published_at', 'bigint')
            .addColumn('activated_at', 'bigint')
            .addColumn('ended_at', 'bigint')
        ).execute();
        await db.schema.createIndex('deals_work').on('deals').columns(['state', 'next_run_at']).execute();
        await db.schema.createIndex('deals_piece').on('deals').column('piece_id').execute();
        await db.schema
          .createIndex('deals_provider')
          .on('deals')
          .columns(['provider_actor', 'created_at'])
          .execute();
        await db.schema.createIndex('deals_chain_id').on('deals').column('chain_deal_id').execute();

        // Every step of every deal, good or bad: the provider log and Estuary's failure records.
        await id(db, 'deal_events')
          .addColumn('deal_id', 'bigint', (c) => c.references('deals.id').onDelete('set null'))
          .addColumn('provider_actor', 'bigint', (c) => c.notNull())
          .addColumn('kind', 'text', (c) => c.notNull())
          .addColumn('ok', 'integer', (c) => c.notNull())
          .addColumn('phase', 'text', (c) => c.notNull().defaultTo(''))
          .addColumn('message', 'text', (c) => c.notNull().defaultTo(''))
          .addColumn('at', 'bigint', (c) => c.notNull())
          .execute();
        await db.schema
          .createIndex('deal_events_provider')
          .on('deal_events')
          .columns(['provider_actor', 'at'])
          .execute();
        await db.schema.createIndex('deal_events_at').on('deal_events').columns(['ok', 'at']).execute();
        await db.schema.createIndex('deal_events_deal').on('deal_events').column('deal_id').execute();
        await db.schema.createIndex('deals_created').on('deals').column('created_at').execute();
      }
    },
    '0004_bandwidth': {
      async up(db) {
        // Bytes moved per channel, content, user and peer, summed per minute and per hour by the
        // bandwidth meter (server/metrics/bandwidth.ts). 0 / '' stand for "none" so the key is a
        // primary key on both databases (PostgreSQL key columns cannot be null).
        for (const [table, time] of [
          ['bandwidth_minute', 'minute'],
          ['bandwidth_hour', 'hour']
        ] as const) {
          await db.schema
            .createTable(table)
            .addColumn(time, 'bigint', (c) => c.notNull())
            .addColumn('channel', 'text', (c) => c.notNull())
            .addColumn('content_id', 'bigint', (c) => c.notNull().defaultTo(0))
            .addColumn('user_id', 'bigint', (c) => c.notNull().defaultTo(0))
            .addColumn('peer', 'text', (c) => c.notNull().defaultTo(''))
            .addColumn('bytes', 'bigint', (c) => c.notNull().defaultTo(0))
            .addColumn('events', 'bigint', (c) => c.notNull().defaultTo(0))
            .addPrimaryKeyConstraint(`${table}_pk`, [time, 'channel', 'content_id', 'user_id', 'peer'])
            .execute();
          await db.schema.createIndex(`${table}_content`).on(table).columns(['content_id', time]).execute();
          await db.schema.createIndex(`${table}_user`).on(table).columns(['user_id', time]).execute();
        }
        // Running totals per channel, so node-wide figures never sum the whole history.
        await db.schema
          .createTable('bandwidth_totals')
          .addColumn('channel', 'text', (c) => c.primaryKey())
          .addColumn('bytes', 'bigint', (c) => c.notNull().defaultTo(0))
          .addColumn('events', 'bigint', (c) => c.notNull().defaultTo(0))
          .execute();
      }
    },
    '0003_retrieval_offload': {
      async up(db) {
        // Offloaded content keeps pin_status 'pinned' (as Estuary did); these say whether its blocks
        // are held and when it was last read (the offload policy's clock).
        await db.schema.alterTable('contents').addColumn('offloaded_at', 'bigint').execute();
        await db.schema.alterTable('contents').addColumn('last_read_at', 'bigint').execute();
        await id(db, 'retrievals')
          .addColumn('content_id', 'bigint', (c) => c.notNull().references('contents.id').onDelete('cascade'))
          .addColumn('root_cid', 'text', (c) => c.notNull())
          .addColumn('provider_actor', 'bigint')
          .addColumn('provider_url', 'text', (c) => c.notNull().defaultTo(''))
          .addColumn('transport', 'text', (c) =>
            c.notNull().check(sql`transport in ('http-car', 'http-piece', 'bitswap')`)
          )
          .addColumn('state', 'text', (c) => c.notNull().check(sql`state in ('running', 'done', 'failed')`))
          .addColumn('bytes', 'bigint', (c) => c.notNull().defaultTo(0))
          .addColumn('blocks', 'bigint', (c) => c.notNull().defaultTo(0))
          .addColumn('ttfb_ms', 'integer')
          .addColumn('duration_ms', 'integer')
          .addColumn('error', 'text', (c) => c.notNull().defaultTo(''))
          .addColumn('started_at', 'bigint', (c) => c.notNull())
          .addColumn('ended_at', 'bigint')
          .execute();
        await db.schema
          .createIndex('retrievals_content')
          .on('retrievals')
          .columns(['content_id', 'started_at'])
          .execute();
        await db.schema.createIndex('retrievals_started').on('retrievals').column('started_at').execute();
      }
    },
    '0005_shards': {
      async up(db) {
        // A shard piece carries a consecutive run of its content's CAR blocks (DFS order): the index
        // of its first block and how many, so its payload can be produced again byte for byte.
        await db.schema.alterTable('pieces').addColumn('shard_first_block', 'bigint').execute();
        await db.schema.alterTable('pieces').addColumn('shard_block_count', 'bigint').execute();
      }
    },
    '0006_offloaded_blocks': {
      async up(db) {
        // Which offloaded content each dropped block belongs to, so a request for a block (not a
        // root) — a bitswap want, a deal transfer being repaired — can retrieve the right content.
        // `block` is the multihash in base64, as filecoin/retrieval/dag.ts keys blocks.
        await db.schema
          .createTable('offloaded_blocks')
          .addColumn('content_id', 'bigint', (c) => c.notNull().references('contents.id').onDelete('cascade'))
          .addColumn('block', 'text', (c) => c.notNull())
          .addPrimaryKeyConstraint('offloaded_blocks_pk', ['content_id', 'block'])
          .execute();
        await db.schema
          .createIndex('offloaded_blocks_block')
          .on('offloaded_blocks')
          .column('block')
          .execute();
      }
    },
    '0007_relayout_duplicate_aggregates': {
      async up(db) {
        // Aggregates laid out before each segment piece was held once (filecoin/pieces/aggregate.ts)
        // never matched their CommP when they carried the same content twice: every deal failed
        // with "commP mismatch". Those failures were the piece's, not the providers' (phase
        // 'client', out of their scores); deals still in flight for them are ended, and the piece
        // is prepared again, laid out right.
        const broken = sql`(select pm.piece_id from piece_members pm
            join contents c on c.id = pm.content_id
            group by pm.piece_id, c.cid having count(*) > 1)`;
        const now = Date.now();
        await sql`update deals set failed_phase = 'client'
          where state = 'failed' and message like '%commP mismatch%' and piece_id in ${broken}
          and piece_id in (select id from pieces where kind = 'aggregate' and state = 'ready')`.execute(db);
        await sql`update deals set state = 'failed', failed_phase = 'client', ended_at = ${now},
            updated_at = ${now}, lease_owner = null, lease_expires_at = null,
            message = 'the piece is laid out again: it held the same content twice'
          where state in ('proposing', 'accepted', 'transferring', 'transferred')
          and piece_id in ${broken}
          and piece_id in (select id from pieces where kind = 'aggregate' and state = 'ready')`.execute(db);
        await sql`update pieces set state = 'preparing', attempts = 0, next_run_at = ${now},
            lease_owner = null, lease_expires_at = null, updated_at = ${now},
            last_error = 'laid out again: it held the same content twice'
          where kind = 'aggregate' and state = 'ready' and id in ${broken}`.execute(db);
      }
    },
    '0008_deal_timeline': {
      async up(db) {
        // When the provider started pulling the deal's data: the timeline's "transferring" step.
        await db.schema.alterTable('deals').addColumn('transfer_started_at', 'bigint').execute();
        // Deals recorded before every step got a time: a step the worker jumped over took place no
        // later than the next step it saw, so that next step's time is the best one known.
        await sql`update deals set published_at = activated_at
          where published_at is null and activated_at is not null`.execute(db);
        await sql`update deals set transferred_at = coalesce(published_at, activated_at)
          where transferred_at is null and coalesce(published_at, activated_at) is not null`.execute(db);
        await sql`update deals set transfer_started_at = coalesce(accepted_at, transferred_at)
          where transfer_started_at is null
            and (transferred_at is not null or state = 'transferring')`.execute(db);
        await sql`update deals set accepted_at = transfer_started_at
          where accepted_at is null and transfer_started_at is not null`.execute(db);
      }
    }
  };
}

export function migrationProvider(dialect: Dialect): MigrationProvider {
  return { getMigrations: async () => migrations(dialect) };
}
