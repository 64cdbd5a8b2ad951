// The devnet's storage provider against a real devnet chain (Lotus JSON-RPC over HTTP), a stand-in
// IPNI ingest that records announcements, and a client written here from libraries: libp2p
// (tcp+noise+yamux) for Boost's protocols, dag-cbor, iso-filecoin keys/messages/signatures, fetch.
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { noise } from '@chainsafe/libp2p-noise';
import { yamux } from '@chainsafe/libp2p-yamux';
import { withBitswap } from '@helia/bitswap';
import { withLibp2pLight } from '@helia/libp2p';
import { CarReader, CarWriter } from '@ipld/car';
import * as dagCbor from '@ipld/dag-cbor';
import { identify } from '@libp2p/identify';
import { tcp } from '@libp2p/tcp';
import { webSockets } from '@libp2p/websockets';
import { multiaddr } from '@multiformats/multiaddr';
import { Piece } from '@web3-storage/data-segment';
import { MemoryBlockstore } from 'blockstore-core/memory';
import { createHeliaLight } from 'helia';
import { fromString as addressFromString } from 'iso-filecoin/address';
import { Message } from 'iso-filecoin/message';
import { Signature } from 'iso-filecoin/signature';
import { create as createKey, sign, verify } from 'iso-filecoin/wallet';
import { createLibp2p, type Libp2p } from 'libp2p';
import { CID } from 'multiformats/cid';
import * as raw from 'multiformats/codecs/raw';
import { sha256 } from 'multiformats/hashes/sha2';
import { createChain, type Chain } from '../../devnet/chain/index.ts';
import { createChainHandler } from '../../devnet/chain/server.ts';
import { createProviderAdminHandler, startProvider, type Provider } from '../../devnet/provider/index.ts';

const FIL = 10n ** 18n;
const EXPECTED_SEAL = 10;
const MAX_START_DELAY = 1000;

// --- client-side encodings, written out here --------------------------------------------------
const bigIntBytes = (v: bigint): Uint8Array => {
  if (v === 0n) return new Uint8Array(0);
  const hex = v.toString(16);
  return Uint8Array.from(Buffer.from('00' + (hex.length % 2 ? '0' : '') + hex, 'hex'));
};
const addrBytes = (a: string) => addressFromString(a).toBytes();
const sigBytes = (s: { code: number; data: Uint8Array }) => Uint8Array.from([s.code, ...s.data]);

async function listen(
  handler: (req: IncomingMessage, res: ServerResponse) => void
): Promise<[Server, string]> {
  const server = createServer(handler);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return [server, `http://127.0.0.1:${(server.address() as AddressInfo).port}`];
}

function close(server: Server | undefined): Promise<void> {
  return new Promise((r) => {
    if (server == null) return r();
    server.close(() => r());
    server.closeAllConnections();
  });
}

async function toBytes(
  bytes: Uint8Array | AsyncIterable<Uint8Array> | Iterable<Uint8Array>
): Promise<Uint8Array> {
  if (bytes instanceof Uint8Array) return bytes;
  const parts: Uint8Array[] = [];
  for await (const part of bytes) parts.push(part);
  return Buffer.concat(parts);
}

async function waitFor<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await fn();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** A CARv1 of a small DAG: a dag-cbor root linking three raw blocks. */
async function makeCar(seed: number): Promise<{ car: Uint8Array; root: CID; blocks: CID[] }> {
  const leaves: Array<{ cid: CID; bytes: Uint8Array }> = [];
  for (let i = 0; i < 3; i++) {
    const bytes = Uint8Array.from(randomBytes(1500 + i * 100 + seed));
    leaves.push({ cid: CID.createV1(raw.code, await sha256.digest(bytes)), bytes });
  }
  const rootBytes = dagCbor.encode({ seed, leaves: leaves.map((l) => l.cid) });
  const root = CID.createV1(dagCbor.code, await sha256.digest(rootBytes));
  const { writer, out } = CarWriter.create([root]);
  const parts: Uint8Array[] = [];
  const collecting = (async () => {
    for await (const part of out) parts.push(part);
  })();
  await writer.put({ cid: root, bytes: rootBytes });
  for (const leaf of leaves) await writer.put(leaf);
  await writer.close();
  await collecting;
  return { car: Buffer.concat(parts), root, blocks: [root, ...leaves.map((l) => l.cid)] };
}

describe('devnet storage provider', () => {
  let dir: string;
  let chain: Chain;
  let chainServer: Server;
  let lotusUrl: string;
  let adminBase: string;
  let ipniServer: Server;
  let ipniUrl: string;
  const announcements: Array<Record<string, unknown>> = [];
  let carServer: Server;
  let carBase: string;
  const cars = new Map<string, Uint8Array>();
  const carRequests: string[] = [];
  const token = randomBytes(8).toString('hex');
  let provider: Provider;
  const providers: Provider[] = [];
  let node: Libp2p;
  const client = createKey('SECP256K1', 'testnet');
  const clientAddress = client.address.toString();

  async function lotus<T>(method: string, params: unknown[] | null): Promise<T> {
    const res = await fetch(lotusUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: `Filecoin.${method}`, params })
    });
    const body = (await res.json()) as { result?: T; error?: { message: string } };
    if (body.error != null) throw new Error(`${method}: ${body.error.message}`);
    return body.result as T;
  }

  async function rpc(
    protocol: string,
    request: Uint8Array,
    p: Provider = provider,
    only?: (addr: string) => boolean
  ): Promise<unknown> {
    const stream = await node.dialProtocol(
      p.multiaddrs.filter((a) => only?.(a) ?? true).map((a) => multiaddr(a)),
      protocol,
      { signal: AbortSignal.timeout(10_000) }
    );
    if (!stream.send(request)) await stream.onDrain();
    await stream.close();
    const chunks: Uint8Array[] = [];
    for await (const chunk of stream) chunks.push(chunk instanceof Uint8Array ? chunk : chunk.subarray());
    const bytes = Buffer.concat(chunks);
    return bytes.length === 0 ? undefined : dagCbor.decode(bytes);
  }

  async function addBalance(from: typeof client, amount: bigint): Promise<void> {
    const address = from.address.toString();
    const nonce = await lotus<number>('MpoolGetNonce', [address]);
    const draft = new Message({
      to: 't05',
      from: address,
      nonce,
      value: amount.toString(),
      method: 2,
      params: Buffer.from(dagCbor.encode(addrBytes(address))).toString('base64')
    });
    const estimated = await lotus<{ GasLimit: number; GasFeeCap: string; GasPremium: string }>(
      'GasEstimateMessageGas',
      [draft.toLotus(), { MaxFee: '0' }, null]
    );
    const message = new Message({
      ...draft,
      gasLimit: estimated.GasLimit,
      gasFeeCap: estimated.GasFeeCap,
      gasPremium: estimated.GasPremium
    });
    const signature = sign(from.privateKey, 'SECP256K1', message.cidBytes());
    const cid = await lotus<{ '/': string }>('MpoolPush', [
      { Message: message.toLotus(), Signature: signature.toLotus() }
    ]);
    const lookup = await lotus<{ Receipt: { ExitCode: number } }>('StateWaitMsg', [cid, 1, -1, true]);
    expect(lookup.Receipt.ExitCode).toBe(0);
  }

  interface ProposalOptions {
    car?: { car: Uint8Array; root: CID };
    price?: bigint;
    duration?: number;
    startOffset?: number;
    provider?: string;
    signer?: typeof client;
    clientAddr?: string;
    badSignature?: boolean;
    uuid?: Uint8Array;
    target?: Provider;
    /** Speak /fil/storage/mk/1.2.0 (DealParamsV120, without the 1.2.1 fields) over WebSockets. */
    v120?: boolean;
    verified?: boolean;
  }

  async function propose(o: ProposalOptions = {}) {
    const target = o.target ?? provider;
    const payload = o.car ?? (await makeCar(cars.size + 1));
    const name = `${randomBytes(4).toString('hex')}.car`;
    cars.set(`/${name}`, payload.car);
    const piece = Piece.fromPayload(payload.car);
    const pieceCid = piece.toInfo().link;
    const pieceSize = Number(piece.size);
    const head = (await lotus<{ Height: number }>('ChainHead', null)).Height;
    const verified = o.verified === true;
    const bounds = await lotus<{ Min: string }>('StateDealProviderCollateralBounds', [
      pieceSize,
      verified,
      null
    ]);
    const startEpoch = head + (o.startOffset ?? EXPECTED_SEAL + 300);
    const endEpoch = startEpoch + (o.duration ?? 518_400);
    const askPrice = verified ? 5_000_000n : 50_000_000n;
    const price = o.price ?? (askPrice * BigInt(pieceSize) + 2n ** 30n - 1n) / 2n ** 30n;
    const signer = o.signer ?? client;
    const proposal = [
      pieceCid,
      pieceSize,
      verified,
      addrBytes(o.clientAddr ?? signer.address.toString()),
      addrBytes(o.provider ?? target.actorId),
      payload.root.toString(),
      startEpoch,
      endEpoch,
      bigIntBytes(price),
      bigIntBytes(BigInt(bounds.Min)),
      bigIntBytes(0n)
    ];
    const signed = o.badSignature
      ? dagCbor.encode([...proposal.slice(0, 6), startEpoch + 1, ...proposal.slice(7)])
      : dagCbor.encode(proposal);
    const signature = sigBytes(sign(signer.privateKey, 'SECP256K1', signed));
    const uuid = o.uuid ?? Uint8Array.from(randomBytes(16));
    const request = dagCbor.encode({
      ...(o.v120 ? {} : { RemoveUnsealedCopy: false, SkipIPNIAnnounce: false }),
      DealUUID: uuid,
      IsOffline: false,
      ClientDealProposal: [proposal, signature],
      DealDataRoot: payload.root,
      Transfer: {
        Type: 'http',
        ClientID: '',
        Size: payload.car.length,
        Params: new TextEncoder().encode(
          JSON.stringify({ URL: `${carBase}/${name}`, Headers: { Authorization: `Bearer ${token}` } })
        )
      }
    });
    const response = (
      o.v120
        ? await rpc('/fil/storage/mk/1.2.0', request, target, (a) => a.includes('/ws/'))
        : await rpc('/fil/storage/mk/1.2.1', request, target)
    ) as { Accepted: boolean; Message: string };
    return { response, uuid, pieceCid, pieceSize, payload, startEpoch, name };
  }

  type StatusReply = {
    DealUUID: Uint8Array;
    Error: string;
    IsOffline: boolean;
    TransferSize: number;
    NBytesReceived: number;
    DealStatus: {
      Error: string;
      Status: string;
      SealingStatus: string;
      ChainDealID: number;
      PublishCid: CID | null;
      SignedProposalCid: CID;
      Proposal: unknown[];
    } | null;
  };

  async function status(uuid: Uint8Array, signer = client, target = provider): Promise<StatusReply> {
    return (await rpc(
      '/fil/storage/status/1.2.0',
      dagCbor.encode({ DealUUID: uuid, Signature: sigBytes(sign(signer.privateKey, 'SECP256K1', uuid)) }),
      target
    )) as StatusReply;
  }

  async function startSp(faults = {}): Promise<Provider> {
    const sp = await startProvider({
      name: 'sp1',
      dataDir: join(dir, 'sp1'),
      lotusUrl,
      adminUrl: adminBase,
      ipniUrl,
      expectedSealEpochs: EXPECTED_SEAL,
      maxStartDelayEpochs: MAX_START_DELAY,
      sealDelayMs: 200,
      faults
    });
    providers.push(sp);
    return sp;
  }

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'firth-provider-test-'));
    chain = await createChain({
      dataDir: join(dir, 'chain'),
      epochMs: 50,
      genesisAccounts: [{ address: clientAddress, balance: 1_000n * FIL }]
    });
    chain.start();
    const chainHandler = createChainHandler(chain);
    const admin = createProviderAdminHandler(providers);
    [chainServer, adminBase] = await listen((req, res) => {
      void (async () => {
        if (await chainHandler(req, res)) return;
        if (await admin(req, res)) return;
        res.writeHead(404).end();
      })();
    });
    lotusUrl = `${adminBase}/rpc/v1`;
    [ipniServer, ipniUrl] = await listen((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        if (req.url === '/ingest/announce') announcements.push(JSON.parse(Buffer.concat(chunks).toString()));
        res.writeHead(200).end();
      });
    });
    // The client's CARs, served as Boost expects: HEAD with Content-Length, Range GETs, bearer token.
    [carServer, carBase] = await listen((req, res) => {
      carRequests.push(`${req.method} ${req.url} ${req.headers.range ?? ''}`);
      if (req.headers.authorization !== `Bearer ${token}`) return void res.writeHead(401).end();
      const car = cars.get(req.url ?? '');
      if (car == null) return void res.writeHead(404).end();
      const m = /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? '');
      const start = m ? Number(m[1]) : 0;
      const end = m && m[2] !== '' ? Math.min(car.length, Number(m[2]) + 1) : car.length;
      res.writeHead(m ? 206 : 200, {
        'content-length': String(end - start),
        ...(m ? { 'content-range': `bytes ${start}-${end - 1}/${car.length}` } : {})
      });
      res.end(req.method === 'HEAD' ? undefined : car.subarray(start, end));
    });
    node = await createLibp2p({
      transports: [tcp(), webSockets()],
      connectionEncrypters: [noise()],
      streamMuxers: [yamux()],
      connectionGater: { denyDialMultiaddr: () => false }
    });
    provider = await startSp();
    await addBalance(client, 10n * FIL);
  }, 120_000);

  afterAll(async () => {
    await node?.stop();
    for (const p of providers) await p.stop();
    await close(chainServer);
    await close(ipniServer);
    await close(carServer);
    await chain?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('registers a miner on chain with its peer ID, addresses and BLS worker', async () => {
    expect(provider.actorId).toMatch(/^t0\d+$/);
    expect(provider.workerAddress).toMatch(/^t3/);
    const info = await lotus<{ PeerId: string; Multiaddrs: string[]; Worker: string }>('StateMinerInfo', [
      provider.actorId,
      null
    ]);
    expect(info.PeerId).toBe(provider.peerId);
    expect(await lotus<string>('StateAccountKey', [info.Worker, null])).toBe(provider.workerAddress);
    const registered = info.Multiaddrs.map((b64) => multiaddr(Buffer.from(b64, 'base64')).toString());
    expect(provider.multiaddrs.some((a) => a.includes('/ws/'))).toBe(true);
    expect(registered.length).toBeGreaterThan(0);
    const escrow = await lotus<{ Escrow: string }>('StateMarketBalance', [provider.actorId, null]);
    expect(BigInt(escrow.Escrow)).toBeGreaterThan(0n);
  });

  it('serves a storage ask signed by the worker, and null for another miner', async () => {
    const reply = (await rpc(
      '/fil/storage/ask/1.1.0',
      dagCbor.encode({ Miner: addrBytes(provider.actorId) })
    )) as {
      Ask: { Ask: Record<string, unknown>; Signature: Uint8Array } | null;
    };
    expect(reply.Ask).not.toBeNull();
    const ask = reply.Ask!.Ask;
    expect(Object.keys(ask)).toEqual([
      'Miner',
      'Price',
      'SeqNo',
      'Expiry',
      'Timestamp',
      'MaxPieceSize',
      'MinPieceSize',
      'VerifiedPrice'
    ]);
    expect(ask.Price).toEqual(bigIntBytes(50_000_000n));
    expect(ask.VerifiedPrice).toEqual(bigIntBytes(5_000_000n));
    expect(ask.MinPieceSize).toBe(256);
    const sig = reply.Ask!.Signature;
    expect(sig[0]).toBe(2); // BLS
    const workerKey = addressFromString(provider.workerAddress).toBytes().subarray(1);
    const signature = new Signature({ type: 'BLS', data: sig.subarray(1) });
    expect(verify(signature, dagCbor.encode(ask), workerKey)).toBe(true);
    expect(verify(signature, dagCbor.encode({ ...ask, SeqNo: 1 }), workerKey)).toBe(false);
    const other = (await rpc('/fil/storage/ask/1.1.0', dagCbor.encode({ Miner: addrBytes('t01999') }))) as {
      Ask: unknown;
    };
    expect(other.Ask).toBeNull();
  });

  it('makes a deal end to end: propose, transfer, publish, activate, announce, retrieve', async () => {
    const payload = await makeCar(100);
    const deal = await propose({ car: payload });
    expect(deal.response).toEqual({ Accepted: true, Message: '' });
    const seen = new Set<string>();
    const final = await waitFor('IndexedAndAnnounced', async () => {
      const s = await status(deal.uuid);
      expect(s.Error).toBe('');
      expect(s.DealStatus!.Error).toBe('');
      seen.add(s.DealStatus!.Status);
      return s.DealStatus!.Status === 'IndexedAndAnnounced' ? s : undefined;
    });
    expect(final.TransferSize).toBe(payload.car.length);
    expect(final.NBytesReceived).toBe(payload.car.length);
    expect(final.DealStatus!.ChainDealID).toBeGreaterThan(0);
    expect(final.DealStatus!.PublishCid).not.toBeNull();
    expect(final.DealStatus!.SealingStatus).toBe('Proving');
    // SignedProposalCid: sha2-256 dag-cbor CID of the ClientDealProposal as sent.
    expect(final.DealStatus!.SignedProposalCid.multihash.code).toBe(sha256.code);
    // Boost's transfer: HEAD then Range GETs with the exclusive end.
    const forCar = carRequests.filter((r) => r.includes('HEAD') || r.includes('GET'));
    expect(forCar.some((r) => r.startsWith('HEAD'))).toBe(true);
    expect(forCar.some((r) => r.endsWith(`bytes=0-${payload.car.length}`))).toBe(true);

    const onChain = await lotus<{ Proposal: Record<string, unknown>; State: { SectorStartEpoch: number } }>(
      'StateMarketStorageDeal',
      [final.DealStatus!.ChainDealID, null]
    );
    expect(onChain.State.SectorStartEpoch).toBeGreaterThanOrEqual(0);
    expect(onChain.Proposal).toMatchObject({
      PieceCID: { '/': deal.pieceCid.toString() },
      Provider: provider.actorId
    });

    // IPNI: one record per deal, context = SignedProposalCid, all four transports, HTTP addr.
    const record = announcements.find(
      (a) => a.ContextID === Buffer.from(final.DealStatus!.SignedProposalCid.bytes).toString('base64')
    );
    expect(record).toBeDefined();
    const metadata = Buffer.from(record!.Metadata as string, 'base64');
    expect(metadata.subarray(0, 4).toString('hex')).toBe('80129012');
    expect(metadata.subarray(-6).toString('hex')).toBe('a01200b01200');
    const addrs = (record!.Provider as { ID: string; Addrs: string[] }).Addrs;
    expect((record!.Provider as { ID: string }).ID).toBe(provider.peerId);
    expect(addrs).toContain(`/ip4/127.0.0.1/tcp/${new URL(provider.httpUrl).port}/http`);
    expect((record!.Multihashes as string[]).length).toBe(payload.blocks.length);

    // Trustless gateway: the whole DAG, every block verified.
    const carRes = await fetch(`${provider.httpUrl}/ipfs/${payload.root}?format=car`);
    expect(carRes.status).toBe(200);
    expect(carRes.headers.get('content-type')).toContain('application/vnd.ipld.car');
    const reader = await CarReader.fromBytes(new Uint8Array(await carRes.arrayBuffer()));
    expect((await reader.getRoots()).map(String)).toEqual([payload.root.toString()]);
    const got: string[] = [];
    for await (const block of reader.blocks()) {
      expect((await sha256.digest(block.bytes)).bytes).toEqual(block.cid.multihash.bytes);
      got.push(block.cid.toString());
    }
    expect(got.sort()).toEqual(payload.blocks.map(String).sort());
    const scoped = await fetch(`${provider.httpUrl}/ipfs/${payload.root}?format=car&dag-scope=block`);
    const scopedReader = await CarReader.fromBytes(new Uint8Array(await scoped.arrayBuffer()));
    let scopedCount = 0;
    for await (const _ of scopedReader.blocks()) scopedCount++;
    expect(scopedCount).toBe(1);
    const rawRes = await fetch(`${provider.httpUrl}/ipfs/${payload.blocks[1]}`, {
      headers: { accept: 'application/vnd.ipld.raw' }
    });
    const rawBytes = new Uint8Array(await rawRes.arrayBuffer());
    expect((await sha256.digest(rawBytes)).bytes).toEqual(payload.blocks[1]!.multihash.bytes);
    expect(
      (
        await fetch(
          `${provider.httpUrl}/ipfs/${CID.createV1(raw.code, await sha256.digest(new Uint8Array([9])))}?format=car`
        )
      ).status
    ).toBe(404);

    // Piece retrieval with Range.
    const range = await fetch(`${provider.httpUrl}/piece/${deal.pieceCid}`, {
      headers: { range: 'bytes=10-99' }
    });
    expect(range.status).toBe(206);
    expect(range.headers.get('content-range')).toBe(`bytes 10-99/${payload.car.length}`);
    expect(Buffer.from(await range.arrayBuffer())).toEqual(Buffer.from(payload.car.subarray(10, 100)));
    const head = await fetch(`${provider.httpUrl}/piece/${deal.pieceCid}`, { method: 'HEAD' });
    expect(head.headers.get('content-length')).toBe(String(payload.car.length));
    const whole = new Uint8Array(
      await (await fetch(`${provider.httpUrl}/piece/${deal.pieceCid}`)).arrayBuffer()
    );
    expect(Piece.fromPayload(whole).toInfo().link.toString()).toBe(deal.pieceCid.toString());

    // Bitswap: a Helia client connected to the provider fetches a block.
    const helia = withBitswap(
      withLibp2pLight(createHeliaLight({ blockstore: new MemoryBlockstore() }), {
        transports: [tcp()],
        connectionEncrypters: [noise()],
        streamMuxers: [yamux()],
        connectionGater: { denyDialMultiaddr: () => false },
        services: { identify: identify() }
      })
    );
    await helia.start();
    try {
      await helia.libp2p.dial(multiaddr(provider.multiaddrs.find((a) => !a.includes('/ws'))!));
      const block = await toBytes(
        helia.blockstore.get(payload.blocks[2]!, { signal: AbortSignal.timeout(20_000) })
      );
      expect((await sha256.digest(block)).bytes).toEqual(payload.blocks[2]!.multihash.bytes);
    } finally {
      await helia.stop();
    }

    // Status needs the proposal's client key; unknown deals are reported as Boost does.
    const stranger = createKey('SECP256K1', 'testnet');
    expect((await status(deal.uuid, stranger)).Error).toBe('signature verification failed');
    const unknown = Uint8Array.from(randomBytes(16));
    const missing = await status(unknown);
    expect(missing.Error).toMatch(/^no storage deal found with deal UUID [0-9a-f-]{36}$/);
    expect(missing.DealStatus).toBeNull();
    // The same UUID again is refused.
    const again = await propose({ uuid: deal.uuid });
    expect(again.response.Accepted).toBe(false);
  });

  it('rejects bad proposals with Boost’s messages', async () => {
    const reasons = async (o: ProposalOptions) => (await propose(o)).response;
    expect(await reasons({ badSignature: true })).toEqual({
      Accepted: false,
      Message: 'failed validation: validateSignature failed: could not verify signature'
    });
    expect((await reasons({ price: 1n })).Message).toMatch(
      /^failed validation: validateAsk failed: storage price per epoch less than asking price: 1 < \d+$/
    );
    expect((await reasons({ duration: 1000 })).Message).toBe(
      'failed validation: deal duration out of bounds (min, max, provided): 518400, 3680640, 1000'
    );
    expect((await reasons({ startOffset: 2 })).Message).toMatch(
      /^failed validation: cannot seal a sector before/
    );
    expect((await reasons({ startOffset: EXPECTED_SEAL + MAX_START_DELAY + 500 })).Message).toMatch(
      /^failed validation: deal start epoch is too far in the future/
    );
    expect((await reasons({ provider: 't01999' })).Message).toBe(
      'failed validation: incorrect provider for deal'
    );
    // A client with no escrow.
    const poor = createKey('SECP256K1', 'testnet');
    await chain.fund(poor.address.toString(), 1n * FIL);
    expect((await reasons({ signer: poor })).Message).toMatch(
      /^failed validation: clientMarketBalance.Available too small: 0 < \d+$/
    );
    // Verified deals need DataCap.
    expect((await reasons({ verified: true })).Message).toBe(
      'failed validation: node error fetching verified data cap: data cap missing -- client not verified'
    );
    await chain.grantDataCap(clientAddress, 1n << 40n);
    const verifiedDeal = await propose({ verified: true });
    expect(verifiedDeal.response).toEqual({ Accepted: true, Message: '' });
    const verifiedDone = await waitFor('the verified deal', async () => {
      const st = await status(verifiedDeal.uuid);
      return st.DealStatus!.Status === 'IndexedAndAnnounced' || st.DealStatus!.Status === 'Complete'
        ? st
        : undefined;
    });
    expect(verifiedDone.DealStatus!.Error).toBe('');
    expect(verifiedDone.DealStatus!.Proposal[2]).toBe(true);
    // Malformed CBOR and wrong shapes: the stream closes without a reply, and the provider lives on.
    expect(await rpc('/fil/storage/mk/1.2.1', Uint8Array.from([0xa7, 0x68, 0x44, 0x65]))).toBeUndefined();
    expect(
      await rpc('/fil/storage/mk/1.2.1', dagCbor.encode({ DealUUID: new Uint8Array(3) }))
    ).toBeUndefined();
    expect(await rpc('/fil/storage/status/1.2.0', dagCbor.encode([1, 2, 3]))).toBeUndefined();
    const ask = (await rpc(
      '/fil/storage/ask/1.1.0',
      dagCbor.encode({ Miner: addrBytes(provider.actorId) })
    )) as {
      Ask: unknown;
    };
    expect(ask.Ask).not.toBeNull();
  });

  it('fails a truncated transfer on CommP, and honours retrieval and proposal faults', async () => {
    const admin = `${adminBase}/admin/providers/${provider.actorId}`;
    const put = (faults: unknown) =>
      fetch(`${admin}/faults`, {
        method: 'PUT',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(faults)
      });

    expect((await put({ truncateTransfer: true })).status).toBe(200);
    const deal = await propose();
    expect(deal.response.Accepted).toBe(true);
    const failed = await waitFor('the deal to fail', async () => {
      const s = await status(deal.uuid);
      return s.DealStatus!.Status === 'Complete' ? s : undefined;
    });
    expect(failed.DealStatus!.Error).toMatch(/commP mismatch, expected=baga\w+, actual=baga\w+/);
    expect(failed.DealStatus!.PublishCid).toBeNull();

    expect((await put({ rejectProposals: 'maintenance' })).status).toBe(200);
    expect((await propose()).response).toEqual({
      Accepted: false,
      Message: 'deal filter rejected deal: maintenance'
    });
    expect((await put({ bogus: true })).status).toBe(400);

    const served = provider.deals().find((d) => d.checkpoint === 'IndexedAndAnnounced')!;
    expect((await put({ refuseRetrievals: true })).status).toBe(200);
    expect((await fetch(`${provider.httpUrl}/ipfs/${served.dealDataRoot}?format=car`)).status).toBe(403);
    expect((await fetch(`${provider.httpUrl}/piece/${served.pieceCid}`)).status).toBe(403);

    await put({ corruptRetrievals: true });
    const root = CID.parse(served.dealDataRoot);
    const rawRes = await fetch(`${provider.httpUrl}/ipfs/${root}?format=raw`);
    const bytes = new Uint8Array(await rawRes.arrayBuffer());
    expect((await sha256.digest(bytes)).bytes).not.toEqual(root.multihash.bytes);
    const pieceBytes = new Uint8Array(
      await (await fetch(`${provider.httpUrl}/piece/${served.pieceCid}`)).arrayBuffer()
    );
    expect(Piece.fromPayload(pieceBytes).toInfo().link.toString()).not.toBe(served.pieceCid);

    await put({});
    const list = (await (await fetch(`${adminBase}/admin/providers`)).json()) as Array<{
      actorId: string;
      faults: unknown;
    }>;
    expect(list).toEqual([expect.objectContaining({ actorId: provider.actorId, faults: {} })]);
    const deals = (await (await fetch(`${admin}/deals`)).json()) as Array<{ checkpoint: string }>;
    expect(deals.length).toBe(provider.deals().length);
  });

  it('slashes after activation, times out when never sealing, and can be unreachable', async () => {
    provider.setFaults({ slashAfterActivation: true });
    const slashed = await propose({ v120: true });
    expect(slashed.response).toEqual({ Accepted: true, Message: '' });
    const s1 = await waitFor('the slash', async () => {
      const s = await status(slashed.uuid);
      return s.DealStatus!.Status === 'Complete' ? s : undefined;
    });
    expect(s1.DealStatus!.Error).toMatch(/slashed/);
    expect(s1.DealStatus!.ChainDealID).toBeGreaterThan(0);
    const onChain = await lotus<{ State: { SlashEpoch: number } }>('StateMarketStorageDeal', [
      s1.DealStatus!.ChainDealID,
      null
    ]).catch((err: Error) => err);
    if (onChain instanceof Error) expect(onChain.message).toMatch(/not found/);
    else expect(onChain.State.SlashEpoch).toBeGreaterThanOrEqual(0);

    provider.setFaults({ neverSeal: true });
    const stuck = await propose({ startOffset: EXPECTED_SEAL + 40 });
    expect(stuck.response.Accepted).toBe(true);
    const s2 = await waitFor('the start epoch to pass', async () => {
      const s = await status(stuck.uuid);
      return s.DealStatus!.Status === 'Complete' ? s : undefined;
    });
    expect(s2.DealStatus!.Error).toMatch(/not activated before its start epoch/);
    expect(s2.DealStatus!.ChainDealID).toBeGreaterThan(0);
    const deal = await lotus<{ State: { SectorStartEpoch: number } }>('StateMarketStorageDeal', [
      s2.DealStatus!.ChainDealID,
      null
    ]).catch((err: Error) => err);
    if (!(deal instanceof Error)) expect(deal.State.SectorStartEpoch).toBe(-1);

    provider.setFaults({ unreachable: true });
    const ask = dagCbor.encode({ Miner: addrBytes(provider.actorId) });
    await expect(rpc('/fil/storage/ask/1.1.0', ask)).rejects.toThrow();
    await expect(fetch(`${provider.httpUrl}/piece/${stuck.pieceCid}`)).rejects.toThrow();
    provider.setFaults({});
    expect(((await rpc('/fil/storage/ask/1.1.0', ask)) as { Ask: unknown }).Ask).not.toBeNull();
  });

  it('keeps its identity and deals across a restart on the same data dir', async () => {
    const before = { actorId: provider.actorId, peerId: provider.peerId, deals: provider.deals() };
    // A deal in flight when the provider stops (published, waiting to seal) is resumed by the next run.
    provider.setFaults({ sealDelayMs: 600_000 });
    const inFlight = await propose();
    expect(inFlight.response.Accepted).toBe(true);
    await waitFor('publish confirmation', async () =>
      (await status(inFlight.uuid)).DealStatus!.Status === 'PublishConfirmed' ? true : undefined
    );
    // And one whose transfer stalls: the next run pulls it again.
    provider.setFaults({ sealDelayMs: 600_000, stallTransfer: true });
    const stalled = await propose();
    expect(stalled.response.Accepted).toBe(true);
    await waitFor('the stalled GET', async () =>
      carRequests.some((r) => r.startsWith(`GET /${stalled.name}`)) ? true : undefined
    );
    const stalledStatus = await status(stalled.uuid);
    expect(stalledStatus.DealStatus!.Status).toBe('Accepted');
    expect(stalledStatus.NBytesReceived).toBe(0);
    await provider.stop();
    providers.splice(providers.indexOf(provider), 1);
    provider = await startSp();
    expect(provider.actorId).toBe(before.actorId);
    expect(provider.peerId).toBe(before.peerId);
    for (const d of before.deals.filter(
      (x) => x.checkpoint === 'Complete' || x.checkpoint === 'IndexedAndAnnounced'
    )) {
      expect(provider.deals().find((x) => x.uuid === d.uuid)?.checkpoint).toBe(d.checkpoint);
    }
    const resumed = await waitFor('the in-flight deal to finish', async () => {
      const s = await status(inFlight.uuid);
      return s.DealStatus!.Status === 'IndexedAndAnnounced' || s.DealStatus!.Status === 'Complete'
        ? s
        : undefined;
    });
    expect(resumed.DealStatus!.Error).toBe('');
    expect(resumed.DealStatus!.Status).toBe('IndexedAndAnnounced');
    const unstalled = await waitFor('the stalled deal to finish', async () => {
      const s = await status(stalled.uuid);
      return s.DealStatus!.Status === 'IndexedAndAnnounced' || s.DealStatus!.Status === 'Complete'
        ? s
        : undefined;
    });
    expect(unstalled.DealStatus!.Error).toBe('');
    expect(unstalled.NBytesReceived).toBe(stalled.payload.car.length);
    // Deals served before the restart are still retrievable.
    const old = before.deals.find((d) => d.checkpoint === 'IndexedAndAnnounced')!;
    const res = await fetch(`${provider.httpUrl}/ipfs/${old.dealDataRoot}?format=car`);
    expect(res.status).toBe(200);
    const info = await lotus<{ Multiaddrs: string[] }>('StateMinerInfo', [provider.actorId, null]);
    const onChain = info.Multiaddrs.map((b64) => multiaddr(Buffer.from(b64, 'base64')).toString());
    await waitFor('the new addresses on chain', async () => {
      const now = await lotus<{ Multiaddrs: string[] }>('StateMinerInfo', [provider.actorId, null]);
      const addrs = now.Multiaddrs.map((b64) => multiaddr(Buffer.from(b64, 'base64')).toString());
      return provider.multiaddrs.every((a) => addrs.some((x) => a.startsWith(x))) ? true : undefined;
    });
    expect(onChain.length).toBeGreaterThan(0);
    // Every deal of this run ended where its fault put it, and nowhere else (the verified one too).
    const settled = await waitFor('all deals to rest', async () => {
      const deals = provider.deals();
      return deals.every((d) => d.checkpoint === 'IndexedAndAnnounced' || d.checkpoint === 'Complete')
        ? deals
        : undefined;
    });
    for (const d of settled) {
      expect(d.error).toMatch(/^$|commP mismatch|slashed|not activated before its start epoch/);
    }
    expect(settled.filter((d) => d.error === '').length).toBeGreaterThanOrEqual(4);
  });
});
