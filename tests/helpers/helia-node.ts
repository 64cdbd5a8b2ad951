// A separate Helia node for integration tests, built from the npm packages only (never from the
// service's code), so that it talks to the service over real libp2p connections as any peer would.
import { noise } from '@chainsafe/libp2p-noise';
import { yamux } from '@chainsafe/libp2p-yamux';
import { withBitswap } from '@helia/bitswap';
import { withLibp2pLight } from '@helia/libp2p';
import * as dagPb from '@ipld/dag-pb';
import { identify } from '@libp2p/identify';
import { tcp } from '@libp2p/tcp';
import { webSockets } from '@libp2p/websockets';
import { MemoryBlockstore } from 'blockstore-core';
import { MemoryDatastore } from 'datastore-core';
import { createHeliaLight } from 'helia';
import { CID } from 'multiformats/cid';
import * as raw from 'multiformats/codecs/raw';

export interface TestNodeOptions {
  /** Listen for TCP on 127.0.0.1 (port 0) so that the service can dial us. @default false */
  listen?: boolean;
  /** Dial over TCP. @default true */
  tcp?: boolean;
  /** Dial over WebSockets (`@libp2p/websockets`, client side only). @default false */
  webSockets?: boolean;
}

/** Creates and starts a Helia node (light, libp2p light, bitswap) with in-memory storage. */
export async function createTestNode(opts: TestNodeOptions = {}) {
  const transports = [];
  if (opts.tcp !== false) transports.push(tcp());
  if (opts.webSockets === true) transports.push(webSockets());
  if (transports.length === 0) throw new Error('a test node needs at least one transport');
  const helia = withBitswap(
    withLibp2pLight(
      createHeliaLight({ blockstore: new MemoryBlockstore(), datastore: new MemoryDatastore() }),
      {
        addresses: { listen: opts.listen === true ? ['/ip4/127.0.0.1/tcp/0'] : [] },
        transports,
        connectionEncrypters: [noise()],
        streamMuxers: [yamux()],
        // Loopback addresses are all there is in these tests.
        connectionGater: { denyDialMultiaddr: () => false },
        services: { identify: identify() }
      }
    )
  );
  await helia.start();
  return helia;
}

export type TestNode = Awaited<ReturnType<typeof createTestNode>>;

/** Concatenates the chunks of an (async) iterable of bytes. */
export async function concatBytes(
  chunks: AsyncIterable<Uint8Array> | Iterable<Uint8Array>
): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  let length = 0;
  for await (const c of chunks) {
    parts.push(c);
    length += c.byteLength;
  }
  const out = new Uint8Array(length);
  let offset = 0;
  for (const p of parts) {
    out.set(p, offset);
    offset += p.byteLength;
  }
  return out;
}

/** Anything with a Helia-7-style `get` (an async generator of byte chunks). */
export interface BlockGetter {
  get(cid: CID, options?: { signal?: AbortSignal }): AsyncIterable<Uint8Array> | Iterable<Uint8Array>;
}

/**
 * Every block CID of a UnixFS (dag-pb / raw) DAG, root first, read from `blocks`. Throws if a block
 * cannot be read; pass a signal when `blocks` may go to the network.
 */
export async function dagBlockCids(
  root: CID,
  blocks: BlockGetter,
  options: { signal?: AbortSignal } = {}
): Promise<CID[]> {
  const out: CID[] = [];
  const seen = new Set<string>();
  const queue: CID[] = [root];
  while (queue.length > 0) {
    const cid = queue.shift()!;
    const key = cid.toString();
    if (seen.has(key)) continue;
    seen.add(key);
    out.push(cid);
    if (cid.code === raw.code) continue;
    if (cid.code !== dagPb.code) throw new Error(`unexpected codec 0x${cid.code.toString(16)} in ${key}`);
    const bytes = await concatBytes(blocks.get(cid, options));
    for (const link of dagPb.decode(bytes).Links) queue.push(link.Hash);
  }
  return out;
}

/**
 * Polls `probe` until it returns something other than undefined, then returns that. Throws with
 * `what` and the last value seen once `timeoutMs` has passed.
 */
export async function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined>,
  opts: { timeoutMs?: number; intervalMs?: number; describe?: () => string } = {}
): Promise<T> {
  const deadline = Date.now() + (opts.timeoutMs ?? 60_000);
  const interval = opts.intervalMs ?? 200;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) {
      throw new Error(`timed out waiting for ${what}${opts.describe != null ? `: ${opts.describe()}` : ''}`);
    }
    await new Promise((resolve) => setTimeout(resolve, interval));
  }
}

/** Random bytes of any length (`crypto.getRandomValues` fills at most 65536 bytes per call). */
export function randomBytes(length: number): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(length);
  for (let offset = 0; offset < length; offset += 65_536) {
    crypto.getRandomValues(out.subarray(offset, Math.min(offset + 65_536, length)));
  }
  return out;
}

export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.byteLength !== b.byteLength) return false;
  for (let i = 0; i < a.byteLength; i++) if (a[i] !== b[i]) return false;
  return true;
}

export { CID };
