import fs from 'node:fs/promises';
import { generateKeyPair, privateKeyFromProtobuf, privateKeyToProtobuf } from '@libp2p/crypto/keys';
import type { PrivateKey } from '@libp2p/interface';

/**
 * The service's libp2p identity: an Ed25519 key kept as a protobuf file with mode 0600, created on
 * first start, so the peer ID (and every multiaddr we hand out) survives restarts.
 */
export async function loadOrCreatePeerKey(file: string): Promise<PrivateKey> {
  try {
    const bytes = await fs.readFile(file);
    return privateKeyFromProtobuf(bytes);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  const key = await generateKeyPair('Ed25519');
  // `wx` never overwrites a key another process wrote in the meantime.
  await fs.writeFile(file, privateKeyToProtobuf(key), { mode: 0o600, flag: 'wx' }).catch(async (err) => {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  });
  return privateKeyFromProtobuf(await fs.readFile(file));
}
