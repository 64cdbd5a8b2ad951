import type { Generated, Insertable, Selectable, Updateable } from 'kysely';

/**
 * The metadata schema, shared by SQLite and PostgreSQL. Times are epoch milliseconds (BIGINT) and
 * flags are explicit state columns, so both databases store the same values.
 */
export interface Database {
  users: UsersTable;
  auth_tokens: AuthTokensTable;
  invite_codes: InviteCodesTable;
  contents: ContentsTable;
  content_meta: ContentMetaTable;
  jobs: JobsTable;
}

export interface ContentMetaTable {
  content_id: number;
  key: string;
  value: string;
}

export const PERM_UPLOAD = 1;
export const PERM_USER = 2;
export const PERM_ADMIN = 10;

export interface UsersTable {
  id: Generated<number>;
  username: string;
  password_hash: string;
  perm: number;
  created_at: number;
}

export interface AuthTokensTable {
  id: Generated<number>;
  /** base64url(SHA-256(token)): the token itself is never stored. */
  token_hash: string;
  user_id: number;
  label: string;
  expiry: number;
  /** 'all' or 'upload' (upload-only API keys). */
  scope: 'all' | 'upload';
  /** 'session' (from login/register) or 'api-key'. */
  kind: 'session' | 'api-key';
  created_at: number;
}

export interface InviteCodesTable {
  id: Generated<number>;
  code: string;
  created_by: number | null;
  claimed_by: number | null;
  /** 1 when the account registered with it becomes an admin. */
  grants_admin: number;
  created_at: number;
}

/**
 * Pin states of the IPFS Pinning Service API; `removed` is a soft delete (the row is kept for
 * history and so requestids are never reused).
 */
export type PinStatus = 'queued' | 'pinning' | 'pinned' | 'failed' | 'removed';

export interface ContentsTable {
  id: Generated<number>;
  /** The Pinning Service API requestid (UUID). */
  request_id: string;
  user_id: number;
  cid: string;
  name: string;
  /** File size for uploads; DAG bytes for pins until known otherwise. */
  size: number;
  /** Sum of the DAG's block sizes, filled as blocks arrive. */
  dag_size: number;
  /** Blocks held so far (pin progress). */
  blocks: number;
  /** 0 unknown, 1 file, 2 directory (Estuary's values). */
  type: number;
  replication: number;
  pin_status: PinStatus;
  /** JSON array of multiaddrs given as origins. */
  origins: string;
  /** JSON object of string → string (Pinning API `meta`). */
  pin_meta: string;
  /** Why a pin failed, in words. */
  status_details: string;
  /** Globally unique creation time in ms, the Pinning API's paging key. */
  created_at: number;
  updated_at: number;
}

export type JobState = 'ready' | 'running' | 'done' | 'failed';

/** A durable work queue: rows are claimed with a lease, so a crash or a second node loses nothing. */
export interface JobsTable {
  id: Generated<number>;
  kind: string;
  content_id: number;
  state: JobState;
  attempts: number;
  run_after: number;
  lease_owner: string | null;
  lease_expires_at: number | null;
  last_error: string | null;
  created_at: number;
  updated_at: number;
}

export type User = Selectable<UsersTable>;
export type AuthToken = Selectable<AuthTokensTable>;
export type InviteCode = Selectable<InviteCodesTable>;
export type Content = Selectable<ContentsTable>;
export type NewContent = Insertable<ContentsTable>;
export type ContentUpdate = Updateable<ContentsTable>;
export type Job = Selectable<JobsTable>;
