// The shapes of the stats API, shared by the service (server/metrics) and the app (src/lib/api):
// one list of bandwidth channels and one definition of the usage, series, breakdown and provider
// figures bodies. No imports, so
// both the service (Node, .ts imports) and the app (Vite) can load it.

/** Bandwidth channels, as the service records and names them. */
export const CHANNELS = [
  'http-upload',
  'bitswap-in',
  'bitswap-out',
  'gateway-out',
  'deal-transfer-out',
  'retrieval-in'
] as const;
export type Channel = (typeof CHANNELS)[number];

export interface ChannelUsage {
  bytes: number;
  events: number;
}

export interface Usage {
  totalIn: number;
  totalOut: number;
  byChannel: Record<Channel, ChannelUsage>;
}

/** Columnar series, as chart libraries take them: `t[i]` (epoch ms) with each series' value at i. */
export interface Series<K extends string> {
  from: number;
  to: number;
  step: 'minute' | 'hour' | 'day';
  t: number[];
  series: Record<K, number[]>;
}

export type DealSeriesKey = 'attempted' | 'published' | 'active' | 'failed';

export type BreakdownBy = 'channel' | 'user' | 'content' | 'peer';

/** One row of the admin bandwidth breakdown: a channel, user, content or peer and what it moved. */
export interface BreakdownRow {
  key: string;
  label: string;
  bytesIn: number;
  bytesOut: number;
  events: number;
}

/** What a provider did for us: the figures ranking reads and the providers table shows. */
export interface ProviderFigures {
  proposed: number;
  /** Proposals the provider accepted. */
  accepted: number;
  rejected: number;
  /** Deals that reached the chain (published, whether or not active since). */
  published: number;
  active: number;
  failed: number;
  slashed: number;
  /** Average ms from proposal to publication, when any were published. */
  msToPublish: number | null;
  /** Average ms from proposal to activation, when any were activated. */
  msToActive: number | null;
  /**
   * Bytes per second the provider pulled deal data at: accepted → transferred, or → published when
   * the transfer finished between two polls (then a lower bound). Null when nothing was transferred.
   */
  transferBytesPerSec: number | null;
  /** Retrievals from this provider that succeeded / failed. */
  retrievalOk: number;
  retrievalFailed: number;
}
