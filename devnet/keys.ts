// The devnet's own keys (the faucet that funds everyone, and a funded client key for experiments),
// kept as Lotus key-export hex in 0600 files so a restarted devnet keeps the same accounts.
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { accountFromLotus, accountToLotus, create } from 'iso-filecoin/wallet';
import { NETWORK } from './wire/address.ts';

export interface DevnetKey {
  address: string;
  privateKey: Uint8Array;
  /** `lotus wallet export` form: hex of `{"Type":"secp256k1","PrivateKey":"<base64>"}`. */
  lotusExport: string;
}

export async function loadOrCreateKey(dir: string | undefined, name: string): Promise<DevnetKey> {
  const file = dir == null ? undefined : join(dir, `${name}.key`);
  if (file != null) {
    try {
      return toKey(accountFromLotus((await readFile(file, 'utf8')).trim(), NETWORK));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
  }
  const key = toKey(create('SECP256K1', NETWORK));
  if (file != null) await writeFile(file, key.lotusExport + '\n', { mode: 0o600, flag: 'wx' });
  return key;
}

function toKey(account: ReturnType<typeof accountFromLotus>): DevnetKey {
  if (account.privateKey == null) throw new Error('key file has no private key');
  return {
    address: account.address.toString(),
    privateKey: account.privateKey,
    lotusExport: accountToLotus(account)
  };
}
