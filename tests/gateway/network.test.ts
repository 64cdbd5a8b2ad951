import { unixfs } from '@helia/unixfs';
import { multiaddr } from '@multiformats/multiaddr';
import { CID } from 'multiformats/cid';
import * as raw from 'multiformats/codecs/raw';
import { sha256 } from 'multiformats/hashes/sha2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestNode, equalBytes, randomBytes, type TestNode } from '../helpers/helia-node.ts';
import { startTestService, type TestService } from '../helpers/service.ts';

// Where the gateway's blocks come from when it does not hold them: connected peers over bitswap,
// bounded by FIRTH_GATEWAY_TIMEOUT; and the metering seam every response reports to.
describe('gateway blocks from the network', () => {
  let svc: TestService;
  let peer: TestNode;

  beforeAll(async () => {
    svc = await startTestService({ env: { FIRTH_GATEWAY_TIMEOUT: '2' } });
    peer = await createTestNode();
    const addrs = (await (await fetch(`${svc.apiUrl}/api/public/net/addrs`)).json()) as {
      addresses: string[];
    };
    const tcp = addrs.addresses.find((a) => a.includes('/tcp/') && !a.includes('/ws'))!;
    await peer.libp2p.dial(multiaddr(tcp), { signal: AbortSignal.timeout(10_000) });
  });
  afterAll(async () => {
    await peer?.stop();
    await svc?.stop();
  });

  it('fetches a file the service lacks from a connected peer over bitswap and serves it', async () => {
    const bytes = randomBytes(3 * 1024 * 1024 + 7);
    const cid = await unixfs(peer).addBytes(bytes);
    expect(await svc.node.blockstore.has(cid)).toBe(false);
    const res = await fetch(`${svc.gatewayUrl}/ipfs/${cid}`);
    expect(res.status).toBe(200);
    expect(equalBytes(new Uint8Array(await res.arrayBuffer()), bytes)).toBe(true);
    expect(res.headers.get('server-timing')).toMatch(/^ttfb;desc="time to first block";dur=\d+(\.\d+)?$/);
  });

  it('answers 504 with Retry-After when no peer provides a block in time', async () => {
    const missing = CID.createV1(raw.code, await sha256.digest(randomBytes(64)));
    const res = await fetch(`${svc.gatewayUrl}/ipfs/${missing}`);
    expect(res.status).toBe(504);
    expect(res.headers.get('retry-after')).not.toBeNull();
    expect(await res.text()).toMatch(/no block arrived/);
  });

  it('answers a trustless request for a block it lacks with 404 at once, without asking peers', async () => {
    const bytes = randomBytes(100);
    const cid = await unixfs(peer).addBytes(bytes);
    const raw = await fetch(`${svc.gatewayUrl}/ipfs/${cid}?format=raw`);
    expect(raw.status).toBe(404);
    expect(await svc.node.blockstore.has(cid)).toBe(false);
  });

  it('reports the body bytes of every response to the meter, per root', async () => {
    const bytes = randomBytes(200_000);
    const cid = await unixfs(peer).addBytes(bytes);
    await (await fetch(`${svc.gatewayUrl}/ipfs/${cid}`)).arrayBuffer();
    const ranged = await fetch(`${svc.gatewayUrl}/ipfs/${cid}`, { headers: { range: 'bytes=0-99' } });
    expect(ranged.status).toBe(206);
    await ranged.arrayBuffer();
    await (await fetch(`${svc.gatewayUrl}/ipfs/${cid}`, { method: 'HEAD' })).arrayBuffer();
    expect(svc.node.gatewayMeter.served(cid)).toEqual({ bytes: 200_000 + 100, responses: 3 });
  });
});
