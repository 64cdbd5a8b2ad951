import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import type { FsBlockstore } from 'blockstore-fs';
import { buildApiServer } from '../gateway/api/server.ts';
import { createBlockSource, type BlockSource } from '../gateway/public/blocks.ts';
import { createGatewayMeter, type GatewayMeter } from '../gateway/public/meter.ts';
import { createGateway } from '../gateway/public/server.ts';
import { loadOrCreatePeerKey } from '../relay/identity.ts';
import { bitswapNotifier, createPeer, onBitswapWants, type FirthPeer } from '../relay/peer.ts';
import { multiaddr } from '@multiformats/multiaddr';
import { CID } from 'multiformats/cid';
import { createAccounts, type Accounts } from './accounts/accounts.ts';
import type { FirthConfig } from './config.ts';
import { createContentQueries } from './content/queries.ts';
import { clearStaging, openBlockstore } from './content/staging.ts';
import { openDatabase, type FirthDatabase } from './db/database.ts';
import { JobQueue } from './jobs/queue.ts';
import { createLogger, type Logger } from './log.ts';
import { Pinner } from './pinning/pinner.ts';
import { createPins, type Pins } from './pinning/pins.ts';
import { createStatusEvents } from './pinning/status-events.ts';
import { startFilecoinNetwork, type FilecoinNetwork } from './filecoin-network.ts';
import {
  createDealNetwork,
  startFilecoinClient,
  walletAddress,
  type FilecoinClient
} from '../filecoin/index.ts';
import { createDealsApi } from '../filecoin/deals/api.ts';
import { createDealDataSource } from '../filecoin/deals/deal-data.ts';
import { loadDealApiConfig } from '../filecoin/deals/estimate.ts';
import { startDealPipeline, type DealPipeline } from '../filecoin/pipeline.ts';
import { createProviderRegistry } from '../filecoin/providers/registry.ts';
import { resolveDealSettings } from '../filecoin/settings.ts';
import toBuffer from 'it-to-buffer';
import {
  createOffloader,
  createReadTracker,
  type Offloader,
  type ReadTracker
} from '../filecoin/offload/index.ts';
import {
  createRetriever,
  createWantTrigger,
  offloadedContentOf,
  retrievalStats,
  type Retriever
} from '../filecoin/retrieval/index.ts';
import { BlockLock, lockWrites } from './content/block-lock.ts';
import { createContentGc } from './content/gc.ts';
import { createTracking, type Tracking } from './metrics/index.ts';
import { isAddressInUse, PortInUseError } from './errors.ts';

export interface FirthNode {
  config: FirthConfig;
  log: Logger;
  /** e.g. http://127.0.0.1:3000 (the real port when 0 was asked for). */
  apiUrl: string;
  /** The public gateway, e.g. http://127.0.0.1:8080. */
  gatewayUrl: string;
  /** Bytes the gateway served, per root CID. */
  gatewayMeter: GatewayMeter;
  /** Bandwidth meter (flushed to the database), stats queries and Prometheus metrics. */
  tracking: Tracking;
  database: FirthDatabase;
  blockstore: FsBlockstore;
  peer: FirthPeer;
  accounts: Accounts;
  pins: Pins;
  /** The Filecoin network in use: a real Lotus endpoint, the in-process devnet, or none. */
  filecoin: FilecoinNetwork;
  /** Wallet, Lotus client, escrow and Boost client; undefined when the Filecoin network is off. */
  filecoinClient: FilecoinClient | undefined;
  /** Case B retrieval from providers and offloading; undefined when the Filecoin network is off. */
  retrieval: { retriever: Retriever; offloader: Offloader; reads: ReadTracker } | undefined;
  /** The admin invite made on first start with an empty database, if this start made one. */
  firstAdminInvite: string | undefined;
  stop(): Promise<void>;
}

function urlOf(host: string, port: number): string {
  const h = host === '0.0.0.0' || host === '::' ? 'localhost' : host.includes(':') ? `[${host}]` : host;
  return `http://${h}:${port}`;
}

/** A host for path-gateway URLs: the listen address, loopback for a wildcard or the subdomain host. */
function pathHost(host: string, gatewayDomain: string): string {
  if (host === '0.0.0.0' || host === 'localhost' || host === gatewayDomain) return '127.0.0.1';
  return host === '::' ? '::1' : host;
}

/** The composition root: opens storage, starts the peer, the workers and the API, in that order. */
export async function startFirth(
  config: FirthConfig,
  log: Logger = createLogger(config.logLevel)
): Promise<FirthNode> {
  await fs.mkdir(config.dataDir, { recursive: true });
  const database = await openDatabase({ dataDir: config.dataDir, databaseUrl: config.databaseUrl });
  const { db, dialect } = database;
  log.info({ database: dialect }, 'database ready, migrations applied');

  const blockstore = openBlockstore(path.join(config.dataDir, 'blocks'));
  await blockstore.open();
  const stagingDir = path.join(config.dataDir, 'staging');
  await clearStaging(stagingDir);
  // Every writer of blocks (uploads, bitswap pins, retrievals) against offloading's GC.
  const blockLock = new BlockLock();

  // The in-process devnet funds the service's wallet at start (devnet addresses are t-addresses).
  const fund = config.lotusUrl == null && config.devnet.enabled ? [await walletAddress(config)] : [];
  const filecoin = await startFilecoinNetwork(config, log.child({ module: 'filecoin' }), fund);

  let peer: FirthPeer;
  try {
    peer = await createPeer({
      dataDir: config.dataDir,
      blockstore: lockWrites(blockstore, blockLock),
      host: config.p2pHost,
      port: config.p2pPort,
      announce: config.p2pAnnounce
    });
  } catch (err) {
    await filecoin.stop();
    await database.close();
    if (!isAddressInUse(err)) throw err;
    const ports = config.p2pPort === 0 ? '0' : `${config.p2pPort} (TCP and UDP) and ${config.p2pPort + 1}`;
    throw new PortInUseError(
      'FIRTH_P2P_PORT',
      `the libp2p peer (ports ${ports})`,
      config.p2pPort,
      config.p2pHost,
      {
        cause: err
      }
    );
  }
  const addresses = () => peer.libp2p.getMultiaddrs().map((ma) => ma.toString());
  const filecoinClient =
    filecoin.kind === 'none'
      ? undefined
      : await startFilecoinClient({
          config,
          network: filecoin,
          libp2p: peer.libp2p,
          log: log.child({ module: 'filecoin' })
        });
  log.info({ peerId: peer.libp2p.peerId.toString(), addresses: addresses() }, 'peer listening');

  const accounts = createAccounts(db);
  const queue = new JobQueue({ db, dialect });
  const tracking = createTracking({
    db,
    log: log.child({ module: 'bandwidth' }),
    flushMs: config.bandwidthFlushMs,
    minuteRetentionMs: config.bandwidthMinuteRetentionMs,
    addressPrefix: filecoinClient?.wallet.address.startsWith('f') === true ? 'f' : 't'
  });
  tracking.attachPeer(peer);
  tracking.start();
  // Pin status on per-account gossipsub topics, signed by the peer key (topic names keyed by it too).
  const statusEvents = createStatusEvents({
    pubsub: peer.libp2p.services.pubsub,
    secret: createHash('sha256')
      .update('firth status topics\0')
      .update((await loadOrCreatePeerKey(path.join(config.dataDir, 'peer.key'))).raw)
      .digest(),
    log: log.child({ module: 'status-events' })
  });
  const pinner = new Pinner({
    db,
    queue,
    peer,
    log: log.child({ module: 'pinner' }),
    concurrency: config.pinConcurrency,
    timeoutMs: config.pinTimeoutMs,
    stallMs: config.pinStallMs,
    statusEvents,
    bandwidth: tracking.meter
  });
  const pins = createPins({
    db,
    dialect,
    queue,
    delegates: addresses,
    onQueued: () => pinner.wake(),
    statusTopic: (userId) => statusEvents.topicFor(userId),
    defaultReplication: config.replication,
    // Deleting content: its blocks no held content needs go, and leave the gateway's cache.
    onRemoved: (cid) => contentGc.removed(cid).then(() => undefined)
  });
  let gatewayBlocks: BlockSource | undefined;
  const contentGc = createContentGc({
    db,
    blockstore,
    lock: blockLock,
    evict: (blocks) => gatewayBlocks?.evict(blocks),
    log: log.child({ module: 'content-gc' })
  });

  // The deal pipeline's parts that the API needs before the pipeline itself starts (after listen,
  // when the URL providers pull deal data from is known).
  // A block of offloaded content (a repaired deal's transfer, CommP of a new piece) is retrieved
  // back from providers first, as a whole content, then read.
  const loadBlock = async (cid: CID, o: { signal?: AbortSignal }): Promise<Uint8Array> => {
    try {
      return await toBuffer(blockstore.get(cid, { signal: o.signal }));
    } catch (err) {
      if ((err as Error).name !== 'NotFoundError' || retrieval == null) throw err;
      const owner = (await offloadedContentOf(db, [cid])).values().next().value;
      if (owner == null) throw err;
      await retrieval.retriever.retrieve(owner);
      return await toBuffer(blockstore.get(cid, { signal: o.signal }));
    }
  };
  const dealNetwork = filecoinClient == null ? undefined : createDealNetwork(filecoinClient);
  const registry =
    dealNetwork == null
      ? undefined
      : createProviderRegistry({
          db,
          network: dealNetwork,
          log: log.child({ module: 'providers' }),
          // The bandwidth meter tells providers' bitswap traffic from users' by their peer IDs.
          onChange: () => tracking.providersChanged()
        });
  const deals =
    dealNetwork == null || registry == null
      ? undefined
      : createDealsApi({
          db,
          registry,
          network: dealNetwork,
          addressPrefix: filecoinClient!.wallet.address.startsWith('f') ? 'f' : 't',
          config: loadDealApiConfig(process.env),
          minDealBytes:
            filecoin.kind === 'none'
              ? undefined
              : resolveDealSettings(config.deals, filecoin.kind, '').minDealBytes,
          log: log.child({ module: 'deals-api' })
        });

  // Case B: content with deals but no local blocks is fetched back from providers (own deals, then
  // IPNI); offloading drops local blocks once deals hold them. Block writes and GC share one lock.
  let retrieval: FirthNode['retrieval'];
  if (filecoin.kind !== 'none') {
    const lock = blockLock;
    const devnetUrls = new Map(
      filecoin.devnetProviders.map((p) => [Number(p.actorId.replace(/^[ft]0/, '')), p.httpUrl])
    );
    const retriever = createRetriever({
      db,
      blockstore,
      lock,
      indexerUrl: filecoin.indexerUrl,
      httpUrls: () => devnetUrls,
      bitswap: {
        async connect(peerId, addrs, signal, { root, contentId }) {
          const targets = addrs.map((a) =>
            multiaddr(peerId == null || a.includes('/p2p/') ? a : `${a}/p2p/${peerId}`)
          );
          const connection = await peer.libp2p.dial(targets, { signal });
          // Only this provider is asked (a session), not every connected peer.
          const session = peer.blockstore.createSession(root, {
            providers: [connection.remotePeer.toCID()],
            signal
          });
          return {
            async get(cid, s) {
              // Its bytes are this content's retrieval traffic (counted by the bitswap meter); a copy
              // already on its way when the block arrived still counts for it.
              const release = tracking.meter.claim(cid, { contentId, userId: 0 });
              try {
                return await toBuffer(session.get(cid, { signal: s }));
              } finally {
                setTimeout(release, 10_000).unref();
              }
            },
            close: () => session.close()
          };
        }
      },
      onBlock: bitswapNotifier(peer),
      onResult: (attempt) => tracking.retrieved(attempt),
      log: log.child({ module: 'retrieval' })
    });
    const offloader = createOffloader({
      db,
      blockstore,
      lock,
      retriever,
      offloadAfterMs: config.offloadAfterMs,
      log: log.child({ module: 'offload' })
    });
    retrieval = { retriever, offloader, reads: createReadTracker(db, log) };
    const wanted = createWantTrigger({
      db,
      retriever,
      has: (cid) => blockstore.has(cid),
      reads: retrieval.reads,
      log: log.child({ module: 'retrieval' })
    });
    if (!onBitswapWants(peer, wanted))
      log.warn('bitswap internals not found: bitswap wants do not start retrievals');
  }

  let gatewayBase = config.gatewayUrl ?? urlOf('localhost', config.gatewayPort);
  let pathGatewayBase = gatewayBase;
  const api = await buildApiServer(
    {
      config,
      accounts,
      pins,
      content: createContentQueries(db),
      uploads: {
        db,
        blockstore,
        stagingDir,
        lock: blockLock,
        onReceived: (content, bytes) =>
          tracking.meter.record({
            channel: 'http-upload',
            bytes,
            contentId: Number(content.id),
            userId: Number(content.user_id)
          })
      },
      peer,
      addresses,
      gatewayUrl: () => gatewayBase,
      pathGatewayUrl: () => pathGatewayBase,
      filecoin: filecoinClient,
      deals,
      retrieval: retrieval == null ? undefined : { ...retrieval, stats: () => retrievalStats(db) },
      dealData:
        dealNetwork == null
          ? undefined
          : tracking.meterDealData(createDealDataSource({ db, load: loadBlock })),
      stats: tracking
    },
    log
  );
  const gatewayMeter = createGatewayMeter();
  const gateway = createGateway({
    onServed: (root, bytes, request) => {
      gatewayMeter.record(root, bytes);
      retrieval?.reads.touch(root);
      tracking.gatewayServed(root, bytes, request);
    },
    blocks: (gatewayBlocks = createBlockSource({
      local: blockstore,
      networked: peer.blockstore,
      cacheBytes: config.gatewayCacheBytes,
      retrieve: retrieval == null ? undefined : (root, cid, o) => retrieval.retriever.block(root, cid, o),
      deleted: (root) => contentGc.deleted(root)
    })),
    domain: config.gatewayDomain,
    timeoutMs: config.gatewayTimeoutMs,
    log: log.child({ module: 'gateway' })
  });
  let dealPipeline: DealPipeline | undefined;
  // The whole stop, also used when start fails at a listener (a port in use).
  const shutdown = async (): Promise<void> => {
    // Stop accepting and let in-flight requests (uploads included) finish, then the workers,
    // then the database, then the peer.
    // Uploads get a grace period; then any connection still open is cut.
    const grace = setTimeout(() => {
      api.server.closeAllConnections();
      gateway.server.closeAllConnections();
    }, 30_000);
    // A keep-alive connection whose request finishes during the drain would otherwise stay open
    // (and hold the stop) until its keep-alive timeout: close each as soon as it is idle.
    const idle = setInterval(() => {
      api.server.closeIdleConnections();
      gateway.server.closeIdleConnections();
    }, 100);
    await Promise.all([
      api.close(),
      new Promise<void>((resolve) => {
        gateway.server.close(() => resolve());
        gateway.server.closeIdleConnections();
      })
    ]);
    clearTimeout(grace);
    clearInterval(idle);
    gateway.server.closeAllConnections();
    await pinner.stop();
    await contentGc.stop();
    await dealPipeline?.stop();
    await retrieval?.offloader.stop();
    await retrieval?.retriever.stop();
    await retrieval?.reads.flush();
    await tracking.stop();
    // Nothing below uses the database any more: close it first, so the metadata is safely
    // closed whatever happens while the peer shuts down.
    await database.close();
    // Close every connection before the transports stop: stopping the WebRTC-direct listener
    // with a browser's data channels still open aborts the process in node-datachannel.
    await Promise.allSettled(
      peer.libp2p.getConnections().map((c) => c.close({ signal: AbortSignal.timeout(2000) }))
    );
    await peer.stop();
    await filecoinClient?.stop();
    await filecoin.stop();
  };
  const listenOrExplain = async (
    setting: string,
    what: string,
    port: number,
    listen: () => Promise<unknown>
  ) => {
    try {
      await listen();
    } catch (err) {
      await shutdown().catch((e: unknown) => log.warn({ err: e }, 'stop after a failed start'));
      if (!isAddressInUse(err)) throw err;
      throw new PortInUseError(setting, what, port, config.host, { cause: err });
    }
  };
  await listenOrExplain(
    'FIRTH_GATEWAY_PORT',
    'the public gateway',
    config.gatewayPort,
    () =>
      new Promise<void>((resolve, reject) => {
        gateway.server.once('error', reject);
        gateway.server.listen(config.gatewayPort, config.host, () => resolve());
      })
  );
  const gatewayPort = (gateway.server.address() as { port: number }).port;
  const gatewayUrl = urlOf(config.host, gatewayPort);
  gatewayBase = config.gatewayUrl ?? urlOf(config.gatewayDomain, gatewayPort);
  // Path requests to the subdomain host redirect to `<cid>.ipfs.<domain>`, which scripts cannot
  // resolve; the listen address (loopback for a wildcard) serves paths as they are.
  pathGatewayBase = config.gatewayUrl ?? urlOf(pathHost(config.host, config.gatewayDomain), gatewayPort);
  log.info(
    { url: gatewayUrl },
    `public gateway on ${gatewayUrl} (subdomains: http://{cid}.ipfs.${config.gatewayDomain}:${gatewayPort})`
  );

  await listenOrExplain('FIRTH_PORT', 'the app and API', config.port, () =>
    api.listen({ host: config.host, port: config.port })
  );
  const port = (api.server.address() as { port: number }).port;
  const apiUrl = urlOf(config.host, port);
  pinner.start();
  retrieval?.offloader.start();
  // Deletions a crash interrupted (marked removed, blocks not yet collected) finish now.
  contentGc.start();

  if (dealNetwork != null && registry != null && config.deals.enabled && filecoin.kind !== 'none') {
    for (const p of filecoin.devnetProviders) {
      await registry.add(Number(p.actorId.replace(/^[ft]0/, '')), 'devnet');
    }
    dealPipeline = startDealPipeline({
      db,
      dialect,
      owner: queue.owner,
      load: loadBlock,
      network: dealNetwork,
      registry,
      config: resolveDealSettings(config.deals, filecoin.kind, apiUrl),
      log: log.child({ module: 'deals' })
    });
  }
  log.info({ url: apiUrl }, `Firth is up: app and API on ${apiUrl}`);

  const firstAdminInvite = await accounts.firstAdminInvite();
  if (firstAdminInvite != null) {
    const link = `${apiUrl}/register?invite=${firstAdminInvite}`;
    process.stderr.write(
      [
        '',
        '================================================================',
        ' First start: no accounts yet. Register the admin account with',
        `   invite code: ${firstAdminInvite}`,
        `   in the app:  ${link}`,
        ' This code is shown only once (npx firth invite create --admin',
        ' makes another).',
        '================================================================',
        ''
      ].join('\n') + '\n'
    );
  }

  log.info(
    {
      url: apiUrl,
      gatewayUrl,
      peerId: peer.libp2p.peerId.toString(),
      adminInviteShown: firstAdminInvite != null
    },
    'ready'
  );

  let stopping: Promise<void> | undefined;
  return {
    config,
    log,
    apiUrl,
    gatewayUrl,
    gatewayMeter,
    tracking,
    database,
    blockstore,
    peer,
    accounts,
    pins,
    filecoin,
    filecoinClient,
    retrieval,
    firstAdminInvite,
    stop() {
      stopping ??= shutdown().then(() => log.info('stopped'));
      return stopping;
    }
  };
}
