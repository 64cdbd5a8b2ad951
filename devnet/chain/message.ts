// Filecoin messages (lotus chain/types/message.go): the CBOR tuple of 10, its blake2b CID, the
// SignedMessage CID MpoolPush returns, and the Lotus JSON form in both directions.
import * as dagCbor from '@ipld/dag-cbor';
import type { CID } from 'multiformats/cid';
import { addressFromBytes, addressToBytes, parseAddress } from '../wire/address.ts';
import { decodeBigInt, encodeBigInt, parseBigIntString } from '../wire/big-int.ts';
import { blake2bCid } from '../wire/cids.ts';
import { SIG_TYPE_BLS, SIG_TYPE_SECP256K1 } from '../wire/signature.ts';
import type { ChainMessage } from './state.ts';

export type MessageTuple = [
  number,
  Uint8Array,
  Uint8Array,
  number,
  Uint8Array,
  number,
  Uint8Array,
  Uint8Array,
  number,
  Uint8Array
];

export function messageToTuple(m: ChainMessage): MessageTuple {
  return [
    m.version,
    addressToBytes(m.to),
    addressToBytes(m.from),
    m.nonce,
    encodeBigInt(m.value),
    m.gasLimit,
    encodeBigInt(m.gasFeeCap),
    encodeBigInt(m.gasPremium),
    m.method,
    m.params
  ];
}

export function messageFromTuple(value: unknown): ChainMessage {
  if (!Array.isArray(value) || value.length !== 10)
    throw new TypeError('message must be an array of 10 fields');
  const [version, to, from, nonce, val, gasLimit, feeCap, premium, method, params] = value as unknown[];
  const bytes = (v: unknown, name: string): Uint8Array => {
    if (!(v instanceof Uint8Array)) throw new TypeError(`${name} must be bytes`);
    return v;
  };
  const int = (v: unknown, name: string): number => {
    if (typeof v !== 'number' || !Number.isSafeInteger(v)) throw new TypeError(`${name} must be an integer`);
    return v;
  };
  return {
    version: int(version, 'Version'),
    to: addressFromBytes(bytes(to, 'To')),
    from: addressFromBytes(bytes(from, 'From')),
    nonce: int(nonce, 'Nonce'),
    value: decodeBigInt(bytes(val, 'Value')),
    gasLimit: int(gasLimit, 'GasLimit'),
    gasFeeCap: decodeBigInt(bytes(feeCap, 'GasFeeCap')),
    gasPremium: decodeBigInt(bytes(premium, 'GasPremium')),
    method: int(method, 'Method'),
    params: bytes(params, 'Params')
  };
}

export function encodeMessage(m: ChainMessage): Uint8Array {
  return dagCbor.encode(messageToTuple(m));
}

export function messageCid(m: ChainMessage): CID {
  return blake2bCid(encodeMessage(m));
}

/** The CID a node reports for a signed message: BLS messages are known by their unsigned CID. */
export function signedMessageCid(m: ChainMessage, signature: Uint8Array): CID {
  if (signature[0] === SIG_TYPE_BLS) return messageCid(m);
  return blake2bCid(dagCbor.encode([messageToTuple(m), signature]));
}

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
  Params: string | null;
  CID?: { '/': string };
}

export function messageToLotus(m: ChainMessage): LotusMessageJson {
  return {
    Version: m.version,
    To: m.to,
    From: m.from,
    Nonce: m.nonce,
    Value: m.value.toString(),
    GasLimit: m.gasLimit,
    GasFeeCap: m.gasFeeCap.toString(),
    GasPremium: m.gasPremium.toString(),
    Method: m.method,
    Params: m.params.length === 0 ? null : Buffer.from(m.params).toString('base64'),
    CID: { '/': messageCid(m).toString() }
  };
}

/**
 * Parses Lotus's Message JSON. Missing numeric fields default to zero as Go's decoder leaves them;
 * wrong types and bad addresses throw with Go-like texts.
 */
export function messageFromLotus(json: unknown): ChainMessage {
  if (json == null || typeof json !== 'object' || Array.isArray(json)) {
    throw new TypeError('json: cannot unmarshal non-object into Go value of type types.Message');
  }
  const j = json as Record<string, unknown>;
  const uint = (name: string): number => {
    const v = j[name] ?? 0;
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) {
      throw new TypeError(
        `json: cannot unmarshal ${typeof v} into Go struct field Message.${name} of type uint64`
      );
    }
    return v;
  };
  const big = (name: string): bigint => {
    const v = j[name] ?? '0';
    try {
      return parseBigIntString(v);
    } catch {
      throw new TypeError(
        `json: cannot unmarshal ${JSON.stringify(v)} into Go struct field Message.${name} of type big.Int`
      );
    }
  };
  const address = (name: string): string => {
    const v = j[name];
    if (typeof v !== 'string')
      throw new TypeError(`json: cannot unmarshal ${typeof v} into Go struct field Message.${name}`);
    if (v.length === 0) throw new TypeError('invalid address payload');
    const parsed = parseAddress(v);
    return parsed.toString()[0] === 't' ? parsed.toString() : `t${parsed.toString().slice(1)}`;
  };
  const params = j.Params ?? null;
  if (params !== null && typeof params !== 'string') {
    throw new TypeError(
      'json: cannot unmarshal non-string into Go struct field Message.Params of type []uint8'
    );
  }
  if (params != null && !/^[A-Za-z0-9+/]*={0,2}$/.test(params)) {
    throw new TypeError('illegal base64 data at input byte 0');
  }
  return {
    version: uint('Version'),
    to: address('To'),
    from: address('From'),
    nonce: uint('Nonce'),
    value: big('Value'),
    gasLimit: uint('GasLimit'),
    gasFeeCap: big('GasFeeCap'),
    gasPremium: big('GasPremium'),
    method: uint('Method'),
    params: params == null ? new Uint8Array(0) : new Uint8Array(Buffer.from(params, 'base64'))
  };
}

/** Signature JSON `{Type, Data}` → type byte ‖ data. */
export function signatureFromLotus(json: unknown): Uint8Array {
  if (json == null || typeof json !== 'object') throw new TypeError('json: missing Signature');
  const { Type, Data } = json as { Type?: unknown; Data?: unknown };
  if (Type !== SIG_TYPE_SECP256K1 && Type !== SIG_TYPE_BLS) {
    throw new TypeError(`unsupported signature type ${String(Type)}`);
  }
  if (typeof Data !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(Data)) {
    throw new TypeError('json: cannot unmarshal Signature.Data: illegal base64 data');
  }
  const data = Buffer.from(Data, 'base64');
  const out = new Uint8Array(1 + data.length);
  out[0] = Type;
  out.set(data, 1);
  return out;
}
