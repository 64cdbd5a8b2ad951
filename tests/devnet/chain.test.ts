// The devnet chain over real HTTP: Lotus JSON-RPC envelopes and errors, signed messages built and
// signed with iso-filecoin, market escrow, deal publish/activate/terminate/timeout, persistence,
// and the AddBalance vector of filecoin.md §10.2.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as dagCbor from '@ipld/dag-cbor';
import { CID } from 'multiformats/cid';
import { multiaddr } from '@multiformats/multiaddr';
import { generateKeyPair } from '@libp2p/crypto/keys';
import { peerIdFromPrivateKey } from '@libp2p/peer-id';
import { Message } from 'iso-filecoin/message';
import { accountFromPrivateKey, create, signMessage } from 'iso-filecoin/wallet';
import { createChain, type Chain } from '../../devnet/chain/index.ts';
import { createChainHandler } from '../../devnet/chain/server.ts';
import { encodeMessage, messageCid, messageFromLotus, signedMessageCid } from '../../devnet/chain/message.ts';
import { addressToBytes } from '../../devnet/wire/address.ts';
import { decodeBigInt, encodeBigInt } from '../../devnet/wire/big-int.ts';
import {
  encodeDealProposal,
  clientDealProposalToTuple,
  type DealProposal
} from '../../devnet/wire/deal-proposal.ts';
import { decodeRlePlus } from '../../devnet/wire/rle-plus.ts';
import { signBytes } from '../../devnet/wire/signature.ts';

const FIL = 10n ** 18n;
const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString('hex');
const fromHex = (text: string) => new Uint8Array(Buffer.from(text, 'hex'));
const PIECE = 'baga6ea4seaqgxbvsop7tj7hbtvvyatx7li7vor5nutvkely5jhab4uw5w6dvwsy';
const MIN_DURATION = 518_400;

interface Key {
  address: string;
  privateKey: Uint8Array;
  type: 'SECP256K1' | 'BLS';
}

// iso-filecoin's test key (filecoin.md §10.1/§10.2) → t17dyptywvmnldq2fsm6j226txnltf4aiwsi3vlka.
const TEST_SK = fromHex('b48d7017cb89b1e0b541d363dc26e9040542f06f7fa5f82d498b78c97949f946');

function key(type: 'SECP256K1' | 'BLS', privateKey?: Uint8Array): Key {
  const account =
    privateKey == null ? create(type, 'testnet') : accountFromPrivateKey(privateKey, type, 'testnet');
  return { address: account.address.toString(), privateKey: account.privateKey, type };
}

interface RpcResponse<T = unknown> {
  status: number;
  result?: T;
  error?: { code: number; message: string };
}

class Harness {
  chain!: Chain;
  server!: Server;
  url!: string;

  async start(chain: Chain): Promise<void> {
    this.chain = chain;
    const handler = createChainHandler(chain);
    this.server = createServer((req, res) => {
      void handler(req, res).then((handled) => {
        if (!handled) res.writeHead(404).end();
      });
    });
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
    await this.chain.stop();
  }

  async raw(path: string, body: string, method = 'POST'): Promise<{ status: number; body: unknown }> {
    const response = await fetch(`${this.url}${path}`, {
      method,
      headers: { 'content-type': 'application/json' },
      body: method === 'GET' ? undefined : body
    });
    const text = await response.text();
    return { status: response.status, body: JSON.parse(text) as unknown };
  }

  async rpc<T = unknown>(method: string, params: unknown[] | null = []): Promise<RpcResponse<T>> {
    const { status, body } = await this.raw(
      '/rpc/v1',
      JSON.stringify({ jsonrpc: '2.0', id: 7, method, params })
    );
    return { status, ...(body as { result?: T; error?: { code: number; message: string } }) };
  }

  async call<T = unknown>(method: string, params: unknown[] | null = []): Promise<T> {
    const response = await this.rpc<T>(method, params);
    if (response.error != null) throw new Error(`${method}: ${response.error.message}`);
    return response.result as T;
  }

  /** Builds, estimates, signs (iso-filecoin) and pushes a message; returns the pushed CID. */
  async push(
    from: Key,
    msg: { to: string; method?: number; value?: bigint; params?: Uint8Array }
  ): Promise<string> {
    const response = await this.pushRaw(from, msg);
    if (response.error != null) throw new Error(response.error.message);
    return (response.result as { '/': string })['/'];
  }

  async pushRaw(
    from: Key,
    msg: { to: string; method?: number; value?: bigint; params?: Uint8Array; nonce?: number },
    signer: Key = from
  ): Promise<RpcResponse<{ '/': string }>> {
    const nonce = msg.nonce ?? (await this.call<number>('Filecoin.MpoolGetNonce', [from.address]));
    const message = new Message({
      to: msg.to,
      from: from.address,
      nonce,
      value: (msg.value ?? 0n).toString(),
      method: msg.method ?? 0,
      params: Buffer.from(msg.params ?? new Uint8Array()).toString('base64'),
      gasLimit: 60_000_000,
      gasFeeCap: '200000',
      gasPremium: '100000'
    });
    const signature = signMessage(signer.privateKey, signer.type, message);
    return this.rpc<{ '/': string }>('Filecoin.MpoolPush', [
      { Message: message.toLotus(), Signature: signature.toLotus() }
    ]);
  }

  async wait(
    cid: string
  ): Promise<{ Receipt: { ExitCode: number; Return: string | null; GasUsed: number }; Height: number }> {
    return this.call('Filecoin.StateWaitMsg', [{ '/': cid }, 0, -1, true]);
  }

  async marketBalance(address: string): Promise<{ Escrow: bigint; Locked: bigint }> {
    const b = await this.call<{ Escrow: string; Locked: string }>('Filecoin.StateMarketBalance', [
      address,
      null
    ]);
    return { Escrow: BigInt(b.Escrow), Locked: BigInt(b.Locked) };
  }

  async head(): Promise<number> {
    return (await this.call<{ Height: number }>('Filecoin.ChainHead', null)).Height;
  }

  async waitForHead(epoch: number): Promise<void> {
    await this.chain.waitForEpoch(epoch);
  }
}

async function newMiner(
  h: Harness,
  worker: Key
): Promise<{ actorId: string; workerId: string; peerId: string }> {
  const peerId = peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString();
  const { status, body } = await h.raw(
    '/admin/miners',
    JSON.stringify({
      PeerId: peerId,
      Multiaddrs: ['/ip4/127.0.0.1/tcp/4001', '/ip4/127.0.0.1/tcp/4002/ws'],
      Worker: worker.address,
      SectorSize: 34359738368
    })
  );
  expect(status).toBe(200);
  const { ActorID, Worker } = body as { ActorID: string; Worker: string };
  return { actorId: ActorID, workerId: Worker, peerId };
}

function proposal(
  client: Key,
  provider: string,
  start: number,
  overrides: Partial<DealProposal> = {}
): DealProposal {
  return {
    pieceCid: CID.parse(PIECE),
    pieceSize: 2048,
    verifiedDeal: false,
    client: client.address,
    provider,
    label: `deal-${Math.random()}`,
    startEpoch: start,
    endEpoch: start + MIN_DURATION,
    storagePricePerEpoch: 2n,
    providerCollateral: 0n,
    clientCollateral: 0n,
    ...overrides
  };
}

function signed(client: Key, p: DealProposal, signer: Key = client) {
  return clientDealProposalToTuple({
    proposal: p,
    clientSignature: signBytes(signer.privateKey, signer.type, encodeDealProposal(p))
  });
}

function decodeReturn(b64: string | null): unknown {
  if (b64 == null) throw new Error('no return value');
  return dagCbor.decode(Buffer.from(b64, 'base64'));
}

describe('devnet chain', () => {
  const h = new Harness();
  let dir: string;
  const client = key('SECP256K1', TEST_SK);
  const blsClient = key('BLS');
  const worker = key('BLS');

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'firth-chain-'));
    await h.start(
      await createChain({
        dataDir: join(dir, 'chain'),
        epochMs: 50,
        genesisAccounts: [{ address: client.address, balance: 1000n * FIL, dataCap: 1n << 20n }]
      })
    );
    h.chain.start();
  });

  afterAll(async () => {
    await h.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('speaks the JSON-RPC envelope and Lotus errors', async () => {
    const head = await h.rpc<{
      Height: number;
      Cids: Array<{ '/': string }>;
      Blocks: Array<Record<string, unknown>>;
    }>('Filecoin.ChainHead', null);
    expect(head.status).toBe(200);
    expect(head.result!.Cids[0]!['/']).toMatch(/^bafy2bzace/);
    expect(head.result!.Blocks[0]!.Height).toBe(head.result!.Height);
    expect(head.result!.Blocks[0]!.ParentBaseFee).toBe('100');

    const unknown = await h.rpc('Filecoin.NoSuchMethod', []);
    expect(unknown.status).toBe(500);
    expect(unknown.error).toEqual({ code: -32601, message: "method 'Filecoin.NoSuchMethod' not found" });

    const malformed = await h.raw('/rpc/v1', '{"jsonrpc":"2.0",');
    expect(malformed.status).toBe(500);
    expect((malformed.body as { error: { code: number; message: string } }).error.code).toBe(-32700);
    expect((malformed.body as { error: { message: string } }).error.message).toMatch(
      /^unmarshaling request: /
    );

    const badAddress = await h.rpc('Filecoin.WalletBalance', ['t1notanaddress']);
    expect(badAddress.error?.code).toBe(-32700);
    expect(badAddress.error?.message).toMatch(
      /^unmarshaling params for 'Filecoin.WalletBalance' \(param: \*address.Address\): /
    );
    const badCid = await h.rpc('Filecoin.StateSearchMsg', [null, 42, -1, true]);
    expect(badCid.error?.code).toBe(-32700);
    const tooMany = await h.rpc('Filecoin.MpoolGetNonce', [client.address, 1, 2]);
    expect(tooMany.error).toEqual({
      code: -32602,
      message: "wrong param count (method 'Filecoin.MpoolGetNonce'): 3 != 1"
    });

    const unknownActor = key('SECP256K1').address;
    expect((await h.rpc('Filecoin.StateLookupID', [unknownActor, null])).error?.message).toBe(
      `resolution lookup failed (${unknownActor}): resolve address ${unknownActor}: actor not found`
    );
    expect(await h.call('Filecoin.WalletBalance', [unknownActor])).toBe('0');
    expect(await h.call('Filecoin.StateNetworkName', [])).toBe('firth-devnet');
    expect(await h.call('Filecoin.StateNetworkVersion', [null])).toBe(25);
    const params = await h.call<Record<string, unknown>>('Filecoin.StateGetNetworkParams', []);
    expect(params).toMatchObject({
      NetworkName: 'firth-devnet',
      BlockDelaySecs: 1,
      SupportedProofTypes: [5, 6, 7, 8, 9]
    });
    expect(typeof params.GenesisTimestamp).toBe('number');
    expect(await h.call('Filecoin.Version', null)).toMatchObject({ APIVersion: 131840, BlockDelay: 1 });

    // A batch and a non-object request never crash the handler.
    const batch = await h.raw(
      '/rpc/v1',
      JSON.stringify([{ jsonrpc: '2.0', id: 1, method: 'Filecoin.StateNetworkName' }, 5])
    );
    expect(batch.body).toMatchObject([{ id: 1, result: 'firth-devnet' }, { error: { code: -32600 } }]);
  });

  it('funds accounts through the admin API and reports balances and IDs', async () => {
    const fresh = key('SECP256K1');
    const { status, body } = await h.raw(
      '/admin/fund',
      JSON.stringify({ Address: fresh.address, Amount: (5n * FIL).toString() })
    );
    expect(status).toBe(200);
    expect(body).toEqual({});
    expect(await h.call('Filecoin.WalletBalance', [fresh.address])).toBe((5n * FIL).toString());
    const id = await h.call<string>('Filecoin.StateLookupID', [fresh.address, null]);
    expect(id).toMatch(/^t01\d\d$/);
    expect(await h.call('Filecoin.StateAccountKey', [id, null])).toBe(fresh.address);
    const actor = await h.call<Record<string, unknown>>('Filecoin.StateGetActor', [id, null]);
    expect(actor).toMatchObject({ Nonce: 0, Balance: (5n * FIL).toString() });
    expect((actor.Code as { '/': string })['/']).toMatch(/^bafk2bzace/);

    const bad = await h.raw('/admin/fund', JSON.stringify({ Address: fresh.address, Amount: 12 }));
    expect(bad.status).toBe(400);
    expect(bad.body).toHaveProperty('error');
    const badMiner = await h.raw(
      '/admin/miners',
      JSON.stringify({ PeerId: 'nope', Multiaddrs: [], Worker: fresh.address, SectorSize: 1 })
    );
    expect(badMiner.status).toBe(400);
    expect((await h.raw('/admin/fund', '{not json')).status).toBe(400);
  });

  it('applies signed AddBalance from secp and BLS keys into market escrow', async () => {
    await h.chain.fund(blsClient.address, 50n * FIL);
    const before = BigInt(await h.call<string>('Filecoin.WalletBalance', [client.address]));
    const cid = await h.push(client, {
      to: 't05',
      method: 2,
      value: 3n * FIL,
      params: dagCbor.encode(addressToBytes(client.address))
    });
    const lookup = await h.wait(cid);
    expect(lookup.Receipt.ExitCode).toBe(0);
    expect(lookup.Receipt.GasUsed).toBeGreaterThan(0);
    expect((await h.marketBalance(client.address)).Escrow).toBe(3n * FIL);
    const after = BigInt(await h.call<string>('Filecoin.WalletBalance', [client.address]));
    expect(before - after).toBeGreaterThan(3n * FIL); // value plus gas

    const blsCid = await h.push(blsClient, {
      to: 't05',
      method: 2,
      value: 1n * FIL,
      params: dagCbor.encode(addressToBytes(blsClient.address))
    });
    expect((await h.wait(blsCid)).Receipt.ExitCode).toBe(0);
    expect(await h.marketBalance(blsClient.address)).toEqual({ Escrow: 1n * FIL, Locked: 0n });

    // v0 StateSearchMsg shape and ChainGetMessage.
    const found = await h.call<{ Message: { '/': string }; Height: number }>('Filecoin.StateSearchMsg', [
      { '/': blsCid }
    ]);
    expect(found.Message['/']).toBe(blsCid);
    const msg = await h.call<{ To: string; Method: number; Params: string }>('Filecoin.ChainGetMessage', [
      { '/': cid }
    ]);
    expect(msg).toMatchObject({
      To: 't05',
      Method: 2,
      Params: Buffer.from(dagCbor.encode(addressToBytes(client.address))).toString('base64')
    });
    expect(
      await h.call('Filecoin.StateSearchMsg', [
        null,
        { '/': 'bafy2bzacea3wsdh6y3a36tb3skempjoxqpuyompjbmfeyf34fi3uy6uue42v4' },
        -1,
        true
      ])
    ).toBeNull();
  });

  it('estimates gas, counts pending nonces and rejects bad messages with Lotus errors', async () => {
    const sender = key('SECP256K1');
    await h.chain.fund(sender.address, 2n * FIL);
    const estimated = await h.call<Record<string, unknown>>('Filecoin.GasEstimateMessageGas', [
      {
        Version: 0,
        To: 't05',
        From: sender.address,
        Nonce: 0,
        Value: '1',
        GasLimit: 0,
        GasFeeCap: '0',
        GasPremium: '0',
        Method: 2,
        Params: Buffer.from(dagCbor.encode(addressToBytes(sender.address))).toString('base64')
      },
      { MaxFee: '0' },
      null
    ]);
    expect(estimated.GasLimit as number).toBeGreaterThan(0);
    expect(BigInt(estimated.GasFeeCap as string)).toBeGreaterThanOrEqual(100n);
    expect(estimated.CID).toHaveProperty('/');
    const failing = await h.rpc('Filecoin.GasEstimateMessageGas', [
      {
        Version: 0,
        To: 't05',
        From: sender.address,
        Nonce: 0,
        Value: '0',
        GasLimit: 0,
        GasFeeCap: '0',
        GasPremium: '0',
        Method: 2,
        Params: Buffer.from(dagCbor.encode(addressToBytes(sender.address))).toString('base64')
      },
      null,
      null
    ]);
    expect(failing.error?.message).toMatch(/^estimating gas used: message execution failed \(exit=\[16\]/);

    // Estimation runs on top of the sender's pending messages, as Lotus's does.
    const spender = key('SECP256K1');
    await h.chain.fund(spender.address, FIL);
    await h.push(spender, { to: key('SECP256K1').address, value: (9n * FIL) / 10n });
    const onTop = await h.rpc('Filecoin.GasEstimateMessageGas', [
      {
        Version: 0,
        To: 't05',
        From: spender.address,
        Nonce: 1,
        Value: (FIL / 2n).toString(),
        GasLimit: 0,
        GasFeeCap: '0',
        GasPremium: '0',
        Method: 2,
        Params: Buffer.from(dagCbor.encode(addressToBytes(spender.address))).toString('base64')
      },
      null,
      null
    ]);
    expect(onTop.error?.message).toMatch(/exit=\[6\]/);

    // A gap waits in the pool; MpoolGetNonce counts consecutive pending messages only.
    const stranger = key('SECP256K1').address;
    const gapped = await h.pushRaw(sender, { to: stranger, value: 1n, nonce: 1 });
    expect(gapped.error).toBeUndefined();
    expect(await h.call('Filecoin.MpoolGetNonce', [sender.address])).toBe(0);
    const first = await h.push(sender, { to: stranger, value: 1n });
    expect(await h.call('Filecoin.MpoolGetNonce', [sender.address])).toBe(2);
    await h.wait(first);
    expect((await h.wait(gapped.result!['/'])).Receipt.ExitCode).toBe(0);
    expect(await h.call('Filecoin.WalletBalance', [stranger])).toBe('2');

    const tooLow = await h.pushRaw(sender, { to: stranger, value: 1n, nonce: 0 });
    expect(tooLow.error).toEqual({ code: 1, message: 'minimum expected nonce is 2: message nonce too low' });

    const forged = await h.pushRaw(sender, { to: stranger, value: 1n }, key('SECP256K1'));
    expect(forged.error?.message).toMatch(
      /^signature verification failed: message bafy\w+ has invalid signature \(type 1\)/
    );
    const forgedBls = await h.pushRaw(blsClient, { to: stranger, value: 1n }, key('BLS'));
    expect(forgedBls.error?.message).toMatch(/has invalid signature \(type 2\)/);

    const broke = await h.pushRaw(sender, { to: stranger, value: 5n * FIL });
    expect(broke.error?.code).toBe(1);
    expect(broke.error?.message).toMatch(
      /^not enough funds \(required: 5\.000012 FIL, balance: 1\.\d+ FIL\): not enough funds to execute transaction$/
    );
  });

  it('publishes, activates and terminates a deal; escrow and power follow', async () => {
    await h.chain.fund(worker.address, 10n * FIL);
    const miner = await newMiner(h, worker);
    expect(miner.actorId).toMatch(/^t010\d\d$/);
    const info = await h.call<Record<string, unknown>>('Filecoin.StateMinerInfo', [miner.actorId, null]);
    expect(info).toMatchObject({
      Owner: miner.workerId,
      Worker: miner.workerId,
      PeerId: miner.peerId,
      SectorSize: 34359738368,
      WindowPoStProofType: 13
    });
    const addrs = (info.Multiaddrs as string[]).map((b) =>
      multiaddr(new Uint8Array(Buffer.from(b, 'base64'))).toString()
    );
    expect(addrs).toEqual(['/ip4/127.0.0.1/tcp/4001', '/ip4/127.0.0.1/tcp/4002/ws']);
    expect(await h.call('Filecoin.StateAccountKey', [miner.workerId, null])).toBe(worker.address);

    const bounds = await h.call<{ Min: string; Max: string }>('Filecoin.StateDealProviderCollateralBounds', [
      2048,
      false,
      null
    ]);
    const collateral = BigInt(bounds.Min);
    expect(collateral).toBeGreaterThan(0n);
    // Provider collateral comes from the miner's escrow, topped up by its worker.
    const top = await h.push(worker, {
      to: 't05',
      method: 2,
      value: collateral * 3n,
      params: dagCbor.encode(addressToBytes(miner.actorId))
    });
    expect((await h.wait(top)).Receipt.ExitCode).toBe(0);

    const start = (await h.head()) + 200;
    const good = proposal(client, miner.actorId, start, { providerCollateral: collateral });
    const forged = proposal(client, miner.actorId, start, { providerCollateral: collateral });
    const params = dagCbor.encode([[signed(client, good), signed(client, forged, key('SECP256K1'))]]);

    // Only the worker (or a control address) may publish.
    const intruder = await h.push(client, { to: 't05', method: 4, params });
    expect((await h.wait(intruder)).Receipt.ExitCode).toBe(18);

    const publish = await h.push(worker, { to: 't05', method: 4, params });
    const receipt = (await h.wait(publish)).Receipt;
    expect(receipt.ExitCode).toBe(0);
    const [ids, validBits] = decodeReturn(receipt.Return) as [number[], Uint8Array];
    expect(ids).toHaveLength(1);
    expect(decodeRlePlus(validBits)).toEqual([0]);
    const dealId = ids[0]!;

    const deal = await h.call<{ Proposal: Record<string, unknown>; State: Record<string, number> }>(
      'Filecoin.StateMarketStorageDeal',
      [dealId, null]
    );
    expect(deal.Proposal).toMatchObject({
      PieceCID: { '/': PIECE },
      PieceSize: 2048,
      Client: await h.call('Filecoin.StateLookupID', [client.address, null]),
      Provider: miner.actorId,
      Label: good.label,
      StartEpoch: start,
      StoragePricePerEpoch: '2',
      ProviderCollateral: collateral.toString()
    });
    expect(deal.State).toEqual({
      SectorNumber: 0,
      SectorStartEpoch: -1,
      LastUpdatedEpoch: -1,
      SlashEpoch: -1
    });
    const clientLock = 2n * BigInt(MIN_DURATION);
    expect((await h.marketBalance(client.address)).Locked).toBe(clientLock);
    expect((await h.marketBalance(miner.actorId)).Locked).toBe(collateral);

    // The same proposal cannot be published twice: all invalid → exit 16.
    const again = await h.push(worker, {
      to: 't05',
      method: 4,
      params: dagCbor.encode([[signed(client, good)]])
    });
    expect((await h.wait(again)).Receipt.ExitCode).toBe(16);

    // Activation by a stranger is forbidden; by the worker it sets SectorStartEpoch and power.
    const prove = dagCbor.encode([7, [dealId]]);
    const badProve = await h.push(client, { to: miner.actorId, method: 34, params: prove });
    expect((await h.wait(badProve)).Receipt.ExitCode).toBe(18);
    const proved = await h.push(worker, { to: miner.actorId, method: 34, params: prove });
    const provedAt = await h.wait(proved);
    expect(provedAt.Receipt.ExitCode).toBe(0);
    const active = await h.call<{ State: Record<string, number> }>('Filecoin.StateMarketStorageDeal', [
      dealId,
      null
    ]);
    expect(active.State.SectorNumber).toBe(7);
    expect(active.State.SectorStartEpoch).toBe(provedAt.Height);
    const power = await h.call<{ MinerPower: { RawBytePower: string }; HasMinPower: boolean }>(
      'Filecoin.StateMinerPower',
      [miner.actorId, null]
    );
    expect(power.MinerPower.RawBytePower).toBe('2048');
    expect(power.HasMinPower).toBe(true);

    // Termination slashes the provider's collateral and deletes the deal (nv22+).
    const escrowBefore = (await h.marketBalance(miner.actorId)).Escrow;
    const terminate = await h.push(worker, { to: miner.actorId, method: 9, params: dagCbor.encode([7]) });
    expect((await h.wait(terminate)).Receipt.ExitCode).toBe(0);
    const gone = await h.rpc('Filecoin.StateMarketStorageDeal', [dealId, null]);
    expect(gone.error?.message).toBe(
      `deal ${dealId} not found - deal may not have completed sealing before deal proposal start epoch, or deal may have been slashed`
    );
    const providerAfter = await h.marketBalance(miner.actorId);
    expect(providerAfter).toEqual({ Escrow: escrowBefore - collateral, Locked: 0n });
    expect((await h.marketBalance(client.address)).Locked).toBe(0n);
    const powerAfter = await h.call<{ MinerPower: { RawBytePower: string } }>('Filecoin.StateMinerPower', [
      miner.actorId,
      null
    ]);
    expect(powerAfter.MinerPower.RawBytePower).toBe('0');
    await expectMarketBalanced(h, [client.address, blsClient.address, miner.actorId]);
  });

  it('times out a deal not activated by its start epoch and slashes the provider', async () => {
    const w = key('SECP256K1');
    await h.chain.fund(w.address, 10n * FIL);
    const miner = await newMiner(h, w);
    const collateral = BigInt(
      (await h.call<{ Min: string }>('Filecoin.StateDealProviderCollateralBounds', [2048, false, null])).Min
    );
    await h.wait(
      await h.push(w, {
        to: 't05',
        method: 2,
        value: collateral,
        params: dagCbor.encode(addressToBytes(miner.actorId))
      })
    );
    const clientBefore = await h.marketBalance(client.address);

    const start = (await h.head()) + 12;
    const p = proposal(client, miner.actorId, start, {
      providerCollateral: collateral,
      clientCollateral: 5n
    });
    const published = await h.wait(
      await h.push(w, { to: 't05', method: 4, params: dagCbor.encode([[signed(client, p)]]) })
    );
    expect(published.Receipt.ExitCode).toBe(0);
    const [[dealId]] = decodeReturn(published.Receipt.Return) as [number[]];
    expect((await h.marketBalance(client.address)).Locked).toBe(
      clientBefore.Locked + 2n * BigInt(MIN_DURATION) + 5n
    );

    await h.waitForHead(start + 1);
    const gone = await h.rpc('Filecoin.StateMarketStorageDeal', [dealId, null]);
    expect(gone.error?.message).toMatch(/^deal \d+ not found/);
    expect(await h.marketBalance(miner.actorId)).toEqual({ Escrow: 0n, Locked: 0n });
    expect(await h.marketBalance(client.address)).toEqual(clientBefore);
    // A late activation finds nothing to activate.
    const late = await h.push(w, { to: miner.actorId, method: 34, params: dagCbor.encode([1, [dealId]]) });
    expect((await h.wait(late)).Receipt.ExitCode).toBe(17);
  });

  it('pays the provider per epoch and completes a verified deal', async () => {
    const w = key('SECP256K1');
    await h.chain.fund(w.address, 10n * FIL);
    const miner = await newMiner(h, w);
    const collateral = BigInt(
      (await h.call<{ Min: string }>('Filecoin.StateDealProviderCollateralBounds', [2048, true, null])).Min
    );
    await h.wait(
      await h.push(w, {
        to: 't05',
        method: 2,
        value: collateral,
        params: dagCbor.encode(addressToBytes(miner.actorId))
      })
    );
    const capBefore = BigInt(
      (await h.call<string>('Filecoin.StateVerifiedClientStatus', [client.address, null]))!
    );
    const start = (await h.head()) + 8;
    const p = proposal(client, miner.actorId, start, {
      providerCollateral: collateral,
      verifiedDeal: true,
      storagePricePerEpoch: 3n
    });
    const published = await h.wait(
      await h.push(w, { to: 't05', method: 4, params: dagCbor.encode([[signed(client, p)]]) })
    );
    expect(published.Receipt.ExitCode).toBe(0);
    const [[dealId]] = decodeReturn(published.Receipt.Return) as [number[]];
    expect(await h.call('Filecoin.StateVerifiedClientStatus', [client.address, null])).toBe(
      (capBefore - 2048n).toString()
    );
    await h.wait(await h.push(w, { to: miner.actorId, method: 34, params: dagCbor.encode([1, [dealId]]) }));
    await h.waitForHead(start + 4);
    const escrow = (await h.marketBalance(miner.actorId)).Escrow;
    expect(escrow).toBeGreaterThan(collateral); // payments arrived on top of the collateral
    expect((escrow - collateral) % 3n).toBe(0n);
    const power = await h.call<{ MinerPower: { QualityAdjPower: string } }>('Filecoin.StateMinerPower', [
      miner.actorId,
      null
    ]);
    expect(power.MinerPower.QualityAdjPower).toBe('20480');
    await expectMarketBalanced(h, [client.address, blsClient.address, miner.actorId]);
  });

  it('grants DataCap through a signed AddVerifiedClient from the verifier and withdraws escrow', async () => {
    const faucet = {
      address: h.chain.faucet.address,
      privateKey: fromHex(h.chain.faucet.privateKey),
      type: 'SECP256K1' as const
    };
    const target = key('BLS');
    expect(await h.call('Filecoin.StateVerifiedClientStatus', [target.address, null])).toBeNull();
    const grant = await h.push(faucet, {
      to: 't06',
      method: 4,
      params: dagCbor.encode([addressToBytes(target.address), encodeBigInt(1n << 30n)])
    });
    expect((await h.wait(grant)).Receipt.ExitCode).toBe(0);
    expect(await h.call('Filecoin.StateVerifiedClientStatus', [target.address, null])).toBe(
      String(1n << 30n)
    );
    const notVerifier = await h.push(blsClient, {
      to: 't06',
      method: 4,
      params: dagCbor.encode([addressToBytes(target.address), encodeBigInt(1n)])
    });
    expect((await h.wait(notVerifier)).Receipt.ExitCode).not.toBe(0);

    const before = await h.marketBalance(blsClient.address);
    const withdraw = await h.push(blsClient, {
      to: 't05',
      method: 3,
      params: dagCbor.encode([addressToBytes(blsClient.address), encodeBigInt(before.Escrow * 2n)])
    });
    const lookup = await h.wait(withdraw);
    expect(lookup.Receipt.ExitCode).toBe(0);
    expect(decodeBigInt(decodeReturn(lookup.Receipt.Return) as Uint8Array)).toBe(before.Escrow);
    expect((await h.marketBalance(blsClient.address)).Escrow).toBe(0n);
    // Someone else cannot withdraw a client's escrow.
    const theft = await h.push(blsClient, {
      to: 't05',
      method: 3,
      params: dagCbor.encode([addressToBytes(client.address), encodeBigInt(1n)])
    });
    expect((await h.wait(theft)).Receipt.ExitCode).toBe(18);
  });

  it('survives garbage params and unknown methods with actor exit codes', async () => {
    const garbage = await h.push(client, { to: 't05', method: 4, params: new Uint8Array([0xff, 0x00]) });
    expect((await h.wait(garbage)).Receipt.ExitCode).toBe(21);
    const unknownMethod = await h.push(client, { to: 't05', method: 999 });
    expect((await h.wait(unknownMethod)).Receipt.ExitCode).toBe(22);
    const noActor = await h.push(client, { to: 't099999', value: 1n });
    expect((await h.wait(noActor)).Receipt.ExitCode).toBe(5);
    const badPush = await h.rpc('Filecoin.MpoolPush', [
      { Message: { To: 't05' }, Signature: { Type: 1, Data: '' } }
    ]);
    expect(badPush.error?.code).toBe(-32700);
    expect(badPush.error?.message).toMatch(/^unmarshaling params for 'Filecoin.MpoolPush'/);
  });
});

/** The market actor holds exactly the escrow it owes (sum over the participants the tests created). */
async function expectMarketBalanced(h: Harness, participants: string[]): Promise<void> {
  const market = await h.call<{ Balance: string }>('Filecoin.StateGetActor', ['t05', null]);
  let total = 0n;
  const seen = new Set<string>();
  for (const address of participants) {
    const id = await h.call<string>('Filecoin.StateLookupID', [address, null]);
    if (seen.has(id)) continue;
    seen.add(id);
    total += (await h.marketBalance(id)).Escrow;
  }
  // Other miners made by other tests also hold escrow; the market can never hold less than these.
  expect(BigInt(market.Balance)).toBeGreaterThanOrEqual(total);
}

describe('devnet chain persistence', () => {
  it('reloads head, balances, deals and message receipts from the data dir', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'firth-chain-persist-'));
    try {
      const client = key('SECP256K1');
      const worker = key('SECP256K1');
      const h1 = new Harness();
      await h1.start(
        await createChain({
          dataDir: dir,
          epochMs: 40,
          genesisAccounts: [{ address: client.address, balance: 100n * FIL }]
        })
      );
      h1.chain.start();
      await h1.chain.fund(worker.address, 10n * FIL);
      const miner = await newMiner(h1, worker);
      const add = await h1.push(client, {
        to: 't05',
        method: 2,
        value: FIL,
        params: dagCbor.encode(addressToBytes(client.address))
      });
      await h1.wait(add);
      const collateral = BigInt(
        (await h1.call<{ Min: string }>('Filecoin.StateDealProviderCollateralBounds', [2048, false, null]))
          .Min
      );
      await h1.wait(
        await h1.push(worker, {
          to: 't05',
          method: 2,
          value: collateral,
          params: dagCbor.encode(addressToBytes(miner.actorId))
        })
      );
      const p = proposal(client, miner.actorId, (await h1.head()) + 10_000, {
        providerCollateral: collateral
      });
      const publish = await h1.push(worker, {
        to: 't05',
        method: 4,
        params: dagCbor.encode([[signed(client, p)]])
      });
      const published = await h1.wait(publish);
      const [[dealId]] = decodeReturn(published.Receipt.Return) as [number[]];
      const faucet = h1.chain.faucet;
      const balance = await h1.call<string>('Filecoin.WalletBalance', [client.address]);
      const deal = await h1.call('Filecoin.StateMarketStorageDeal', [dealId, null]);
      await h1.stop();
      const stoppedAt = h1.chain.head;

      const h2 = new Harness();
      await h2.start(await createChain({ dataDir: dir, epochMs: 40 }));
      expect(h2.chain.head).toBe(stoppedAt);
      expect(h2.chain.faucet).toEqual(faucet);
      expect(await h2.call('Filecoin.WalletBalance', [client.address])).toBe(balance);
      expect(await h2.call('Filecoin.StateMarketStorageDeal', [dealId, null])).toEqual(deal);
      expect(await h2.marketBalance(client.address)).toEqual({
        Escrow: FIL,
        Locked: 2n * BigInt(MIN_DURATION)
      });
      const found = await h2.call<{ Receipt: { ExitCode: number } }>('Filecoin.StateSearchMsg', [
        null,
        { '/': publish },
        -1,
        true
      ]);
      expect(found.Receipt.ExitCode).toBe(0);
      expect(await h2.call<Array<{ ActorID: string }>>('Filecoin.StateListMiners', [null])).toContain(
        miner.actorId
      );
      // The clock resumes from the saved head and the nonce continues.
      h2.chain.start();
      await h2.waitForHead(stoppedAt + 2);
      expect(await h2.call('Filecoin.MpoolGetNonce', [client.address])).toBe(1);
      await h2.stop();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('filecoin.md vectors against the chain codecs', () => {
  it('reproduces the §10.2 AddBalance message, CID, signature and signed CID', () => {
    const message = new Message({
      to: 't05',
      from: 't17dyptywvmnldq2fsm6j226txnltf4aiwsi3vlka',
      nonce: 0,
      value: (1n * FIL).toString(),
      gasLimit: 5_000_000,
      gasFeeCap: '150000',
      gasPremium: '100000',
      method: 2,
      params: 'VQH48Pni1WNWOGiyZ5Otendq5l4BFg=='
    });
    const msgHex =
      '8a004200055501f8f0f9e2d563563868b26793ad7a776ae65e01160049000de0b6b3a76400001a004c4b4044000249f044000186a002565501f8f0f9e2d563563868b26793ad7a776ae65e0116';
    expect(hex(message.serialize())).toBe(msgHex);
    const ours = messageFromLotus(message.toLotus());
    expect(hex(encodeMessage(ours))).toBe(msgHex);
    expect(hex(dagCbor.encode(addressToBytes('t17dyptywvmnldq2fsm6j226txnltf4aiwsi3vlka')))).toBe(
      '5501f8f0f9e2d563563868b26793ad7a776ae65e0116'
    );
    expect(messageCid(ours).toString()).toBe(
      'bafy2bzaceb5y7prrinwgcrgjqle3ztjygs2zhajv72rj5mcdabao76dlt33da'
    );
    expect(hex(message.cidBytes())).toBe(hex(messageCid(ours).bytes));
    const signature = signMessage(TEST_SK, 'SECP256K1', message);
    expect(Buffer.from(signature.data).toString('base64')).toBe(
      '7EbUlylCNj+VCgYhf5r4pAMKDyrIU5NC8cmiz0VbjX08BxAuruPIl1QhO2e7k+dCN+shaDLRRDJe5ejDYUmcsAE='
    );
    const sigBytes = new Uint8Array([1, ...signature.data]);
    expect(signedMessageCid(ours, sigBytes).toString()).toBe(
      'bafy2bzaceb5oymup3cj3jgxqckzjwet2cr74bi5ycykmibemrblappwuxqbfo'
    );
    // A BLS-signed message is known by its unsigned CID.
    expect(signedMessageCid(ours, new Uint8Array([2, ...new Uint8Array(96)])).toString()).toBe(
      messageCid(ours).toString()
    );
  });

  it('reproduces lotus TestMessageJson (§10.1) bytes and CID', () => {
    const m = messageFromLotus({
      Version: 0,
      To: 'f04',
      From: 'f00',
      Nonce: 34,
      Value: '0',
      GasLimit: 123,
      GasFeeCap: '234',
      GasPremium: '234',
      Method: 6,
      Params: Buffer.from('hai').toString('base64')
    });
    expect(hex(encodeMessage(m))).toBe('8a00420004420000182240187b4200ea4200ea0643686169');
    expect(messageCid(m).toString()).toBe('bafy2bzaced5rdpz57e64sc7mdwjn3blicglhpialnrph2dlbufhf6iha63dmc');
  });
});
