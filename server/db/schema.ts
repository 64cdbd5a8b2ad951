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
  providers: ProvidersTable;
  pieces: PiecesTable;
  piece_members: PieceMembersTable;
  deals: DealsTable;
  deal_events: DealEventsTable;
  bandwidth_minute: BandwidthMinuteTable;
  bandwidth_hour: BandwidthHourTable;
  bandwidth_totals: BandwidthTotalsTable;
  retrievals: RetrievalsTable;
  offloaded_blocks: OffloadedBlocksTable;
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
  /** When its local blocks were dropped (Filecoin deals hold it); null = held here. */
  offloaded_at: Generated<number | null>;
  /** Last gateway read, for the offload policy; null = never read. */
  last_read_at: Generated<number | null>;
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

/** Columns of rows that are also work items, claimed with a lease (see filecoin/store/leases.ts). */
interface LeasedRow {
  next_run_at: number;
  attempts: number;
  lease_owner: string | null;
  lease_expires_at: number | null;
  created_at: number;
  updated_at: number;
}

export interface ProvidersTable {
  id: Generated<number>;
  /** The miner actor ID number (f0<id> / t0<id>). */
  actor_id: number;
  peer_id: string;
  /** JSON array of multiaddr strings, from StateMinerInfo. */
  multiaddrs: string;
  state: 'active' | 'suspended';
  suspend_reason: string;
  /** 'devnet' providers are added automatically when the service runs the local devnet. */
  source: 'admin' | 'devnet';
  /** JSON of the last StorageAsk (prices as decimal attoFIL strings). */
  ask: string | null;
  ask_fetched_at: number | null;
  ask_error: string;
  created_at: number;
  updated_at: number;
}

/**
 * A piece is what a deal stores: one content's CAR ('single'), one deal-sized part of a content too
 * large for one piece ('shard'), or an FRC-0058 aggregate of small contents ('aggregate', 'open'
 * while it collects).
 */
export type PieceState = 'open' | 'preparing' | 'ready' | 'failed';

export interface PiecesTable extends LeasedRow {
  id: Generated<number>;
  kind: 'single' | 'aggregate' | 'shard';
  state: PieceState;
  content_id: number | null;
  shard_index: number | null;
  /** Shards: index of the first CAR block (DFS order over the content's DAG) and how many blocks. */
  shard_first_block: number | null;
  shard_block_count: number | null;
  /** The DealDataRoot sent to providers. */
  root_cid: string | null;
  /** CommP (baga…), padded piece size and payload bytes, once prepared. */
  piece_cid: string | null;
  piece_size: number | null;
  payload_size: number | null;
  /** Replicas wanted (the highest replication among its contents). */
  replication: number;
  items: number;
  bytes: number;
  last_error: string;
}

export interface PieceMembersTable {
  piece_id: number;
  position: number;
  content_id: number;
  /** Where the member's bytes start in the piece payload (aggregates) and how many. */
  byte_offset: number;
  size: number;
  segment_piece_cid: string | null;
  /** JSON inclusion proof (FRC-0058) for members of aggregates. */
  proof: string | null;
  added_at: number;
}

/**
 * One storage deal with one provider, as an explicit state machine:
 * proposing → accepted → transferring → transferred → published → active,
 * or failed (with the phase it failed in) / slashed / expired.
 */
export type DealState =
  | 'proposing'
  | 'accepted'
  | 'transferring'
  | 'transferred'
  | 'published'
  | 'active'
  | 'failed'
  | 'slashed'
  | 'expired';

export interface DealsTable extends LeasedRow {
  id: Generated<number>;
  piece_id: number;
  provider_actor: number;
  /** The Boost deal UUID, chosen and stored before the proposal is sent (so a crash never duplicates). */
  uuid: string;
  state: DealState;
  failed_phase: string | null;
  message: string;
  verified: number;
  label: string;
  start_epoch: number | null;
  end_epoch: number | null;
  price_per_epoch: string;
  provider_collateral: string;
  /** The signed ClientDealProposal as hex CBOR, so a resend carries the identical proposal. */
  proposal: string | null;
  proposal_cid: string | null;
  signed_proposal_cid: string | null;
  chain_deal_id: number | null;
  publish_cid: string | null;
  sector_start_epoch: number | null;
  /** base64url(SHA-256) of the per-deal bearer token for the deal-data endpoint. */
  transfer_token_hash: string | null;
  transfer_size: number;
  bytes_received: number;
  accepted_at: number | null;
  /** When the transfer started (the provider pulling the data); null until seen. */
  transfer_started_at: number | null;
  transferred_at: number | null;
  published_at: number | null;
  activated_at: number | null;
  ended_at: number | null;
}

export interface DealEventsTable {
  id: Generated<number>;
  deal_id: number | null;
  provider_actor: number;
  /** proposed, accepted, rejected, transferred, published, activated, failed, slashed, expired, … */
  kind: string;
  ok: number;
  phase: string;
  message: string;
  at: number;
}

export type Provider = Selectable<ProvidersTable>;
export type Piece = Selectable<PiecesTable>;
export type PieceMember = Selectable<PieceMembersTable>;
export type Deal = Selectable<DealsTable>;
export type DealEvent = Selectable<DealEventsTable>;

/** Bytes moved in one minute (or hour) on one channel for one content/user/peer (0 or '' = none). */
interface BandwidthRow {
  channel: string;
  content_id: number;
  user_id: number;
  peer: string;
  bytes: number;
  events: number;
}

export interface BandwidthMinuteTable extends BandwidthRow {
  /** Start of the minute, epoch ms. */
  minute: number;
}

export interface BandwidthHourTable extends BandwidthRow {
  /** Start of the hour, epoch ms. */
  hour: number;
}

export interface BandwidthTotalsTable {
  channel: string;
  bytes: number;
  events: number;
}

/** One attempt to fetch a content's DAG back from one provider (Case B retrieval). */
export interface RetrievalsTable {
  id: Generated<number>;
  content_id: number;
  root_cid: string;
  provider_actor: number | null;
  provider_url: string;
  transport: 'http-car' | 'http-piece' | 'bitswap';
  state: 'running' | 'done' | 'failed';
  bytes: number;
  blocks: number;
  ttfb_ms: number | null;
  duration_ms: number | null;
  error: string;
  started_at: number;
  ended_at: number | null;
}

export type Retrieval = Selectable<RetrievalsTable>;

/** A block dropped by offloading, and the content it was dropped for (migration 0006). */
export interface OffloadedBlocksTable {
  content_id: number;
  block: string;
}
