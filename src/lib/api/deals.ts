import { createJsonRequest, type JsonClientInit } from './json-request';
import type { ContentDetail } from './content';

/** The service answers this reason (503) when it has no Filecoin network configured. */
export const ERR_FILECOIN_OFF = 'ERR_FILECOIN_OFF';

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

export interface TimelineStep {
  step: string;
  /** ISO time, or null when the deal passed the step without a recorded time. */
  at: string | null;
}

/** One deal: Estuary's ContentDeal fields plus Firth's explicit state. */
export interface Deal {
  ID: number;
  CreatedAt: string | null;
  UpdatedAt: string | null;
  content: number | null;
  miner: string;
  propCid: string;
  dealUuid: string;
  /** Chain deal ID; 0 until published. */
  dealId: number;
  failed: boolean;
  verified: boolean;
  slashed: boolean;
  failedAt: string | null;
  onChainAt: string | null;
  sealedAt: string | null;
  state: DealState;
  failedPhase: string | null;
  message: string;
  pieceCid: string | null;
  pieceSize: number | null;
  pieceKind: 'single' | 'aggregate' | 'shard';
  startEpoch: number | null;
  endEpoch: number | null;
  timeline: TimelineStep[];
}

export interface DealTransfer {
  statusMessage: string;
  received: number;
  size: number;
}

export interface OnChainState {
  sectorStartEpoch: number;
  lastUpdatedEpoch: number;
  slashEpoch: number;
  source: 'stored' | 'chain';
}

export interface DealEntry {
  deal: Deal;
  transfer: DealTransfer | null;
  onChainState: OnChainState | null;
}

export interface DealSummary {
  target: number;
  active: number;
  inFlight: number;
  failed: number;
  slashed: number;
  expired: number;
  total: number;
  pieces: number;
  aggregated: boolean;
  /** Why no more deals are being made for it ("deals failing"), or null. */
  failing: string | null;
}

export interface PieceInfo {
  id: number;
  kind: 'single' | 'aggregate' | 'shard';
  state: string;
  pieceCid: string | null;
  pieceSize: number | null;
  items: number;
}

/** `GET /api/content/status/:id`. */
export interface ContentDeals {
  content: ContentDetail;
  deals: DealEntry[];
  failuresCount: number;
  /** False when the service has no Filecoin network. */
  filecoin: boolean;
  summary: DealSummary;
  pieces: PieceInfo[];
}

/** One row of `GET /api/content/deals?ids=…`: a content and how its deals stand. */
export interface ContentDealSummary {
  id: number;
  cid: string;
  replication: number;
  summary: DealSummary;
}

export interface InclusionProof {
  position: number;
  pieceCid: string | null;
  aggregatePieceCid: string | null;
  aggregatePieceSize: number | null;
  aggregateItems: number;
  aggregateState: string;
  offset: number;
  size: number;
  proofHex: string | null;
  proof: {
    subtree: { index: string; path: string[] };
    index: { index: string; path: string[] };
  } | null;
}

export interface ContentProof {
  contentId: number;
  cid: string;
  proofs: InclusionProof[];
}

/** `GET /api/deals/info/:dealid`: the market actor's view of a deal. */
export interface ChainDealInfo {
  dealId: number;
  state: 'published' | 'active' | 'slashed' | 'expired';
  head: number | null;
  Proposal: { PieceCID: { '/': string }; Provider: string; StartEpoch: number; EndEpoch: number };
  State: { SectorStartEpoch: number; LastUpdatedEpoch: number; SlashEpoch: number };
}

export interface EstimateRequest {
  size: number;
  replication: number;
  durationBlks?: number;
  verified?: boolean;
}

export interface Estimate {
  totalFil: string;
  totalAttoFil: string;
  totalUsd: number;
  usdPerFil: number;
  rateSource: 'url' | 'config';
  rateAt: string;
  asks: Array<{ miner: string; price: string; verifiedPrice: string; costAttoFil: string }>;
  pieceSize: number;
  replication: number;
  providers: number;
}

export interface WalletBalance {
  account: string;
  balance: string;
  marketEscrow: string;
  marketLocked: string;
  marketAvailable: string;
  verifiedClientBalance: string | null;
}

/** `GET /api/admin/alerts`: what an operator must fix. */
export interface AdminAlert {
  kind: 'wallet-short' | 'deals-failing';
  message: string;
  at: string;
  pieceId?: number;
}

export interface Miner {
  addr: string;
  suspended: boolean;
  suspendedReason: string;
  chain_info: { peerId: string; addresses: string[] };
  source: string;
  score: number;
  ask: { price: string; verifiedPrice: string; minPieceSize: number; maxPieceSize: number } | null;
  askFetchedAt: string | null;
  askError: string;
}

export type DealsApiInit = JsonClientInit;

interface Options {
  signal?: AbortSignal;
}

/** The deal, wallet and provider routes. Every method throws `ApiError` when the service refuses. */
export interface DealsApi {
  contentDeals(id: number, options?: Options): Promise<ContentDeals>;
  /** How the deals of these contents (the signed-in user's) stand, one row each; 503 without Filecoin. */
  dealSummaries(ids: number[], options?: Options): Promise<ContentDealSummary[]>;
  proof(id: number, options?: Options): Promise<ContentProof>;
  chainDeal(dealId: number, options?: Options): Promise<ChainDealInfo>;
  estimate(request: EstimateRequest, options?: Options): Promise<Estimate>;
  address(options?: Options): Promise<string>;
  balance(options?: Options): Promise<WalletBalance>;
  /** Admin alerts: a wallet short of escrow, pieces no more deals are made for. */
  alerts(options?: Options): Promise<AdminAlert[]>;
  /** Moves `fil` (decimal FIL, e.g. "0.5") into market escrow; resolves to the message CID. */
  addEscrow(fil: string, options?: Options): Promise<string>;
  /** The public provider list (empty when the service makes no deals). */
  miners(options?: Options): Promise<Miner[]>;
  /** The same list for admins; 503 when the service makes no deals. */
  adminMiners(options?: Options): Promise<Miner[]>;
  addMiner(miner: string, options?: Options): Promise<void>;
  removeMiner(miner: string, options?: Options): Promise<void>;
  suspendMiner(miner: string, reason: string, options?: Options): Promise<void>;
  unsuspendMiner(miner: string, options?: Options): Promise<void>;
}

export function createDealsApi(init: DealsApiInit = {}): DealsApi {
  const request = createJsonRequest(init);

  const miner = (m: string) => encodeURIComponent(m.trim());

  return {
    contentDeals: (id, options) => request('GET', `/content/status/${encodeURIComponent(id)}`, options),
    async dealSummaries(ids, options) {
      if (ids.length === 0) return [];
      const query = { ids: ids.join(','), limit: ids.length };
      return (
        (await request<ContentDealSummary[] | null>('GET', '/content/deals', { ...options, query })) ?? []
      );
    },
    proof: (id, options) => request('GET', `/content/${encodeURIComponent(id)}/proof`, options),
    chainDeal: (dealId, options) => request('GET', `/deals/info/${encodeURIComponent(dealId)}`, options),
    estimate: (body, options) => request('POST', '/deals/estimate', { ...options, body }),
    address: (options) => request('GET', '/admin/fil-address', options),
    balance: (options) => request('GET', '/admin/balance', options),
    async alerts(options) {
      return (await request<{ alerts: AdminAlert[] } | null>('GET', '/admin/alerts', options))?.alerts ?? [];
    },
    async addEscrow(fil, options) {
      const r = await request<{ MsgCid?: { '/': string } }>(
        'POST',
        `/admin/add-escrow/${encodeURIComponent(fil.trim())}`,
        options
      );
      return r?.MsgCid?.['/'] ?? '';
    },
    async miners(options) {
      return (await request<Miner[] | null>('GET', '/public/miners', options)) ?? [];
    },
    async adminMiners(options) {
      return (await request<Miner[] | null>('GET', '/admin/miners', options)) ?? [];
    },
    async addMiner(m, options) {
      await request('POST', `/admin/miners/add/${miner(m)}`, options);
    },
    async removeMiner(m, options) {
      await request('POST', `/admin/miners/rm/${miner(m)}`, options);
    },
    async suspendMiner(m, reason, options) {
      await request('POST', `/admin/miners/suspend/${miner(m)}`, { ...options, body: { reason } });
    },
    async unsuspendMiner(m, options) {
      await request('PUT', `/admin/miners/unsuspend/${miner(m)}`, options);
    }
  };
}

const ATTO_DIGITS = 18;

/** "1500000000000000000" (attoFIL) → "1.5 FIL"; up to `digits` decimals, trailing zeros dropped. */
export function formatAttoFil(atto: string | null | undefined, digits = 6): string {
  if (atto == null || !/^-?\d+$/.test(atto)) return '—';
  const negative = atto.startsWith('-');
  const padded = atto.replace('-', '').padStart(ATTO_DIGITS + 1, '0');
  const whole = padded.slice(0, -ATTO_DIGITS).replace(/^0+(?=\d)/, '');
  const fraction = padded.slice(-ATTO_DIGITS);
  let shown = fraction.slice(0, digits).replace(/0+$/, '');
  // A tiny non-zero amount should not read as zero.
  if (shown === '' && whole === '0' && /[1-9]/.test(fraction)) {
    const first = fraction.search(/[1-9]/);
    shown = fraction.slice(0, first + 2).replace(/0+$/, '');
  }
  return `${negative ? '-' : ''}${whole}${shown ? `.${shown}` : ''} FIL`;
}

/** $ with cents, or more digits for amounts under a cent. */
export function formatUsd(usd: number): string {
  if (!Number.isFinite(usd)) return '—';
  if (usd > 0 && usd < 0.01) return `$${usd.toPrecision(2)}`;
  return `$${usd.toFixed(2)}`;
}
