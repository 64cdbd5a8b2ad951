// Address helpers over iso-filecoin: the string form for JSON, the byte form for CBOR.
import { fromBytes, fromString, type IAddress } from 'iso-filecoin/address';

/** The devnet is a test network: addresses print with the `t` prefix, as on Lotus devnets. */
export const NETWORK = 'testnet' as const;

export function parseAddress(text: string): IAddress {
  return fromString(text);
}

export function addressToBytes(text: string): Uint8Array {
  return fromString(text).toBytes();
}

export function addressFromBytes(bytes: Uint8Array): string {
  return fromBytes(bytes, NETWORK).toString();
}

/** `t0123` → 123n; throws for other protocols. */
export function idOf(text: string): bigint {
  const match = /^[ft]0(\d+)$/.exec(text);
  if (match == null) throw new TypeError(`not an ID address: ${text}`);
  return BigInt(match[1]!);
}

export function idAddress(id: bigint | number): string {
  return `t0${id}`;
}

/** Same address regardless of the network prefix (`f` or `t`). */
export function sameAddress(a: string, b: string): boolean {
  return a.slice(1) === b.slice(1);
}
