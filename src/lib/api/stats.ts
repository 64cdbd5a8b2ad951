import { createJsonRequest, type JsonClientInit } from './json-request';
import {
  CHANNELS,
  type BreakdownRow,
  type Channel,
  type DealSeriesKey,
  type ProviderFigures,
  type Series,
  type Usage
} from '../stats-shapes';

export { CHANNELS };
export type { BreakdownRow, Channel, DealSeriesKey, Series, Usage };

export const CHANNEL_LABELS: Record<Channel, string> = {
  'http-upload': 'HTTP uploads',
  'bitswap-in': 'Bitswap in',
  'bitswap-out': 'Bitswap out',
  'gateway-out': 'Gateway out',
  'deal-transfer-out': 'Deal transfers out',
  'retrieval-in': 'Retrievals in'
};

export interface PublicStats {
  totalStorage: number;
  totalFilesStored: number;
  dealsOnChain: number;
  totalObjectsRef: number;
  totalBytesUploaded: number;
  totalUsers: number;
  totalStorageMiner: number;
  bandwidth: Usage;
}

export interface UserStats {
  totalSize: number;
  numPins: number;
  bandwidth?: Usage;
}

export interface ProviderRow extends ProviderFigures {
  addr: string;
  suspended: boolean;
  score: number;
  activationsPerDay: number[];
}

export interface MinerStats {
  miner: string;
  dealCount: number;
  errorCount: number;
  suspended: boolean;
  suspendedReason: string;
  chainInfo: { peerId: string; addresses: string[] };
  days: number;
  score: number;
  deals: {
    proposed: number;
    accepted: number;
    rejected: number;
    published: number;
    active: number;
    failed: number;
    slashed: number;
    expired: number;
    byState: Record<string, number>;
    failedByPhase: Record<string, number>;
    rejectReasons: Array<{ message: string; count: number }>;
  };
  timing: {
    msToPublish: number | null;
    msToActive: number | null;
    transferBytesPerSec: number | null;
    transferBytes: number;
  };
  retrievals: { ok: number; failed: number; ttfbMs: number | null; bytesPerSec: number | null };
}

export interface MinerEvent {
  ID: number;
  CreatedAt: string;
  phase: string;
  kind: string;
  ok: boolean;
  message: string;
  dealId: number | null;
}

export interface RangeQuery {
  from?: number;
  to?: number;
  step?: 'minute' | 'hour' | 'day';
}

/** The time ranges the charts offer; each page lists the ones that suit it. */
export const CHART_RANGES = {
  '1h': { ms: 3600_000, step: 'minute', label: 'Last hour, per minute' },
  '24h': { ms: 24 * 3600_000, step: 'hour', label: 'Last 24 hours, per hour' },
  '48h': { ms: 48 * 3600_000, step: 'hour', label: 'Last 48 hours, per hour' },
  '14d': { ms: 14 * 86_400_000, step: 'day', label: 'Last 14 days, per day' },
  '30d': { ms: 30 * 86_400_000, step: 'day', label: 'Last 30 days, per day' },
  '90d': { ms: 90 * 86_400_000, step: 'day', label: 'Last 90 days, per day' }
} as const satisfies Record<string, { ms: number; step: Series<string>['step']; label: string }>;
export type ChartRange = keyof typeof CHART_RANGES;

/** The query for a chart range ending now. */
export const rangeQuery = (range: ChartRange): RangeQuery => ({
  from: Date.now() - CHART_RANGES[range].ms,
  step: CHART_RANGES[range].step
});

interface Options {
  signal?: AbortSignal;
}

export type StatsApiInit = JsonClientInit;

/** Typed client for the bandwidth and provider-performance routes. */
export function createStatsApi(init: StatsApiInit = {}) {
  const request = createJsonRequest(init);
  const get = <T>(path: string, query: object = {}, options: Options = {}): Promise<T> =>
    request<T>('GET', path, { query, signal: options.signal });

  const miner = (m: string) => encodeURIComponent(m.trim());

  return {
    publicStats: (o?: Options) => get<PublicStats>('/public/stats', {}, o),
    dealSeries: (range: RangeQuery, o?: Options) =>
      get<Series<DealSeriesKey>>('/public/stats/deals', range, o),
    providers: (o?: Options) =>
      get<{ days: number; providers: ProviderRow[] }>('/public/stats/providers', {}, o),
    minerStats: (m: string, o?: Options) => get<MinerStats>(`/public/miners/stats/${miner(m)}`, {}, o),
    minerEvents: (m: string, limit: number, o?: Options) =>
      get<MinerEvent[]>(`/public/miners/events/${miner(m)}`, { limit }, o),
    minerSeries: (m: string, range: RangeQuery, o?: Options) =>
      get<Series<DealSeriesKey>>(`/public/miners/series/${miner(m)}`, range, o),
    userStats: (o?: Options) => get<UserStats>('/user/stats', {}, o),
    myBandwidth: (range: RangeQuery, o?: Options) => get<Series<Channel>>('/user/stats/bandwidth', range, o),
    allBandwidth: (range: RangeQuery, o?: Options) =>
      get<Series<Channel>>('/admin/stats/bandwidth', range, o),
    breakdown: (by: 'channel' | 'user' | 'content' | 'peer', range: RangeQuery, o?: Options) =>
      get<{ rows: BreakdownRow[] }>('/admin/stats/bandwidth/breakdown', { by, ...range }, o)
  };
}

export type StatsApi = ReturnType<typeof createStatsApi>;

/** 1234.5 ms → "1.2 s"; null → "—". */
export function formatDuration(ms: number | null): string {
  if (ms == null || !Number.isFinite(ms)) return '—';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 120_000) return `${(ms / 1000).toFixed(1)} s`;
  if (ms < 7_200_000) return `${(ms / 60_000).toFixed(1)} min`;
  return `${(ms / 3_600_000).toFixed(1)} h`;
}

/** Chart colours, readable on the light and the dark theme. */
export const CHANNEL_COLORS: Record<Channel, string> = {
  'http-upload': '#2a7fff',
  'bitswap-in': '#8e44ad',
  'bitswap-out': '#d35400',
  'gateway-out': '#16a085',
  'deal-transfer-out': '#c0392b',
  'retrieval-in': '#7f8c8d'
};

export const DEAL_SERIES: Array<{ key: DealSeriesKey; label: string; color: string }> = [
  { key: 'attempted', label: 'Attempted', color: '#2a7fff' },
  { key: 'published', label: 'Published', color: '#d68910' },
  { key: 'active', label: 'Active', color: '#1e8449' },
  { key: 'failed', label: 'Failed', color: '#c0392b' }
];
