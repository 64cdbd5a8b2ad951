// The devnet chain: state, an epoch clock, a message pool and Lotus JSON-RPC (rpc.ts). One epoch
// at a time applies pool messages in nonce order, runs the market cron and persists chain.json.
// Application is synchronous, so concurrent RPC calls never see a half-applied epoch.
import { mkdir, rename, writeFile, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { multiaddr } from '@multiformats/multiaddr';
import { peerIdFromString } from '@libp2p/peer-id';
import { fromPublicKey } from 'iso-filecoin/address';
import { create } from 'iso-filecoin/wallet';
import pino, { type Logger } from 'pino';
import { idAddress, NETWORK, parseAddress } from '../wire/address.ts';
import { blake2bCid } from '../wire/cids.ts';
import * as dagCbor from '@ipld/dag-cbor';
import type { CID } from 'multiformats/cid';
import { createMempool, type Mempool } from './mpool.ts';
import { createRpcHandler } from './rpc.ts';
import {
  FIRST_ACCOUNT_ID,
  FIRST_MINER_ID,
  MESSAGE_HISTORY_LIMIT,
  stateFromJson,
  stateToJson,
  type ActorKind,
  type ChainState
} from './state.ts';
import { applyMessage, BUILTIN_IDS, FIL, resolveOrCreateAccount, runMarketCron } from './vm.ts';

export interface ChainInit {
  /** Directory for persisted state (chain.json written atomically); undefined = in memory only. */
  dataDir?: string;
  /** @default 1000 */
  epochMs?: number;
  /** @default 'firth-devnet' */
  networkName?: string;
  /**
   * Genesis funds: accounts (key addresses t1/t3) created at genesis with these balances (attoFIL).
   * Only used when no persisted state exists.
   */
  genesisAccounts?: Array<{ address: string; balance: bigint; dataCap?: bigint }>;
  logger?: Logger;
}

export interface Chain {
  /** Current epoch. */
  readonly head: number;
  /** The chain's own faucet (also the verified-registry root/verifier): t1 address and hex secp key. */
  readonly faucet: { address: string; privateKey: string };
  readonly epochMs: number;
  /** Lotus JSON-RPC dispatcher: takes a parsed request object (or batch array), returns the response. */
  handleRpc(request: unknown, opts?: { signal?: AbortSignal }): Promise<unknown>;
  /** Admin (devnet only): a new miner actor for a provider process that runs anywhere. */
  createMiner(input: CreateMinerInput): Promise<{ actorId: string; workerId: string }>;
  /** Miners known to the chain (for `GET /admin/miners`). */
  listMiners(): MinerSummary[];
  /** Devnet faucet: send FIL from the genesis faucet (creates the account if needed). */
  fund(address: string, amount: bigint): Promise<void>;
  grantDataCap(address: string, amount: bigint): Promise<void>;
  /** Advances one epoch now (tests; the clock does this every epochMs). */
  advance(): void;
  /** Resolves once the head reaches `epoch`. */
  waitForEpoch(epoch: number, opts?: { signal?: AbortSignal }): Promise<void>;
  /** Starts the epoch clock. */
  start(): void;
  /** Stops the clock, flushes state. */
  stop(): Promise<void>;
}

export interface CreateMinerInput {
  peerId: string;
  multiaddrs: string[];
  /** t1/t3 address of the worker key, or the BLS (48 B) / secp (65 B) public key in hex. */
  workerKey: string;
  ownerAddress?: string;
  sectorSize: number;
}

export interface MinerSummary {
  ActorID: string;
  Owner: string;
  Worker: string;
  PeerId: string;
  Multiaddrs: string[];
  SectorSize: number;
  RawBytePower: string;
}

/** Shared internals for rpc.ts and the mempool. */
export interface ChainCore {
  state: ChainState;
  epochMs: number;
  blockDelaySecs: number;
  mempool: Mempool;
  tipsetCid(height: number): CID;
  /** Calls `check` after every epoch until it returns true; rejects on abort or timeout. */
  waitUntil(check: () => boolean, opts: { signal?: AbortSignal; timeoutMs: number }): Promise<void>;
  markDirty(): void;
  /** Resolves once every change so far is on disk (what the chain acknowledges survives a crash). */
  durable(): Promise<void>;
  logger: Logger;
}

export const SECTOR_SIZES = [2048, 8 << 20, 512 << 20, 32 * 2 ** 30, 64 * 2 ** 30];
const HEAD_ONLY_FLUSH_EPOCHS = 10;

export async function createChain(init: ChainInit): Promise<Chain> {
  const logger = init.logger ?? pino({ level: 'silent' });
  const epochMs = init.epochMs ?? 1000;
  const file = init.dataDir == null ? undefined : join(init.dataDir, 'chain.json');
  if (init.dataDir != null) await mkdir(init.dataDir, { recursive: true });
  const state = (file == null ? undefined : await loadState(file)) ?? genesis(init);

  let timer: NodeJS.Timeout | undefined;
  let dirty = true;
  let lastFlushHead = state.head;
  let writing: Promise<void> = Promise.resolve();
  const listeners = new Set<() => void>();

  const flush = (): Promise<void> => {
    if (file == null) return Promise.resolve();
    const text = stateToJson(state);
    dirty = false;
    lastFlushHead = state.head;
    writing = writing
      .then(async () => {
        const tmp = `${file}.${process.pid}.tmp`;
        await writeFile(tmp, text);
        await rename(tmp, file);
      })
      .catch((err: unknown) => logger.error({ err }, 'chain: failed to persist state'));
    return writing;
  };

  const core: ChainCore = {
    state,
    epochMs,
    blockDelaySecs: Math.max(1, Math.round(epochMs / 1000)),
    mempool: undefined as unknown as Mempool,
    tipsetCid: (height) =>
      blake2bCid(dagCbor.encode(['firth-devnet-tipset', state.networkName, state.genesisTimestamp, height])),
    waitUntil(check, opts) {
      return new Promise<void>((resolve, reject) => {
        if (check()) return resolve();
        const done = (err?: Error): void => {
          listeners.delete(listener);
          clearTimeout(timeout);
          opts.signal?.removeEventListener('abort', onAbort);
          if (err == null) resolve();
          else reject(err);
        };
        const listener = (): void => {
          try {
            if (check()) done();
          } catch (err) {
            done(err as Error);
          }
        };
        const onAbort = (): void => done(new Error('request aborted'));
        const timeout = setTimeout(() => done(new Error('timed out waiting')), opts.timeoutMs);
        listeners.add(listener);
        opts.signal?.addEventListener('abort', onAbort, { once: true });
        if (opts.signal?.aborted === true) onAbort();
      });
    },
    markDirty() {
      dirty = true;
    },
    durable: () => (dirty ? flush() : writing),
    logger
  };
  core.mempool = createMempool(core);
  const handleRpc = createRpcHandler(core);

  const advance = (): void => {
    state.head += 1;
    let changed = false;
    for (const record of core.mempool.select()) {
      const result = applyMessage(state, record.message);
      record.receipt = result.receipt;
      record.height = state.head;
      record.error = result.error;
      core.mempool.applied(record);
      changed = true;
      logger.debug(
        {
          cid: record.cid,
          method: record.message.method,
          to: record.message.to,
          exitCode: result.receipt.exitCode,
          error: result.error
        },
        'chain: applied message'
      );
    }
    const events = runMarketCron(state);
    for (const event of events) logger.info(event, 'chain: market cron');
    // Per-epoch payments alone don't force a write: they are re-settled from `paidThrough` after a
    // reload, so the head-only flush interval is enough for them.
    if (events.length > 0) changed = true;
    trimHistory(state);
    if (changed) dirty = true;
    const notify = () => {
      for (const listener of [...listeners]) listener();
    };
    // Waiters (StateWaitMsg) hear of an applied message only once it is on disk: a provider that
    // checkpoints after the wait must never find the chain without it after a crash.
    if (dirty) void flush().then(notify);
    else {
      if (state.head - lastFlushHead >= HEAD_ONLY_FLUSH_EPOCHS) void flush();
      notify();
    }
  };

  const tick = (): void => {
    try {
      advance();
    } catch (err) {
      logger.error({ err }, 'chain: epoch failed');
    }
  };

  const chain: Chain = {
    get head() {
      return state.head;
    },
    faucet: state.faucet,
    epochMs,
    handleRpc,
    async createMiner(input) {
      const peerId = peerIdFromString(input.peerId).toString();
      const multiaddrs = input.multiaddrs.map((text) => multiaddr(text).bytes);
      if (!SECTOR_SIZES.includes(input.sectorSize)) {
        throw new TypeError(
          `unsupported sector size ${input.sectorSize} (one of ${SECTOR_SIZES.join(', ')})`
        );
      }
      const workerAddress = workerKeyAddress(input.workerKey);
      const workerId = resolveOrCreateAccount(state, workerAddress);
      if (workerId == null || state.actors.get(workerId)?.kind !== 'account') {
        throw new TypeError(`worker ${input.workerKey} must be a t1/t3 key address or public key`);
      }
      let ownerId = workerId;
      if (input.ownerAddress != null) {
        const owner = resolveOrCreateAccount(state, normalize(input.ownerAddress));
        if (owner == null || state.actors.get(owner)?.kind !== 'account') {
          throw new TypeError(`owner ${input.ownerAddress} must be an account`);
        }
        ownerId = owner;
      }
      const id = state.nextMinerId++;
      state.actors.set(id, { id, kind: 'miner', balance: 0n, nonce: 0 });
      state.miners.set(id, {
        id,
        owner: ownerId,
        worker: workerId,
        control: [],
        peerId,
        multiaddrs,
        sectorSize: input.sectorSize,
        sectors: {},
        rawPower: 0n,
        qaPower: 0n
      });
      logger.info({ miner: idAddress(id), peerId, worker: workerAddress }, 'chain: miner created');
      await flush();
      return { actorId: idAddress(id), workerId: idAddress(workerId) };
    },
    listMiners() {
      return [...state.miners.values()].map((m) => ({
        ActorID: idAddress(m.id),
        Owner: idAddress(m.owner),
        Worker: idAddress(m.worker),
        PeerId: m.peerId,
        Multiaddrs: m.multiaddrs.map((bytes) => multiaddr(bytes).toString()),
        SectorSize: m.sectorSize,
        RawBytePower: m.rawPower.toString()
      }));
    },
    async fund(address, amount) {
      if (amount <= 0n) throw new TypeError('amount must be positive');
      const id = resolveOrCreateAccount(state, normalize(address));
      if (id == null) throw new TypeError(`cannot fund ${address}: unknown actor`);
      const faucetId = state.keyToId.get(state.faucet.address)!;
      const faucet = state.actors.get(faucetId)!;
      if (faucet.balance < amount) throw new TypeError('faucet is out of funds');
      faucet.balance -= amount;
      state.actors.get(id)!.balance += amount;
      await flush();
    },
    async grantDataCap(address, amount) {
      if (amount <= 0n) throw new TypeError('amount must be positive');
      const id = resolveOrCreateAccount(state, normalize(address));
      if (id == null) throw new TypeError(`cannot grant DataCap to ${address}: unknown actor`);
      state.dataCap.set(id, (state.dataCap.get(id) ?? 0n) + amount);
      await flush();
    },
    advance: tick,
    waitForEpoch(epoch, opts) {
      return core.waitUntil(() => state.head >= epoch, { signal: opts?.signal, timeoutMs: 10 * 60_000 });
    },
    start() {
      if (timer != null) return;
      timer = setInterval(tick, epochMs);
      timer.unref?.();
    },
    async stop() {
      if (timer != null) clearInterval(timer);
      timer = undefined;
      await flush();
    }
  };
  return chain;
}

function normalize(address: string): string {
  const text = parseAddress(address).toString();
  return `t${text.slice(1)}`;
}

function workerKeyAddress(key: string): string {
  if (/^[ft][13]/.test(key)) return normalize(key);
  if (/^(0x)?[0-9a-fA-F]+$/.test(key)) {
    const bytes = Uint8Array.from(Buffer.from(key.replace(/^0x/, ''), 'hex'));
    if (bytes.length === 48) return fromPublicKey(bytes, NETWORK, 'BLS').toString();
    if (bytes.length === 65) return fromPublicKey(bytes, NETWORK, 'SECP256K1').toString();
  }
  throw new TypeError(
    `worker ${key} must be a t1/t3 address or a 48-byte BLS / 65-byte secp256k1 public key in hex`
  );
}

function genesis(init: ChainInit): ChainState {
  const faucetKey = create('SECP256K1', NETWORK);
  const faucet = {
    address: faucetKey.address.toString(),
    privateKey: Buffer.from(faucetKey.privateKey).toString('hex')
  };
  const state: ChainState = {
    networkName: init.networkName ?? 'firth-devnet',
    genesisTimestamp: Math.floor(Date.now() / 1000),
    head: 0,
    nextActorId: FIRST_ACCOUNT_ID,
    nextMinerId: FIRST_MINER_ID,
    actors: new Map(),
    keyToId: new Map(),
    miners: new Map(),
    escrow: new Map(),
    locked: new Map(),
    deals: new Map(),
    nextDealId: 1,
    pendingProposals: new Set(),
    dataCap: new Map(),
    verifiers: new Set(),
    messages: new Map(),
    faucet
  };
  const builtins: Array<[number, ActorKind]> = [
    [BUILTIN_IDS.system, 'system'],
    [BUILTIN_IDS.init, 'system'],
    [BUILTIN_IDS.reward, 'reward'],
    [BUILTIN_IDS.cron, 'system'],
    [BUILTIN_IDS.power, 'power'],
    [BUILTIN_IDS.market, 'market'],
    [BUILTIN_IDS.verifreg, 'verifreg'],
    [BUILTIN_IDS.burnt, 'burnt']
  ];
  for (const [id, kind] of builtins) state.actors.set(id, { id, kind, balance: 0n, nonce: 0 });
  const faucetId = resolveOrCreateAccount(state, faucet.address)!;
  state.actors.get(faucetId)!.balance = 1_000_000_000n * FIL;
  state.verifiers.add(faucetId);
  for (const account of init.genesisAccounts ?? []) {
    const id = resolveOrCreateAccount(state, normalize(account.address));
    if (id == null) throw new TypeError(`genesis account ${account.address} must be a t1/t3 address`);
    state.actors.get(id)!.balance += account.balance;
    if (account.dataCap != null && account.dataCap > 0n) state.dataCap.set(id, account.dataCap);
  }
  return state;
}

async function loadState(file: string): Promise<ChainState | undefined> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  return stateFromJson(text);
}

/** Drops the oldest applied messages beyond the history limit (pending ones stay). */
function trimHistory(state: ChainState): void {
  if (state.messages.size <= MESSAGE_HISTORY_LIMIT) return;
  let excess = state.messages.size - MESSAGE_HISTORY_LIMIT;
  for (const [cid, record] of state.messages) {
    if (excess <= 0) break;
    if (record.height == null) continue;
    state.messages.delete(cid);
    excess -= 1;
  }
}
