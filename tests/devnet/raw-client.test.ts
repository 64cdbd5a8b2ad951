// A deal made by a raw client written here from libraries — iso-filecoin for keys, messages and
// signatures, @ipld/dag-cbor for Boost's encodings, libp2p for the protocols, fetch for Lotus's
// JSON-RPC and HTTP retrieval — against the devnet, end to end: escrow top-up with a signed
// AddBalance, ask, propose, HTTP pull transfer, publish, activation, IPNI lookup and retrieval.
// Nothing here comes from the service or from the devnet's own codecs.
import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { noise } from '@chainsafe/libp2p-noise';
import { yamux } from '@chainsafe/libp2p-yamux';
import { CarReader, CarWriter } from '@ipld/car';
import * as dagCbor from '@ipld/dag-cbor';
import { tcp } from '@libp2p/tcp';
import { multiaddr } from '@multiformats/multiaddr';
import { Piece } from '@web3-storage/data-segment';
import { MemoryBlockstore } from 'blockstore-core/memory';
import { importer } from 'ipfs-unixfs-importer';
import { fromString as addressFromString } from 'iso-filecoin/address';
import { Message } from 'iso-filecoin/message';
import { accountFromLotus, sign, signMessage } from 'iso-filecoin/wallet';
import { createLibp2p, type Libp2p } from 'libp2p';
import { CID } from 'multiformats/cid';
import { sha256 } from 'multiformats/hashes/sha2';
import { startDevnet, type Devnet } from '../../devnet/index.ts';
import { deterministicBytes } from '../helpers/bytes.ts';

const FIL = 10n ** 18n;

// --- Filecoin encodings, written out here as a client would --------------------------------------
const bigIntBytes = (v: bigint): Uint8Array => {
  if (v === 0n) return new Uint8Array(0);
  const hex = v.toString(16);
  return Uint8Array.from(Buffer.from('00' + (hex.length % 2 ? '0' : '') + hex, 'hex'));
};
const addrBytes = (a: string) => addressFromString(a).toBytes();
const sigBytes = (s: { code: number; data: Uint8Array }) => Uint8Array.from([s.code, ...s.data]);

async function lotus<T>(url: string, method: string, params: unknown[]): Promise<T> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: `Filecoin.${method}`, params })
  });
  const body = (await res.json()) as { result?: T; error?: { code: number; message: string } };
  if (body.error != null) throw new Error(`${method}: ${body.error.message}`);
  return body.result as T;
}

/** One CBOR request, one CBOR reply, per stream (Boost's framing: no length prefix). */
async function rpc(node: Libp2p, addrs: string[], protocol: string, request: unknown): Promise<unknown> {
  const stream = await node.dialProtocol(
    addrs.map((a) => multiaddr(a)),
    protocol,
    { signal: AbortSignal.timeout(10_000) }
  );
  if (!stream.send(dagCbor.encode(request))) await stream.onDrain();
  await stream.close();
  const chunks: Uint8Array[] = [];
  for await (const chunk of stream) chunks.push(chunk instanceof Uint8Array ? chunk : chunk.subarray());
  return dagCbor.decode(Buffer.concat(chunks));
}

async function waitFor<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await fn();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

describe('a raw client makes a deal with a devnet provider', () => {
  let devnet: Devnet;
  let node: Libp2p;
  let carServer: Server;
  let carUrl: string;
  let car: Uint8Array;
  let root: CID;
  const token = randomBytes(16).toString('hex');
  const requests: string[] = [];

  beforeAll(async () => {
    devnet = await startDevnet({
      ephemeral: true,
      providers: 1,
      epochMs: 100,
      providerOptions: { expectedSealEpochs: 20, maxStartDelayEpochs: 2000, sealDelayMs: 300 }
    });
    node = await createLibp2p({
      transports: [tcp()],
      connectionEncrypters: [noise()],
      streamMuxers: [yamux()]
    });

    // The payload: a UnixFS file as a CARv1.
    const blockstore = new MemoryBlockstore();
    for await (const entry of importer([{ content: deterministicBytes('raw-client', 300_000) }], blockstore, {
      cidVersion: 1,
      rawLeaves: true
    }))
      root = entry.cid;
    const { writer, out } = CarWriter.create([root]);
    const parts: Uint8Array[] = [];
    const collecting = (async () => {
      for await (const part of out) parts.push(part);
    })();
    for await (const { cid, bytes } of blockstore.getAll())
      await writer.put({ cid, bytes: await toBytes(bytes) });
    await writer.close();
    await collecting;
    car = Buffer.concat(parts);

    // Serve it as Boost expects: HEAD with Content-Length, Range GETs, bearer token.
    carServer = createServer((req, res) => {
      requests.push(`${req.method} ${req.headers.range ?? ''}`);
      if (req.headers.authorization !== `Bearer ${token}`) return res.writeHead(401).end();
      const m = /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? '');
      const start = m ? Number(m[1]) : 0;
      const end = m && m[2] !== '' ? Math.min(car.length, Number(m[2]) + 1) : car.length;
      res.writeHead(m ? 206 : 200, {
        'content-length': String(end - start),
        ...(m ? { 'content-range': `bytes ${start}-${end - 1}/${car.length}` } : {})
      });
      res.end(req.method === 'HEAD' ? undefined : car.subarray(start, end));
    });
    await new Promise<void>((r) => carServer.listen(0, '127.0.0.1', r));
    carUrl = `http://127.0.0.1:${(carServer.address() as AddressInfo).port}/payload.car`;
  }, 120_000);

  afterAll(async () => {
    await node?.stop();
    await new Promise((r) => carServer?.close(r));
    await devnet?.stop();
  });

  it('tops up escrow, proposes, transfers, publishes, activates, and retrieves', async () => {
    const url = devnet.lotusUrl;
    const client = accountFromLotus(devnet.client.lotusExport, 'testnet');
    const clientAddress = client.address.toString();
    const provider = devnet.providers[0]!;

    // 1. Escrow: a signed AddBalance to the market actor (params = CBOR bytes of the address).
    const nonce = await lotus<number>(url, 'MpoolGetNonce', [clientAddress]);
    const draft = new Message({
      to: 't05',
      from: clientAddress,
      nonce,
      value: (5n * FIL).toString(),
      method: 2,
      params: Buffer.from(dagCbor.encode(addrBytes(clientAddress))).toString('base64')
    });
    const estimated = await lotus<Record<string, unknown>>(url, 'GasEstimateMessageGas', [
      draft.toLotus(),
      { MaxFee: '0' },
      null
    ]);
    const message = Message.fromLotus(estimated as never);
    const signature = signMessage(client.privateKey!, 'SECP256K1', message);
    const msgCid = await lotus<{ '/': string }>(url, 'MpoolPush', [
      {
        Message: message.toLotus(),
        Signature: { Type: 1, Data: Buffer.from(signature.data).toString('base64') }
      }
    ]);
    const lookup = await lotus<{ Receipt: { ExitCode: number } }>(url, 'StateWaitMsg', [msgCid, 1, -1, true]);
    expect(lookup.Receipt.ExitCode).toBe(0);
    const balance = await lotus<{ Escrow: string; Locked: string }>(url, 'StateMarketBalance', [
      clientAddress,
      null
    ]);
    expect(BigInt(balance.Escrow)).toBeGreaterThanOrEqual(5n * FIL);

    // 2. Find the provider on chain and ask its price.
    const info = await lotus<{ PeerId: string; Multiaddrs: string[] }>(url, 'StateMinerInfo', [
      provider.actorId,
      null
    ]);
    expect(info.PeerId).toBe(provider.peerId);
    const addrs = info.Multiaddrs.map(
      (b64) => `${multiaddr(Buffer.from(b64, 'base64')).toString()}/p2p/${info.PeerId}`
    );
    const askReply = (await rpc(node, addrs, '/fil/storage/ask/1.1.0', {
      Miner: addrBytes(provider.actorId)
    })) as {
      Ask: { Ask: { Price: Uint8Array; MinPieceSize: number; MaxPieceSize: number } } | null;
    };
    expect(askReply.Ask).not.toBeNull();
    const askPrice = BigInt('0x' + (Buffer.from(askReply.Ask!.Ask.Price.subarray(1)).toString('hex') || '0'));

    // 3. The proposal: CommP of the CAR, terms within Boost's rules, signed by the client.
    const piece = Piece.fromPayload(car);
    const pieceCid = piece.toInfo().link;
    const pieceSize = Number(piece.size);
    const head = (await lotus<{ Height: number }>(url, 'ChainHead', [])).Height;
    const bounds = await lotus<{ Min: string }>(url, 'StateDealProviderCollateralBounds', [
      pieceSize,
      false,
      null
    ]);
    const startEpoch = head + 60;
    const endEpoch = startEpoch + 518_400;
    const price = (askPrice * BigInt(pieceSize) + 2n ** 30n - 1n) / 2n ** 30n;
    const proposal = [
      pieceCid,
      pieceSize,
      false,
      addrBytes(clientAddress),
      addrBytes(provider.actorId),
      root.toString(),
      startEpoch,
      endEpoch,
      bigIntBytes(price),
      bigIntBytes((BigInt(bounds.Min) * 6n) / 5n),
      bigIntBytes(0n)
    ];
    const proposalSig = sign(client.privateKey!, 'SECP256K1', dagCbor.encode(proposal));
    const uuid = randomBytes(16);
    uuid[6] = (uuid[6]! & 0x0f) | 0x40;
    uuid[8] = (uuid[8]! & 0x3f) | 0x80;
    const response = (await rpc(node, addrs, '/fil/storage/mk/1.2.1', {
      DealUUID: uuid,
      IsOffline: false,
      ClientDealProposal: [proposal, sigBytes(proposalSig)],
      DealDataRoot: root,
      Transfer: {
        Type: 'http',
        ClientID: '',
        Size: car.length,
        Params: new TextEncoder().encode(
          JSON.stringify({ URL: carUrl, Headers: { Authorization: `Bearer ${token}` } })
        )
      },
      RemoveUnsealedCopy: false,
      SkipIPNIAnnounce: false
    })) as { Accepted: boolean; Message: string };
    expect(response).toEqual({ Accepted: true, Message: '' });

    // 4. Status over /fil/storage/status/1.2.0 until the deal is published with a chain deal ID.
    const statusSig = sigBytes(sign(client.privateKey!, 'SECP256K1', uuid));
    const dealId = await waitFor('a chain deal ID', async () => {
      const status = (await rpc(node, addrs, '/fil/storage/status/1.2.0', {
        DealUUID: uuid,
        Signature: statusSig
      })) as {
        Error: string;
        DealStatus: { Error: string; Status: string; ChainDealID: number; SignedProposalCid: CID } | null;
        NBytesReceived: number;
      };
      expect(status.Error).toBe('');
      expect(status.DealStatus?.Error ?? '').toBe('');
      return status.DealStatus != null && status.DealStatus.ChainDealID > 0
        ? status.DealStatus.ChainDealID
        : undefined;
    });
    // The transfer was Boost's: HEAD first, then ranged GETs.
    expect(requests[0]).toMatch(/^HEAD/);
    expect(requests.some((r) => r.startsWith('GET bytes='))).toBe(true);

    // 5. On chain: published, then active.
    const onChain = await waitFor('activation', async () => {
      const deal = await lotus<{ Proposal: Record<string, unknown>; State: { SectorStartEpoch: number } }>(
        url,
        'StateMarketStorageDeal',
        [dealId, null]
      );
      return deal.State.SectorStartEpoch >= 0 ? deal : undefined;
    });
    expect(onChain.Proposal).toMatchObject({
      PieceCID: { '/': pieceCid.toString() },
      PieceSize: pieceSize,
      Provider: provider.actorId,
      Label: root.toString(),
      StartEpoch: startEpoch,
      EndEpoch: endEpoch
    });
    const clientId = await lotus<string>(url, 'StateLookupID', [clientAddress, null]);
    expect(onChain.Proposal.Client).toBe(clientId);
    const locked = await lotus<{ Locked: string }>(url, 'StateMarketBalance', [clientAddress, null]);
    expect(BigInt(locked.Locked)).toBeGreaterThan(0n);

    // 6. Find it through IPNI and retrieve it over trustless HTTP, verifying every block.
    const found = await waitFor('an IPNI record', async () => {
      const res = await fetch(`${devnet.ipniUrl}/cid/${root}`, { headers: { accept: 'application/json' } });
      return res.status === 200
        ? ((await res.json()) as {
            MultihashResults: Array<{ ProviderResults: Array<{ Provider: { ID: string } }> }>;
          })
        : undefined;
    });
    expect(found.MultihashResults[0]!.ProviderResults.map((r) => r.Provider.ID)).toContain(provider.peerId);
    const carRes = await fetch(`${provider.httpUrl}/ipfs/${root}?format=car`, {
      headers: { accept: 'application/vnd.ipld.car' }
    });
    expect(carRes.status).toBe(200);
    const reader = await CarReader.fromBytes(new Uint8Array(await carRes.arrayBuffer()));
    let blocks = 0;
    for await (const block of reader.blocks()) {
      expect((await sha256.digest(block.bytes)).bytes).toEqual(block.cid.multihash.bytes);
      blocks++;
    }
    expect(blocks).toBeGreaterThan(1);
    const pieceRes = await fetch(`${provider.httpUrl}/piece/${pieceCid}`, {
      headers: { range: 'bytes=0-99' }
    });
    expect(pieceRes.status).toBe(206);
    expect(Buffer.from(await pieceRes.arrayBuffer())).toEqual(Buffer.from(car.subarray(0, 100)));
  }, 120_000);
});

async function toBytes(
  bytes: Uint8Array | AsyncIterable<Uint8Array> | Iterable<Uint8Array>
): Promise<Uint8Array> {
  if (bytes instanceof Uint8Array) return bytes;
  const parts: Uint8Array[] = [];
  for await (const part of bytes) parts.push(part);
  return Buffer.concat(parts);
}
