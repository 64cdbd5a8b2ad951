// The devnet chain's whole state as plain data, plus its JSON form for `chain.json` (big ints as
// decimal strings, bytes as base64). Actors are keyed by numeric ID; key addresses (t1/t3) map to
// account IDs, as the init actor does on Lotus.
import { CID } from 'multiformats/cid';
import type { DealProposal } from '../wire/deal-proposal.ts';

export type ActorKind = 'system' | 'account' | 'miner' | 'market' | 'verifreg' | 'power' | 'reward' | 'burnt';

export interface ActorState {
  id: number;
  kind: ActorKind;
  /** Key address (t1/t3) of an account actor. */
  key?: string;
  balance: bigint;
  nonce: number;
}

export interface MinerActorState {
  id: number;
  owner: number;
  worker: number;
  control: number[];
  peerId: string;
  /** Multiaddrs as their binary form (Lotus JSON shows base64 of these bytes). */
  multiaddrs: Uint8Array[];
  sectorSize: number;
  /** Sector number → deal IDs it holds. */
  sectors: Record<string, number[]>;
  rawPower: bigint;
  qaPower: bigint;
}

/** On-chain deal: proposal with Client/Provider normalised to ID addresses, plus its state. */
export interface DealRecord {
  id: number;
  proposal: DealProposal;
  proposalCid: string;
  sectorNumber: number;
  sectorStartEpoch: number;
  lastUpdatedEpoch: number;
  slashEpoch: number;
  /** Epoch up to which the client has paid the provider. */
  paidThrough: number;
}

/** A signed message as it travels: the message fields plus the signature bytes. */
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

export interface Receipt {
  exitCode: number;
  return: Uint8Array | null;
  gasUsed: number;
}

export interface MessageRecord {
  /** CID MpoolPush returned (signed CID for secp, message CID for BLS). */
  cid: string;
  /** Unsigned message CID. */
  messageCid: string;
  message: ChainMessage;
  /** Type byte ‖ data. */
  signature: Uint8Array;
  receipt?: Receipt;
  /** Epoch whose tipset includes the message; undefined while pending. */
  height?: number;
  /** Human-readable reason for a non-zero exit code (devnet logs and StateReplay). */
  error?: string;
}

export interface ChainState {
  networkName: string;
  genesisTimestamp: number;
  head: number;
  nextActorId: number;
  nextMinerId: number;
  actors: Map<number, ActorState>;
  keyToId: Map<string, number>;
  miners: Map<number, MinerActorState>;
  escrow: Map<number, bigint>;
  locked: Map<number, bigint>;
  deals: Map<number, DealRecord>;
  nextDealId: number;
  pendingProposals: Set<string>;
  dataCap: Map<number, bigint>;
  verifiers: Set<number>;
  /** Applied messages (bounded) and pending ones, by the CID MpoolPush returned. */
  messages: Map<string, MessageRecord>;
  faucet: { address: string; privateKey: string };
}

export const FIRST_ACCOUNT_ID = 100;
export const FIRST_MINER_ID = 1000;
export const MESSAGE_HISTORY_LIMIT = 100_000;

interface StateJson {
  version: 1;
  networkName: string;
  genesisTimestamp: number;
  head: number;
  nextActorId: number;
  nextMinerId: number;
  actors: Array<{ id: number; kind: ActorKind; key?: string; balance: string; nonce: number }>;
  miners: Array<
    Omit<MinerActorState, 'multiaddrs' | 'rawPower' | 'qaPower'> & {
      multiaddrs: string[];
      rawPower: string;
      qaPower: string;
    }
  >;
  escrow: Array<[number, string]>;
  locked: Array<[number, string]>;
  deals: Array<{
    id: number;
    proposal: Record<string, unknown>;
    proposalCid: string;
    sectorNumber: number;
    sectorStartEpoch: number;
    lastUpdatedEpoch: number;
    slashEpoch: number;
    paidThrough: number;
  }>;
  nextDealId: number;
  pendingProposals: string[];
  dataCap: Array<[number, string]>;
  verifiers: number[];
  messages: Array<{
    cid: string;
    messageCid: string;
    message: Record<string, unknown>;
    signature: string;
    receipt?: { exitCode: number; return: string | null; gasUsed: number };
    height?: number;
    error?: string;
  }>;
  faucet: { address: string; privateKey: string };
}

const b64 = (bytes: Uint8Array): string => Buffer.from(bytes).toString('base64');
const unb64 = (text: string): Uint8Array => new Uint8Array(Buffer.from(text, 'base64'));

export function stateToJson(state: ChainState): string {
  const json: StateJson = {
    version: 1,
    networkName: state.networkName,
    genesisTimestamp: state.genesisTimestamp,
    head: state.head,
    nextActorId: state.nextActorId,
    nextMinerId: state.nextMinerId,
    actors: [...state.actors.values()].map((a) => ({ ...a, balance: a.balance.toString() })),
    miners: [...state.miners.values()].map((m) => ({
      ...m,
      multiaddrs: m.multiaddrs.map(b64),
      rawPower: m.rawPower.toString(),
      qaPower: m.qaPower.toString()
    })),
    escrow: [...state.escrow].map(([k, v]) => [k, v.toString()]),
    locked: [...state.locked].map(([k, v]) => [k, v.toString()]),
    deals: [...state.deals.values()].map((d) => ({ ...d, proposal: proposalToJson(d.proposal) })),
    nextDealId: state.nextDealId,
    pendingProposals: [...state.pendingProposals],
    dataCap: [...state.dataCap].map(([k, v]) => [k, v.toString()]),
    verifiers: [...state.verifiers],
    messages: [...state.messages.values()].map((m) => ({
      cid: m.cid,
      messageCid: m.messageCid,
      message: messageToJson(m.message),
      signature: b64(m.signature),
      receipt:
        m.receipt == null
          ? undefined
          : {
              exitCode: m.receipt.exitCode,
              return: m.receipt.return == null ? null : b64(m.receipt.return),
              gasUsed: m.receipt.gasUsed
            },
      height: m.height,
      error: m.error
    })),
    faucet: state.faucet
  };
  return JSON.stringify(json);
}

export function stateFromJson(text: string): ChainState {
  const json = JSON.parse(text) as StateJson;
  if (json.version !== 1) throw new Error(`unsupported chain state version ${String(json.version)}`);
  const actors = new Map<number, ActorState>();
  const keyToId = new Map<string, number>();
  for (const a of json.actors) {
    actors.set(a.id, { ...a, balance: BigInt(a.balance) });
    if (a.key != null) keyToId.set(a.key, a.id);
  }
  return {
    networkName: json.networkName,
    genesisTimestamp: json.genesisTimestamp,
    head: json.head,
    nextActorId: json.nextActorId,
    nextMinerId: json.nextMinerId,
    actors,
    keyToId,
    miners: new Map(
      json.miners.map((m) => [
        m.id,
        {
          ...m,
          multiaddrs: m.multiaddrs.map(unb64),
          rawPower: BigInt(m.rawPower),
          qaPower: BigInt(m.qaPower)
        }
      ])
    ),
    escrow: new Map(json.escrow.map(([k, v]) => [k, BigInt(v)])),
    locked: new Map(json.locked.map(([k, v]) => [k, BigInt(v)])),
    deals: new Map(json.deals.map((d) => [d.id, { ...d, proposal: proposalFromJson(d.proposal) }])),
    nextDealId: json.nextDealId,
    pendingProposals: new Set(json.pendingProposals),
    dataCap: new Map(json.dataCap.map(([k, v]) => [k, BigInt(v)])),
    verifiers: new Set(json.verifiers),
    messages: new Map(
      json.messages.map((m) => [
        m.cid,
        {
          cid: m.cid,
          messageCid: m.messageCid,
          message: messageFromJson(m.message),
          signature: unb64(m.signature),
          receipt:
            m.receipt == null
              ? undefined
              : {
                  exitCode: m.receipt.exitCode,
                  return: m.receipt.return == null ? null : unb64(m.receipt.return),
                  gasUsed: m.receipt.gasUsed
                },
          height: m.height,
          error: m.error
        }
      ])
    ),
    faucet: json.faucet
  };
}

function proposalToJson(p: DealProposal): Record<string, unknown> {
  return {
    pieceCid: p.pieceCid.toString(),
    pieceSize: p.pieceSize,
    verifiedDeal: p.verifiedDeal,
    client: p.client,
    provider: p.provider,
    label: typeof p.label === 'string' ? { text: p.label } : { bytes: b64(p.label) },
    startEpoch: p.startEpoch,
    endEpoch: p.endEpoch,
    storagePricePerEpoch: p.storagePricePerEpoch.toString(),
    providerCollateral: p.providerCollateral.toString(),
    clientCollateral: p.clientCollateral.toString()
  };
}

function proposalFromJson(j: Record<string, unknown>): DealProposal {
  const label = j.label as { text?: string; bytes?: string };
  return {
    pieceCid: CID.parse(j.pieceCid as string),
    pieceSize: j.pieceSize as number,
    verifiedDeal: j.verifiedDeal as boolean,
    client: j.client as string,
    provider: j.provider as string,
    label: label.text ?? unb64(label.bytes ?? ''),
    startEpoch: j.startEpoch as number,
    endEpoch: j.endEpoch as number,
    storagePricePerEpoch: BigInt(j.storagePricePerEpoch as string),
    providerCollateral: BigInt(j.providerCollateral as string),
    clientCollateral: BigInt(j.clientCollateral as string)
  };
}

function messageToJson(m: ChainMessage): Record<string, unknown> {
  return {
    ...m,
    value: m.value.toString(),
    gasFeeCap: m.gasFeeCap.toString(),
    gasPremium: m.gasPremium.toString(),
    params: b64(m.params)
  };
}

function messageFromJson(j: Record<string, unknown>): ChainMessage {
  return {
    version: j.version as number,
    to: j.to as string,
    from: j.from as string,
    nonce: j.nonce as number,
    value: BigInt(j.value as string),
    gasLimit: j.gasLimit as number,
    gasFeeCap: BigInt(j.gasFeeCap as string),
    gasPremium: BigInt(j.gasPremium as string),
    method: j.method as number,
    params: unb64(j.params as string)
  };
}
