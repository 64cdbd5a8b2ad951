// DealProposal (CBOR tuple of 11, go-state-types builtin/v9/market) and ClientDealProposal
// ([proposal, signature bytes]). Field order is normative: filecoin.md §2.1.
import * as dagCbor from '@ipld/dag-cbor';
import { CID } from 'multiformats/cid';
import { addressFromBytes, addressToBytes } from './address.ts';
import { decodeBigInt, encodeBigInt } from './big-int.ts';
import { blake2bCid, sha256Cid } from './cids.ts';

export const FIL_COMMITMENT_UNSEALED = 0xf101;
export const SHA2_256_TRUNC254_PADDED = 0x1012;
export const MAX_LABEL_BYTES = 256;

export interface DealProposal {
  pieceCid: CID;
  pieceSize: number;
  verifiedDeal: boolean;
  /** Address string (`t1…`, `t3…` or `t0…`). */
  client: string;
  provider: string;
  /** Text labels encode as CBOR text, byte labels as CBOR bytes (filecoin.md §2.2). */
  label: string | Uint8Array;
  startEpoch: number;
  endEpoch: number;
  storagePricePerEpoch: bigint;
  providerCollateral: bigint;
  clientCollateral: bigint;
}

export interface ClientDealProposal {
  proposal: DealProposal;
  /** Type byte ‖ signature data. */
  clientSignature: Uint8Array;
}

export type DealProposalTuple = [
  CID,
  number,
  boolean,
  Uint8Array,
  Uint8Array,
  string | Uint8Array,
  number,
  number,
  Uint8Array,
  Uint8Array,
  Uint8Array
];

export function dealProposalToTuple(p: DealProposal): DealProposalTuple {
  return [
    p.pieceCid,
    p.pieceSize,
    p.verifiedDeal,
    addressToBytes(p.client),
    addressToBytes(p.provider),
    p.label,
    p.startEpoch,
    p.endEpoch,
    encodeBigInt(p.storagePricePerEpoch),
    encodeBigInt(p.providerCollateral),
    encodeBigInt(p.clientCollateral)
  ];
}

/** Validates the shape of a decoded tuple; throws TypeError with what is wrong. */
export function dealProposalFromTuple(value: unknown): DealProposal {
  if (!Array.isArray(value) || value.length !== 11) {
    throw new TypeError('DealProposal must be an array of 11 fields');
  }
  const [pieceCid, pieceSize, verified, client, provider, label, start, end, price, provCol, clientCol] =
    value as unknown[];
  const cid = CID.asCID(pieceCid);
  if (cid == null) throw new TypeError('DealProposal.PieceCID is not a CID');
  if (!isSafeInt(pieceSize) || pieceSize < 0) throw new TypeError('DealProposal.PieceSize is not a uint');
  if (typeof verified !== 'boolean') throw new TypeError('DealProposal.VerifiedDeal is not a bool');
  if (!(client instanceof Uint8Array) || !(provider instanceof Uint8Array)) {
    throw new TypeError('DealProposal.Client/Provider must be address bytes');
  }
  if (typeof label !== 'string' && !(label instanceof Uint8Array)) {
    throw new TypeError('DealProposal.Label must be text or bytes');
  }
  if (!isSafeInt(start) || !isSafeInt(end)) throw new TypeError('DealProposal epochs must be ints');
  for (const big of [price, provCol, clientCol]) {
    if (!(big instanceof Uint8Array)) throw new TypeError('DealProposal amounts must be big-int bytes');
  }
  return {
    pieceCid: cid,
    pieceSize,
    verifiedDeal: verified,
    client: addressFromBytes(client),
    provider: addressFromBytes(provider),
    label,
    startEpoch: start,
    endEpoch: end,
    storagePricePerEpoch: decodeBigInt(price as Uint8Array),
    providerCollateral: decodeBigInt(provCol as Uint8Array),
    clientCollateral: decodeBigInt(clientCol as Uint8Array)
  };
}

/** The bytes a client signs (`cborutil.Dump(&proposal)`). */
export function encodeDealProposal(p: DealProposal): Uint8Array {
  return dagCbor.encode(dealProposalToTuple(p));
}

export function decodeDealProposal(bytes: Uint8Array): DealProposal {
  return dealProposalFromTuple(dagCbor.decode(bytes));
}

export function clientDealProposalToTuple(c: ClientDealProposal): [DealProposalTuple, Uint8Array] {
  return [dealProposalToTuple(c.proposal), c.clientSignature];
}

export function clientDealProposalFromTuple(value: unknown): ClientDealProposal {
  if (!Array.isArray(value) || value.length !== 2) {
    throw new TypeError('ClientDealProposal must be an array of 2 fields');
  }
  const [proposal, signature] = value as unknown[];
  if (!(signature instanceof Uint8Array)) throw new TypeError('ClientSignature must be bytes');
  return { proposal: dealProposalFromTuple(proposal), clientSignature: signature };
}

export function encodeClientDealProposal(c: ClientDealProposal): Uint8Array {
  return dagCbor.encode(clientDealProposalToTuple(c));
}

/** The chain's key for a proposal (blake2b-256 of the proposal tuple). */
export function proposalCid(p: DealProposal): CID {
  return blake2bCid(encodeDealProposal(p));
}

/** Boost's SignedProposalCid: sha2-256 of the ClientDealProposal tuple; also the IPNI ContextID. */
export function signedProposalCid(c: ClientDealProposal): Promise<CID> {
  return sha256Cid(encodeClientDealProposal(c));
}

export function isPieceCid(cid: CID): boolean {
  return (
    cid.version === 1 &&
    cid.code === FIL_COMMITMENT_UNSEALED &&
    cid.multihash.code === SHA2_256_TRUNC254_PADDED &&
    cid.multihash.size === 32
  );
}

export function labelByteLength(label: string | Uint8Array): number {
  return typeof label === 'string' ? new TextEncoder().encode(label).length : label.length;
}

function isSafeInt(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value);
}
