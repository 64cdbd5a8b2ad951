// The shapes of the stats API, shared by the service (server/metrics) and the app (src/lib/api):
// one list of bandwidth channels and one definition of the usage and series bodies. No imports, so
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
