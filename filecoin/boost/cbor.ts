// CBOR codecs for Boost's mk12 protocols and the on-chain deal types (filecoin.md §1.3, §2, §11).
// Boost's envelopes are cbor-gen *maps*, whose key order (length first, then bytewise) is DAG-CBOR's,
// so @ipld/dag-cbor reproduces their bytes; DealProposal and ClientDealProposal are *tuples*. Big
// ints are byte strings with a sign byte; addresses are their protocol byte ‖ payload.
import * as dagCbor from '@ipld/dag-cbor';
import { decodeFirst } from 'cborg';
import { fromBytes as addressFromBytes, fromString as addressFromString } from 'iso-filecoin/address';
import { CID } from 'multiformats/cid';
import { sha256 } from 'multiformats/hashes/sha2';
import { chainCid } from '../wallet/index.ts';

export class BoostCodecError extends Error {
  override name = 'BoostCodecError';
}

// --- primitives -----------------------------------------------------------------------------------

/** Filecoin big.Int bytes: empty for 0, else sign byte (0x00 +, 0x01 −) ‖ big-endian magnitude. */
export function encodeBigInt(value: bigint): Uint8Array {
  if (value === 0n) return new Uint8Array(0);
  const negative = value < 0n;
  let hex = (negative ? -value : value).toString(16);
  if (hex.length % 2 === 1) hex = '0' + hex;
  const out = new Uint8Array(1 + hex.length / 2);
  out[0] = negative ? 1 : 0;
  out.set(Buffer.from(hex, 'hex'), 1);
  return out;
}

export function decodeBigInt(bytes: Uint8Array): bigint {
  if (bytes.length === 0) return 0n;
  if (bytes[0] !== 0 && bytes[0] !== 1) throw new BoostCodecError(`bad big int sign byte ${bytes[0]}`);
  if (bytes.length === 1) throw new BoostCodecError('big int with a sign byte and no magnitude');
  const magnitude = BigInt('0x' + Buffer.from(bytes.subarray(1)).toString('hex'));
  return bytes[0] === 1 ? -magnitude : magnitude;
}

export function encodeAddress(address: string): Uint8Array {
  return addressFromString(address).toBytes();
}

export function decodeAddress(bytes: Uint8Array, network: 'mainnet' | 'testnet' = 'testnet'): string {
  return addressFromBytes(bytes, network).toString();
}

/** Decodes one CBOR item (tag 42 = CID), tolerant of any key order; ignores trailing bytes. */
export function decodeCbor(bytes: Uint8Array): unknown {
  const tags: Array<(decode: () => unknown) => unknown> = [];
  tags[42] = (decode) => {
    const inner = decode();
    if (!(inner instanceof Uint8Array) || inner[0] !== 0) throw new BoostCodecError('bad CID in tag 42');
    return CID.decode(inner.subarray(1));
  };
  try {
    return decodeFirst(bytes, { tags, useMaps: false, allowUndefined: false })[0];
  } catch (err) {
    throw new BoostCodecError(`not a CBOR item: ${(err as Error).message}`);
  }
}

const isMap = (v: unknown): v is Record<string, unknown> =>
  v != null &&
  typeof v === 'object' &&
  !Array.isArray(v) &&
  !(v instanceof Uint8Array) &&
  !(v instanceof CID);
const bytes = (v: unknown, what: string): Uint8Array => {
  if (v instanceof Uint8Array) return v;
  throw new BoostCodecError(`${what}: expected bytes`);
};
const text = (v: unknown, what: string): string => {
  if (typeof v === 'string') return v;
  throw new BoostCodecError(`${what}: expected text`);
};
const int = (v: unknown, what: string): number => {
  if (typeof v === 'number' && Number.isInteger(v)) return v;
  if (typeof v === 'bigint') return Number(v);
  throw new BoostCodecError(`${what}: expected an integer`);
};
const bool = (v: unknown, what: string): boolean => {
  if (typeof v === 'boolean') return v;
  throw new BoostCodecError(`${what}: expected a bool`);
};
const cid = (v: unknown, what: string): CID => {
  const c = CID.asCID(v);
  if (c == null) throw new BoostCodecError(`${what}: expected a CID`);
  return c;
};

// --- DealProposal / ClientDealProposal (tuples) ---------------------------------------------------

export interface DealProposal {
  pieceCid: CID;
  /** Padded piece size (power of two ≥ 128). */
  pieceSize: number;
  verifiedDeal: boolean;
  client: string;
  provider: string;
  /** Text label (Boost's CLI uses the root CID); bytes labels are kept as bytes. */
  label: string | Uint8Array;
  startEpoch: number;
  endEpoch: number;
  /** attoFIL per epoch for the whole deal. */
  storagePricePerEpoch: bigint;
  providerCollateral: bigint;
  clientCollateral: bigint;
}

export interface ClientDealProposal {
  proposal: DealProposal;
  /** Type byte ‖ signature data. */
  signature: Uint8Array;
}

function proposalTuple(p: DealProposal): unknown[] {
  return [
    p.pieceCid,
    p.pieceSize,
    p.verifiedDeal,
    encodeAddress(p.client),
    encodeAddress(p.provider),
    p.label,
    p.startEpoch,
    p.endEpoch,
    encodeBigInt(p.storagePricePerEpoch),
    encodeBigInt(p.providerCollateral),
    encodeBigInt(p.clientCollateral)
  ];
}

function proposalFromTuple(v: unknown): DealProposal {
  if (!Array.isArray(v) || v.length !== 11) throw new BoostCodecError('DealProposal: expected an 11-tuple');
  const label = v[5];
  if (typeof label !== 'string' && !(label instanceof Uint8Array)) {
    throw new BoostCodecError('DealProposal.Label: expected text or bytes');
  }
  return {
    pieceCid: cid(v[0], 'PieceCID'),
    pieceSize: int(v[1], 'PieceSize'),
    verifiedDeal: bool(v[2], 'VerifiedDeal'),
    client: decodeAddress(bytes(v[3], 'Client')),
    provider: decodeAddress(bytes(v[4], 'Provider')),
    label,
    startEpoch: int(v[6], 'StartEpoch'),
    endEpoch: int(v[7], 'EndEpoch'),
    storagePricePerEpoch: decodeBigInt(bytes(v[8], 'StoragePricePerEpoch')),
    providerCollateral: decodeBigInt(bytes(v[9], 'ProviderCollateral')),
    clientCollateral: decodeBigInt(bytes(v[10], 'ClientCollateral'))
  };
}

/** The bytes a client signs (`cborutil.Dump(&proposal)`). */
export function encodeDealProposal(p: DealProposal): Uint8Array {
  return dagCbor.encode(proposalTuple(p));
}

export function decodeDealProposal(b: Uint8Array): DealProposal {
  return proposalFromTuple(decodeCbor(b));
}

export function encodeClientDealProposal(c: ClientDealProposal): Uint8Array {
  return dagCbor.encode([proposalTuple(c.proposal), c.signature]);
}

export function decodeClientDealProposal(b: Uint8Array): ClientDealProposal {
  return clientProposalFromValue(decodeCbor(b));
}

function clientProposalFromValue(v: unknown): ClientDealProposal {
  if (!Array.isArray(v) || v.length !== 2)
    throw new BoostCodecError('ClientDealProposal: expected a 2-tuple');
  return { proposal: proposalFromTuple(v[0]), signature: bytes(v[1], 'ClientSignature') };
}

/** On-chain proposal CID: CIDv1(dag-cbor, blake2b-256) of the DealProposal CBOR. */
export function proposalCid(p: DealProposal): CID {
  return chainCid(encodeDealProposal(p));
}

/** Boost's SignedProposalCid: CIDv1(dag-cbor, sha2-256) of the ClientDealProposal CBOR. */
export async function signedProposalCid(c: ClientDealProposal | Uint8Array): Promise<CID> {
  const encoded = c instanceof Uint8Array ? c : encodeClientDealProposal(c);
  return CID.createV1(dagCbor.code, await sha256.digest(encoded));
}

// --- mk12 deal proposal ---------------------------------------------------------------------------

export interface Transfer {
  /** "http", "libp2p", or "" for offline deals. */
  type: string;
  /** CAR length in bytes. */
  size: number;
  /** Raw Params bytes; for HTTP, JSON `{"URL","Headers"}` (see httpTransferParams). */
  params: Uint8Array;
  clientId: string;
}

export interface DealParams {
  /** 16 bytes (RFC 4122 binary). */
  dealUuid: Uint8Array;
  isOffline: boolean;
  clientDealProposal: ClientDealProposal;
  dealDataRoot: CID;
  transfer: Transfer;
  /** 1.2.1 only. */
  removeUnsealedCopy: boolean;
  /** 1.2.1 only. */
  skipIpniAnnounce: boolean;
}

export function httpTransferParams(url: string, headers: Record<string, string> = {}): Uint8Array {
  return new TextEncoder().encode(JSON.stringify({ URL: url, Headers: headers }));
}

export function uuidToBytes(uuid: string): Uint8Array {
  const hex = uuid.replace(/-/g, '');
  if (!/^[0-9a-fA-F]{32}$/.test(hex)) throw new BoostCodecError(`not a UUID: ${uuid}`);
  return new Uint8Array(Buffer.from(hex, 'hex'));
}

export function uuidFromBytes(b: Uint8Array): string {
  if (b.length !== 16) throw new BoostCodecError('DealUUID must be 16 bytes');
  const h = Buffer.from(b).toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

function transferMap(t: Transfer) {
  return { Size: t.size, Type: t.type, Params: t.params, ClientID: t.clientId };
}

/** DealParams as sent over /fil/storage/mk/1.2.1 (7 keys) or 1.2.0 (`v120`: 5 keys). */
export function encodeDealParams(p: DealParams, version: '1.2.1' | '1.2.0' = '1.2.1'): Uint8Array {
  if (p.dealUuid.length !== 16) throw new BoostCodecError('DealUUID must be 16 bytes');
  const base = {
    DealUUID: p.dealUuid,
    IsOffline: p.isOffline,
    ClientDealProposal: [proposalTuple(p.clientDealProposal.proposal), p.clientDealProposal.signature],
    DealDataRoot: p.dealDataRoot,
    Transfer: transferMap(p.transfer)
  };
  return dagCbor.encode(
    version === '1.2.0'
      ? base
      : { ...base, RemoveUnsealedCopy: p.removeUnsealedCopy, SkipIPNIAnnounce: p.skipIpniAnnounce }
  );
}

export function decodeDealParams(b: Uint8Array): DealParams {
  const v = decodeCbor(b);
  if (!isMap(v)) throw new BoostCodecError('DealParams: expected a map');
  const t = v.Transfer;
  if (!isMap(t)) throw new BoostCodecError('DealParams.Transfer: expected a map');
  const uuid = bytes(v.DealUUID, 'DealUUID');
  if (uuid.length !== 16) throw new BoostCodecError('DealUUID must be 16 bytes');
  return {
    dealUuid: uuid,
    isOffline: bool(v.IsOffline, 'IsOffline'),
    clientDealProposal: clientProposalFromValue(v.ClientDealProposal),
    dealDataRoot: cid(v.DealDataRoot, 'DealDataRoot'),
    transfer: {
      size: int(t.Size, 'Transfer.Size'),
      type: text(t.Type, 'Transfer.Type'),
      params: bytes(t.Params, 'Transfer.Params'),
      clientId: text(t.ClientID ?? '', 'Transfer.ClientID')
    },
    removeUnsealedCopy: v.RemoveUnsealedCopy === true,
    skipIpniAnnounce: v.SkipIPNIAnnounce === true
  };
}

export interface DealResponse {
  accepted: boolean;
  message: string;
}

export function encodeDealResponse(r: DealResponse): Uint8Array {
  return dagCbor.encode({ Accepted: r.accepted, Message: r.message });
}

export function decodeDealResponse(b: Uint8Array): DealResponse {
  const v = decodeCbor(b);
  if (!isMap(v)) throw new BoostCodecError('DealResponse: expected a map');
  return { accepted: bool(v.Accepted, 'Accepted'), message: text(v.Message ?? '', 'Message') };
}

// --- status ---------------------------------------------------------------------------------------

export interface DealStatusRequest {
  dealUuid: Uint8Array;
  /** Type byte ‖ signature over the 16 UUID bytes. */
  signature: Uint8Array;
}

export function encodeDealStatusRequest(r: DealStatusRequest): Uint8Array {
  return dagCbor.encode({ DealUUID: r.dealUuid, Signature: r.signature });
}

export interface DealStatus {
  error: string;
  /** Boost checkpoint: Accepted, Transferred, Published, PublishConfirmed, AddedPiece, IndexedAndAnnounced, Complete. */
  status: string;
  proposal: DealProposal;
  publishCid: CID | null;
  chainDealId: number;
  sealingStatus: string;
  signedProposalCid: CID | null;
}

export interface DealStatusResponse {
  dealUuid: string;
  error: string;
  isOffline: boolean;
  dealStatus: DealStatus | null;
  transferSize: number;
  nBytesReceived: number;
}

export function decodeDealStatusResponse(b: Uint8Array): DealStatusResponse {
  const v = decodeCbor(b);
  if (!isMap(v)) throw new BoostCodecError('DealStatusResponse: expected a map');
  const ds = v.DealStatus;
  let dealStatus: DealStatus | null = null;
  if (isMap(ds)) {
    dealStatus = {
      error: text(ds.Error ?? '', 'DealStatus.Error'),
      status: text(ds.Status ?? '', 'DealStatus.Status'),
      proposal: proposalFromTuple(ds.Proposal),
      publishCid: ds.PublishCid == null ? null : cid(ds.PublishCid, 'PublishCid'),
      chainDealId: int(ds.ChainDealID ?? 0, 'ChainDealID'),
      sealingStatus: text(ds.SealingStatus ?? '', 'SealingStatus'),
      signedProposalCid: ds.SignedProposalCid == null ? null : cid(ds.SignedProposalCid, 'SignedProposalCid')
    };
  }
  const uuid = v.DealUUID instanceof Uint8Array && v.DealUUID.length === 16 ? uuidFromBytes(v.DealUUID) : '';
  return {
    dealUuid: uuid,
    error: text(v.Error ?? '', 'Error'),
    isOffline: v.IsOffline === true,
    dealStatus,
    transferSize: int(v.TransferSize ?? 0, 'TransferSize'),
    nBytesReceived: int(v.NBytesReceived ?? 0, 'NBytesReceived')
  };
}

// --- ask ------------------------------------------------------------------------------------------

export interface StorageAsk {
  miner: string;
  /** attoFIL per GiB per epoch, unverified deals. */
  price: bigint;
  verifiedPrice: bigint;
  minPieceSize: number;
  maxPieceSize: number;
  timestamp: number;
  expiry: number;
  seqNo: number;
}

export function encodeAskRequest(miner: string): Uint8Array {
  return dagCbor.encode({ Miner: encodeAddress(miner) });
}

/** The map CBOR of a StorageAsk: what the worker key signs. */
export function encodeStorageAsk(a: StorageAsk): Uint8Array {
  return dagCbor.encode(storageAskMap(a));
}

function storageAskMap(a: StorageAsk) {
  return {
    Price: encodeBigInt(a.price),
    VerifiedPrice: encodeBigInt(a.verifiedPrice),
    MinPieceSize: a.minPieceSize,
    MaxPieceSize: a.maxPieceSize,
    Miner: encodeAddress(a.miner),
    Timestamp: a.timestamp,
    Expiry: a.expiry,
    SeqNo: a.seqNo
  };
}

export function encodeAskResponse(signed: { ask: StorageAsk; signature: Uint8Array } | null): Uint8Array {
  return dagCbor.encode({
    Ask: signed == null ? null : { Ask: storageAskMap(signed.ask), Signature: signed.signature }
  });
}

/** AskResponse → the signed ask, or null when the provider sent none. */
export function decodeAskResponse(b: Uint8Array): { ask: StorageAsk; signature: Uint8Array | null } | null {
  const v = decodeCbor(b);
  if (!isMap(v)) throw new BoostCodecError('AskResponse: expected a map');
  const signed = v.Ask;
  if (signed == null) return null;
  if (!isMap(signed)) throw new BoostCodecError('SignedStorageAsk: expected a map');
  const a = signed.Ask;
  if (a == null) return null;
  if (!isMap(a)) throw new BoostCodecError('StorageAsk: expected a map');
  return {
    ask: {
      miner: decodeAddress(bytes(a.Miner, 'Miner')),
      price: decodeBigInt(bytes(a.Price, 'Price')),
      verifiedPrice: decodeBigInt(bytes(a.VerifiedPrice, 'VerifiedPrice')),
      minPieceSize: int(a.MinPieceSize, 'MinPieceSize'),
      maxPieceSize: int(a.MaxPieceSize, 'MaxPieceSize'),
      timestamp: int(a.Timestamp, 'Timestamp'),
      expiry: int(a.Expiry, 'Expiry'),
      seqNo: int(a.SeqNo, 'SeqNo')
    },
    signature: signed.Signature == null ? null : bytes(signed.Signature, 'Signature')
  };
}
