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
  /** Log level for pino. @default 'info' */
  logLevel: string;
  /** Directory of the built app (SvelteKit adapter-static output). @default './build' */
  appDir: string;
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
    logLevel: env.FIRTH_LOG_LEVEL || 'info',
    appDir: path.resolve(env.FIRTH_APP_DIR || './build')
  };
}
