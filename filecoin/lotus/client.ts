// A typed Lotus JSON-RPC v1 client over iso-filecoin's RPC: the methods a deal client needs, all of
// them served by lotus-gateway (Glif) as well as by a full node (filecoin.md §6). Big ints come back
// as bigint, CIDs as strings, byte fields as Uint8Array. JSON-RPC errors become LotusError (with the
// code and message Lotus sent); network failures become LotusUnavailableError.
import { multiaddr } from '@multiformats/multiaddr';
import { RPC } from 'iso-filecoin/rpc';
import { LotusError, LotusUnavailableError } from './errors.ts';

export { LotusError, LotusUnavailableError };

export interface LotusClientInit {
  /** JSON-RPC v1 endpoint, e.g. http://127.0.0.1:1234/rpc/v1 or https://api.node.glif.io/rpc/v1 */
  url: string;
  /** Bearer token, when the node wants one (a public gateway does not). */
  token?: string;
  /** Per-request timeout. @default 30_000 */
  timeoutMs?: number;
}

export interface AbortOptions {
  signal?: AbortSignal;
  /** Overrides the client's per-request timeout; `false` waits as long as the server takes. */
  timeoutMs?: number | false;
}

export interface TipSet {
  height: number;
  cids: string[];
  /** Timestamp (unix seconds) of the tipset's first block. */
  timestamp: number | undefined;
  /** ParentBaseFee of the first block, attoFIL. */
  parentBaseFee: bigint | undefined;
}

export interface NetworkParams {
  networkName: string;
  blockDelaySecs: number;
  genesisTimestamp: number | undefined;
  eip155ChainId: number | undefined;
  /** Everything Lotus sent, as sent. */
  raw: Record<string, unknown>;
}

export interface Actor {
  code: string;
  head: string;
  nonce: number;
  balance: bigint;
  delegatedAddress: string | undefined;
}

/** A chain message in Lotus's JSON form (the shape GasEstimateMessageGas and MpoolPush take). */
export interface LotusMessageJson {
  Version: number;
  To: string;
  From: string;
  Nonce: number;
  Value: string;
  GasLimit: number;
  GasFeeCap: string;
  GasPremium: string;
  Method: number;
  /** base64 */
  Params: string;
}

export interface ChainMessage {
  version: number;
  to: string;
  from: string;
  nonce: number;
  value: bigint;
  gasLimit: number;
  gasFeeCap: bigint;
  gasPremium: bigint;
  method: number;
  params: Uint8Array;
}

export interface GasEstimate {
  gasLimit: number;
  gasFeeCap: bigint;
  gasPremium: bigint;
}

export interface MsgLookup {
  /** The CID that executed (a replacement's when the message was replaced). */
  message: string;
  receipt: { exitCode: number; return: Uint8Array | null; gasUsed: bigint };
  tipSet: string[];
  height: number;
}

export interface MarketBalance {
  escrow: bigint;
  locked: bigint;
}

export interface MarketDeal {
  proposal: {
    pieceCid: string;
    pieceSize: number;
    verifiedDeal: boolean;
    client: string;
    provider: string;
    label: string;
    startEpoch: number;
    endEpoch: number;
    storagePricePerEpoch: bigint;
    providerCollateral: bigint;
    clientCollateral: bigint;
  };
  state: {
    sectorNumber: number | undefined;
    /** -1 until the deal is activated. */
    sectorStartEpoch: number;
    lastUpdatedEpoch: number;
    slashEpoch: number;
  };
}

export interface MinerInfo {
  owner: string;
  worker: string;
  controlAddresses: string[];
  peerId: string | null;
  /** Decoded from Lotus's base64 binary multiaddrs; undecodable entries are dropped. */
  multiaddrs: string[];
  sectorSize: number;
  windowPoStPartitionSectors: number;
}

export interface MinerPower {
  minerPower: { rawBytePower: bigint; qualityAdjPower: bigint };
  totalPower: { rawBytePower: bigint; qualityAdjPower: bigint };
  hasMinPower: boolean;
}

export interface LotusClient {
  readonly url: string;
  /** Any method, untyped: `Filecoin.` is prefixed when missing. */
  call<T = unknown>(method: string, params?: unknown[] | null, options?: AbortOptions): Promise<T>;
  chainHead(options?: AbortOptions): Promise<TipSet>;
  stateNetworkName(options?: AbortOptions): Promise<string>;
  stateNetworkVersion(options?: AbortOptions): Promise<number>;
  stateGetNetworkParams(options?: AbortOptions): Promise<NetworkParams>;
  stateLookupId(address: string, options?: AbortOptions): Promise<string>;
  stateAccountKey(address: string, options?: AbortOptions): Promise<string>;
  /** null when the actor does not exist (yet). */
  stateGetActor(address: string, options?: AbortOptions): Promise<Actor | null>;
  walletBalance(address: string, options?: AbortOptions): Promise<bigint>;
  mpoolGetNonce(address: string, options?: AbortOptions): Promise<number>;
  gasEstimateMessageGas(
    message: LotusMessageJson,
    options?: AbortOptions & { maxFee?: bigint }
  ): Promise<GasEstimate>;
  /** Returns the signed message's CID. */
  mpoolPush(
    signed: { Message: LotusMessageJson; Signature: { Type: number; Data: string } },
    options?: AbortOptions
  ): Promise<string>;
  /** null when not found within `lookbackLimit` epochs (-1: no limit; gateways clamp it to 20). */
  stateSearchMsg(
    cid: string,
    options?: AbortOptions & { lookbackLimit?: number; allowReplaced?: boolean }
  ): Promise<MsgLookup | null>;
  stateWaitMsg(
    cid: string,
    options?: AbortOptions & { confidence?: number; lookbackLimit?: number; allowReplaced?: boolean }
  ): Promise<MsgLookup>;
  chainGetMessage(cid: string, options?: AbortOptions): Promise<ChainMessage>;
  stateMarketBalance(address: string, options?: AbortOptions): Promise<MarketBalance>;
  /** null for Lotus's "deal %d not found" (expired, slashed, never activated or never published). */
  stateMarketStorageDeal(dealId: number, options?: AbortOptions): Promise<MarketDeal | null>;
  stateDealProviderCollateralBounds(
    pieceSize: number,
    verified: boolean,
    options?: AbortOptions
  ): Promise<{ min: bigint; max: bigint }>;
  stateMinerInfo(miner: string, options?: AbortOptions): Promise<MinerInfo>;
  stateMinerPower(miner: string, options?: AbortOptions): Promise<MinerPower>;
  /** DataCap in bytes, or null when the address is not a verified client. */
  stateVerifiedClientStatus(address: string, options?: AbortOptions): Promise<bigint | null>;
}

type CidJson = { '/': string };

const cidOf = (v: unknown): string => {
  if (v != null && typeof v === 'object' && typeof (v as CidJson)['/'] === 'string')
    return (v as CidJson)['/'];
  throw new TypeError(`expected a CID {"/": …}, got ${JSON.stringify(v)}`);
};
const big = (v: unknown): bigint => {
  if (typeof v === 'string' && /^-?\d+$/.test(v)) return BigInt(v);
  if (typeof v === 'number' && Number.isSafeInteger(v)) return BigInt(v);
  throw new TypeError(`expected a big int string, got ${JSON.stringify(v)}`);
};
const num = (v: unknown): number => {
  if (typeof v === 'number') return v;
  throw new TypeError(`expected a number, got ${JSON.stringify(v)}`);
};
const bytesOf = (v: unknown): Uint8Array | null =>
  v == null || v === '' ? null : new Uint8Array(Buffer.from(String(v), 'base64'));

function msgLookup(raw: Record<string, unknown>): MsgLookup {
  const receipt = (raw.Receipt ?? {}) as Record<string, unknown>;
  return {
    message: cidOf(raw.Message),
    receipt: {
      exitCode: num(receipt.ExitCode),
      return: bytesOf(receipt.Return),
      gasUsed: big(receipt.GasUsed ?? 0)
    },
    tipSet: Array.isArray(raw.TipSet) ? raw.TipSet.map(cidOf) : [],
    height: num(raw.Height)
  };
}

/** The text Lotus sends for a missing deal (`lotus:chain/stmgr/actors.go GetStorageDeal`). */
const DEAL_NOT_FOUND = /deal \d+ not found/i;
const ACTOR_NOT_FOUND = /actor not found/i;

export function createLotusClient(init: LotusClientInit): LotusClient {
  const rpc = new RPC({ api: init.url, token: init.token, network: 'testnet' });
  const timeoutMs = init.timeoutMs ?? 30_000;

  async function call<T>(
    method: string,
    params: unknown[] | null = [],
    options: AbortOptions = {}
  ): Promise<T> {
    const name = (method.startsWith('Filecoin.') ? method : `Filecoin.${method}`) as `Filecoin.${string}`;
    let res: Awaited<ReturnType<RPC['call']>>;
    try {
      res = await rpc.call(
        { method: name, params: params as never },
        { signal: options.signal, timeout: options.timeoutMs ?? timeoutMs, retry: { retries: 0 } }
      );
    } catch (err) {
      throw new LotusUnavailableError(name, `Lotus ${name} failed: ${(err as Error).message}`, {
        cause: err
      });
    }
    if (res.error == null) return res.result as T;
    const err = res.error as Error & { cause?: unknown; response?: Response };
    if (err.name === 'JsonRpcError') {
      const cause = err.cause as { code?: number; message?: string } | undefined;
      throw new LotusError(name, cause?.code ?? 0, cause?.message ?? err.message);
    }
    // Lotus (go-jsonrpc) answers JSON-RPC errors with HTTP 500: iso-web then hands us the parsed
    // body as a JsonError's cause (or, without a JSON content type, an HttpError with the response).
    let envelope: unknown = err.name === 'JsonError' ? err.cause : undefined;
    if (err.name === 'HttpError' && err.response != null) {
      envelope = await err.response.json().catch(() => undefined);
    }
    const rpcError = (envelope as { error?: { code?: number; message?: string } } | undefined)?.error;
    if (rpcError != null && typeof rpcError.message === 'string') {
      throw new LotusError(name, rpcError.code ?? 0, rpcError.message);
    }
    if (options.signal?.aborted) throw options.signal.reason;
    throw new LotusUnavailableError(name, `Lotus ${name} failed: ${err.message}`, { cause: err });
  }

  return {
    url: init.url,
    call,

    async chainHead(options) {
      const raw = await call<{ Cids: CidJson[]; Height: number; Blocks?: Array<Record<string, unknown>> }>(
        'ChainHead',
        null,
        options
      );
      const first = raw.Blocks?.[0];
      return {
        height: raw.Height,
        cids: (raw.Cids ?? []).map(cidOf),
        timestamp: typeof first?.Timestamp === 'number' ? first.Timestamp : undefined,
        parentBaseFee: first?.ParentBaseFee != null ? big(first.ParentBaseFee) : undefined
      };
    },

    stateNetworkName: (options) => call<string>('StateNetworkName', null, options),
    stateNetworkVersion: (options) => call<number>('StateNetworkVersion', [null], options),

    async stateGetNetworkParams(options) {
      const raw = await call<Record<string, unknown>>('StateGetNetworkParams', null, options);
      return {
        networkName: String(raw.NetworkName ?? ''),
        blockDelaySecs: num(raw.BlockDelaySecs ?? 30),
        genesisTimestamp: typeof raw.GenesisTimestamp === 'number' ? raw.GenesisTimestamp : undefined,
        eip155ChainId: typeof raw.Eip155ChainID === 'number' ? raw.Eip155ChainID : undefined,
        raw
      };
    },

    stateLookupId: (address, options) => call<string>('StateLookupID', [address, null], options),
    stateAccountKey: (address, options) => call<string>('StateAccountKey', [address, null], options),

    async stateGetActor(address, options) {
      let raw: Record<string, unknown> | null;
      try {
        raw = await call<Record<string, unknown> | null>('StateGetActor', [address, null], options);
      } catch (err) {
        if (err instanceof LotusError && ACTOR_NOT_FOUND.test(err.message)) return null;
        throw err;
      }
      if (raw == null) return null;
      return {
        code: cidOf(raw.Code),
        head: cidOf(raw.Head),
        nonce: num(raw.Nonce),
        balance: big(raw.Balance),
        delegatedAddress: typeof raw.DelegatedAddress === 'string' ? raw.DelegatedAddress : undefined
      };
    },

    walletBalance: async (address, options) => big(await call('WalletBalance', [address], options)),
    mpoolGetNonce: (address, options) => call<number>('MpoolGetNonce', [address], options),

    async gasEstimateMessageGas(message, options = {}) {
      const raw = await call<Record<string, unknown>>(
        'GasEstimateMessageGas',
        [message, { MaxFee: (options.maxFee ?? 0n).toString() }, null],
        options
      );
      return { gasLimit: num(raw.GasLimit), gasFeeCap: big(raw.GasFeeCap), gasPremium: big(raw.GasPremium) };
    },

    mpoolPush: async (signed, options) => cidOf(await call('MpoolPush', [signed], options)),

    async stateSearchMsg(cid, options = {}) {
      const raw = await call<Record<string, unknown> | null>(
        'StateSearchMsg',
        [null, { '/': cid }, options.lookbackLimit ?? -1, options.allowReplaced ?? true],
        options
      );
      return raw == null ? null : msgLookup(raw);
    },

    async stateWaitMsg(cid, options = {}) {
      const raw = await call<Record<string, unknown>>(
        'StateWaitMsg',
        [{ '/': cid }, options.confidence ?? 1, options.lookbackLimit ?? -1, options.allowReplaced ?? true],
        options
      );
      return msgLookup(raw);
    },

    async chainGetMessage(cid, options) {
      const raw = await call<Record<string, unknown>>('ChainGetMessage', [{ '/': cid }], options);
      return {
        version: num(raw.Version),
        to: String(raw.To),
        from: String(raw.From),
        nonce: num(raw.Nonce),
        value: big(raw.Value),
        gasLimit: num(raw.GasLimit),
        gasFeeCap: big(raw.GasFeeCap),
        gasPremium: big(raw.GasPremium),
        method: num(raw.Method),
        params: bytesOf(raw.Params) ?? new Uint8Array()
      };
    },

    async stateMarketBalance(address, options) {
      const raw = await call<{ Escrow: string; Locked: string }>(
        'StateMarketBalance',
        [address, null],
        options
      );
      return { escrow: big(raw.Escrow), locked: big(raw.Locked) };
    },

    async stateMarketStorageDeal(dealId, options) {
      let raw: { Proposal: Record<string, unknown>; State: Record<string, unknown> | null } | null;
      try {
        raw = await call('StateMarketStorageDeal', [dealId, null], options);
      } catch (err) {
        if (err instanceof LotusError && DEAL_NOT_FOUND.test(err.message)) return null;
        throw err;
      }
      if (raw == null) return null;
      const p = raw.Proposal;
      const s = raw.State ?? {};
      return {
        proposal: {
          pieceCid: cidOf(p.PieceCID),
          pieceSize: num(p.PieceSize),
          verifiedDeal: p.VerifiedDeal === true,
          client: String(p.Client),
          provider: String(p.Provider),
          label: typeof p.Label === 'string' ? p.Label : '',
          startEpoch: num(p.StartEpoch),
          endEpoch: num(p.EndEpoch),
          storagePricePerEpoch: big(p.StoragePricePerEpoch),
          providerCollateral: big(p.ProviderCollateral),
          clientCollateral: big(p.ClientCollateral)
        },
        state: {
          sectorNumber: typeof s.SectorNumber === 'number' ? s.SectorNumber : undefined,
          sectorStartEpoch: typeof s.SectorStartEpoch === 'number' ? s.SectorStartEpoch : -1,
          lastUpdatedEpoch: typeof s.LastUpdatedEpoch === 'number' ? s.LastUpdatedEpoch : -1,
          slashEpoch: typeof s.SlashEpoch === 'number' ? s.SlashEpoch : -1
        }
      };
    },

    async stateDealProviderCollateralBounds(pieceSize, verified, options) {
      const raw = await call<{ Min: string; Max: string }>(
        'StateDealProviderCollateralBounds',
        [pieceSize, verified, null],
        options
      );
      return { min: big(raw.Min), max: big(raw.Max) };
    },

    async stateMinerInfo(miner, options) {
      const raw = await call<Record<string, unknown>>('StateMinerInfo', [miner, null], options);
      const multiaddrs: string[] = [];
      for (const b64 of Array.isArray(raw.Multiaddrs) ? raw.Multiaddrs : []) {
        try {
          multiaddrs.push(multiaddr(new Uint8Array(Buffer.from(String(b64), 'base64'))).toString());
        } catch {
          // an SP may register garbage; skip what does not decode
        }
      }
      return {
        owner: String(raw.Owner),
        worker: String(raw.Worker),
        controlAddresses: Array.isArray(raw.ControlAddresses) ? raw.ControlAddresses.map(String) : [],
        peerId: typeof raw.PeerId === 'string' && raw.PeerId !== '' ? raw.PeerId : null,
        multiaddrs,
        sectorSize: num(raw.SectorSize ?? 0),
        windowPoStPartitionSectors: num(raw.WindowPoStPartitionSectors ?? 0)
      };
    },

    async stateMinerPower(miner, options) {
      const raw = await call<{
        MinerPower: { RawBytePower: string; QualityAdjPower: string };
        TotalPower: { RawBytePower: string; QualityAdjPower: string };
        HasMinPower: boolean;
      }>('StateMinerPower', [miner, null], options);
      return {
        minerPower: {
          rawBytePower: big(raw.MinerPower.RawBytePower),
          qualityAdjPower: big(raw.MinerPower.QualityAdjPower)
        },
        totalPower: {
          rawBytePower: big(raw.TotalPower.RawBytePower),
          qualityAdjPower: big(raw.TotalPower.QualityAdjPower)
        },
        hasMinPower: raw.HasMinPower === true
      };
    },

    async stateVerifiedClientStatus(address, options) {
      const raw = await call<string | null>('StateVerifiedClientStatus', [address, null], options);
      return raw == null ? null : big(raw);
    }
  };
}
