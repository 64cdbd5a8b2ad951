// A devnet storage provider: its own libp2p host speaking Boost's deal, status and ask protocols,
// an HTTP retrieval server and bitswap, and a deal pipeline that publishes and activates deals on
// the devnet chain through Lotus JSON-RPC with messages signed by its BLS worker — exactly the
// path an outside provider process would use (it never imports the chain).
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import * as dagCbor from '@ipld/dag-cbor';
import { multiaddr } from '@multiformats/multiaddr';
import { CID } from 'multiformats/cid';
import pino, { type Logger } from 'pino';
import { addressToBytes, sameAddress } from '../wire/address.ts';
import {
  clientDealProposalFromTuple,
  encodeClientDealProposal,
  signedProposalCid
} from '../wire/deal-proposal.ts';
import { MARKET_ACTOR, MarketMethod, MinerMethod } from '../wire/methods.ts';
import { signatureFromBytes, signBytes, verifySignature } from '../wire/signature.ts';
import { validateProposal } from './acceptance.ts';
import { carBlockstore, startHost } from './bitswap.ts';
import {
  decodeAskRequest,
  decodeDealParams,
  decodeDealStatusRequest,
  encodeAskResponse,
  encodeDealResponse,
  encodeDealStatusResponse,
  encodeStorageAsk,
  PROTOCOL_ASK,
  PROTOCOL_DEAL_V120,
  PROTOCOL_DEAL_V121,
  PROTOCOL_STATUS,
  uuidToBytes,
  type DealParams,
  type StorageAsk
} from './boost-types.ts';
import { createCarIndex } from './car-index.ts';
import { openDealStore, summarize, type DealRecord, type DealSummary } from './deal-store.ts';
import { loadOrCreateIdentity, saveIdentity } from './identity.ts';
import { httpUrlToMultiaddr } from './ipni-announce.ts';
import { createLotusClient } from './lotus-client.ts';
import { createMessageSender } from './messages.ts';
import { oneShot } from './protocols.ts';
import { carPath, runDeal, type PipelineContext } from './pipeline.ts';
import { startRetrievalServer } from './retrieval-http.ts';

export { createProviderAdminHandler } from './admin.ts';
export type { DealSummary } from './deal-store.ts';

export interface ProviderFaults {
  /** Reject every proposal (a string is the reason). */
  rejectProposals?: boolean | string;
  /** libp2p protocols and HTTP refuse/close, as if the host were down. */
  unreachable?: boolean;
  /** Start the HTTP pull, then stop reading. */
  stallTransfer?: boolean;
  /** Read only part of the data and treat it as complete (CommP mismatch fails the deal). */
  truncateTransfer?: boolean;
  /** Slow sealing (overrides the seal delay). */
  sealDelayMs?: number;
  /** Publish but never activate (the deal times out at StartEpoch). */
  neverSeal?: boolean;
  /** Activate, then terminate the sector (slashed). */
  slashAfterActivation?: boolean;
  /** Set at runtime: terminate the sectors of every deal already active (a provider losing data). */
  slashActiveDeals?: boolean;
  /** HTTP retrieval 403, bitswap serves nothing. */
  refuseRetrievals?: boolean;
  /** HTTP retrieval 403, bitswap still serves (a provider reachable over bitswap only). */
  refuseHttpRetrievals?: boolean;
  /** Flip bytes in served blocks and piece ranges. */
  corruptRetrievals?: boolean;
  /** Hold each HTTP retrieval this long before answering (a slow provider). */
  slowRetrievalsMs?: number;
}

export interface ProviderInit {
  /** e.g. 'sp1' */
  name: string;
  /** Persisted: identity, deals DB, received CARs. */
  dataDir: string;
  lotusUrl: string;
  adminUrl: string;
  ipniUrl?: string;
  /** @default '127.0.0.1' (ports are 0) */
  host?: string;
  /** attoFIL per GiB per epoch. @default 50_000_000n (Boost's default ask) */
  price?: bigint;
  /** @default 5_000_000n (Boost's default verified ask) */
  verifiedPrice?: bigint;
  /** @default 256 */
  minPieceSize?: number;
  /** @default 32 GiB */
  maxPieceSize?: number;
  /** @default 32 GiB */
  sectorSize?: number;
  /** Boost's ExpectedSealDuration in epochs (StartEpoch ≥ head + this). @default 2880 */
  expectedSealEpochs?: number;
  /** Boost's MaxDealStartDelay in epochs. @default 40320 */
  maxStartDelayEpochs?: number;
  /** Real time from publish confirmation to activation. @default 2000 */
  sealDelayMs?: number;
  faults?: ProviderFaults;
  logger?: Logger;
}

export interface Provider {
  readonly name: string;
  readonly actorId: string;
  readonly peerId: string;
  /** TCP and WebSocket, with /p2p/<id>. */
  readonly multiaddrs: string[];
  /** Retrieval HTTP base (trustless gateway + /piece/). */
  readonly httpUrl: string;
  readonly workerAddress: string;
  faults(): ProviderFaults;
  /** Replaces the faults. */
  setFaults(faults: ProviderFaults): void;
  deals(): DealSummary[];
  stop(): Promise<void>;
}

const GiB = 1024 ** 3;
const FIL = 10n ** 18n;
/** Worker gas money from the faucet and the initial collateral escrow (topped up per deal). */
const WORKER_FUNDS = 1_000n * FIL;
const INITIAL_ESCROW = 10n * FIL;

async function adminPost<T>(adminUrl: string, path: string, body: unknown, signal?: AbortSignal): Promise<T> {
  const response = await fetch(`${adminUrl}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
    signal: AbortSignal.any([AbortSignal.timeout(60_000), ...(signal == null ? [] : [signal])])
  });
  const text = await response.text();
  if (!response.ok) throw new Error(`devnet admin ${path}: HTTP ${response.status}: ${text.slice(0, 300)}`);
  return (text === '' ? {} : JSON.parse(text)) as T;
}

export async function startProvider(init: ProviderInit): Promise<Provider> {
  const logger = (init.logger ?? pino({ level: 'silent' })).child({ provider: init.name });
  const host = init.host ?? '127.0.0.1';
  await mkdir(init.dataDir, { recursive: true });
  const incomingDir = join(init.dataDir, 'incoming');
  await mkdir(incomingDir, { recursive: true });
  const identity = await loadOrCreateIdentity(init.dataDir);
  const store = await openDealStore(init.dataDir);
  const lotus = createLotusClient(init.lotusUrl);
  const sender = createMessageSender(lotus, identity.worker);
  const index = createCarIndex();
  let faults: ProviderFaults = { ...init.faults };
  const abort = new AbortController();
  const sectorSize = init.sectorSize ?? 32 * GiB;

  const blockFaults = () => ({
    refuse: faults.refuseRetrievals === true || faults.unreachable === true,
    corrupt: faults.corruptRetrievals === true
  });
  const helia = await startHost({
    privateKey: identity.peerKey,
    host,
    blockstore: carBlockstore(index, blockFaults)
  });
  const libp2p = helia.libp2p;
  const cleanup: Array<() => Promise<void>> = [
    async () => {
      await helia.stop();
    }
  ];
  try {
    const peerId = libp2p.peerId.toString();
    const multiaddrs = () => libp2p.getMultiaddrs().map((ma) => ma.toString());
    const bareAddrs = () => multiaddrs().map((ma) => ma.replace(/\/p2p\/[^/]+$/, ''));

    for (const deal of store.all()) {
      if (deal.checkpoint === 'IndexedAndAnnounced')
        await index.add(deal.uuid, carPath({ incomingDir }, deal), deal.pieceSize).catch(() => undefined);
    }
    const retrieval = await startRetrievalServer({
      host,
      index,
      logger,
      findPiece: (pieceCid) => {
        const deal = store
          .all()
          .find((d) => d.pieceCid === pieceCid && d.checkpoint === 'IndexedAndAnnounced');
        return deal == null ? undefined : { file: carPath({ incomingDir }, deal), pieceCid };
      },
      faults: () => ({
        refuse: faults.refuseRetrievals === true || faults.refuseHttpRetrievals === true,
        corrupt: faults.corruptRetrievals === true,
        unreachable: faults.unreachable === true,
        slowMs: faults.slowRetrievalsMs ?? 0
      })
    });
    cleanup.push(() => retrieval.close());

    // Join the chain: register once, fund the worker and post initial collateral once.
    if (identity.actorId == null) {
      const registered = await adminPost<{ ActorID: string; Worker: string }>(
        init.adminUrl,
        '/admin/miners',
        {
          PeerId: peerId,
          Multiaddrs: bareAddrs(),
          Worker: identity.worker.address,
          SectorSize: sectorSize
        }
      );
      identity.actorId = registered.ActorID;
      identity.workerId = registered.Worker;
      await saveIdentity(init.dataDir, identity);
    } else {
      // New ports after a restart: tell the chain, as `lotus-miner actor set-addrs` would.
      const params = dagCbor.encode([bareAddrs().map((ma) => multiaddrBytes(ma))]);
      await sender
        .send(
          { to: identity.actorId, method: MinerMethod.ChangeMultiaddrs, params },
          { signal: abort.signal }
        )
        .catch((err: unknown) => logger.warn({ err }, 'ChangeMultiaddrs failed'));
    }
    const actorId = identity.actorId;
    if (identity.funded !== true) {
      await adminPost(init.adminUrl, '/admin/fund', {
        Address: identity.worker.address,
        Amount: WORKER_FUNDS.toString()
      });
      await sender.send({
        to: MARKET_ACTOR,
        method: MarketMethod.AddBalance,
        params: dagCbor.encode(addressToBytes(actorId)),
        value: INITIAL_ESCROW
      });
      identity.funded = true;
      await saveIdentity(init.dataDir, identity);
    }

    const head = (await lotus.call<{ Height: number }>('ChainHead', null)).Height;
    const ask: StorageAsk = {
      price: init.price ?? 50_000_000n,
      verifiedPrice: init.verifiedPrice ?? 5_000_000n,
      minPieceSize: init.minPieceSize ?? 256,
      maxPieceSize: init.maxPieceSize ?? 32 * GiB,
      miner: actorId,
      timestamp: head,
      expiry: head + 1_000_000,
      seqNo: 0
    };
    const askSignature = signBytes(identity.worker.privateKey, 'BLS', encodeStorageAsk(ask));

    const ctx: PipelineContext = {
      store,
      lotus,
      sender,
      index,
      actorId,
      incomingDir,
      ipniUrl: init.ipniUrl,
      peerId,
      announceAddrs: () => [...bareAddrs(), httpUrlToMultiaddr(retrieval.url)],
      sealDelayMs: init.sealDelayMs ?? 2000,
      faults: () => faults,
      logger,
      signal: abort.signal
    };
    const running = new Set<Promise<void>>();
    const launch = (uuid: string) => {
      const run = runDeal(ctx, uuid).catch((err: unknown) =>
        logger.error({ err, deal: uuid }, 'deal runner crashed')
      );
      running.add(run);
      void run.finally(() => running.delete(run));
    };

    const unreachable = () => faults.unreachable === true;
    const accepting = new Set<string>();

    async function onProposal(request: unknown): Promise<Uint8Array | null> {
      let params: DealParams;
      try {
        params = decodeDealParams(request);
      } catch (err) {
        logger.warn({ err }, 'reading storage deal proposal from stream');
        return null; // Boost closes the stream without a reply
      }
      const reject = (message: string) => encodeDealResponse({ accepted: false, message });
      if (faults.rejectProposals != null && faults.rejectProposals !== false) {
        const reason =
          typeof faults.rejectProposals === 'string' ? faults.rejectProposals : 'deal rejected by provider';
        return reject(`deal filter rejected deal: ${reason}`);
      }
      if (store.get(params.dealUuid) != null || accepting.has(params.dealUuid)) {
        return reject(`deal has the same uuid as an existing deal: ${params.dealUuid}`);
      }
      accepting.add(params.dealUuid);
      try {
        let reason: string | null;
        try {
          reason = await validateProposal(params, {
            lotus,
            actorId,
            ask,
            sectorSize,
            expectedSealEpochs: init.expectedSealEpochs ?? 2880,
            maxStartDelayEpochs: init.maxStartDelayEpochs ?? 40_320,
            signal: abort.signal
          });
        } catch (err) {
          reason = `node error: ${(err as Error).message}`;
        }
        if (reason != null) return reject(`failed validation: ${reason}`);
        const { proposal } = params.clientDealProposal;
        const now = new Date().toISOString();
        const record: DealRecord = {
          uuid: params.dealUuid,
          checkpoint: 'Accepted',
          error: '',
          clientDealProposal: Buffer.from(encodeClientDealProposal(params.clientDealProposal)).toString(
            'base64'
          ),
          signedProposalCid: (await signedProposalCid(params.clientDealProposal)).toString(),
          dealDataRoot: params.dealDataRoot.toString(),
          pieceCid: proposal.pieceCid.toString(),
          pieceSize: proposal.pieceSize,
          verifiedDeal: proposal.verifiedDeal,
          client: proposal.client,
          startEpoch: proposal.startEpoch,
          endEpoch: proposal.endEpoch,
          isOffline: params.isOffline,
          skipIpniAnnounce: params.skipIpniAnnounce,
          transferType: params.transfer.type,
          transferParams: Buffer.from(params.transfer.params).toString('base64'),
          transferSize: params.transfer.size,
          nBytesReceived: 0,
          carFile: `${params.dealUuid}.car`,
          sealingStatus: '',
          createdAt: now,
          updatedAt: now
        };
        await store.add(record);
        logger.info({ deal: record.uuid }, 'deal accepted');
        launch(record.uuid);
        return encodeDealResponse({ accepted: true, message: '' });
      } finally {
        accepting.delete(params.dealUuid);
      }
    }

    async function onStatus(request: unknown): Promise<Uint8Array | null> {
      let req: { dealUuid: string; signature: Uint8Array };
      try {
        req = decodeDealStatusRequest(request);
      } catch (err) {
        logger.warn({ err }, 'reading deal status request from stream');
        return null;
      }
      const errorResponse = (error: string) =>
        encodeDealStatusResponse({
          dealUuid: req.dealUuid,
          error,
          isOffline: false,
          transferSize: 0,
          nBytesReceived: 0,
          dealStatus: null
        });
      const deal = store.get(req.dealUuid);
      if (deal == null) return errorResponse(`no storage deal found with deal UUID ${req.dealUuid}`);
      let signer: string;
      try {
        signer = await lotus.call<string>('StateAccountKey', [deal.client, null], { signal: abort.signal });
      } catch (err) {
        return errorResponse(`getting signer for deal ${req.dealUuid}: ${(err as Error).message}`);
      }
      let verified: boolean;
      try {
        verified = verifySignature(signatureFromBytes(req.signature), uuidToBytes(req.dealUuid), signer);
      } catch {
        verified = false;
      }
      if (!verified) return errorResponse('signature verification failed');
      const cdp = dagCbor.decode(Buffer.from(deal.clientDealProposal, 'base64'));
      return encodeDealStatusResponse({
        dealUuid: deal.uuid,
        error: '',
        isOffline: deal.isOffline,
        transferSize: deal.transferSize,
        nBytesReceived: deal.nBytesReceived,
        dealStatus: {
          error: deal.error,
          status: deal.checkpoint,
          sealingStatus: deal.sealingStatus,
          proposal: clientDealProposalFromTuple(cdp).proposal,
          signedProposalCid: CID.parse(deal.signedProposalCid),
          publishCid: deal.publishCid == null ? null : CID.parse(deal.publishCid),
          chainDealId: deal.chainDealId ?? 0
        }
      });
    }

    async function onAsk(request: unknown): Promise<Uint8Array | null> {
      let miner: string;
      try {
        miner = decodeAskRequest(request).miner;
      } catch (err) {
        logger.warn({ err }, 'reading ask request from stream');
        return null;
      }
      return encodeAskResponse(sameAddress(miner, actorId) ? { ask, signature: askSignature } : null);
    }

    await libp2p.handle(
      [PROTOCOL_DEAL_V121, PROTOCOL_DEAL_V120],
      oneShot(logger, 'deal', unreachable, onProposal)
    );
    await libp2p.handle(PROTOCOL_STATUS, oneShot(logger, 'status', unreachable, onStatus));
    await libp2p.handle(PROTOCOL_ASK, oneShot(logger, 'ask', unreachable, onAsk));

    // Resume what a previous run left in flight.
    for (const deal of store.all()) if (deal.checkpoint !== 'Complete') launch(deal.uuid);

    let stopping: Promise<void> | undefined;
    return {
      name: init.name,
      actorId,
      peerId,
      get multiaddrs() {
        return multiaddrs();
      },
      httpUrl: retrieval.url,
      workerAddress: identity.worker.address,
      faults: () => ({ ...faults }),
      setFaults: (next) => {
        faults = { ...next };
        // Deals already active rest at IndexedAndAnnounced: run them again so they are terminated.
        if (faults.slashActiveDeals === true) {
          for (const deal of store.all()) if (deal.checkpoint === 'IndexedAndAnnounced') launch(deal.uuid);
        }
      },
      deals: () => store.all().map(summarize),
      stop: () =>
        (stopping ??= (async () => {
          abort.abort(new Error('provider stopping'));
          await Promise.allSettled([...running]);
          await libp2p
            .unhandle([PROTOCOL_DEAL_V121, PROTOCOL_DEAL_V120, PROTOCOL_STATUS, PROTOCOL_ASK])
            .catch(() => undefined);
          for (const fn of cleanup.reverse()) await fn().catch(() => undefined);
          await store.flush();
        })())
    };
  } catch (err) {
    abort.abort();
    for (const fn of cleanup.reverse()) await fn().catch(() => undefined);
    throw err;
  }
}

function multiaddrBytes(text: string): Uint8Array {
  return multiaddr(text).bytes;
}
