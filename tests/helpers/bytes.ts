import { createCipheriv, createHash } from 'node:crypto';

/**
 * Kubo's DeterministicRandomReaderBytes (kubo test/cli/testutils/random_deterministic.go): ChaCha20
 * keyed with sha256(seed), zero nonce and counter, over zeros. Used by IPIP-0499's CID fixtures.
 */
export function deterministicBytes(seed: string, length: number): Uint8Array {
  const key = createHash('sha256').update(seed).digest();
  const cipher = createCipheriv('chacha20', key, Buffer.alloc(16));
  return new Uint8Array(cipher.update(Buffer.alloc(length)));
}
