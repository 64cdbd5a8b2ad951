// Content uploaded over HTTP is served over bitswap: a separate Helia node (built from the npm
// packages, not from the service's code) dials the service's TCP and then its WebSockets address and
// fetches the file, and gets the same bytes back.
import { unixfs } from '@helia/unixfs';
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr';
import { MemoryBlockstore } from 'blockstore-core';
import { importBytes } from 'ipfs-unixfs-importer';
import { CID } from 'multiformats/cid';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  concatBytes,
  createTestNode,
  dagBlockCids,
  equalBytes,
  randomBytes,
  type TestNode
} from '../helpers/helia-node.ts';
import { registerUser, startTestService, type TestService } from '../helpers/service.ts';

/** Three full 1 MiB chunks and a partial one: a root and four raw leaves. */
const FILE_SIZE = 3 * 1024 * 1024 + 12_345;
const FETCH_TIMEOUT_MS = 60_000;

interface NetAddrs {
  id: string;
  addresses: string[];
}

function protocolsOf(ma: Multiaddr): string[] {
  return ma.getComponents().map((c) => c.name);
}

/** The first service address carried by `transport`: plain TCP, or WebSockets over TCP. */
function addressFor(addrs: NetAddrs, transport: 'tcp' | 'ws'): Multiaddr {
  for (const text of addrs.addresses) {
    let ma = multiaddr(text);
    const names = protocolsOf(ma);
    if (names.includes('udp') || names.includes('p2p-circuit')) continue;
    if (!names.includes('tcp')) continue;
    const isWs = names.includes('ws') || names.includes('wss');
    if (isWs !== (transport === 'ws')) continue;
    if (names.includes('wss') || names.includes('tls')) continue;
    if (!names.includes('p2p')) ma = ma.encapsulate(`/p2p/${addrs.id}`);
    return ma;
  }
  throw new Error(`the service announces no ${transport} address: ${addrs.addresses.join(', ')}`);
}

describe('bitswap from the service', () => {
  let service: TestService;
  let apiKey: string;
  let addrs: NetAddrs;
  let file: Uint8Array<ArrayBuffer>;
  let cid: CID;
  const nodes: TestNode[] = [];

  beforeAll(async () => {
    service = await startTestService();
    ({ apiKey } = await registerUser(service.apiUrl, service.adminInvite, 'bitswapper'));
    const res = await fetch(`${service.apiUrl}/api/public/net/addrs`);
    expect(res.status).toBe(200);
    addrs = (await res.json()) as NetAddrs;

    file = randomBytes(FILE_SIZE);
    const form = new FormData();
    form.append('data', new Blob([file]), 'random.bin');
    const upload = await fetch(`${service.apiUrl}/api/content/add`, {
      method: 'POST',
      headers: { authorization: `Bearer ${apiKey}` },
      body: form
    });
    const body = await upload.text();
    expect(upload.status, body).toBe(200);
    cid = CID.parse((JSON.parse(body) as { cid: string }).cid);
  });

  afterAll(async () => {
    await Promise.allSettled(nodes.map((n) => n.stop()));
    await service?.stop();
  });

  it('gives the upload the CID of the one import profile (unixfs-v1-2025)', async () => {
    const expected = await importBytes(file, new MemoryBlockstore(), { profile: 'unixfs-v1-2025' });
    expect(cid.toString()).toBe(expected.cid.toString());
    // Every block is on the service's disk, before anyone asks for it.
    const blocks = await dagBlockCids(cid, service.node.blockstore);
    expect(blocks).toHaveLength(5);
    for (const block of blocks) expect(await service.node.blockstore.has(block)).toBe(true);
  });

  it.each([
    { transport: 'tcp' as const, options: { tcp: true, webSockets: false } },
    { transport: 'ws' as const, options: { tcp: false, webSockets: true } }
  ])('serves the file to a Helia node dialing its $transport address', async ({ transport, options }) => {
    const client = await createTestNode(options);
    nodes.push(client);
    const target = addressFor(addrs, transport);

    const connection = await client.libp2p.dial(target, { signal: AbortSignal.timeout(30_000) });
    expect(connection.remotePeer.toString()).toBe(addrs.id);
    // The client has nothing of its own: the bytes can only come from the service.
    expect(await client.blockstore.has(cid)).toBe(false);

    const bytes = await concatBytes(
      unixfs(client).cat(cid, { signal: AbortSignal.timeout(FETCH_TIMEOUT_MS) })
    );
    expect(bytes.byteLength).toBe(file.byteLength);
    expect(equalBytes(bytes, file)).toBe(true);

    // Every connection to the service went over the transport under test.
    const connections = client.libp2p.getConnections(connection.remotePeer);
    expect(connections.length).toBeGreaterThan(0);
    for (const c of connections) {
      const names = protocolsOf(c.remoteAddr);
      expect(names.includes('ws'), c.remoteAddr.toString()).toBe(transport === 'ws');
    }

    await client.stop();
  });
});
