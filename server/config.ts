import path from 'node:path';

/** Everything the service reads from its environment, with defaults. The README's table lists them. */
export interface FirthConfig {
  /** Where blocks, the embedded database, the peer key and staging files live. @default './data' */
  dataDir: string;
  /** Interface the HTTP listeners bind. @default '127.0.0.1' */
  host: string;
  /** App + JSON API port; 0 picks a free port. @default 3000 */
  port: number;
  /** Public gateway port (its own origin). @default 8080 */
  gatewayPort: number;
  /** Interface the libp2p listeners bind. @default '127.0.0.1' */
  p2pHost: string;
  /** TCP port; WebSockets use port+1 and WebRTC-direct UDP uses the same number. 0 = free ports. @default 4001 */
  p2pPort: number;
  /** Multiaddrs to announce instead of the listen addresses (comma separated), e.g. behind NAT. */
  p2pAnnounce: string[];
  /** `postgres://…` to use PostgreSQL; unset = embedded SQLite in the data dir. */
  databaseUrl: string | undefined;
  /** Largest accepted upload body. @default 32 GiB */
  maxUploadBytes: number;
  /** Requests per minute per API key (or per IP without one). @default 6000 */
  rateLimitPerMinute: number;
  /** Default number of Filecoin replicas for new content. @default 6 */
  replication: number;
  /** How long a pin may wait for its blocks before it fails. @default 10 minutes */
  pinTimeoutMs: number;
  /** Pins fetched at once. @default 4 */
  pinConcurrency: number;
  /** A pin with no new block for this long is retried. @default 30 s */
  pinStallMs: number;
  /** Public base URL of the gateway for `retrieval_url`; default http://localhost:<gateway port>. */
  gatewayUrl: string | undefined;
  /** Host whose `{cid}.ipfs.<domain>` subdomains the gateway serves; path requests to it redirect there. @default 'localhost' */
  gatewayDomain: string;
  /** How long the gateway waits for blocks from peers before 504. @default 30 s */
  gatewayTimeoutMs: number;
  /** Memory for the gateway's cache of small blocks. @default 64 MiB */
  gatewayCacheBytes: number;
  /** How often bandwidth sums are written to the database. @default 10 s */
  bandwidthFlushMs: number;
  /** Per-minute bandwidth rows are kept this long (hourly rows stay). @default 48 hours */
  bandwidthMinuteRetentionMs: number;
  /** Log level for pino. @default 'info' */
  logLevel: string;
  /** Directory of the built app (SvelteKit adapter-static output). @default './build' */
  appDir: string;
  /** Lotus JSON-RPC v1 endpoint (a Lotus node or gateway). Unset = the local devnet, in-process. */
  lotusUrl: string | undefined;
  /** Bearer token for `lotusUrl`, when the node wants one (a public gateway does not). */
  lotusToken: string | undefined;
  /** IPNI find API used to locate providers for retrieval. @default the devnet's, or https://cid.contact with a real Lotus */
  indexerUrl: string | undefined;
  /** A Lotus key export (`lotus wallet export` hex) to use as the service's wallet; unset = `<data dir>/wallet.key`, created on first start. */
  walletKey: string | undefined;
  /** Market escrow is topped up to cover this many more deals beyond the one being made. @default 10 */
  escrowReserveDeals: number;
  /** FIRTH_OFFLOAD_AFTER (seconds): drop the local blocks of content with its target of active deals and no reads for this long; undefined = off. @default off */
  offloadAfterMs: number | undefined;
  devnet: DevnetConfig;
  /** Deal pipeline overrides; unset ones take the devnet's or a real network's defaults (filecoin/settings.ts). */
  deals: DealSettingsOverrides;
}

/** Each unset value is filled by `resolveDealSettings` for the network in use. */
export interface DealSettingsOverrides {
  /** FIRTH_DEAL_MIN_BYTES: content this large gets a piece of its own. */
  minDealBytes?: number;
  /** FIRTH_AGGREGATE_TARGET_BYTES: an aggregate is flushed once it holds this much. */
  aggregateTargetBytes?: number;
  /** FIRTH_AGGREGATE_MAX_WAIT (seconds): …or once its oldest item has waited this long. */
  aggregateMaxWaitMs?: number;
  /** FIRTH_MIN_PIECE_SIZE: pieces are padded up to this. */
  minPieceSize?: number;
  /** FIRTH_MAX_PIECE_PAYLOAD_BYTES: content whose CAR is larger is split into shards of at most this. */
  maxPiecePayloadBytes?: number;
  /** FIRTH_MAX_PRICE / FIRTH_MAX_VERIFIED_PRICE: attoFIL per GiB per epoch. */
  maxPrice?: bigint;
  maxVerifiedPrice?: bigint;
  /** FIRTH_DEAL_DURATION_EPOCHS */
  durationEpochs?: number;
  /** FIRTH_DEAL_START_DELAY_EPOCHS */
  startDelayEpochs?: number;
  /** FIRTH_DEAL_VERIFIED (true/false) */
  verified?: boolean;
  /** FIRTH_DEAL_DATA_URL: the service's URL as providers reach it. */
  dealDataUrl?: string;
  /** FIRTH_DEAL_POLL_MS */
  pollMs?: number;
  /** FIRTH_DEALS=off stops making new deals (the pipeline does not run). */
  enabled: boolean;
}

/** The in-process devnet, used when `lotusUrl` is unset. */
export interface DevnetConfig {
  /** `FIRTH_DEVNET=off` runs no Filecoin side at all (pinning only). @default true without FIRTH_LOTUS_URL */
  enabled: boolean;
  /** @default 8 */
  providers: number;
  /** @default 1000 */
  epochMs: number;
  /** Keep devnet state in a temporary directory instead of `<data dir>/devnet`. @default false */
  ephemeral: boolean;
  /** Faults per provider name, JSON, e.g. `{"sp2":{"neverSeal":true}}`. */
  faults: Record<string, Record<string, unknown>> | undefined;
}

export class ConfigError extends Error {
  override name = 'ConfigError';
}

const GiB = 1024 ** 3;

function int(env: NodeJS.ProcessEnv, key: string, fallback: number, min = 0): number {
  const raw = env[key];
  if (raw == null || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isSafeInteger(value) || value < min) {
    throw new ConfigError(`${key} must be an integer ≥ ${min}, got "${raw}"`);
  }
  return value;
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): FirthConfig {
  const databaseUrl = env.FIRTH_DATABASE_URL || undefined;
  if (databaseUrl != null && !/^postgres(ql)?:\/\//.test(databaseUrl)) {
    throw new ConfigError(
      'FIRTH_DATABASE_URL must start with postgres:// (leave it unset for embedded SQLite)'
    );
  }
  const lotusUrl = httpUrl(env, 'FIRTH_LOTUS_URL');
  return {
    dataDir: path.resolve(env.FIRTH_DATA_DIR || './data'),
    host: env.FIRTH_HOST || '127.0.0.1',
    port: int(env, 'FIRTH_PORT', 3000),
    gatewayPort: int(env, 'FIRTH_GATEWAY_PORT', 8080),
    p2pHost: env.FIRTH_P2P_HOST || '127.0.0.1',
    p2pPort: int(env, 'FIRTH_P2P_PORT', 4001),
    p2pAnnounce: (env.FIRTH_P2P_ANNOUNCE ?? '')
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean),
    databaseUrl,
    maxUploadBytes: int(env, 'FIRTH_MAX_UPLOAD_BYTES', 32 * GiB, 1),
    rateLimitPerMinute: int(env, 'FIRTH_RATE_LIMIT', 6000, 1),
    replication: int(env, 'FIRTH_REPLICATION', 6, 1),
    pinTimeoutMs: int(env, 'FIRTH_PIN_TIMEOUT_MS', 10 * 60_000, 1000),
    pinConcurrency: int(env, 'FIRTH_PIN_CONCURRENCY', 4, 1),
    pinStallMs: int(env, 'FIRTH_PIN_STALL_MS', 30_000, 1000),
    gatewayUrl: env.FIRTH_GATEWAY_URL || undefined,
    gatewayDomain: (env.FIRTH_GATEWAY_DOMAIN || 'localhost').toLowerCase(),
    gatewayTimeoutMs: int(env, 'FIRTH_GATEWAY_TIMEOUT', 30, 1) * 1000,
    gatewayCacheBytes: int(env, 'FIRTH_GATEWAY_CACHE_MB', 64) * 1024 * 1024,
    bandwidthFlushMs: int(env, 'FIRTH_BANDWIDTH_FLUSH_MS', 10_000, 100),
    bandwidthMinuteRetentionMs: int(env, 'FIRTH_BANDWIDTH_MINUTE_HOURS', 48, 1) * 3_600_000,
    logLevel: env.FIRTH_LOG_LEVEL || 'info',
    appDir: path.resolve(env.FIRTH_APP_DIR || './build'),
    lotusUrl,
    lotusToken: env.FIRTH_LOTUS_TOKEN || undefined,
    indexerUrl: httpUrl(env, 'FIRTH_INDEXER_URL'),
    walletKey: env.FIRTH_WALLET_KEY || undefined,
    escrowReserveDeals: int(env, 'FIRTH_ESCROW_RESERVE_DEALS', 10),
    offloadAfterMs: ['', 'off', '0'].includes((env.FIRTH_OFFLOAD_AFTER ?? '').toLowerCase())
      ? undefined
      : seconds(int(env, 'FIRTH_OFFLOAD_AFTER', 0, 1)),
    deals: {
      minDealBytes: optionalInt(env, 'FIRTH_DEAL_MIN_BYTES', 1),
      aggregateTargetBytes: optionalInt(env, 'FIRTH_AGGREGATE_TARGET_BYTES', 1),
      aggregateMaxWaitMs: seconds(optionalInt(env, 'FIRTH_AGGREGATE_MAX_WAIT', 0)),
      minPieceSize: optionalInt(env, 'FIRTH_MIN_PIECE_SIZE', 128),
      maxPiecePayloadBytes: optionalInt(env, 'FIRTH_MAX_PIECE_PAYLOAD_BYTES', 65_536),
      maxPrice: optionalBig(env, 'FIRTH_MAX_PRICE'),
      maxVerifiedPrice: optionalBig(env, 'FIRTH_MAX_VERIFIED_PRICE'),
      durationEpochs: optionalInt(env, 'FIRTH_DEAL_DURATION_EPOCHS', 518_400),
      startDelayEpochs: optionalInt(env, 'FIRTH_DEAL_START_DELAY_EPOCHS', 1),
      verified:
        env.FIRTH_DEAL_VERIFIED == null || env.FIRTH_DEAL_VERIFIED === ''
          ? undefined
          : !['0', 'false', 'off', 'no'].includes(env.FIRTH_DEAL_VERIFIED.toLowerCase()),
      dealDataUrl: httpUrl(env, 'FIRTH_DEAL_DATA_URL'),
      pollMs: optionalInt(env, 'FIRTH_DEAL_POLL_MS', 100),
      enabled: !['off', '0', 'false'].includes((env.FIRTH_DEALS ?? '').toLowerCase())
    },
    devnet: {
      enabled: lotusUrl == null && !['off', '0', 'false'].includes((env.FIRTH_DEVNET ?? '').toLowerCase()),
      providers: int(env, 'FIRTH_DEVNET_PROVIDERS', 8, 1),
      epochMs: int(env, 'FIRTH_DEVNET_EPOCH_MS', 1000, 10),
      ephemeral: ['1', 'true', 'on'].includes((env.FIRTH_DEVNET_EPHEMERAL ?? '').toLowerCase()),
      faults: devnetFaults(env.FIRTH_DEVNET_FAULTS)
    }
  };
}

function optionalInt(env: NodeJS.ProcessEnv, key: string, min: number): number | undefined {
  const raw = env[key];
  return raw == null || raw === '' ? undefined : int(env, key, 0, min);
}

function seconds(value: number | undefined): number | undefined {
  return value == null ? undefined : value * 1000;
}

function optionalBig(env: NodeJS.ProcessEnv, key: string): bigint | undefined {
  const raw = env[key];
  if (raw == null || raw === '') return undefined;
  if (!/^\d+$/.test(raw)) throw new ConfigError(`${key} must be a whole number of attoFIL, got "${raw}"`);
  return BigInt(raw);
}

function httpUrl(env: NodeJS.ProcessEnv, key: string): string | undefined {
  const raw = env[key];
  if (raw == null || raw === '') return undefined;
  if (!/^https?:\/\/[^/]/.test(raw)) throw new ConfigError(`${key} must be an http(s) URL, got "${raw}"`);
  return raw.replace(/\/+$/, '');
}

function devnetFaults(raw: string | undefined): DevnetConfig['faults'] {
  if (raw == null || raw === '') return undefined;
  try {
    const parsed = JSON.parse(raw) as unknown;
    if (parsed != null && typeof parsed === 'object' && !Array.isArray(parsed)) {
      return parsed as DevnetConfig['faults'];
    }
  } catch {
    // fall through
  }
  throw new ConfigError(`FIRTH_DEVNET_FAULTS must be a JSON object like {"sp2":{"neverSeal":true}}`);
}
