// The devnet indexer: cid.contact's find API shapes, metadata vectors, persistence, bad input.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CID } from 'multiformats/cid';
import { base58btc } from 'multiformats/bases/base58';
import { base64 } from 'multiformats/bases/base64';
import * as raw from 'multiformats/codecs/raw';
import { sha256 } from 'multiformats/hashes/sha2';
import { createIndexer, type Indexer } from '../../devnet/ipni/index.ts';
import {
  encodeMetadata,
  transportCodes,
  TRANSPORT_BITSWAP,
  TRANSPORT_FILECOIN_PIECE_HTTP,
  TRANSPORT_GRAPHSYNC_FILECOINV1,
  TRANSPORT_IPFS_GATEWAY_HTTP
} from '../../devnet/ipni/metadata.ts';

const PIECE = CID.parse('baga6ea4seaqoy7ign7devyfqxrvcrsutt2luxb3cm35axp6ylqht5iuijuqcmey');

describe('devnet IPNI indexer', () => {
  let dir: string;
  let indexer: Indexer;
  let server: Server;
  let url: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'firth-ipni-'));
    indexer = await createIndexer({ dataDir: dir });
    server = createServer((req, res) => {
      void indexer.handle(req, res).then((handled) => {
        if (!handled) res.writeHead(404).end();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    await new Promise((resolve) => server.close(resolve));
    await indexer.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('encodes metadata exactly as the IPNI spec examples', () => {
    expect(base64.baseEncode(encodeMetadata([{ code: TRANSPORT_BITSWAP }]))).toBe('gBI');
    const graphsync = encodeMetadata([
      { code: TRANSPORT_GRAPHSYNC_FILECOINV1, pieceCid: PIECE, verifiedDeal: true, fastRetrieval: true }
    ]);
    expect(Buffer.from(graphsync).toString('base64')).toBe(
      'kBKjaFBpZWNlQ0lE2CpYKAABgeIDkiAg7H0Gb8ZK4LC8aijKk56XS4diZvoLv9hcDz6iiE0gJhNsVmVyaWZpZWREZWFs9W1GYXN0UmV0cmlldmFs9Q=='
    );
    const all = encodeMetadata([
      { code: TRANSPORT_FILECOIN_PIECE_HTTP },
      { code: TRANSPORT_GRAPHSYNC_FILECOINV1, pieceCid: PIECE, verifiedDeal: false, fastRetrieval: true },
      { code: TRANSPORT_BITSWAP },
      { code: TRANSPORT_IPFS_GATEWAY_HTTP }
    ]);
    expect(transportCodes(all)).toEqual([0x0900, 0x0910, 0x0920, 0x0930]);
    expect(Buffer.from(encodeMetadata([{ code: TRANSPORT_IPFS_GATEWAY_HTTP }])).toString('hex')).toBe(
      'a01200'
    );
    expect(Buffer.from(encodeMetadata([{ code: TRANSPORT_FILECOIN_PIECE_HTTP }])).toString('hex')).toBe(
      'b01200'
    );
  });

  it('finds announced blocks by CID and multihash, as JSON and NDJSON; 404 otherwise', async () => {
    const block = CID.create(1, raw.code, await sha256.digest(new TextEncoder().encode('devnet block')));
    const other = CID.create(1, raw.code, await sha256.digest(new TextEncoder().encode('never announced')));
    const record = {
      ContextID: base64.baseEncode(new TextEncoder().encode('context-1')),
      Metadata: base64.baseEncode(encodeMetadata([{ code: TRANSPORT_BITSWAP }])),
      Provider: {
        ID: '12D3KooWGzxzKZYveHXtpG6AsrUJBcWxHBFS2HsEoGTxrMLvKXtf',
        Addrs: ['/ip4/127.0.0.1/tcp/4001']
      }
    };
    const announced = await fetch(`${url}/ingest/announce`, {
      method: 'POST',
      body: JSON.stringify({ ...record, Multihashes: [base58btc.baseEncode(block.multihash.bytes)] })
    });
    expect(announced.status).toBe(200);

    const byCid = await fetch(`${url}/cid/${block.toString()}`, { headers: { accept: 'application/json' } });
    expect(byCid.status).toBe(200);
    expect(await byCid.json()).toEqual({
      MultihashResults: [{ Multihash: base64.baseEncode(block.multihash.bytes), ProviderResults: [record] }]
    });
    const ndjson = await fetch(`${url}/multihash/${base58btc.baseEncode(block.multihash.bytes)}`, {
      headers: { accept: 'application/x-ndjson' }
    });
    expect(ndjson.headers.get('content-type')).toBe('application/x-ndjson');
    expect(
      (await ndjson.text())
        .trim()
        .split('\n')
        .map((line) => JSON.parse(line) as unknown)
    ).toEqual([record]);
    expect((await fetch(`${url}/cid/${other.toString()}`)).status).toBe(404);

    // Persisted: a new indexer on the same directory answers the same.
    const reopened = await createIndexer({ dataDir: dir });
    expect(reopened.find(block.multihash.bytes)).toEqual([record]);

    await fetch(`${url}/ingest/remove`, {
      method: 'POST',
      body: JSON.stringify({ ContextID: record.ContextID, ProviderID: record.Provider.ID })
    });
    expect((await fetch(`${url}/cid/${block.toString()}`)).status).toBe(404);
  });

  it('answers bad input with 400', async () => {
    expect((await fetch(`${url}/cid/not-a-cid`)).status).toBe(400);
    expect((await fetch(`${url}/multihash/0OIl`)).status).toBe(400);
    expect((await fetch(`${url}/ingest/announce`, { method: 'POST', body: '{' })).status).toBe(400);
    const missing = await fetch(`${url}/ingest/announce`, {
      method: 'POST',
      body: JSON.stringify({ ContextID: 'x' })
    });
    expect(missing.status).toBe(400);
    expect(await missing.text()).toMatch(/Metadata/);
  });
});
