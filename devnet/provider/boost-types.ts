// Boost's mk12 envelopes (storagemarket/types/types.go, cbor-gen --map-encoding): CBOR maps whose
// key order is cbor-gen's canonical order, which @ipld/dag-cbor reproduces. The embedded
// ClientDealProposal stays a tuple (devnet/wire/deal-proposal.ts). Decoders validate shapes and
// throw TypeError naming the bad field, which the protocol handlers turn into Boost-like replies.
import * as dagCbor from '@ipld/dag-cbor';
import { CID } from 'multiformats/cid';
import { addressFromBytes, addressToBytes } from '../wire/address.ts';
import { encodeBigInt } from '../wire/big-int.ts';
import {
  clientDealProposalFromTuple,
  dealProposalToTuple,
  type ClientDealProposal,
  type DealProposal
} from '../wire/deal-proposal.ts';

export const PROTOCOL_DEAL_V121 = '/fil/storage/mk/1.2.1';
export const PROTOCOL_DEAL_V120 = '/fil/storage/mk/1.2.0';
export const PROTOCOL_STATUS = '/fil/storage/status/1.2.0';
export const PROTOCOL_ASK = '/fil/storage/ask/1.1.0';

export interface Transfer {
  type: string;
  clientId: string;
  /** JSON `{"URL","Headers"}` for http */
  params: Uint8Array;
  size: number;
}

export interface DealParams {
  dealUuid: string;
  isOffline: boolean;
  clientDealProposal: ClientDealProposal;
  dealDataRoot: CID;
  transfer: Transfer;
  skipIpniAnnounce: boolean;
  removeUnsealedCopy: boolean;
}

export interface DealResponse {
  accepted: boolean;
  message: string;
}

export interface DealStatus {
  error: string;
  status: string;
  sealingStatus: string;
  proposal: DealProposal;
  signedProposalCid: CID;
  publishCid: CID | null;
  chainDealId: number;
}

export interface DealStatusResponse {
  dealUuid: string;
  error: string;
  isOffline: boolean;
  transferSize: number;
  nBytesReceived: number;
  dealStatus: DealStatus | null;
}

export interface StorageAsk {
  price: bigint;
  verifiedPrice: bigint;
  minPieceSize: number;
  maxPieceSize: number;
  miner: string;
  timestamp: number;
  expiry: number;
  seqNo: number;
}

export function uuidToString(bytes: Uint8Array): string {
  const hex = Buffer.from(bytes).toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

export function uuidToBytes(uuid: string): Uint8Array {
  const hex = uuid.replaceAll('-', '');
  if (!/^[0-9a-f]{32}$/i.test(hex)) throw new TypeError(`invalid UUID ${uuid}`);
  return Uint8Array.from(Buffer.from(hex, 'hex'));
}

function asMap(value: unknown, what: string): Record<string, unknown> {
  if (value == null || typeof value !== 'object' || Array.isArray(value) || value instanceof Uint8Array) {
    throw new TypeError(`${what}: expected a CBOR map`);
  }
  return value as Record<string, unknown>;
}

function field<T>(map: Record<string, unknown>, key: string, check: (v: unknown) => v is T, what: string): T {
  const value = map[key];
  if (!check(value)) throw new TypeError(`${what}.${key}: wrong type`);
  return value;
}

const isBool = (v: unknown): v is boolean => typeof v === 'boolean';
const isText = (v: unknown): v is string => typeof v === 'string';
const isBytes = (v: unknown): v is Uint8Array => v instanceof Uint8Array;
const isUint = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
/** Booleans added in 1.2.1 default to false when a 1.2.0 client omits them. */
const optionalBool = (map: Record<string, unknown>, key: string): boolean => map[key] === true;

export function decodeDealParams(value: unknown): DealParams {
  const map = asMap(value, 'DealParams');
  const uuid = field(map, 'DealUUID', isBytes, 'DealParams');
  if (uuid.length !== 16) throw new TypeError('DealParams.DealUUID: expected 16 bytes');
  const transferMap = asMap(map.Transfer, 'DealParams.Transfer');
  const root = CID.asCID(map.DealDataRoot);
  if (root == null) throw new TypeError('DealParams.DealDataRoot: expected a CID');
  return {
    dealUuid: uuidToString(uuid),
    isOffline: field(map, 'IsOffline', isBool, 'DealParams'),
    clientDealProposal: clientDealProposalFromTuple(map.ClientDealProposal),
    dealDataRoot: root,
    transfer: {
      type: field(transferMap, 'Type', isText, 'Transfer'),
      clientId: field(transferMap, 'ClientID', isText, 'Transfer'),
      params: field(transferMap, 'Params', isBytes, 'Transfer'),
      size: field(transferMap, 'Size', isUint, 'Transfer')
    },
    skipIpniAnnounce: optionalBool(map, 'SkipIPNIAnnounce'),
    removeUnsealedCopy: optionalBool(map, 'RemoveUnsealedCopy')
  };
}

export function encodeDealResponse(r: DealResponse): Uint8Array {
  return dagCbor.encode({ Accepted: r.accepted, Message: r.message });
}

export function decodeDealStatusRequest(value: unknown): { dealUuid: string; signature: Uint8Array } {
  const map = asMap(value, 'DealStatusRequest');
  const uuid = field(map, 'DealUUID', isBytes, 'DealStatusRequest');
  if (uuid.length !== 16) throw new TypeError('DealStatusRequest.DealUUID: expected 16 bytes');
  return { dealUuid: uuidToString(uuid), signature: field(map, 'Signature', isBytes, 'DealStatusRequest') };
}

export function encodeDealStatusResponse(r: DealStatusResponse): Uint8Array {
  const status = r.dealStatus;
  return dagCbor.encode({
    DealUUID: uuidToBytes(r.dealUuid),
    Error: r.error,
    IsOffline: r.isOffline,
    TransferSize: r.transferSize,
    NBytesReceived: r.nBytesReceived,
    DealStatus:
      status == null
        ? null
        : {
            Error: status.error,
            Status: status.status,
            SealingStatus: status.sealingStatus,
            Proposal: dealProposalToTuple(status.proposal),
            SignedProposalCid: status.signedProposalCid,
            PublishCid: status.publishCid,
            ChainDealID: status.chainDealId
          }
  });
}

export function decodeAskRequest(value: unknown): { miner: string } {
  const map = asMap(value, 'AskRequest');
  return { miner: addressFromBytes(field(map, 'Miner', isBytes, 'AskRequest')) };
}

/** The map CBOR the worker signs (`cborutil.Dump(ask)`). */
export function storageAskToMap(ask: StorageAsk): Record<string, unknown> {
  return {
    Price: encodeBigInt(ask.price),
    VerifiedPrice: encodeBigInt(ask.verifiedPrice),
    MinPieceSize: ask.minPieceSize,
    MaxPieceSize: ask.maxPieceSize,
    Miner: addressToBytes(ask.miner),
    Timestamp: ask.timestamp,
    Expiry: ask.expiry,
    SeqNo: ask.seqNo
  };
}

export function encodeStorageAsk(ask: StorageAsk): Uint8Array {
  return dagCbor.encode(storageAskToMap(ask));
}

export function encodeAskResponse(signed: { ask: StorageAsk; signature: Uint8Array } | null): Uint8Array {
  return dagCbor.encode({
    Ask: signed == null ? null : { Ask: storageAskToMap(signed.ask), Signature: signed.signature }
  });
}
