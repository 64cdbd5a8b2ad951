// Signatures as they travel in CBOR: one type byte (1 secp256k1, 2 BLS) followed by the data.
// secp256k1 signs blake2b-256 of the bytes and is checked by recovering the key's f1 address;
// BLS signs the raw bytes and is checked against the key inside the f3 address.
import { Signature } from 'iso-filecoin/signature';
import { recoverAddress, sign, verify } from 'iso-filecoin/wallet';
import { fromString } from 'iso-filecoin/address';
import { NETWORK, sameAddress } from './address.ts';

export const SIG_TYPE_SECP256K1 = 1;
export const SIG_TYPE_BLS = 2;

export type KeyType = 'SECP256K1' | 'BLS';

export function signatureToBytes(signature: Signature): Uint8Array {
  const out = new Uint8Array(1 + signature.data.length);
  out[0] = signature.code;
  out.set(signature.data, 1);
  return out;
}

export function signatureFromBytes(bytes: Uint8Array): Signature {
  if (bytes.length < 2 || bytes.length > 200) throw new TypeError('signature length out of range');
  const type = bytes[0];
  if (type === SIG_TYPE_SECP256K1) {
    if (bytes.length !== 66) throw new TypeError('secp256k1 signature must be 65 bytes');
    return new Signature({ type: 'SECP256K1', data: bytes.slice(1) });
  }
  if (type === SIG_TYPE_BLS) {
    if (bytes.length !== 97) throw new TypeError('BLS signature must be 96 bytes');
    return new Signature({ type: 'BLS', data: bytes.slice(1) });
  }
  throw new TypeError(`unsupported signature type ${type}`);
}

export function signBytes(privateKey: Uint8Array, type: KeyType, data: Uint8Array): Uint8Array {
  return signatureToBytes(sign(privateKey, type, data));
}

/** True when `signature` over `data` was made by the key behind `keyAddress` (f1/t1 or f3/t3). */
export function verifySignature(signature: Signature, data: Uint8Array, keyAddress: string): boolean {
  try {
    const protocol = keyAddress[1];
    if (signature.type === 'SECP256K1') {
      if (protocol !== '1') return false;
      return sameAddress(recoverAddress(signature, data, NETWORK).toString(), keyAddress);
    }
    if (protocol !== '3') return false;
    const publicKey = fromString(keyAddress).toBytes().subarray(1);
    return verify(signature, data, publicKey);
  } catch {
    return false;
  }
}
