// The pinner's WantWindow (server/pinning/pinner.ts): the blocks a pin wants at once stay under what
// an incoming stream may buffer before bitswap reads it (32 MiB on the service's peer, 4 MiB by
// default), and wants that go unanswered are sent again. Without the window, a Node Helia node
// serving 1 MiB blocks to the service's peer loses a message (StreamBufferError on our side) and the
// pull stalls (checked with the 4 MiB default: eleven re-wants, 40 s).
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { multiaddr } from '@multiformats/multiaddr';
import { importBytes } from 'ipfs-unixfs-importer';
import toBuffer from 'it-to-buffer';
import { CID } from 'multiformats/cid';
import * as raw from 'multiformats/codecs/raw';
import { sha256 } from 'multiformats/hashes/sha2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPeer, type FirthPeer } from '../../relay/peer.ts';
import { walkDag } from '../../server/content/dag.ts';
import { openBlockstore } from '../../server/content/staging.ts';
import { WANT_WINDOW_BYTES, WantWindow } from '../../server/pinning/pinner.ts';
import { createTestNode, randomBytes, type TestNode } from '../helpers/helia-node.ts';

async function rawCid(n: number): Promise<CID> {
  return CID.createV1(raw.code, await sha256.digest(new TextEncoder().encode(`block ${n}`)));
}

describe('WantWindow', () => {
  it('keeps the bytes wanted at once within its limit, one block always allowed', async () => {
    const window = new WantWindow({ maxBytes: 3_000_000, rewantMs: 60_000 });
    let inFlight = 0;
    let peak = 0;
    const fetch = async () => {
      inFlight++;
      peak = Math.max(peak, inFlight);
      await new Promise((r) => setTimeout(r, 5));
      inFlight--;
      return new Uint8Array(8);
    };
    const cids = await Promise.all(Array.from({ length: 12 }, (_, i) => rawCid(i)));
    // Unknown sizes count as 1 MiB: at most two of 1 MiB fit in 3 MB.
    await Promise.all(cids.map((cid) => window.get(cid, fetch)));
    window.stop();
    expect(peak).toBe(2);
  });

  it('wants a block again when nothing arrives', async () => {
    const rewants: number[] = [];
    const window = new WantWindow({ rewantMs: 200, onRewant: (n) => rewants.push(n) });
    let calls = 0;
    const bytes = await window.get(await rawCid(1), (signal) => {
      calls++;
      // The first want is lost: it never resolves until it is aborted.
      if (calls === 1)
        return new Promise((_, reject) => signal.addEventListener('abort', () => reject(signal.reason)));
      return Promise.resolve(new Uint8Array([1, 2, 3]));
    });
    window.stop();
    expect(bytes).toEqual(new Uint8Array([1, 2, 3]));
    expect(calls).toBe(2);
    expect(rewants).toEqual([1]);
  });

  describe('over bitswap from another Helia node', () => {
    let dir: string;
    let service: FirthPeer;
    let page: TestNode;

    beforeAll(async () => {
      dir = await fs.mkdtemp(path.join(os.tmpdir(), 'firth-want-window-'));
      const blockstore = openBlockstore(path.join(dir, 'blocks'));
      await blockstore.open();
      service = await createPeer({ dataDir: dir, blockstore, host: '127.0.0.1', port: 0 });
      page = await createTestNode({ tcp: false, webSockets: true });
    });

    afterAll(async () => {
      await page?.stop();
      await service?.stop();
      await fs.rm(dir, { recursive: true, force: true });
    });

    it('pulls 1 MiB blocks at walk concurrency 64 without a lost message', async () => {
      const { cid: root } = await importBytes(randomBytes(48 * 1024 * 1024), page.blockstore, {
        profile: 'unixfs-v1-2025'
      });
      const ws = service.libp2p
        .getMultiaddrs()
        .find((m) => m.toString().includes('/ws/'))!
        .toString();
      await page.libp2p.dial(multiaddr(ws), { signal: AbortSignal.timeout(10_000) });

      const rewants: number[] = [];
      const window = new WantWindow({ rewantMs: 8_000, onRewant: (n) => rewants.push(n) });
      // Room for the message framing under the peer's 32 MiB read buffer.
      expect(WANT_WINDOW_BYTES).toBeLessThan(31 * 1024 * 1024);
      try {
        const total = await walkDag(
          root,
          (cid, o) => window.get(cid, (s) => toBuffer(service.blockstore.get(cid, { signal: s })), o.signal),
          { concurrency: 64, signal: AbortSignal.timeout(60_000) }
        );
        expect(total.blocks).toBe(49);
      } finally {
        window.stop();
      }
      expect(rewants).toEqual([]);
    }, 90_000);
  });
});
