// Read-only views of the deal pipeline for the API: a content's deals (content → piece_members →
// pieces → deals), one deal for its owner, failure logs, and the public deals-on-chain metrics.
// Every list is paged and bounded; ownership is `contents.user_id`, and someone else's deal answers
// exactly like a deal that does not exist.
import { sql, type Kysely } from 'kysely';
import type { Database, DealState, PieceState } from '../../server/db/schema.ts';
import { InvalidInputError, NotFoundError } from '../../server/errors.ts';
import { FINAL, IN_FLIGHT } from './states.ts';

/** Lists never return more than this many rows per page. */
export const MAX_PAGE = 500;
export const DEFAULT_PAGE = 100;
/** A content spread over many shards still has a bounded number of deal rows we show. */
const MAX_DEALS_PER_CONTENT = 1000;
const DAY_MS = 86_400_000;

/** One deal row with the piece it stores. */
export interface DealRecord {
  id: number;
  pieceId: number;
  provider: number;
  uuid: string;
  state: DealState;
  failedPhase: string | null;
  message: string;
  verified: boolean;
  startEpoch: number | null;
  endEpoch: number | null;
  pricePerEpoch: string;
  proposalCid: string | null;
  signedProposalCid: string | null;
  chainDealId: number | null;
  publishCid: string | null;
  sectorStartEpoch: number | null;
  transferSize: number;
  bytesReceived: number;
  createdAt: number;
  updatedAt: number;
  acceptedAt: number | null;
  transferStartedAt: number | null;
  transferredAt: number | null;
  publishedAt: number | null;
  activatedAt: number | null;
  endedAt: number | null;
  piece: {
    kind: 'single' | 'aggregate' | 'shard';
    pieceCid: string | null;
    pieceSize: number | null;
  };
}

export interface PieceRecord {
  id: number;
  kind: 'single' | 'aggregate' | 'shard';
  state: PieceState;
  pieceCid: string | null;
  pieceSize: number | null;
  payloadSize: number | null;
  shardIndex: number | null;
  /** Shards: the shard CAR's root, its first block in the content's CAR order and how many blocks. */
  rootCid: string | null;
  firstBlock: number | null;
  blockCount: number | null;
  replication: number;
  items: number;
  lastError: string;
}

/** Where a content's deals stand against its replication target. */
export interface DealSummary {
  /** Replicas wanted (the content's replication). */
  target: number;
  /** Active deals, for the piece with the fewest (a content split in shards is only as safe as its weakest shard). */
  active: number;
  inFlight: number;
  failed: number;
  slashed: number;
  expired: number;
  /** All deal rows ever made for this content's pieces. */
  total: number;
  pieces: number;
  /** True when the content sits in an aggregate with other contents. */
  aggregated: boolean;
  /**
   * Why no more deals are being made for one of the content's pieces (it could not be prepared,
   * or every provider failed it the same way), or null: "deals failing", and an admin alert.
   */
  failing: string | null;
}

/** A piece no more deals are made for, as the admin alert shows it. */
export interface FailingPiece {
  pieceId: number;
  kind: 'single' | 'aggregate' | 'shard';
  pieceCid: string | null;
  reason: string;
  /** Contents in the piece (each is shown "deals failing"). */
  contents: number;
  at: number;
}

export interface InclusionRecord {
  position: number;
  /** The member's own piece CID (v2, bafkz…) and its place in the aggregate's payload. */
  segmentPieceCid: string | null;
  byteOffset: number;
  size: number;
  /** CBOR inclusion proof, hex (FRC-0058), null until the aggregate is prepared. */
  proofHex: string | null;
  aggregate: {
    id: number;
    state: PieceState;
    pieceCid: string | null;
    pieceSize: number | null;
    items: number;
  };
}

export interface FailureRecord {
  id: number;
  dealId: number | null;
  dealUuid: string | null;
  provider: number;
  kind: string;
  phase: string;
  message: string;
  at: number;
  /** The caller's contents in the failed deal's piece (user log only). */
  contents: number[];
}

export interface DealsOnChainDay {
  /** Start of the UTC day, ms. */
  day: number;
  dealsAttempted: number;
  dealsOnChain: number;
  dealsOnChainBytes: number;
  dealsSealed: number;
  dealsSealedBytes: number;
  dealsFailed: number;
}

export interface DealsOnChainMetrics {
  byState: Record<DealState, number>;
  /** Deals on chain now (published or active) and the padded bytes they hold. */
  onChainDeals: number;
  onChainBytes: number;
  activeDeals: number;
  activeBytes: number;
  days: DealsOnChainDay[];
}

export interface ContentWithDeals {
  id: number;
  cid: string;
  name: string;
  size: number;
  createdAt: number;
  replication: number;
  summary: DealSummary;
}

const ALL_STATES: readonly DealState[] = [...IN_FLIGHT, 'active', ...FINAL];

function num(v: unknown): number {
  return v == null ? 0 : Number(v);
}

function numOrNull(v: unknown): number | null {
  return v == null ? null : Number(v);
}

/** `?before=` as RFC 3339 (Estuary's) or epoch ms; defaults to now. */
export function parseBefore(text: string | undefined): number {
  if (text == null || text === '') return Date.now() + 1;
  const asNumber = Number(text);
  const ms = /^\d+$/.test(text) ? asNumber : Date.parse(text);
  if (!Number.isFinite(ms) || ms <= 0)
    throw new InvalidInputError('ERR_INVALID_INPUT', `before must be an RFC 3339 time, got "${text}"`);
  return ms;
}

/** Summarises deal rows against a target, per piece (the weakest piece decides `active`). */
export function summarise(
  deals: ReadonlyArray<Pick<DealRecord, 'state' | 'pieceId'>>,
  pieceIds: readonly number[],
  target: number,
  aggregated: boolean
): DealSummary {
  const activeByPiece = new Map<number, number>(pieceIds.map((id) => [id, 0]));
  const s: DealSummary = {
    target,
    active: 0,
    inFlight: 0,
    failed: 0,
    slashed: 0,
    expired: 0,
    total: deals.length,
    pieces: pieceIds.length,
    aggregated,
    failing: null
  };
  for (const d of deals) {
    if (d.state === 'active') activeByPiece.set(d.pieceId, (activeByPiece.get(d.pieceId) ?? 0) + 1);
    else if (IN_FLIGHT.includes(d.state)) s.inFlight++;
    else if (d.state === 'failed') s.failed++;
    else if (d.state === 'slashed') s.slashed++;
    else if (d.state === 'expired') s.expired++;
  }
  s.active = activeByPiece.size === 0 ? 0 : Math.min(...activeByPiece.values());
  return s;
}

export function createDealQueries(db: Kysely<Database>) {
  const dealColumns = [
    'deals.id',
    'deals.piece_id',
    'deals.provider_actor',
    'deals.uuid',
    'deals.state',
    'deals.failed_phase',
    'deals.message',
    'deals.verified',
    'deals.start_epoch',
    'deals.end_epoch',
    'deals.price_per_epoch',
    'deals.proposal_cid',
    'deals.signed_proposal_cid',
    'deals.chain_deal_id',
    'deals.publish_cid',
    'deals.sector_start_epoch',
    'deals.transfer_size',
    'deals.bytes_received',
    'deals.created_at',
    'deals.updated_at',
    'deals.accepted_at',
    'deals.transfer_started_at',
    'deals.transferred_at',
    'deals.published_at',
    'deals.activated_at',
    'deals.ended_at',
    'pieces.kind',
    'pieces.piece_cid',
    'pieces.piece_size'
  ] as const;

  type DealRow = {
    id: number;
    piece_id: number;
    provider_actor: number;
    uuid: string;
    state: DealState;
    failed_phase: string | null;
    message: string;
    verified: number;
    start_epoch: number | null;
    end_epoch: number | null;
    price_per_epoch: string;
    proposal_cid: string | null;
    signed_proposal_cid: string | null;
    chain_deal_id: number | null;
    publish_cid: string | null;
    sector_start_epoch: number | null;
    transfer_size: number;
    bytes_received: number;
    created_at: number;
    updated_at: number;
    accepted_at: number | null;
    transfer_started_at: number | null;
    transferred_at: number | null;
    published_at: number | null;
    activated_at: number | null;
    ended_at: number | null;
    kind: 'single' | 'aggregate' | 'shard';
    piece_cid: string | null;
    piece_size: number | null;
  };

  function toDeal(r: DealRow): DealRecord {
    return {
      id: Number(r.id),
      pieceId: Number(r.piece_id),
      provider: Number(r.provider_actor),
      uuid: r.uuid,
      state: r.state,
      failedPhase: r.failed_phase,
      message: r.message,
      verified: Number(r.verified) === 1,
      startEpoch: numOrNull(r.start_epoch),
      endEpoch: numOrNull(r.end_epoch),
      pricePerEpoch: r.price_per_epoch,
      proposalCid: r.proposal_cid,
      signedProposalCid: r.signed_proposal_cid,
      chainDealId: numOrNull(r.chain_deal_id),
      publishCid: r.publish_cid,
      sectorStartEpoch: numOrNull(r.sector_start_epoch),
      transferSize: num(r.transfer_size),
      bytesReceived: num(r.bytes_received),
      createdAt: num(r.created_at),
      updatedAt: num(r.updated_at),
      acceptedAt: numOrNull(r.accepted_at),
      transferStartedAt: numOrNull(r.transfer_started_at),
      transferredAt: numOrNull(r.transferred_at),
      publishedAt: numOrNull(r.published_at),
      activatedAt: numOrNull(r.activated_at),
      endedAt: numOrNull(r.ended_at),
      piece: { kind: r.kind, pieceCid: r.piece_cid, pieceSize: numOrNull(r.piece_size) }
    };
  }

  /** The content's pieces (single, shards, or the aggregate it sits in). */
  async function piecesOf(contentId: number): Promise<PieceRecord[]> {
    const rows = await db
      .selectFrom('piece_members')
      .innerJoin('pieces', 'pieces.id', 'piece_members.piece_id')
      .select([
        'pieces.id',
        'pieces.kind',
        'pieces.state',
        'pieces.piece_cid',
        'pieces.piece_size',
        'pieces.payload_size',
        'pieces.shard_index',
        'pieces.root_cid',
        'pieces.shard_first_block',
        'pieces.shard_block_count',
        'pieces.replication',
        'pieces.items',
        'pieces.last_error'
      ])
      .where('piece_members.content_id', '=', contentId)
      .orderBy('pieces.id')
      .limit(MAX_DEALS_PER_CONTENT)
      .execute();
    return rows.map((r) => ({
      id: Number(r.id),
      kind: r.kind,
      state: r.state,
      pieceCid: r.piece_cid,
      pieceSize: numOrNull(r.piece_size),
      payloadSize: numOrNull(r.payload_size),
      shardIndex: numOrNull(r.shard_index),
      rootCid: r.root_cid,
      firstBlock: numOrNull(r.shard_first_block),
      blockCount: numOrNull(r.shard_block_count),
      replication: Number(r.replication),
      items: Number(r.items),
      lastError: r.last_error
    }));
  }

  async function dealsOfPieces(pieceIds: number[]): Promise<DealRecord[]> {
    if (pieceIds.length === 0) return [];
    const rows = await db
      .selectFrom('deals')
      .innerJoin('pieces', 'pieces.id', 'deals.piece_id')
      .select(dealColumns)
      .where('deals.piece_id', 'in', pieceIds)
      .orderBy('deals.id', 'desc')
      .limit(MAX_DEALS_PER_CONTENT)
      .execute();
    return (rows as DealRow[]).map(toDeal);
  }

  /** Whether `userId` owns a content in the piece (admins see every deal). */
  async function ownsPiece(userId: number, pieceId: number): Promise<boolean> {
    const row = await db
      .selectFrom('piece_members')
      .innerJoin('contents', 'contents.id', 'piece_members.content_id')
      .select('piece_members.content_id')
      .where('piece_members.piece_id', '=', pieceId)
      .where('contents.user_id', '=', userId)
      .where('contents.pin_status', '!=', 'removed')
      .limit(1)
      .executeTakeFirst();
    return row != null;
  }

  /** Failure rows (deal_events with ok = 0), newest first, walking the (ok, at) index. */
  function failureQuery(before: number, limit: number) {
    return db
      .selectFrom('deal_events')
      .leftJoin('deals', 'deals.id', 'deal_events.deal_id')
      .select([
        'deal_events.id',
        'deal_events.deal_id',
        'deals.uuid',
        'deal_events.provider_actor',
        'deal_events.kind',
        'deal_events.phase',
        'deal_events.message',
        'deal_events.at'
      ])
      .where('deal_events.ok', '=', 0)
      .where('deal_events.at', '<', before)
      .orderBy('deal_events.at', 'desc')
      .orderBy('deal_events.id', 'desc')
      .limit(limit);
  }

  return {
    /** The content's pieces and every deal made for them, newest first. */
    async contentDeals(contentId: number, replication: number) {
      const pieces = await piecesOf(contentId);
      const deals = await dealsOfPieces(pieces.map((p) => p.id));
      const aggregated = pieces.some((p) => p.kind === 'aggregate');
      const summary = summarise(
        deals,
        pieces.map((p) => p.id),
        replication,
        aggregated
      );
      summary.failing = pieces.find((p) => p.state === 'failed')?.lastError || null;
      if (summary.failing == null && pieces.some((p) => p.state === 'failed'))
        summary.failing = 'a piece of this content failed';
      return { pieces, deals, summary };
    },

    /** One deal by its database id, for its owner (or an admin); 404 otherwise. */
    async deal(dealId: number, userId: number, isAdmin: boolean): Promise<DealRecord> {
      const row = await db
        .selectFrom('deals')
        .innerJoin('pieces', 'pieces.id', 'deals.piece_id')
        .select(dealColumns)
        .where('deals.id', '=', dealId)
        .executeTakeFirst();
      if (row == null || (!isAdmin && !(await ownsPiece(userId, Number(row.piece_id))))) {
        throw new NotFoundError('ERR_DEAL_NOT_FOUND', `no deal with id ${dealId}`);
      }
      return toDeal(row as DealRow);
    },

    /** The contents of the deal's piece that `userId` owns (all of them for admins), at most 100. */
    async dealContents(pieceId: number, userId: number, isAdmin: boolean): Promise<number[]> {
      let q = db
        .selectFrom('piece_members')
        .innerJoin('contents', 'contents.id', 'piece_members.content_id')
        .select('piece_members.content_id')
        .where('piece_members.piece_id', '=', pieceId);
      if (!isAdmin) q = q.where('contents.user_id', '=', userId);
      const rows = await q.orderBy('piece_members.position').limit(100).execute();
      return rows.map((r) => Number(r.content_id));
    },

    /** Inclusion proofs of the content in the aggregates it sits in. */
    async inclusion(contentId: number): Promise<InclusionRecord[]> {
      const rows = await db
        .selectFrom('piece_members')
        .innerJoin('pieces', 'pieces.id', 'piece_members.piece_id')
        .select([
          'piece_members.position',
          'piece_members.segment_piece_cid',
          'piece_members.byte_offset',
          'piece_members.size',
          'piece_members.proof',
          'pieces.id',
          'pieces.state',
          'pieces.piece_cid',
          'pieces.piece_size',
          'pieces.items'
        ])
        .where('piece_members.content_id', '=', contentId)
        .where('pieces.kind', '=', 'aggregate')
        .orderBy('pieces.id')
        .limit(100)
        .execute();
      return rows.map((r) => ({
        position: Number(r.position),
        segmentPieceCid: r.segment_piece_cid,
        byteOffset: num(r.byte_offset),
        size: num(r.size),
        proofHex: r.proof,
        aggregate: {
          id: Number(r.id),
          state: r.state,
          pieceCid: r.piece_cid,
          pieceSize: numOrNull(r.piece_size),
          items: Number(r.items)
        }
      }));
    },

    /**
     * The user's contents that have deals, newest first, each with its deal summary (Estuary's
     * `/content/deals`). One page of contents, then one grouped query for their deals.
     */
    async contentsWithDeals(userId: number, page: { limit: number; offset: number; ids?: number[] }) {
      if (page.ids?.length === 0) return [] as ContentWithDeals[];
      const contents = await db
        .selectFrom('contents')
        .select(['id', 'cid', 'name', 'size', 'created_at', 'replication'])
        .where('user_id', '=', userId)
        .where('pin_status', '!=', 'removed')
        // Asked by id: every one of them, deals or not yet (its summary then says 0 of its target).
        .$if(page.ids !== undefined, (qb) => qb.where('id', 'in', page.ids!))
        .$if(page.ids === undefined, (qb) =>
          qb.where(({ exists, selectFrom }) =>
            exists(
              selectFrom('piece_members')
                .innerJoin('deals', 'deals.piece_id', 'piece_members.piece_id')
                .select('deals.id')
                .whereRef('piece_members.content_id', '=', 'contents.id')
            )
          )
        )
        .orderBy('created_at', 'desc')
        .limit(page.limit)
        .offset(page.offset)
        .execute();
      if (contents.length === 0) return [] as ContentWithDeals[];
      const ids = contents.map((c) => Number(c.id));
      const members = await db
        .selectFrom('piece_members')
        .innerJoin('pieces', 'pieces.id', 'piece_members.piece_id')
        .select([
          'piece_members.content_id',
          'piece_members.piece_id',
          'pieces.kind',
          'pieces.state',
          'pieces.last_error'
        ])
        .where('piece_members.content_id', 'in', ids)
        .execute();
      const pieceIds = [...new Set(members.map((m) => Number(m.piece_id)))];
      const counts =
        pieceIds.length === 0
          ? []
          : await db
              .selectFrom('deals')
              .select((eb) => ['piece_id', 'state', eb.fn.countAll<number>().as('n')])
              .where('piece_id', 'in', pieceIds)
              .groupBy(['piece_id', 'state'])
              .execute();
      const byPiece = new Map<number, Array<{ state: DealState; pieceId: number }>>();
      for (const c of counts) {
        const list = byPiece.get(Number(c.piece_id)) ?? [];
        for (let i = 0; i < Number(c.n); i++) list.push({ state: c.state, pieceId: Number(c.piece_id) });
        byPiece.set(Number(c.piece_id), list);
      }
      return contents.map((c): ContentWithDeals => {
        const mine = members.filter((m) => Number(m.content_id) === Number(c.id));
        const pids = mine.map((m) => Number(m.piece_id));
        const summary = summarise(
          pids.flatMap((p) => byPiece.get(p) ?? []),
          pids,
          Number(c.replication),
          mine.some((m) => m.kind === 'aggregate')
        );
        const failed = mine.find((m) => m.state === 'failed');
        if (failed != null) summary.failing = failed.last_error || 'a piece of this content failed';
        return {
          id: Number(c.id),
          cid: c.cid,
          name: c.name,
          size: num(c.size),
          createdAt: num(c.created_at),
          replication: Number(c.replication),
          summary
        };
      });
    },

    /** Pieces no more deals are made for (state failed), newest first, at most `limit`: admin alerts. */
    async failingPieces(limit = 20): Promise<FailingPiece[]> {
      const rows = await db
        .selectFrom('pieces')
        .select((eb) => [
          'pieces.id',
          'pieces.kind',
          'pieces.piece_cid',
          'pieces.last_error',
          'pieces.updated_at',
          eb
            .selectFrom('piece_members')
            .select(eb.fn.countAll<number>().as('n'))
            .whereRef('piece_members.piece_id', '=', 'pieces.id')
            .as('contents')
        ])
        .where('pieces.state', '=', 'failed')
        .orderBy('pieces.updated_at', 'desc')
        .limit(limit)
        .execute();
      return rows.map((r) => ({
        pieceId: Number(r.id),
        kind: r.kind,
        pieceCid: r.piece_cid,
        reason: r.last_error,
        contents: num(r.contents),
        at: num(r.updated_at)
      }));
    },

    /** The user's deal failure log (Estuary's `/deals/failures`), newest first. */
    async failures(userId: number, page: { limit: number; before: number }): Promise<FailureRecord[]> {
      const rows = await failureQuery(page.before, page.limit)
        .where(({ exists, selectFrom }) =>
          exists(
            selectFrom('piece_members')
              .innerJoin('contents', 'contents.id', 'piece_members.content_id')
              .select('piece_members.content_id')
              .whereRef('piece_members.piece_id', '=', 'deals.piece_id')
              .where('contents.user_id', '=', userId)
          )
        )
        .execute();
      const dealIds = [...new Set(rows.map((r) => r.deal_id).filter((id) => id != null))].map(Number);
      const owned =
        dealIds.length === 0
          ? []
          : await db
              .selectFrom('deals')
              .innerJoin('piece_members', 'piece_members.piece_id', 'deals.piece_id')
              .innerJoin('contents', 'contents.id', 'piece_members.content_id')
              .select(['deals.id as deal_id', 'piece_members.content_id'])
              .where('deals.id', 'in', dealIds)
              .where('contents.user_id', '=', userId)
              .limit(dealIds.length * 100)
              .execute();
      return rows.map((r) => ({
        id: Number(r.id),
        dealId: numOrNull(r.deal_id),
        dealUuid: r.uuid ?? null,
        provider: Number(r.provider_actor),
        kind: r.kind,
        phase: r.phase,
        message: r.message,
        at: num(r.at),
        contents: owned
          .filter((o) => Number(o.deal_id) === Number(r.deal_id))
          .map((o) => Number(o.content_id))
          .slice(0, 100)
      }));
    },

    /** Every failure, without user data (Estuary's `/public/deals/failures`). */
    async publicFailures(page: { limit: number; before: number }): Promise<FailureRecord[]> {
      const rows = await failureQuery(page.before, page.limit).execute();
      return rows.map((r) => ({
        id: Number(r.id),
        dealId: numOrNull(r.deal_id),
        dealUuid: r.uuid ?? null,
        provider: Number(r.provider_actor),
        kind: r.kind,
        phase: r.phase,
        message: r.message,
        at: num(r.at),
        contents: []
      }));
    },

    /** One page of deals with a provider, newest first (Estuary's `/public/miners/deals/:miner`). */
    async providerDeals(
      provider: number,
      page: { limit: number; offset: number; ignoreFailed: boolean }
    ): Promise<DealRecord[]> {
      let q = db
        .selectFrom('deals')
        .innerJoin('pieces', 'pieces.id', 'deals.piece_id')
        .select(dealColumns)
        .where('deals.provider_actor', '=', provider);
      if (page.ignoreFailed) q = q.where('deals.state', '!=', 'failed');
      const rows = await q
        .orderBy('deals.created_at', 'desc')
        .limit(page.limit)
        .offset(page.offset)
        .execute();
      return (rows as DealRow[]).map(toDeal);
    },

    /** Counts by state, what is on chain now, and a daily series over the last `days` UTC days. */
    async dealsOnChain(days: number, now = Date.now()): Promise<DealsOnChainMetrics> {
      const byState = Object.fromEntries(ALL_STATES.map((s) => [s, 0])) as Record<DealState, number>;
      const states = await db
        .selectFrom('deals')
        .innerJoin('pieces', 'pieces.id', 'deals.piece_id')
        .select((eb) => [
          'deals.state',
          eb.fn.countAll<number>().as('n'),
          eb.fn.sum<number>('pieces.piece_size').as('bytes')
        ])
        .groupBy('deals.state')
        .execute();
      let onChainDeals = 0;
      let onChainBytes = 0;
      let activeDeals = 0;
      let activeBytes = 0;
      for (const s of states) {
        byState[s.state] = Number(s.n);
        if (s.state === 'published' || s.state === 'active') {
          onChainDeals += Number(s.n);
          onChainBytes += num(s.bytes);
        }
        if (s.state === 'active') {
          activeDeals = Number(s.n);
          activeBytes = num(s.bytes);
        }
      }

      const firstDay = Math.floor(now / DAY_MS) * DAY_MS - (days - 1) * DAY_MS;
      const series = new Map<number, DealsOnChainDay>();
      for (let i = 0; i < days; i++) {
        const day = firstDay + i * DAY_MS;
        series.set(day, {
          day,
          dealsAttempted: 0,
          dealsOnChain: 0,
          dealsOnChainBytes: 0,
          dealsSealed: 0,
          dealsSealedBytes: 0,
          dealsFailed: 0
        });
      }
      // One grouped query per event column, each bounded to the window.
      const perDay = async (
        column: 'created_at' | 'published_at' | 'activated_at' | 'updated_at',
        failedOnly: boolean
      ) => {
        const dayExpr = sql<number>`(deals.${sql.ref(column)} / ${sql.lit(DAY_MS)})`;
        let q = db
          .selectFrom('deals')
          .innerJoin('pieces', 'pieces.id', 'deals.piece_id')
          .select((eb) => [
            dayExpr.as('d'),
            eb.fn.countAll<number>().as('n'),
            eb.fn.sum<number>('pieces.piece_size').as('bytes')
          ])
          .where(`deals.${column}`, '>=', firstDay);
        if (failedOnly) q = q.where('deals.state', 'in', ['failed', 'slashed']);
        const rows = await q.groupBy(dayExpr).execute();
        return rows.map((r) => ({
          day: Math.floor(Number(r.d)) * DAY_MS,
          n: Number(r.n),
          bytes: num(r.bytes)
        }));
      };
      const [attempted, published, sealed, failed] = await Promise.all([
        perDay('created_at', false),
        perDay('published_at', false),
        perDay('activated_at', false),
        perDay('updated_at', true)
      ]);
      for (const r of attempted) {
        const d = series.get(r.day);
        if (d) d.dealsAttempted = r.n;
      }
      for (const r of published) {
        const d = series.get(r.day);
        if (d) {
          d.dealsOnChain = r.n;
          d.dealsOnChainBytes = r.bytes;
        }
      }
      for (const r of sealed) {
        const d = series.get(r.day);
        if (d) {
          d.dealsSealed = r.n;
          d.dealsSealedBytes = r.bytes;
        }
      }
      for (const r of failed) {
        const d = series.get(r.day);
        if (d) d.dealsFailed = r.n;
      }
      return { byState, onChainDeals, onChainBytes, activeDeals, activeBytes, days: [...series.values()] };
    }
  };
}

export type DealQueries = ReturnType<typeof createDealQueries>;
