// The client layer against the devnet, over the wire only (its Lotus JSON-RPC and its providers'
// Boost protocols): escrow top-up with AddBalance lands and balance() matches the chain, a
// provider's ask verifies against its worker key, a proposal under the ask price is rejected with
// Boost's message, an unknown UUID gets Boost's status error — and the admin routes of a service
// running the in-process devnet, over real HTTP with an admin API key.
import { randomUUID } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { noise } from '@chainsafe/libp2p-noise';
import { yamux } from '@chainsafe/libp2p-yamux';
import { tcp } from '@libp2p/tcp';
import { createLibp2p, type Libp2p } from 'libp2p';
import { startDevnet, type Devnet } from '../../devnet/index.ts';
import { buildProposal, InvalidAskError, signProposal } from '../../filecoin/boost/client.ts';
import { FIL } from '../../filecoin/chain/escrow.ts';
import {
  createDealNetwork,
  startFilecoinClient,
  walletAddress,
  type FilecoinClient
} from '../../filecoin/index.ts';
import { devnetEnv, lotusCall } from '../helpers/devnet.ts';
import { registerUser, startTestService, type TestService } from '../helpers/service.ts';

const quiet = { info() {}, warn() {}, error() {} };

describe('client layer against the devnet', () => {
  let devnet: Devnet;
  let node: Libp2p;
  let client: FilecoinClient;
  let dataDir: string;

  beforeAll(async () => {
    dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'firth-fil-devnet-'));
    const address = await walletAddress({ dataDir, walletKey: undefined });
    devnet = await startDevnet({ ephemeral: true, providers: 2, epochMs: 100, fund: [{ address }] });
    node = await createLibp2p({
      transports: [tcp()],
      connectionEncrypters: [noise()],
      streamMuxers: [yamux()],
      connectionGater: { denyDialMultiaddr: () => false }
    });
    client = await startFilecoinClient({
      config: { dataDir, walletKey: undefined, escrowReserveDeals: 1 },
      network: {
        kind: 'devnet',
        lotusUrl: devnet.lotusUrl,
        lotusToken: undefined,
        indexerUrl: devnet.ipniUrl,
        devnetProviders: devnet.providers,
        devnetAdminUrl: devnet.adminUrl,
        stop: async () => {}
      },
      libp2p: node,
      log: quiet
    });
    expect(client.wallet.address).toBe(address);
  });

  afterAll(async () => {
    await client?.stop();
    await node?.stop();
    await devnet?.stop();
    await fs.rm(dataDir, { recursive: true, force: true });
  });

  it('tops up escrow with AddBalance; balance() matches the chain', async () => {
    const before = await client.escrow.balance();
    expect(before.balance).toBeGreaterThan(0n);
    await client.escrow.ensureAvailable(FIL, { signal: AbortSignal.timeout(60_000) });
    const after = await client.escrow.balance();
    // Needed 1 FIL plus a reserve of one more deal of that size.
    expect(after.marketAvailable).toBeGreaterThanOrEqual(2n * FIL);
    const chain = await lotusCall<{ Escrow: string; Locked: string }>(devnet.lotusUrl, 'StateMarketBalance', [
      client.wallet.address,
      null
    ]);
    expect(after.marketEscrow).toBe(BigInt(chain.Escrow));
    expect(after.marketLocked).toBe(BigInt(chain.Locked));
    expect(after.balance).toBe(
      BigInt(await lotusCall<string>(devnet.lotusUrl, 'WalletBalance', [client.wallet.address]))
    );
    expect(after.balance).toBeLessThan(before.balance - 2n * FIL + 1n);

    // An explicit AddBalance, waited for.
    const { msgCid } = await client.escrow.addEscrow(FIL / 2n);
    const receipt = await client.sender.wait(msgCid, { signal: AbortSignal.timeout(60_000) });
    expect(receipt.exitCode).toBe(0);
    expect((await client.escrow.balance()).marketEscrow).toBe(after.marketEscrow + FIL / 2n);
  });

  it('gets an ask from a devnet provider and verifies its signature', async () => {
    const sp = devnet.providers[0]!;
    const ask = await client.boost.getAsk({ actorId: sp.actorId });
    expect(ask.miner).toBe(sp.actorId);
    expect(ask.price).toBeGreaterThanOrEqual(0n);
    expect(ask.maxPieceSize).toBeGreaterThan(ask.minPieceSize);
    // Asking one provider's peer for another's ask gets none: refused.
    const other = devnet.providers[1]!;
    await expect(
      client.boost.getAsk({ actorId: other.actorId, peerId: sp.peerId, multiaddrs: sp.multiaddrs })
    ).rejects.toBeInstanceOf(InvalidAskError);
  });

  it('has a proposal under the ask price rejected with Boost’s message', async () => {
    const sp = devnet.providers[0]!;
    const ask = await client.boost.getAsk({ actorId: sp.actorId });
    const head = await client.lotus.chainHead();
    const pieceSize = 524288;
    const bounds = await client.lotus.stateDealProviderCollateralBounds(pieceSize, false);
    const proposal = buildProposal({
      pieceCid: 'baga6ea4seaqae5ysjdbsr4b5jhotaz5ooh62jrrdbxwygfpkkfjz44kvywycmgy',
      pieceSize,
      verified: false,
      client: client.wallet.address,
      provider: sp.actorId,
      label: 'bafk2bzaceanulxrrjjec5e6r7vskb6cqgueh2w6bnge6ja5u3la7aygjizwku',
      startEpoch: head.height + 5760,
      endEpoch: head.height + 5760 + 518_400,
      pricePerEpoch: 0n,
      providerCollateral: bounds.min
    });
    expect(ask.price).toBeGreaterThan(0n); // otherwise a zero price would be fine
    const signed = await signProposal(client.wallet, proposal);
    const res = await client.boost.proposeDeal(sp, {
      proposal,
      signature: signed.clientDealProposal.signature,
      uuid: randomUUID(),
      dealDataRoot: 'bafk2bzaceanulxrrjjec5e6r7vskb6cqgueh2w6bnge6ja5u3la7aygjizwku',
      transfer: { url: 'http://127.0.0.1:9/cat.car', headers: { Authorization: 'Bearer x' }, size: 392375 }
    });
    expect(res.accepted).toBe(false);
    expect(res.message).toMatch(/^failed validation: .*storage price per epoch less than asking price/);
    expect(res.protocol).toBe('/fil/storage/mk/1.2.1');
  });

  it('gets Boost’s error for the status of an unknown UUID', async () => {
    const sp = devnet.providers[0]!;
    const uuid = randomUUID();
    const status = await client.boost.dealStatus(sp, uuid, client.wallet);
    expect(status.dealStatus).toBeNull();
    expect(status.error).toMatch(new RegExp(`no storage deal found with deal UUID ${uuid}`));
  });
  it('serves the deal pipeline through createDealNetwork: accepted proposal, signed status, chain lookups', async () => {
    const net = createDealNetwork(client);
    const sp = devnet.providers[0]!;
    const id = Number(sp.actorId.slice(2));
    expect(await net.providerInfo(id)).toEqual({ peerId: sp.peerId, multiaddrs: expect.any(Array) });
    const ask = await net.ask(id);
    const head = await net.head();
    const pieceSize = 524288;
    const bounds = await net.collateralBounds(pieceSize, false);
    const price = (ask.price * BigInt(pieceSize)) / 2n ** 30n + 1n;
    const duration = 518_400;
    await net.ensureEscrow(price * BigInt(duration));
    const signed = await net.sign({
      pieceCid: 'baga6ea4seaqae5ysjdbsr4b5jhotaz5ooh62jrrdbxwygfpkkfjz44kvywycmgy',
      pieceSize,
      verified: false,
      provider: id,
      label: 'bafk2bzaceanulxrrjjec5e6r7vskb6cqgueh2w6bnge6ja5u3la7aygjizwku',
      startEpoch: head + 5760,
      endEpoch: head + 5760 + duration,
      pricePerEpoch: price,
      providerCollateral: bounds.min
    });
    expect(signed.signedProposalCid).toMatch(/^bafyrei/);
    const uuid = randomUUID();
    const res = await net.propose(id, {
      uuid,
      signed,
      dealDataRoot: 'bafk2bzaceanulxrrjjec5e6r7vskb6cqgueh2w6bnge6ja5u3la7aygjizwku',
      // Nothing listens there: the transfer will fail later, which is not what this test is about.
      transfer: { url: 'http://127.0.0.1:9/none.car', headers: {}, size: 392375 }
    });
    expect(res).toEqual({ accepted: true, message: '' });
    const status = await net.status(id, uuid);
    expect(status.checkpoint).not.toBe('');
    expect(status.chainDealId).toBeNull();
    expect(await net.chainDeal(987654)).toBeNull();
  });
});

describe('admin wallet routes, service on the in-process devnet', () => {
  let svc: TestService;
  let admin: string;
  beforeAll(async () => {
    svc = await startTestService({
      // No uploads here: the default FIRTH_DEAL_MIN_BYTES is kept.
      env: devnetEnv(1, {}, { smallDeals: false })
    });
    admin = (await registerUser(svc.apiUrl, svc.adminInvite, 'admin')).apiKey;
  });
  afterAll(() => svc?.stop());
  const call = (method: string, url: string) =>
    fetch(svc.apiUrl + url, { method, headers: { authorization: `Bearer ${admin}` } });

  it('shows the funded wallet, moves FIL into escrow, and the balance follows', async () => {
    const address = (await (await call('GET', '/api/admin/fil-address')).json()) as string;
    expect(address).toMatch(/^t1/);
    expect(address).toBe(svc.node.filecoinClient?.wallet.address);

    const before = (await (await call('GET', '/api/admin/balance')).json()) as Record<string, string | null>;
    expect(before.account).toBe(address);
    expect(BigInt(before.balance!)).toBeGreaterThan(0n); // the devnet funded it at start

    const res = await call('POST', '/api/admin/add-escrow/1');
    expect(res.status).toBe(200);
    const { MsgCid } = (await res.json()) as { MsgCid: { '/': string } };
    const receipt = await svc.node.filecoinClient!.sender.wait(MsgCid['/'], {
      signal: AbortSignal.timeout(60_000)
    });
    expect(receipt.exitCode).toBe(0);

    const after = (await (await call('GET', '/api/admin/balance')).json()) as Record<string, string | null>;
    expect(BigInt(after.marketEscrow!)).toBe(BigInt(before.marketEscrow!) + FIL);
    expect(BigInt(after.marketAvailable!)).toBe(BigInt(after.marketEscrow!) - BigInt(after.marketLocked!));

    expect((await call('POST', '/api/admin/add-escrow/lots')).status).toBe(400);
  });
});
