// Message application: gas, value transfer, and the built-in actor methods the devnet runs
// (account send, market escrow and deals, miner activation/termination, verified registry), with
// the exit codes builtin-actors uses. Each method validates before it mutates, so a failing
// message leaves state untouched except for its gas and nonce.
import * as dagCbor from '@ipld/dag-cbor';
import { base58btc } from 'multiformats/bases/base58';
import { addressFromBytes, idAddress } from '../wire/address.ts';
import { decodeBigInt, encodeBigInt } from '../wire/big-int.ts';
import {
  clientDealProposalFromTuple,
  encodeDealProposal,
  isPieceCid,
  labelByteLength,
  MAX_LABEL_BYTES,
  proposalCid,
  type ClientDealProposal
} from '../wire/deal-proposal.ts';
import { MarketMethod, METHOD_SEND, MinerMethod, VerifiedRegistryMethod } from '../wire/methods.ts';
import { encodeRlePlus } from '../wire/rle-plus.ts';
import { signatureFromBytes, verifySignature } from '../wire/signature.ts';
import type { ChainMessage, ChainState, DealRecord, MinerActorState, Receipt } from './state.ts';

/** go-state-types exitcode values. */
export const ExitCode = {
  Ok: 0,
  SysErrSenderInvalid: 1,
  SysErrSenderStateInvalid: 2,
  SysErrInvalidReceiver: 5,
  SysErrInsufficientFunds: 6,
  SysErrOutOfGas: 7,
  ErrIllegalArgument: 16,
  ErrNotFound: 17,
  ErrForbidden: 18,
  ErrInsufficientFunds: 19,
  ErrIllegalState: 20,
  ErrSerialization: 21,
  ErrUnhandledMessage: 22
} as const;

export const FIL = 10n ** 18n;
/** Fixed base fee: the devnet has no congestion. */
export const BASE_FEE = 100n;
export const TOTAL_FILECOIN = 2_000_000_000n * FIL;
/** builtin-actors policy.rs deal_duration_bounds (actors ≥ v12). */
export const DEAL_MIN_DURATION = 518_400;
export const DEAL_MAX_DURATION = 3_680_640;
/** Devnet constants for the provider collateral formula (documented in README.md). */
export const DEVNET_CIRCULATING_SUPPLY = 1_000_000n * FIL;
export const DEVNET_BASELINE_POWER = 2n ** 50n;
export const CONSENSUS_MINER_MIN_POWER = 2048n;

const ID = { system: 0, init: 1, reward: 2, cron: 3, power: 4, market: 5, verifreg: 6, burnt: 99 } as const;

export class ActorError extends Error {
  readonly exitCode: number;
  constructor(exitCode: number, message: string) {
    super(message);
    this.exitCode = exitCode;
  }
}

// ---- addresses and balances ----

/** ID of the actor behind an address, or undefined. */
export function lookupId(state: ChainState, address: string): number | undefined {
  const protocol = address[1];
  if (protocol === '0') {
    const id = Number(address.slice(2));
    return state.actors.has(id) ? id : undefined;
  }
  return state.keyToId.get(`t${address.slice(1)}`);
}

/** Resolves an address, creating an account actor for a new t1/t3 key (as a send to it would). */
export function resolveOrCreateAccount(state: ChainState, address: string): number | undefined {
  const existing = lookupId(state, address);
  if (existing != null) return existing;
  const protocol = address[1];
  if (protocol !== '1' && protocol !== '3') return undefined;
  const key = `t${address.slice(1)}`;
  const id = state.nextActorId++;
  state.actors.set(id, { id, kind: 'account', key, balance: 0n, nonce: 0 });
  state.keyToId.set(key, id);
  return id;
}

export function balanceOf(state: ChainState, id: number): bigint {
  return state.actors.get(id)?.balance ?? 0n;
}

function credit(state: ChainState, id: number, amount: bigint): void {
  const actor = state.actors.get(id);
  if (actor == null) throw new Error(`no actor ${id}`);
  actor.balance += amount;
}

function transfer(state: ChainState, from: number, to: number, amount: bigint): void {
  if (amount === 0n) return;
  credit(state, from, -amount);
  credit(state, to, amount);
}

export function available(state: ChainState, id: number): bigint {
  return (state.escrow.get(id) ?? 0n) - (state.locked.get(id) ?? 0n);
}

function addTo(map: Map<number, bigint>, id: number, delta: bigint): void {
  const next = (map.get(id) ?? 0n) + delta;
  if (next === 0n) map.delete(id);
  else map.set(id, next);
}

// ---- gas ----

/** Gas a message uses on the devnet: a flat cost per method, plus per-deal costs. */
export function gasUsedFor(message: ChainMessage): number {
  if (message.method === METHOD_SEND) return 1_000_000;
  const deals = countParamItems(message.params);
  const to = message.to;
  if (to === 't05' && message.method === MarketMethod.PublishStorageDeals)
    return 20_000_000 + 5_000_000 * deals;
  if (message.method === MinerMethod.ProveCommitSectors3) return 30_000_000 + 1_000_000 * deals;
  if (message.method === MinerMethod.TerminateSectors) return 20_000_000;
  return 5_000_000;
}

function countParamItems(params: Uint8Array): number {
  try {
    const decoded = dagCbor.decode(params);
    if (Array.isArray(decoded)) {
      const inner = decoded.find((x) => Array.isArray(x)) as unknown[] | undefined;
      return inner?.length ?? 0;
    }
  } catch {
    // Params that are not CBOR cost the base amount; the actor rejects them.
  }
  return 0;
}

// ---- application ----

export interface ApplyResult {
  receipt: Receipt;
  error?: string;
}

/**
 * Applies one message whose sender exists and can cover GasLimit·GasFeeCap (the pool checks both
 * before selecting it). Charges gas, bumps the nonce, runs the method, transfers value on success.
 */
export function applyMessage(state: ChainState, message: ChainMessage): ApplyResult {
  const fromId = lookupId(state, message.from);
  const sender = fromId == null ? undefined : state.actors.get(fromId);
  if (fromId == null || sender == null) {
    return {
      receipt: { exitCode: ExitCode.SysErrSenderInvalid, return: null, gasUsed: 0 },
      error: 'sender not found'
    };
  }
  const needed = gasUsedFor(message);
  const gasUsed = Math.min(needed, message.gasLimit);
  const tipPerGas = minBig(message.gasPremium, message.gasFeeCap - BASE_FEE);
  const burn = BigInt(gasUsed) * BASE_FEE;
  const tip = tipPerGas > 0n ? BigInt(gasUsed) * tipPerGas : 0n;
  transfer(state, fromId, ID.burnt, burn);
  transfer(state, fromId, ID.reward, tip);
  sender.nonce += 1;
  if (needed > message.gasLimit) {
    return { receipt: { exitCode: ExitCode.SysErrOutOfGas, return: null, gasUsed }, error: 'out of gas' };
  }
  if (sender.balance < message.value) {
    return {
      receipt: { exitCode: ExitCode.SysErrInsufficientFunds, return: null, gasUsed },
      error: `transfer failed when deducting funds (${message.value}): not enough funds`
    };
  }
  const toId = resolveOrCreateAccount(state, message.to);
  if (toId == null) {
    return {
      receipt: { exitCode: ExitCode.SysErrInvalidReceiver, return: null, gasUsed },
      error: `actor ${message.to} not found`
    };
  }
  try {
    const ret = invoke(state, { caller: fromId, receiver: toId, value: message.value, message });
    transfer(state, fromId, toId, message.value);
    return { receipt: { exitCode: ExitCode.Ok, return: ret, gasUsed } };
  } catch (err) {
    if (err instanceof ActorError)
      return { receipt: { exitCode: err.exitCode, return: null, gasUsed }, error: err.message };
    return {
      receipt: { exitCode: ExitCode.ErrIllegalState, return: null, gasUsed },
      error: err instanceof Error ? err.message : String(err)
    };
  }
}

interface Invocation {
  caller: number;
  receiver: number;
  value: bigint;
  message: ChainMessage;
}

function invoke(state: ChainState, inv: Invocation): Uint8Array | null {
  const { method } = inv.message;
  if (method === METHOD_SEND) return null;
  const kind = state.actors.get(inv.receiver)?.kind;
  if (kind === 'market') {
    if (method === MarketMethod.AddBalance) return addBalance(state, inv);
    if (method === MarketMethod.WithdrawBalance) return withdrawBalance(state, inv);
    if (method === MarketMethod.PublishStorageDeals) return publishStorageDeals(state, inv);
  } else if (kind === 'miner') {
    if (method === MinerMethod.ProveCommitSectors3) return proveCommitSectors(state, inv);
    if (method === MinerMethod.TerminateSectors) return terminateSectors(state, inv);
    if (method === MinerMethod.ChangePeerID) return changePeerId(state, inv);
    if (method === MinerMethod.ChangeMultiaddrs) return changeMultiaddrs(state, inv);
  } else if (kind === 'verifreg') {
    if (method === VerifiedRegistryMethod.AddVerifiedClient) return addVerifiedClient(state, inv);
  }
  throw new ActorError(
    ExitCode.ErrUnhandledMessage,
    `unhandled method ${method} on actor ${idAddress(inv.receiver)}`
  );
}

function decodeParams(params: Uint8Array): unknown {
  try {
    return dagCbor.decode(params);
  } catch (err) {
    throw new ActorError(ExitCode.ErrSerialization, `failed to decode params: ${(err as Error).message}`);
  }
}

function paramAddress(value: unknown): string {
  if (!(value instanceof Uint8Array))
    throw new ActorError(ExitCode.ErrSerialization, 'expected address bytes');
  try {
    return addressFromBytes(value);
  } catch (err) {
    throw new ActorError(ExitCode.ErrSerialization, `invalid address: ${(err as Error).message}`);
  }
}

function paramBigInt(value: unknown): bigint {
  if (!(value instanceof Uint8Array))
    throw new ActorError(ExitCode.ErrSerialization, 'expected big int bytes');
  try {
    return decodeBigInt(value);
  } catch (err) {
    throw new ActorError(ExitCode.ErrSerialization, (err as Error).message);
  }
}

function paramUint(value: unknown, name: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw new ActorError(ExitCode.ErrSerialization, `${name} must be an unsigned integer`);
  }
  return value;
}

function paramTuple(params: Uint8Array, length: number, name: string): unknown[] {
  const value = decodeParams(params);
  if (!Array.isArray(value) || value.length !== length) {
    throw new ActorError(ExitCode.ErrSerialization, `${name} must be an array of ${length} fields`);
  }
  return value as unknown[];
}

// ---- market actor ----

function escrowTarget(state: ChainState, address: string): number {
  const id = lookupId(state, address);
  if (id == null) throw new ActorError(ExitCode.ErrIllegalArgument, `failed to resolve address ${address}`);
  return id;
}

function addBalance(state: ChainState, inv: Invocation): Uint8Array | null {
  const target = escrowTarget(state, paramAddress(decodeParams(inv.message.params)));
  if (inv.value <= 0n) {
    throw new ActorError(
      ExitCode.ErrIllegalArgument,
      `balance to add must be greater than zero was: ${inv.value}`
    );
  }
  addTo(state.escrow, target, inv.value);
  return null;
}

function withdrawBalance(state: ChainState, inv: Invocation): Uint8Array | null {
  const [addr, amountBytes] = paramTuple(inv.message.params, 2, 'WithdrawBalanceParams');
  const amount = paramBigInt(amountBytes);
  if (amount < 0n) throw new ActorError(ExitCode.ErrIllegalArgument, `negative amount ${amount}`);
  const nominal = escrowTarget(state, paramAddress(addr));
  const miner = state.miners.get(nominal);
  let recipient = nominal;
  if (miner != null) {
    if (inv.caller !== miner.owner && inv.caller !== miner.worker) {
      throw new ActorError(
        ExitCode.ErrForbidden,
        `caller ${idAddress(inv.caller)} is not the owner or worker`
      );
    }
    recipient = miner.owner;
  } else if (inv.caller !== nominal) {
    throw new ActorError(
      ExitCode.ErrForbidden,
      `caller ${idAddress(inv.caller)} is not ${idAddress(nominal)}`
    );
  }
  const withdrawn = minBig(amount, available(state, nominal));
  if (withdrawn > 0n) {
    addTo(state.escrow, nominal, -withdrawn);
    transfer(state, ID.market, recipient, withdrawn);
  }
  return dagCbor.encode(encodeBigInt(withdrawn));
}

/** builtin-actors policy.rs deal_provider_collateral_bounds with the devnet's constants. */
export function providerCollateralBounds(state: ChainState, pieceSize: bigint): { min: bigint; max: bigint } {
  let networkRaw = 0n;
  for (const m of state.miners.values()) networkRaw += m.rawPower;
  const denominator = maxBig(maxBig(networkRaw, DEVNET_BASELINE_POWER), pieceSize);
  const min = (DEVNET_CIRCULATING_SUPPLY * 1n * pieceSize) / (100n * denominator);
  return { min, max: TOTAL_FILECOIN };
}

function controls(miner: MinerActorState, caller: number): boolean {
  return caller === miner.worker || caller === miner.owner || miner.control.includes(caller);
}

function publishStorageDeals(state: ChainState, inv: Invocation): Uint8Array {
  const [list] = paramTuple(inv.message.params, 1, 'PublishStorageDealsParams');
  if (!Array.isArray(list)) throw new ActorError(ExitCode.ErrSerialization, 'Deals must be an array');
  let deals: ClientDealProposal[];
  try {
    deals = list.map((item) => clientDealProposalFromTuple(item));
  } catch (err) {
    throw new ActorError(ExitCode.ErrSerialization, `failed to decode deal: ${(err as Error).message}`);
  }
  if (deals.length === 0) throw new ActorError(ExitCode.ErrIllegalArgument, 'empty deals parameter');
  const providerId = lookupId(state, deals[0]!.proposal.provider);
  const miner = providerId == null ? undefined : state.miners.get(providerId);
  if (providerId == null || miner == null) {
    throw new ActorError(
      ExitCode.ErrIllegalArgument,
      `failed to resolve provider address ${deals[0]!.proposal.provider}`
    );
  }
  if (inv.caller !== miner.worker && !miner.control.includes(inv.caller)) {
    throw new ActorError(
      ExitCode.ErrForbidden,
      `caller ${idAddress(inv.caller)} is not worker or control address of provider ${idAddress(providerId)}`
    );
  }

  const head = state.head;
  const bounds = (size: number) => providerCollateralBounds(state, BigInt(size));
  // Running totals inside the batch so two deals can't spend the same escrow or DataCap.
  const clientNeeds = new Map<number, bigint>();
  let providerNeeds = 0n;
  const capNeeds = new Map<number, bigint>();
  const seen = new Set<string>();
  const valid: Array<{ index: number; deal: ClientDealProposal; clientId: number; cid: string }> = [];
  const rejections: string[] = [];

  deals.forEach((deal, index) => {
    const p = deal.proposal;
    const reject = (why: string): void => {
      rejections.push(`deal ${index}: ${why}`);
    };
    if (lookupId(state, p.provider) !== providerId) return reject('inconsistent provider');
    const clientId = lookupId(state, p.client);
    const clientKey = clientId == null ? undefined : state.actors.get(clientId)?.key;
    if (clientId == null || clientKey == null) return reject(`failed to resolve client ${p.client}`);
    let signatureOk: boolean;
    try {
      signatureOk = verifySignature(
        signatureFromBytes(deal.clientSignature),
        encodeDealProposal(p),
        clientKey
      );
    } catch {
      signatureOk = false;
    }
    if (!signatureOk) return reject('invalid client signature');
    if (labelByteLength(p.label) > MAX_LABEL_BYTES) return reject('label too long');
    if (p.endEpoch <= p.startEpoch) return reject('proposal end before proposal start');
    if (p.startEpoch <= head) return reject(`deal start epoch ${p.startEpoch} has already elapsed`);
    const duration = p.endEpoch - p.startEpoch;
    if (duration < DEAL_MIN_DURATION || duration > DEAL_MAX_DURATION) {
      return reject(`deal duration out of bounds: ${duration}`);
    }
    if (!isPieceCid(p.pieceCid)) return reject('invalid piece CID');
    if (p.pieceSize < 128 || (p.pieceSize & (p.pieceSize - 1)) !== 0) return reject('invalid piece size');
    if (p.pieceSize > miner.sectorSize) return reject('piece larger than the sector size');
    const b = bounds(p.pieceSize);
    if (p.providerCollateral < b.min || p.providerCollateral > b.max) {
      return reject(`provider collateral out of bounds: ${p.providerCollateral} < ${b.min}`);
    }
    if (p.clientCollateral < 0n || p.clientCollateral > TOTAL_FILECOIN)
      return reject('client collateral out of bounds');
    if (p.storagePricePerEpoch < 0n || p.storagePricePerEpoch > TOTAL_FILECOIN) {
      return reject('storage price out of bounds');
    }
    const normalized = { ...p, client: idAddress(clientId), provider: idAddress(providerId) };
    const cid = proposalCid(normalized).toString();
    if (state.pendingProposals.has(cid) || seen.has(cid))
      return reject('cannot publish duplicate deal proposal');
    if (p.verifiedDeal) {
      const cap = (state.dataCap.get(clientId) ?? 0n) - (capNeeds.get(clientId) ?? 0n);
      if (cap < BigInt(p.pieceSize)) return reject(`insufficient DataCap for client ${idAddress(clientId)}`);
    }
    const clientLock = p.storagePricePerEpoch * BigInt(duration) + p.clientCollateral;
    if (available(state, clientId) - (clientNeeds.get(clientId) ?? 0n) < clientLock) {
      return reject(`client ${idAddress(clientId)} has insufficient escrow for deal`);
    }
    if (available(state, providerId) - providerNeeds < p.providerCollateral) {
      return reject(`provider ${idAddress(providerId)} has insufficient escrow for collateral`);
    }
    clientNeeds.set(clientId, (clientNeeds.get(clientId) ?? 0n) + clientLock);
    providerNeeds += p.providerCollateral;
    if (p.verifiedDeal) capNeeds.set(clientId, (capNeeds.get(clientId) ?? 0n) + BigInt(p.pieceSize));
    seen.add(cid);
    valid.push({ index, deal: { ...deal, proposal: normalized }, clientId, cid });
  });

  if (valid.length === 0) {
    throw new ActorError(ExitCode.ErrIllegalArgument, `all deal proposals invalid: ${rejections.join('; ')}`);
  }
  const ids: number[] = [];
  for (const { deal, clientId, cid } of valid) {
    const p = deal.proposal;
    const id = state.nextDealId++;
    ids.push(id);
    addTo(
      state.locked,
      clientId,
      p.storagePricePerEpoch * BigInt(p.endEpoch - p.startEpoch) + p.clientCollateral
    );
    addTo(state.locked, providerId, p.providerCollateral);
    if (p.verifiedDeal) addTo(state.dataCap, clientId, -BigInt(p.pieceSize));
    state.pendingProposals.add(cid);
    state.deals.set(id, {
      id,
      proposal: p,
      proposalCid: cid,
      sectorNumber: 0,
      sectorStartEpoch: -1,
      lastUpdatedEpoch: -1,
      slashEpoch: -1,
      paidThrough: p.startEpoch
    });
  }
  return dagCbor.encode([ids, encodeRlePlus(valid.map((v) => v.index))]);
}

// ---- miner actor ----

function minerFor(state: ChainState, inv: Invocation): MinerActorState {
  const miner = state.miners.get(inv.receiver);
  if (miner == null) throw new ActorError(ExitCode.ErrIllegalState, 'miner state missing');
  if (!controls(miner, inv.caller)) {
    throw new ActorError(
      ExitCode.ErrForbidden,
      `caller ${idAddress(inv.caller)} is not the worker, owner or a control address`
    );
  }
  return miner;
}

function proveCommitSectors(state: ChainState, inv: Invocation): Uint8Array | null {
  const miner = minerFor(state, inv);
  const [sectorValue, idsValue] = paramTuple(inv.message.params, 2, 'ProveCommitSectors3Params');
  const sector = paramUint(sectorValue, 'SectorNumber');
  if (!Array.isArray(idsValue)) throw new ActorError(ExitCode.ErrSerialization, 'deal IDs must be an array');
  const dealIds = idsValue.map((v) => paramUint(v, 'DealID'));
  if (miner.sectors[String(sector)] != null) {
    throw new ActorError(ExitCode.ErrIllegalArgument, `sector ${sector} already committed`);
  }
  if (new Set(dealIds).size !== dealIds.length)
    throw new ActorError(ExitCode.ErrIllegalArgument, 'duplicate deal IDs');
  let total = 0;
  const deals: DealRecord[] = [];
  for (const id of dealIds) {
    const deal = state.deals.get(id);
    if (deal == null) throw new ActorError(ExitCode.ErrNotFound, `deal ${id} not found`);
    if (deal.proposal.provider !== idAddress(miner.id)) {
      throw new ActorError(ExitCode.ErrForbidden, `deal ${id} is not for provider ${idAddress(miner.id)}`);
    }
    if (deal.sectorStartEpoch !== -1)
      throw new ActorError(ExitCode.ErrIllegalArgument, `deal ${id} already activated`);
    if (state.head > deal.proposal.startEpoch) {
      throw new ActorError(
        ExitCode.ErrIllegalArgument,
        `proposal start epoch ${deal.proposal.startEpoch} has already elapsed at ${state.head}`
      );
    }
    total += deal.proposal.pieceSize;
    deals.push(deal);
  }
  if (total > miner.sectorSize)
    throw new ActorError(ExitCode.ErrIllegalArgument, 'deals exceed the sector size');
  for (const deal of deals) {
    deal.sectorNumber = sector;
    deal.sectorStartEpoch = state.head;
    deal.lastUpdatedEpoch = state.head;
    addPower(miner, deal, 1n);
  }
  miner.sectors[String(sector)] = dealIds;
  return null;
}

function addPower(miner: MinerActorState, deal: DealRecord, sign: bigint): void {
  const size = BigInt(deal.proposal.pieceSize);
  miner.rawPower += sign * size;
  miner.qaPower += sign * (deal.proposal.verifiedDeal ? size * 10n : size);
}

function terminateSectors(state: ChainState, inv: Invocation): Uint8Array {
  const miner = minerFor(state, inv);
  const [sectorValue] = paramTuple(inv.message.params, 1, 'TerminateSectorsParams');
  const sector = paramUint(sectorValue, 'SectorNumber');
  const dealIds = miner.sectors[String(sector)];
  if (dealIds == null) throw new ActorError(ExitCode.ErrIllegalArgument, `sector ${sector} not found`);
  for (const id of dealIds) {
    const deal = state.deals.get(id);
    if (deal == null) continue;
    settlePayments(state, deal);
    const p = deal.proposal;
    const clientId = Number(p.client.slice(2));
    // Slash the provider's collateral; return the client's unspent lock (nv22+: delete at once).
    slash(state, miner.id, p.providerCollateral);
    addTo(state.locked, clientId, -remainingClientLock(deal));
    removeDeal(state, deal);
  }
  delete miner.sectors[String(sector)];
  return dagCbor.encode([true]);
}

function changePeerId(state: ChainState, inv: Invocation): null {
  const miner = minerFor(state, inv);
  const [bytes] = paramTuple(inv.message.params, 1, 'ChangePeerIDParams');
  if (!(bytes instanceof Uint8Array) || bytes.length === 0) {
    throw new ActorError(ExitCode.ErrSerialization, 'NewID must be bytes');
  }
  miner.peerId = base58btc.baseEncode(bytes);
  return null;
}

function changeMultiaddrs(state: ChainState, inv: Invocation): null {
  const miner = minerFor(state, inv);
  const [addrs] = paramTuple(inv.message.params, 1, 'ChangeMultiaddrsParams');
  if (!Array.isArray(addrs) || !addrs.every((a) => a instanceof Uint8Array)) {
    throw new ActorError(ExitCode.ErrSerialization, 'NewMultiaddrs must be an array of bytes');
  }
  miner.multiaddrs = addrs as Uint8Array[];
  return null;
}

// ---- verified registry ----

function addVerifiedClient(state: ChainState, inv: Invocation): null {
  if (!state.verifiers.has(inv.caller)) {
    throw new ActorError(ExitCode.ErrNotFound, `invalid verifier ${idAddress(inv.caller)}`);
  }
  const [addr, allowanceBytes] = paramTuple(inv.message.params, 2, 'AddVerifiedClientParams');
  const allowance = paramBigInt(allowanceBytes);
  if (allowance <= 0n)
    throw new ActorError(ExitCode.ErrIllegalArgument, `allowance ${allowance} must be positive`);
  const address = paramAddress(addr);
  const id = resolveOrCreateAccount(state, address);
  if (id == null) throw new ActorError(ExitCode.ErrIllegalArgument, `failed to resolve client ${address}`);
  addTo(state.dataCap, id, allowance);
  return null;
}

// ---- market cron ----

function remainingClientLock(deal: DealRecord): bigint {
  const p = deal.proposal;
  const unpaid = BigInt(p.endEpoch - Math.max(deal.paidThrough, p.startEpoch));
  return p.storagePricePerEpoch * (unpaid > 0n ? unpaid : 0n) + p.clientCollateral;
}

/** Pays the provider for epochs elapsed since the last settlement (up to EndEpoch). */
function settlePayments(state: ChainState, deal: DealRecord): void {
  const p = deal.proposal;
  const from = Math.max(deal.paidThrough, p.startEpoch);
  const to = Math.min(state.head, p.endEpoch);
  if (to > from) {
    const payment = p.storagePricePerEpoch * BigInt(to - from);
    const clientId = Number(p.client.slice(2));
    const providerId = Number(p.provider.slice(2));
    addTo(state.escrow, clientId, -payment);
    addTo(state.locked, clientId, -payment);
    addTo(state.escrow, providerId, payment);
    deal.paidThrough = to;
  }
  deal.lastUpdatedEpoch = state.head;
}

function slash(state: ChainState, providerId: number, amount: bigint): void {
  if (amount === 0n) return;
  addTo(state.locked, providerId, -amount);
  addTo(state.escrow, providerId, -amount);
  transfer(state, ID.market, ID.burnt, amount);
}

function removeDeal(state: ChainState, deal: DealRecord): void {
  state.deals.delete(deal.id);
  state.pendingProposals.delete(deal.proposalCid);
  if (deal.sectorStartEpoch === -1) return;
  const miner = state.miners.get(Number(deal.proposal.provider.slice(2)));
  if (miner == null) return;
  addPower(miner, deal, -1n);
  const key = String(deal.sectorNumber);
  const remaining = (miner.sectors[key] ?? []).filter((id) => id !== deal.id);
  if (remaining.length === 0) delete miner.sectors[key];
  else miner.sectors[key] = remaining;
}

export interface CronEvent {
  type: 'deal-timeout' | 'deal-completed';
  dealId: number;
}

/** Market cron at the new head: time out unactivated deals, pay active ones, complete expired ones. */
export function runMarketCron(state: ChainState): CronEvent[] {
  const events: CronEvent[] = [];
  for (const deal of [...state.deals.values()]) {
    const p = deal.proposal;
    if (deal.sectorStartEpoch === -1) {
      if (state.head > p.startEpoch) {
        const clientId = Number(p.client.slice(2));
        slash(state, Number(p.provider.slice(2)), p.providerCollateral);
        addTo(state.locked, clientId, -remainingClientLock(deal));
        removeDeal(state, deal);
        events.push({ type: 'deal-timeout', dealId: deal.id });
      }
      continue;
    }
    if (state.head <= p.startEpoch) continue;
    settlePayments(state, deal);
    if (state.head >= p.endEpoch) {
      addTo(state.locked, Number(p.client.slice(2)), -p.clientCollateral);
      addTo(state.locked, Number(p.provider.slice(2)), -p.providerCollateral);
      removeDeal(state, deal);
      events.push({ type: 'deal-completed', dealId: deal.id });
    }
  }
  return events;
}

function minBig(a: bigint, b: bigint): bigint {
  return a < b ? a : b;
}

function maxBig(a: bigint, b: bigint): bigint {
  return a > b ? a : b;
}

export const BUILTIN_IDS = ID;
