// The provider's persistent identity: its libp2p Ed25519 key, its BLS worker key (real workers are
// BLS, so this exercises BLS on chain) and, once registered, its miner actor ID. One 0600 JSON file
// written atomically, so a restarted provider is the same miner with the same peer ID.
import { readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { generateKeyPair, privateKeyFromProtobuf, privateKeyToProtobuf } from '@libp2p/crypto/keys';
import type { PrivateKey } from '@libp2p/interface';
import { accountFromPrivateKey, create } from 'iso-filecoin/wallet';
import { base64 } from 'multiformats/bases/base64';
import { NETWORK } from '../wire/address.ts';

export interface WorkerKey {
  /** t3… key address */
  address: string;
  privateKey: Uint8Array;
}

export interface Identity {
  peerKey: PrivateKey;
  worker: WorkerKey;
  /** Set after `POST /admin/miners`. */
  actorId?: string;
  /** The worker's ID address on chain (t0…), from registration. */
  workerId?: string;
  /** Whether the initial funding and collateral escrow were done (so restarts don't redo them). */
  funded?: boolean;
}

interface IdentityFile {
  peerKey: string;
  workerKey: string;
  actorId?: string;
  workerId?: string;
  funded?: boolean;
}

const FILE = 'identity.json';

export async function loadOrCreateIdentity(dir: string): Promise<Identity> {
  try {
    const json = JSON.parse(await readFile(join(dir, FILE), 'utf8')) as IdentityFile;
    const workerPrivate = base64.baseDecode(json.workerKey);
    return {
      peerKey: privateKeyFromProtobuf(base64.baseDecode(json.peerKey)),
      worker: {
        address: accountFromPrivateKey(workerPrivate, 'BLS', NETWORK).address.toString(),
        privateKey: workerPrivate
      },
      actorId: json.actorId,
      workerId: json.workerId,
      funded: json.funded
    };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  const account = create('BLS', NETWORK);
  const identity: Identity = {
    peerKey: await generateKeyPair('Ed25519'),
    worker: { address: account.address.toString(), privateKey: account.privateKey }
  };
  await saveIdentity(dir, identity);
  return identity;
}

export async function saveIdentity(dir: string, identity: Identity): Promise<void> {
  const json: IdentityFile = {
    peerKey: base64.baseEncode(privateKeyToProtobuf(identity.peerKey)),
    workerKey: base64.baseEncode(identity.worker.privateKey),
    actorId: identity.actorId,
    workerId: identity.workerId,
    funded: identity.funded
  };
  const tmp = join(dir, `${FILE}.tmp`);
  await writeFile(tmp, JSON.stringify(json, null, 2) + '\n', { mode: 0o600 });
  await rename(tmp, join(dir, FILE));
}
