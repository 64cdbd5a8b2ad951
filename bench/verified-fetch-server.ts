// The baseline of bench/gateway.ts: the gateway a user would otherwise build, a minimal Node HTTP
// server on @helia/verified-fetch reading the same blockstore-fs directory, offline.
// Usage: node bench/verified-fetch-server.ts <blocks dir>; prints {"url": …} on stdout when ready.
import http from 'node:http';
import { createVerifiedFetch } from '@helia/verified-fetch';
import { FsBlockstore } from 'blockstore-fs';
import { MemoryDatastore } from 'datastore-core';
import { createHeliaLight } from 'helia';

const blockstore = new FsBlockstore(process.argv[2]!);
await blockstore.open();
// verified-fetch opens a block-broker session per request, so it needs one broker; every block is
// local here, so this one finds nothing and the blockstore answers.
const offline = {
  name: 'offline',
  retrieve: async (): Promise<Uint8Array> => {
    throw new Error('offline: block not held locally');
  },
  createSession() {
    return this;
  },
  addPeer: async () => {}
};
const helia = createHeliaLight({ blockstore, datastore: new MemoryDatastore(), blockBrokers: [offline] });
await helia.start();
const verifiedFetch = await createVerifiedFetch(helia);

const server = http.createServer((req, res) => {
  void (async () => {
    try {
      const headers: Record<string, string> = {};
      for (const h of ['accept', 'range']) if (req.headers[h] != null) headers[h] = String(req.headers[h]);
      // verified-fetch reads the format from Accept; map the spec's ?format= onto it.
      const url = new URL(`http://localhost${req.url}`);
      const format = url.searchParams.get('format');
      if (format === 'raw' || format === 'car') {
        headers.accept = `application/vnd.ipld.${format}`;
        url.searchParams.delete('format');
      }
      const response = await verifiedFetch(`ipfs://${url.pathname.slice('/ipfs/'.length)}${url.search}`, {
        headers
      });
      res.writeHead(response.status, Object.fromEntries(response.headers));
      if (response.body == null) return res.end();
      for await (const chunk of response.body) {
        if (!res.write(chunk)) await new Promise((r) => res.once('drain', r));
      }
      res.end();
    } catch (err) {
      res.writeHead(500).end(String(err));
    }
  })();
});
server.listen(0, '127.0.0.1', () => {
  const { port } = server.address() as { port: number };
  process.stdout.write(JSON.stringify({ url: `http://127.0.0.1:${port}` }) + '\n');
});
