// What storing `size` bytes with `replication` providers would cost, from the asks the provider
// registry keeps (Estuary's EstimatePrice): the padded piece size, each provider's price for it —
// computed exactly as a deal's StoragePricePerEpoch is — summed over the cheapest eligible
// providers, and the total in USD at a FIL/USD rate fetched from a configurable URL (cached) or
// taken from FIRTH_FIL_USD, saying which.
import type { Kysely } from 'kysely';
import type { Database } from '../../server/db/schema.ts';
import { InvalidInputError } from '../../server/errors.ts';
import type { StoredAsk } from '../providers/chooser.ts';

const GiB = 2n ** 30n;
const ATTO = 10n ** 18n;

/** Settings of the deal API, read from the environment here (server/config.ts is shared). */
export interface DealApiConfig {
  /** FIRTH_FIL_USD_URL: a JSON endpoint with the FIL price in USD; unset → the configured rate. */
  filUsdUrl: string | undefined;
  /** FIRTH_FIL_USD_PATH: dot path to the number in that JSON. @default tries `filecoin.usd` (CoinGecko), `price`, `usd` */
  filUsdPath: string | undefined;
  /** FIRTH_FIL_USD: the rate used when no URL is set or it fails. @default 3.0 */
  filUsd: number;
  /** FIRTH_FIL_USD_TTL_MS: how long a fetched rate is reused. @default 600_000 */
  filUsdTtlMs: number;
  /** FIRTH_FIL_USD_TIMEOUT_MS: how long a fetch may take. @default 5000 */
  filUsdTimeoutMs: number;
  /** FIRTH_DEAL_DURATION_EPOCHS: duration an estimate assumes when none is given. @default 1_494_720 */
  defaultDurationEpochs: number;
}

function positive(env: Record<string, string | undefined>, name: string, fallback: number): number {
  const text = env[name];
  if (text == null || text.trim() === '') return fallback;
  const n = Number(text);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`${name} must be a positive number, got "${text}"`);
  return n;
}

/** Reads the deal API's settings; throws on a malformed value (so the service refuses to start). */
export function loadDealApiConfig(env: Record<string, string | undefined> = process.env): DealApiConfig {
  const url = env.FIRTH_FIL_USD_URL?.trim();
  if (url != null && url !== '' && !/^https?:\/\//.test(url)) {
    throw new Error(`FIRTH_FIL_USD_URL must be an http(s) URL, got "${url}"`);
  }
  return {
    filUsdUrl: url === '' ? undefined : url,
    filUsdPath: env.FIRTH_FIL_USD_PATH?.trim() || undefined,
    filUsd: positive(env, 'FIRTH_FIL_USD', 3.0),
    filUsdTtlMs: positive(env, 'FIRTH_FIL_USD_TTL_MS', 600_000),
    filUsdTimeoutMs: positive(env, 'FIRTH_FIL_USD_TIMEOUT_MS', 5000),
    defaultDurationEpochs: Math.floor(positive(env, 'FIRTH_DEAL_DURATION_EPOCHS', 1_494_720))
  };
}

export interface FilUsdRate {
  usdPerFil: number;
  source: 'url' | 'config';
  /** When the rate was fetched (url) or read (config), ms. */
  at: number;
}

export interface FilUsdSource {
  get(options?: { signal?: AbortSignal }): Promise<FilUsdRate>;
}

function pick(json: unknown, path: string): unknown {
  let v: unknown = json;
  for (const key of path.split('.')) {
    if (v == null || typeof v !== 'object') return undefined;
    v = (v as Record<string, unknown>)[key];
  }
  return v;
}

/** The FIL/USD rate: fetched from `filUsdUrl` with a timeout and cached, else the configured one. */
export function createFilUsdSource(
  config: Pick<DealApiConfig, 'filUsdUrl' | 'filUsdPath' | 'filUsd' | 'filUsdTtlMs' | 'filUsdTimeoutMs'>,
  init: { fetch?: typeof globalThis.fetch; log?: { warn(obj: object, msg: string): void } } = {}
): FilUsdSource {
  const doFetch = init.fetch ?? globalThis.fetch;
  let cached: FilUsdRate | undefined;
  /** After a failed fetch, the configured rate is used for a minute before trying again. */
  let failedAt = 0;
  let inflight: Promise<FilUsdRate> | undefined;

  async function fetchRate(url: string): Promise<FilUsdRate> {
    const response = await doFetch(url, {
      headers: { accept: 'application/json' },
      signal: AbortSignal.timeout(config.filUsdTimeoutMs)
    });
    if (!response.ok) throw new Error(`price URL answered ${response.status}`);
    const json: unknown = await response.json();
    const paths = config.filUsdPath != null ? [config.filUsdPath] : ['filecoin.usd', 'price', 'usd'];
    for (const path of paths) {
      const value = Number(pick(json, path));
      if (Number.isFinite(value) && value > 0) return { usdPerFil: value, source: 'url', at: Date.now() };
    }
    throw new Error(`no positive number at ${paths.join(' / ')} in the price URL's answer`);
  }

  return {
    async get() {
      const url = config.filUsdUrl;
      const fallback: FilUsdRate = { usdPerFil: config.filUsd, source: 'config', at: Date.now() };
      if (url == null) return fallback;
      if (cached != null && Date.now() - cached.at < config.filUsdTtlMs) return cached;
      if (Date.now() - failedAt < Math.min(60_000, config.filUsdTtlMs)) return fallback;
      inflight ??= fetchRate(url).finally(() => (inflight = undefined));
      try {
        cached = await inflight;
        return cached;
      } catch (err) {
        failedAt = Date.now();
        init.log?.warn({ err: (err as Error).message }, 'FIL/USD price fetch failed; using FIRTH_FIL_USD');
        return fallback;
      }
    }
  };
}

export interface EstimateRequest {
  /** Payload bytes. */
  size: number;
  replication: number;
  /** Deal length in epochs. */
  durationBlks: number;
  verified: boolean;
}

export interface EstimateAsk {
  miner: string;
  price: string;
  verifiedPrice: string;
  minPieceSize: number;
  maxPieceSize: number;
  miner_version: string;
  /** What this provider would charge for the whole deal, attoFIL. */
  costAttoFil: string;
  askFetchedAt: string | null;
}

export interface EstimateResult {
  totalFil: string;
  totalAttoFil: string;
  totalUsd: number;
  usdPerFil: number;
  rateSource: 'url' | 'config';
  rateAt: string;
  asks: EstimateAsk[];
  /** Padded piece size the estimate assumes. */
  pieceSize: number;
  replication: number;
  durationBlks: number;
  verified: boolean;
  /** Providers priced; fewer than `replication` when not enough have a fitting ask. */
  providers: number;
}

/** Padded piece size for `size` payload bytes: the next power of two ≥ size·128/127, at least 128. */
export function paddedPieceSize(size: number): number {
  const fr32 = Math.ceil((size * 128) / 127);
  let piece = 128;
  while (piece < fr32) piece *= 2;
  return piece;
}

/** A deal's total price: StoragePricePerEpoch (rounded up, as deals are made) × duration. */
export function dealCost(pieceSize: number, pricePerGiB: bigint, duration: number): bigint {
  const perEpoch = (pricePerGiB * BigInt(pieceSize) + GiB - 1n) / GiB;
  return perEpoch * BigInt(duration);
}

/** attoFIL → "0.000123 FIL" (no trailing zeros). */
export function formatFil(atto: bigint): string {
  const whole = atto / ATTO;
  const frac = (atto % ATTO).toString().padStart(18, '0').replace(/0+$/, '');
  return `${whole}${frac ? `.${frac}` : ''} FIL`;
}

/** Checks an estimate request as the API receives it (JSON): every bad value is a 400. */
export function parseEstimateRequest(body: unknown, defaultDuration: number): EstimateRequest {
  if (body == null || typeof body !== 'object' || Array.isArray(body))
    throw new InvalidInputError('ERR_INVALID_INPUT', 'the body must be a JSON object');
  const b = body as Record<string, unknown>;
  for (const key of Object.keys(b)) {
    if (!['size', 'replication', 'durationBlks', 'verified'].includes(key))
      throw new InvalidInputError('ERR_INVALID_INPUT', `unknown field "${key}"`);
  }
  const int = (key: string, min: number, max: number, fallback?: number): number => {
    const v = b[key];
    if (v == null && fallback != null) return fallback;
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min || v > max)
      throw new InvalidInputError('ERR_INVALID_INPUT', `"${key}" must be an integer from ${min} to ${max}`);
    return v;
  };
  const verified = b.verified ?? false;
  if (typeof verified !== 'boolean')
    throw new InvalidInputError('ERR_INVALID_INPUT', '"verified" must be a boolean');
  return {
    // Up to 64 TiB: the largest sector is 64 GiB, but big content is split into many pieces.
    size: int('size', 1, 2 ** 46),
    replication: int('replication', 1, 20),
    // At most 5 years of epochs (the market actor caps deals lower; this only bounds the input).
    durationBlks: int('durationBlks', 1, 5 * 365 * 2880, defaultDuration),
    verified
  };
}

/** Estimates from the providers' stored asks. */
export async function estimateDeals(
  db: Kysely<Database>,
  request: EstimateRequest,
  rate: FilUsdRate,
  addressPrefix: 'f' | 't'
): Promise<EstimateResult> {
  const pieceSize = paddedPieceSize(request.size);
  const rows = await db
    .selectFrom('providers')
    .select(['actor_id', 'ask', 'ask_fetched_at'])
    .where('state', '=', 'active')
    .where('ask', 'is not', null)
    .orderBy('actor_id')
    .limit(10_000)
    .execute();
  const priced: Array<EstimateAsk & { cost: bigint }> = [];
  for (const row of rows) {
    let ask: StoredAsk;
    try {
      ask = JSON.parse(row.ask!) as StoredAsk;
    } catch {
      continue;
    }
    if (pieceSize > ask.maxPieceSize) continue;
    const size = Math.max(pieceSize, ask.minPieceSize);
    const cost = dealCost(
      size,
      BigInt(request.verified ? ask.verifiedPrice : ask.price),
      request.durationBlks
    );
    priced.push({
      miner: `${addressPrefix}0${Number(row.actor_id)}`,
      price: ask.price,
      verifiedPrice: ask.verifiedPrice,
      minPieceSize: ask.minPieceSize,
      maxPieceSize: ask.maxPieceSize,
      miner_version: '',
      costAttoFil: cost.toString(),
      askFetchedAt: row.ask_fetched_at == null ? null : new Date(Number(row.ask_fetched_at)).toISOString(),
      cost
    });
  }
  priced.sort((a, b) => (a.cost < b.cost ? -1 : a.cost > b.cost ? 1 : 0));
  const chosen = priced.slice(0, request.replication);
  const total = chosen.reduce((sum, a) => sum + a.cost, 0n);
  // USD from attoFIL without losing precision for small totals: scale to nanoFIL first.
  const totalUsd = (Number(total / 10n ** 9n) / 1e9) * rate.usdPerFil;
  return {
    totalFil: formatFil(total),
    totalAttoFil: total.toString(),
    totalUsd,
    usdPerFil: rate.usdPerFil,
    rateSource: rate.source,
    rateAt: new Date(rate.at).toISOString(),
    asks: chosen.map(({ cost: _cost, ...ask }) => ask),
    pieceSize,
    replication: request.replication,
    durationBlks: request.durationBlks,
    verified: request.verified,
    providers: chosen.length
  };
}
