// The service's Filecoin wallet: one key, created on first start or imported from a Lotus key export
// (`lotus wallet export` hex), kept at `${dataDir}/wallet.key` (mode 0600, the same hex format, so
// `lotus wallet import` reads it back). The private key lives only in this module's closures: the
// Wallet object carries the address and signing functions, never the key, so it cannot be logged or
// returned by accident.
import fs from 'node:fs/promises';
import path from 'node:path';
import { blake2b } from '@noble/hashes/blake2.js';
import * as dagCbor from '@ipld/dag-cbor';
import { fromString as addressFromString } from 'iso-filecoin/address';
import { Message, type PartialMessageObj } from 'iso-filecoin/message';
import { accountFromLotus, accountFromPrivateKey, create, sign as isoSign } from 'iso-filecoin/wallet';
import { CID } from 'multiformats/cid';
import { create as createDigest } from 'multiformats/hashes/digest';

export type WalletNetwork = 'mainnet' | 'testnet';

export interface SignedChainMessage {
  message: Message;
  /** CID of the unsigned message (what was signed). */
  cid: string;
  /** CID of the SignedMessage: what MpoolPush returns and the chain reports (the unsigned CID for BLS). */
  signedCid: string;
  /** Type byte ‖ signature data. */
  signature: Uint8Array;
  /** The MpoolPush parameter. */
  lotus: {
    Message: ReturnType<Message['toLotus']>;
    Signature: { Type: number; Data: string };
  };
}

export interface Wallet {
  /** `f1…` on mainnet, `t1…` elsewhere (`f3`/`t3` for an imported BLS key). */
  readonly address: string;
  readonly type: 'secp256k1' | 'bls';
  /** Lotus `WalletSign` of raw bytes: type byte ‖ signature (secp: r‖s‖v over blake2b-256). */
  sign(data: Uint8Array): Uint8Array;
  /** Signs a chain message over its CID bytes. */
  signMessage(message: Message | PartialMessageObj): SignedChainMessage;
  /** The same key with the other network's address prefix. */
  forNetwork(network: WalletNetwork): Wallet;
}

export class WalletError extends Error {
  override name = 'WalletError';
}

export const WALLET_FILE = 'wallet.key';

const DAG_CBOR = 0x71;
const BLAKE2B_256 = 0xb220;

/** CIDv1(dag-cbor, blake2b-256): how the chain names messages and proposals. */
export function chainCid(bytes: Uint8Array): CID {
  return CID.createV1(DAG_CBOR, createDigest(BLAKE2B_256, blake2b(bytes, { dkLen: 32 })));
}

/** Network for a Lotus `StateNetworkName`: 'mainnet' gets f-addresses, everything else t-addresses. */
export function networkOf(networkName: string): WalletNetwork {
  return networkName === 'mainnet' ? 'mainnet' : 'testnet';
}

type Account = ReturnType<typeof accountFromLotus>;

/** `lotus wallet export` format (BLS keys are stored little-endian by Lotus). Copies, never mutates. */
function toLotusHex(account: Account): string {
  const key = Uint8Array.from(account.privateKey ?? []);
  const json =
    account.type === 'BLS'
      ? { Type: 'bls', PrivateKey: Buffer.from(key.reverse()).toString('base64') }
      : { Type: 'secp256k1', PrivateKey: Buffer.from(key).toString('base64') };
  return Buffer.from(JSON.stringify(json)).toString('hex');
}

function parseLotusHex(hex: string, network: WalletNetwork): Account {
  const trimmed = hex.trim();
  if (!/^[0-9a-fA-F]+$/.test(trimmed) || trimmed.length % 2 !== 0) {
    throw new WalletError('not a Lotus key export: expected the hex printed by `lotus wallet export`');
  }
  try {
    return accountFromLotus(trimmed.toLowerCase(), network);
  } catch {
    throw new WalletError('not a Lotus key export: expected hex of {"Type":"secp256k1","PrivateKey":"…"}');
  }
}

function walletFrom(account: Account, network: WalletNetwork): Wallet {
  const privateKey = account.privateKey;
  if (privateKey == null) throw new WalletError('the key export has no private key');
  const type = account.type === 'BLS' ? 'BLS' : 'SECP256K1';
  const address = account.address.toString();

  const sign = (data: Uint8Array): Uint8Array => {
    const sig = isoSign(privateKey, type, data);
    const out = new Uint8Array(1 + sig.data.length);
    out[0] = sig.code;
    out.set(sig.data, 1);
    return out;
  };

  const wallet: Wallet = {
    address,
    type: type === 'BLS' ? 'bls' : 'secp256k1',
    sign,
    signMessage(input) {
      const message = input instanceof Message ? input : new Message(input);
      if (message.from !== address && addressFromString(message.from).toString() !== address) {
        throw new WalletError(`message is from ${message.from}, not this wallet (${address})`);
      }
      const unsigned = message.serialize();
      const cid = chainCid(unsigned);
      const signature = sign(cid.bytes);
      const signedCid =
        type === 'BLS' ? cid : chainCid(dagCbor.encode([dagCbor.decode(unsigned), signature]));
      return {
        message,
        cid: cid.toString(),
        signedCid: signedCid.toString(),
        signature,
        lotus: {
          Message: message.toLotus(),
          Signature: { Type: signature[0]!, Data: Buffer.from(signature.subarray(1)).toString('base64') }
        }
      };
    },
    forNetwork(next) {
      return next === network
        ? wallet
        : walletFrom(accountFromPrivateKey(Uint8Array.from(privateKey), type, next), next);
    }
  };
  // Nothing secret is reachable from the object; make that explicit for loggers and inspectors too.
  Object.defineProperty(wallet, 'toJSON', { value: () => ({ address, type: wallet.type }) });
  return Object.freeze(wallet);
}

/** A wallet from a Lotus key export (no file involved). */
export function walletFromLotusExport(hex: string, network: WalletNetwork = 'testnet'): Wallet {
  return walletFrom(parseLotusHex(hex, network), network);
}

export interface OpenWalletInit {
  dataDir: string;
  /** Address prefix. The devnet and test networks use 't'. @default 'testnet' */
  network?: WalletNetwork;
  /**
   * A Lotus key export to use (FIRTH_WALLET_KEY). Written to the wallet file when there is none;
   * a different key already in the file is refused (use `firth wallet import --force`).
   */
  importKey?: string;
}

async function readKeyFile(file: string): Promise<string | undefined> {
  try {
    return (await fs.readFile(file, 'utf8')).trim();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

async function writeKeyFile(file: string, hex: string, replace: boolean): Promise<void> {
  await fs.mkdir(path.dirname(file), { recursive: true });
  if (replace) {
    // Write beside and rename, so a crash never leaves a half-written key.
    const tmp = `${file}.${process.pid}.tmp`;
    await fs.writeFile(tmp, hex + '\n', { mode: 0o600, flag: 'w' });
    await fs.chmod(tmp, 0o600);
    await fs.rename(tmp, file);
  } else {
    await fs.writeFile(file, hex + '\n', { mode: 0o600, flag: 'wx' });
  }
  await fs.chmod(file, 0o600);
}

/** Loads the wallet, creating a new secp256k1 key on first start (or storing `importKey`). */
export async function openWallet(init: OpenWalletInit): Promise<Wallet> {
  const network = init.network ?? 'testnet';
  const file = path.join(init.dataDir, WALLET_FILE);
  const stored = await readKeyFile(file);
  if (init.importKey != null && init.importKey.trim() !== '') {
    const imported = parseLotusHex(init.importKey, network);
    if (stored == null) {
      await writeKeyFile(file, toLotusHex(imported), false);
    } else if (parseLotusHex(stored, network).address.toString() !== imported.address.toString()) {
      throw new WalletError(
        `FIRTH_WALLET_KEY is a different key from the one in ${file}: refusing to replace the wallet ` +
          '(run `firth wallet import --force <hex>` to replace it, after moving its funds)'
      );
    }
    return walletFrom(imported, network);
  }
  if (stored != null) {
    const mode = (await fs.stat(file)).mode & 0o777;
    if (mode !== 0o600) await fs.chmod(file, 0o600);
    return walletFrom(parseLotusHex(stored, network), network);
  }
  const account = create('SECP256K1', network);
  try {
    await writeKeyFile(file, toLotusHex(account), false);
  } catch (err) {
    // Another process created it first: use that one.
    if ((err as NodeJS.ErrnoException).code === 'EEXIST')
      return openWallet({ dataDir: init.dataDir, network });
    throw err;
  }
  return walletFrom(account, network);
}

/**
 * `firth wallet import`: stores a Lotus key export as the wallet. Refuses to replace a different
 * existing key unless `force` (its funds would be stranded otherwise).
 */
export async function importWallet(init: {
  dataDir: string;
  hex: string;
  force?: boolean;
  network?: WalletNetwork;
}): Promise<{ wallet: Wallet; replaced: boolean }> {
  const network = init.network ?? 'testnet';
  const file = path.join(init.dataDir, WALLET_FILE);
  const imported = parseLotusHex(init.hex, network);
  const stored = await readKeyFile(file);
  if (stored != null) {
    const current = parseLotusHex(stored, network);
    if (current.address.toString() === imported.address.toString()) {
      return { wallet: walletFrom(imported, network), replaced: false };
    }
    if (init.force !== true) {
      throw new WalletError(
        `${file} already holds a different key (${current.address.toString()}); ` +
          'move its funds first, then import with --force to replace it'
      );
    }
  }
  await writeKeyFile(file, toLotusHex(imported), stored != null);
  return { wallet: walletFrom(imported, network), replaced: stored != null };
}
