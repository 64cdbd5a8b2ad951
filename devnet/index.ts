// `startDevnet()`: a local Filecoin network on one machine — a chain behind Lotus's JSON-RPC, an
// IPNI-style indexer, and storage providers that each run their own libp2p host and speak Boost's
// protocols. Everything talks over HTTP and libp2p, as it would across machines; nothing here is
// imported by the service (it only receives the URLs).
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino, { type Logger } from 'pino';
import { createChain, type Chain } from './chain/index.ts';
import { createChainHandler } from './chain/server.ts';
import { createIndexer } from './ipni/index.ts';
import { loadOrCreateKey, type DevnetKey } from './keys.ts';
import {
  createProviderAdminHandler,
  startProvider,
  type Provider,
  type ProviderFaults,
  type ProviderInit
} from './provider/index.ts';

const FIL = 10n ** 18n;
const TiB = 2n ** 40n;

export interface DevnetInit {
  /** State directory (chain, indexer, providers, keys). Ignored when `ephemeral`. */
  dataDir?: string;
  /** Keep everything in a temporary directory removed at stop. @default false */
  ephemeral?: boolean;
  /** @default '127.0.0.1' */
  host?: string;
  /** Port of the Lotus JSON-RPC + devnet admin listener; 0 = free port. @default 0 */
  lotusPort?: number;
  /** Port of the IPNI find API; 0 = free port. @default 0 */
  ipniPort?: number;
  /** @default 8 */
  providers?: number;
  /** Real time per epoch. @default 1000 */
  epochMs?: number;
  /** Faults per provider name (`sp1`…) applied at start; the admin API changes them later. */
  faults?: Record<string, ProviderFaults>;
  /** Provider settings shared by all (seal delay, prices, Boost's start-epoch window…). */
  providerOptions?: Partial<
    Pick<
      ProviderInit,
      | 'price'
      | 'verifiedPrice'
      | 'sealDelayMs'
      | 'expectedSealEpochs'
      | 'maxStartDelayEpochs'
      | 'minPieceSize'
    >
  >;
  /** Key addresses funded (and given DataCap) at start when their balance is zero, e.g. the service's wallet. */
  fund?: Array<{ address: string; balance?: bigint; dataCap?: bigint }>;
  logger?: Logger;
}

export interface DevnetProviderInfo {
  name: string;
  actorId: string;
  peerId: string;
  multiaddrs: string[];
  httpUrl: string;
}

export interface Devnet {
  /** Lotus JSON-RPC v1 endpoint, e.g. http://127.0.0.1:1234/rpc/v1 */
  lotusUrl: string;
  /** Devnet admin base (`/admin/miners`, `/admin/fund`, `/admin/providers/:id/faults`). */
  adminUrl: string;
  /** IPNI find API base (`GET /cid/{cid}`). */
  ipniUrl: string;
  providers: DevnetProviderInfo[];
  /** A funded key (with DataCap) for experiments. */
  client: DevnetKey;
  dataDir: string;
  chain: Chain;
  providerHandles: Provider[];
  stop(): Promise<void>;
}

export async function startDevnet(init: DevnetInit = {}): Promise<Devnet> {
  const logger = init.logger ?? pino({ level: 'silent' });
  const host = init.host ?? '127.0.0.1';
  const dataDir = init.ephemeral
    ? await mkdtemp(join(tmpdir(), 'firth-devnet-'))
    : (init.dataDir ?? join(process.cwd(), 'data', 'devnet'));
  await mkdir(dataDir, { recursive: true });

  const faucet = await loadOrCreateKey(dataDir, 'faucet');
  const client = await loadOrCreateKey(dataDir, 'client');
  const chain = await createChain({
    dataDir: join(dataDir, 'chain'),
    epochMs: init.epochMs ?? 1000,
    genesisAccounts: [
      { address: faucet.address, balance: 1_000_000_000n * FIL },
      { address: client.address, balance: 10_000n * FIL, dataCap: TiB }
    ],
    logger: logger.child({ devnet: 'chain' })
  });
  chain.start();

  const indexer = await createIndexer({
    dataDir: join(dataDir, 'ipni'),
    logger: logger.child({ devnet: 'ipni' })
  });
  const servers: Server[] = [];
  const providers: Provider[] = [];
  try {
    const chainHandler = createChainHandler(chain);
    const providerAdmin = createProviderAdminHandler(providers);
    const lotusBase = await listen(servers, host, init.lotusPort ?? 0, logger, chainHandler, providerAdmin);
    const ipniUrl = await listen(servers, host, init.ipniPort ?? 0, logger, (req, res) =>
      indexer.handle(req, res)
    );
    const lotusUrl = `${lotusBase}/rpc/v1`;

    for (const wallet of init.fund ?? []) {
      if ((await rpc(chain, 'Filecoin.WalletBalance', [wallet.address])) !== '0') continue;
      await chain.fund(wallet.address, wallet.balance ?? 10_000n * FIL);
      if (wallet.dataCap !== 0n) await chain.grantDataCap(wallet.address, wallet.dataCap ?? TiB);
    }

    // Providers register, fund and post collateral through the chain's public endpoints, in parallel
    // (each waits for its messages to land).
    const count = init.providers ?? 8;
    const started = await Promise.all(
      Array.from({ length: count }, (_, i) => {
        const name = `sp${i + 1}`;
        return startProvider({
          name,
          dataDir: join(dataDir, 'providers', name),
          lotusUrl,
          adminUrl: lotusBase,
          ipniUrl,
          host,
          // FIL+ providers charge nothing for verified deals (Estuary's cap was 0); Boost's default
          // unverified price stays.
          verifiedPrice: 0n,
          ...init.providerOptions,
          faults: init.faults?.[name],
          logger: logger.child({ devnet: name })
        });
      })
    );
    providers.push(...started);

    const devnet: Devnet = {
      lotusUrl,
      adminUrl: lotusBase,
      ipniUrl,
      providers: providers.map((p) => ({
        name: p.name,
        actorId: p.actorId,
        peerId: p.peerId,
        multiaddrs: p.multiaddrs,
        httpUrl: p.httpUrl
      })),
      client,
      dataDir,
      chain,
      providerHandles: providers,
      stop: once(async () => {
        await Promise.allSettled(providers.map((p) => p.stop()));
        await Promise.allSettled(servers.map((s) => closeServer(s)));
        await chain.stop();
        await indexer.close();
        if (init.ephemeral) await rm(dataDir, { recursive: true, force: true });
      })
    };
    return devnet;
  } catch (err) {
    await Promise.allSettled(providers.map((p) => p.stop()));
    await Promise.allSettled(servers.map((s) => closeServer(s)));
    await chain.stop();
    await indexer.close();
    throw err;
  }
}

type Handler = (req: IncomingMessage, res: ServerResponse) => Promise<boolean>;

async function listen(
  servers: Server[],
  host: string,
  port: number,
  logger: Logger,
  ...handlers: Handler[]
): Promise<string> {
  const server = createServer((req, res) => {
    void (async () => {
      for (const handler of handlers) if (await handler(req, res)) return;
      res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end('not found');
    })().catch((err: unknown) => {
      logger.error({ err }, 'devnet: request failed');
      if (!res.headersSent) res.writeHead(500).end('internal error');
      else res.destroy();
    });
  });
  servers.push(server);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  return `http://${host}:${(server.address() as AddressInfo).port}`;
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}

async function rpc(chain: Chain, method: string, params: unknown[]): Promise<unknown> {
  const response = (await chain.handleRpc({ jsonrpc: '2.0', id: 1, method, params })) as {
    result?: unknown;
    error?: { message: string };
  };
  if (response.error != null) throw new Error(response.error.message);
  return response.result;
}

function once(fn: () => Promise<void>): () => Promise<void> {
  let running: Promise<void> | undefined;
  return () => (running ??= fn());
}
