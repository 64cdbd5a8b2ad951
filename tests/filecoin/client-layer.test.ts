// The client layer against a small JSON-RPC server on loopback that answers as a lotus-gateway does
// (errors in Lotus's words, message lookback clamped so StateWaitMsg is refused): typed results and
// errors, nonces under concurrency, resync after a rejected push, waiting by polling, escrow top-up
// (one in flight), the wallet-short alert — and the wallet file: mode 0600, refusal to replace a
// different key, and the key never reaching the logs.
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { createEscrow, FIL, WalletShortError } from '../../filecoin/chain/escrow.ts';
import { createMessageSender } from '../../filecoin/chain/messages.ts';
import { createLotusClient, LotusError, LotusUnavailableError } from '../../filecoin/lotus/client.ts';
import { importWallet, openWallet, walletFromLotusExport, WALLET_FILE } from '../../filecoin/wallet/index.ts';
import { startFilecoinClient } from '../../filecoin/index.ts';
import { FakeLotus } from './fake-lotus.ts';

const KEY_B64 = 'LzjsZEXCy6tDWAxcFiu76IRQwHkohWvsVK1T+2Q5NfY=';
const KEY_HEX = Buffer.from(JSON.stringify({ Type: 'secp256k1', PrivateKey: KEY_B64 })).toString('hex');
const OTHER_HEX = Buffer.from(
  JSON.stringify({ Type: 'secp256k1', PrivateKey: 'tI1wF8uJseC1QdNj3CbpBAVC8G9/pfgtSYt4yXlJ+UY=' })
).toString('hex');

const quiet = { info() {}, warn() {}, error() {} };
const lotusServer = new FakeLotus();
let tmp: string;

beforeAll(async () => {
  await lotusServer.start();
});
afterAll(async () => {
  await lotusServer.stop();
});
beforeEach(async () => {
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'firth-filecoin-'));
  lotusServer.pushed = [];
  lotusServer.landed.clear();
  lotusServer.escrow = 0n;
  lotusServer.walletBalance = 100n * FIL;
  lotusServer.nonce = 7;
  return () => fs.rm(tmp, { recursive: true, force: true });
});

describe('Lotus client', () => {
  it('returns typed results', async () => {
    const lotus = createLotusClient({ url: lotusServer.url });
    expect(await lotus.stateNetworkName()).toBe('calibrationnet');
    expect(await lotus.walletBalance('t01000')).toBe(100n * FIL);
    const info = await lotus.stateMinerInfo('t01000');
    expect(info.multiaddrs).toEqual(['/ip4/127.0.0.1/tcp/4001']);
    expect(info.peerId).toMatch(/^12D3/);
    const deal = await lotus.stateMarketStorageDeal(1);
    expect(deal?.proposal.storagePricePerEpoch).toBe(25n);
    expect(deal?.state.sectorStartEpoch).toBe(-1);
  });

  it('gives null for a missing deal, LotusError as Lotus worded it, and LotusUnavailableError off the network', async () => {
    const lotus = createLotusClient({ url: lotusServer.url });
    expect(await lotus.stateMarketStorageDeal(404)).toBeNull();
    const err = await lotus.call('Filecoin.NoSuchMethod').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(LotusError);
    expect(err).toMatchObject({ name: 'LotusError', code: 1, message: 'method NoSuchMethod not found' });
    // The same through HTTP 500, as go-jsonrpc sends errors.
    lotusServer.errorStatus = 500;
    try {
      expect(await lotus.stateMarketStorageDeal(404)).toBeNull();
      await expect(lotus.call('NoSuchMethod')).rejects.toMatchObject({ name: 'LotusError', code: 1 });
    } finally {
      lotusServer.errorStatus = 200;
    }
    const down = createLotusClient({ url: 'http://127.0.0.1:1/rpc/v1', timeoutMs: 2000 });
    await expect(down.chainHead()).rejects.toBeInstanceOf(LotusUnavailableError);
  });
});

describe('message sender', () => {
  it('gives concurrent sends distinct consecutive nonces, and resyncs after a rejected push', async () => {
    const lotus = createLotusClient({ url: lotusServer.url });
    const wallet = walletFromLotusExport(KEY_HEX);
    const sender = createMessageSender({ lotus, wallet, log: quiet, pollMs: 20 });
    const sent = await Promise.all(
      Array.from({ length: 5 }, () =>
        sender.send({ to: 't05', method: 2, value: 1n, params: new Uint8Array() })
      )
    );
    expect(sent.map((s) => s.nonce)).toEqual([7, 8, 9, 10, 11]);
    expect(new Set(sent.map((s) => s.cid)).size).toBe(5);

    lotusServer.rejectNextPush = true;
    await expect(sender.send({ to: 't05', method: 2 })).rejects.toBeInstanceOf(LotusError);
    // The node now says 20 (e.g. another tool sent messages): the cursor follows it.
    lotusServer.nonce = 20;
    expect((await sender.send({ to: 't05', method: 2 })).nonce).toBe(20);
    expect((await sender.send({ to: 't05', method: 2 })).nonce).toBe(21);
  });

  it('waits by polling StateSearchMsg when the gateway refuses StateWaitMsg', async () => {
    const lotus = createLotusClient({ url: lotusServer.url });
    const sender = createMessageSender({
      lotus,
      wallet: walletFromLotusExport(KEY_HEX),
      log: quiet,
      pollMs: 20
    });
    const { cid } = await sender.send({ to: 't05', method: 2, value: 5n });
    const receipt = await sender.wait(cid, { confidence: 2, signal: AbortSignal.timeout(10_000) });
    expect(receipt).toMatchObject({ exitCode: 0, message: cid });
    expect(lotusServer.calls).toContain('Filecoin.StateWaitMsg');
  });
});

describe('escrow', () => {
  it('tops up once for concurrent callers, to the need plus the reserve', async () => {
    const lotus = createLotusClient({ url: lotusServer.url });
    const wallet = walletFromLotusExport(KEY_HEX);
    const sender = createMessageSender({ lotus, wallet, log: quiet, pollMs: 20 });
    const escrow = createEscrow({ lotus, sender, wallet, log: quiet, reserveDeals: 2 });
    await Promise.all([
      escrow.ensureAvailable(FIL),
      escrow.ensureAvailable(FIL),
      escrow.ensureAvailable(FIL)
    ]);
    const addBalance = lotusServer.pushed.filter((p) => p.method === 2);
    expect(addBalance).toHaveLength(1);
    expect(addBalance[0]!.value).toBe(3n * FIL);
    const b = await escrow.balance();
    expect(b).toMatchObject({
      account: wallet.address,
      marketEscrow: 3n * FIL,
      marketAvailable: 3n * FIL,
      verifiedClientBalance: null
    });
    expect(escrow.alert()).toBeNull();
    // Enough already: nothing sent.
    await escrow.ensureAvailable(FIL);
    expect(lotusServer.pushed.filter((p) => p.method === 2)).toHaveLength(1);
  });

  it('raises a wallet-short alert and a typed error when the wallet cannot pay', async () => {
    lotusServer.walletBalance = FIL / 2n;
    const lotus = createLotusClient({ url: lotusServer.url });
    const wallet = walletFromLotusExport(KEY_HEX);
    const sender = createMessageSender({ lotus, wallet, log: quiet, pollMs: 20 });
    const escrow = createEscrow({ lotus, sender, wallet, log: quiet, reserveDeals: 2 });
    const err = await escrow.ensureAvailable(FIL).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WalletShortError);
    expect(escrow.alert()).toMatchObject({ kind: 'wallet-short', needed: 3n * FIL, balance: FIL / 2n });
    expect(lotusServer.pushed).toHaveLength(0);
    // Funded again: the next deal's top-up clears the alert.
    lotusServer.walletBalance = 100n * FIL;
    await escrow.ensureAvailable(FIL);
    expect(escrow.alert()).toBeNull();
  });
});

describe('wallet file', () => {
  it('is created once with mode 0600 and reopened as the same key', async () => {
    const a = await openWallet({ dataDir: tmp });
    expect(a.address).toMatch(/^t1/);
    const stat = await fs.stat(path.join(tmp, WALLET_FILE));
    expect(stat.mode & 0o777).toBe(0o600);
    expect((await openWallet({ dataDir: tmp })).address).toBe(a.address);
    expect((await openWallet({ dataDir: tmp, network: 'mainnet' })).address).toBe('f' + a.address.slice(1));
    // The file is a Lotus key export.
    const hex = (await fs.readFile(path.join(tmp, WALLET_FILE), 'utf8')).trim();
    expect(walletFromLotusExport(hex).address).toBe(a.address);
  });

  it('imports a Lotus key, refuses to replace a different one unless forced', async () => {
    const { wallet } = await importWallet({ dataDir: tmp, hex: KEY_HEX, network: 'mainnet' });
    expect(wallet.address).toBe('f1drv36h2ldc4xzhjfiwicxsq6rgkl6z5vhit2roq');
    expect((await fs.stat(path.join(tmp, WALLET_FILE))).mode & 0o777).toBe(0o600);
    expect((await importWallet({ dataDir: tmp, hex: KEY_HEX })).replaced).toBe(false);
    await expect(importWallet({ dataDir: tmp, hex: OTHER_HEX })).rejects.toThrow(/different key/);
    await expect(openWallet({ dataDir: tmp, importKey: OTHER_HEX })).rejects.toThrow(/different key/);
    const forced = await importWallet({ dataDir: tmp, hex: OTHER_HEX, force: true, network: 'mainnet' });
    expect(forced).toMatchObject({ replaced: true });
    expect(forced.wallet.address).toBe('f17dyptywvmnldq2fsm6j226txnltf4aiwsi3vlka');
    expect((await fs.stat(path.join(tmp, WALLET_FILE))).mode & 0o777).toBe(0o600);
  });

  it('never reaches the logs: start, send, top up, with the key given as FIRTH_WALLET_KEY', async () => {
    let captured = '';
    const sink = new Writable({
      write(chunk: Buffer, _enc, cb) {
        captured += chunk.toString();
        cb();
      }
    });
    const log = pino({ level: 'trace' }, sink);
    const client = await startFilecoinClient({
      config: { dataDir: tmp, walletKey: KEY_HEX, escrowReserveDeals: 1 },
      network: {
        kind: 'lotus',
        lotusUrl: lotusServer.url,
        lotusToken: undefined,
        indexerUrl: undefined,
        devnetProviders: [],
        devnetAdminUrl: undefined,
        stop: async () => {}
      },
      libp2p: {} as never,
      log
    });
    expect(client.wallet.address).toBe('t1drv36h2ldc4xzhjfiwicxsq6rgkl6z5vhit2roq');
    await client.escrow.ensureAvailable(FIL);
    log.info({ wallet: client.wallet, client: { wallet: client.wallet } }, 'objects logged on purpose');
    await client.stop();
    expect(captured).toContain('t1drv36h2ldc4xzhjfiwicxsq6rgkl6z5vhit2roq');
    expect(captured).toContain('market escrow top-up landed');
    const raw = Buffer.from(KEY_B64, 'base64');
    for (const secret of [KEY_B64, KEY_HEX, raw.toString('hex'), raw.toString('base64url')]) {
      expect(captured).not.toContain(secret);
    }
    const fileHex = (await fs.readFile(path.join(tmp, WALLET_FILE), 'utf8')).trim();
    expect(captured).not.toContain(fileHex);
  });
});
