// Executes accepted deals through Boost's checkpoints (see deal-store.ts), resuming from whatever
// checkpoint a restart finds: transfer (resumes from bytes on disk) → CommP check → publish
// (PublishStorageDeals from the worker, deal ID from the receipt as dealIDFromPublishDealsMsg) →
// seal delay → ProveCommitSectors3 (activation) → index the CAR and announce to IPNI.
import { join } from 'node:path';
import * as dagCbor from '@ipld/dag-cbor';
import { CID } from 'multiformats/cid';
import type { Logger } from 'pino';
import { MARKET_ACTOR, MarketMethod, MinerMethod } from '../wire/methods.ts';
import { addressToBytes } from '../wire/address.ts';
import { decodeBigInt, parseBigIntString } from '../wire/big-int.ts';
import { decodeRlePlus } from '../wire/rle-plus.ts';
import { parseHttpTransferParams } from './acceptance.ts';
import type { CarIndex } from './car-index.ts';
import { commPOfFile } from './commp.ts';
import type { DealRecord, DealStore } from './deal-store.ts';
import { announce, removeAnnouncement } from './ipni-announce.ts';
import type { LotusClient } from './lotus-client.ts';
import { MessageLostError, type MessageSender } from './messages.ts';
import { httpTransfer } from './transfer.ts';
import type { ProviderFaults } from './index.ts';

export interface PipelineContext {
  store: DealStore;
  lotus: LotusClient;
  sender: MessageSender;
  index: CarIndex;
  actorId: string;
  incomingDir: string;
  ipniUrl?: string;
  peerId: string;
  announceAddrs: () => string[];
  sealDelayMs: number;
  faults: () => ProviderFaults;
  logger: Logger;
  signal: AbortSignal;
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    signal.throwIfAborted();
    const timer = setTimeout(resolve, ms);
    signal.addEventListener(
      'abort',
      () => {
        clearTimeout(timer);
        reject(signal.reason as Error);
      },
      { once: true }
    );
  });
}

export function carPath(ctx: Pick<PipelineContext, 'incomingDir'>, deal: DealRecord): string {
  return join(ctx.incomingDir, deal.carFile);
}

/** Runs a deal until it rests (IndexedAndAnnounced) or completes; failures complete it with an error. */
export async function runDeal(ctx: PipelineContext, uuid: string): Promise<void> {
  const log = ctx.logger.child({ deal: uuid });
  for (;;) {
    const deal = ctx.store.get(uuid);
    if (deal == null || deal.checkpoint === 'Complete') return;
    try {
      const rest = await step(ctx, deal, log);
      if (rest) return;
    } catch (err) {
      if (ctx.signal.aborted) return; // provider stopping: resume at the same checkpoint next start
      const message = (err as Error).message;
      log.warn({ err, checkpoint: deal.checkpoint }, 'deal failed');
      await ctx.store.fail(uuid, message);
      return;
    }
  }
}

/** Performs one transition; returns true when the deal has reached a resting state. */
async function step(ctx: PipelineContext, deal: DealRecord, log: Logger): Promise<boolean> {
  const { store, signal } = ctx;
  switch (deal.checkpoint) {
    case 'Accepted': {
      if (deal.isOffline) return true; // waits for an import the devnet doesn't offer
      const { URL: url, Headers: headers } = parseHttpTransferParams(
        Buffer.from(deal.transferParams, 'base64')
      );
      let lastSaved = 0;
      await httpTransfer({
        url,
        headers,
        size: deal.transferSize,
        file: carPath(ctx, deal),
        faults: {
          stall: () => ctx.faults().stallTransfer === true,
          truncate: () => ctx.faults().truncateTransfer === true
        },
        signal,
        onProgress: (received) => {
          const current = store.get(deal.uuid);
          if (current == null) return;
          current.nBytesReceived = received; // in-memory progress for the status protocol
          if (received - lastSaved >= 1024 * 1024) {
            lastSaved = received;
            void store.update(deal.uuid, { nBytesReceived: received }).catch(() => undefined);
          }
        }
      });
      const received = store.get(deal.uuid)!.nBytesReceived;
      const pieceCid = await commPOfFile(carPath(ctx, deal), deal.pieceSize, { signal });
      if (pieceCid.toString() !== deal.pieceCid) {
        throw new Error(
          `failed to verify CommP: commP mismatch, expected=${deal.pieceCid}, actual=${pieceCid.toString()}`
        );
      }
      log.info({ received }, 'transferred');
      await store.update(deal.uuid, { checkpoint: 'Transferred', nBytesReceived: received });
      return false;
    }
    case 'Transferred': {
      await ensureCollateral(ctx, deal);
      // Killed after recording the message: make sure that one reaches the chain rather than
      // publishing the same proposal twice.
      if (deal.publishMessage != null) {
        try {
          await ctx.sender.resubmit(deal.publishMessage, { signal });
          await store.update(deal.uuid, {
            checkpoint: 'Published',
            publishCid: deal.publishMessage.cid,
            sealingStatus: ''
          });
          return false;
        } catch (err) {
          if (!(err instanceof MessageLostError)) throw err;
          log.warn({ err }, 'recorded publish message was lost: publishing anew');
        }
      }
      const tuple = dagCbor.decode(Buffer.from(deal.clientDealProposal, 'base64'));
      const publishCid = await ctx.sender.push(
        { to: MARKET_ACTOR, method: MarketMethod.PublishStorageDeals, params: dagCbor.encode([[tuple]]) },
        {
          signal,
          beforePush: (publishMessage) => store.update(deal.uuid, { publishMessage }).then(() => undefined)
        }
      );
      log.info({ publishCid }, 'published');
      await store.update(deal.uuid, { checkpoint: 'Published', publishCid, sealingStatus: '' });
      return false;
    }
    case 'Published': {
      const lookup = await ctx.sender.wait(deal.publishCid!, { signal });
      const chainDealId = dealIdFromReturn(lookup.Receipt.Return, 0);
      log.info({ chainDealId }, 'publish confirmed');
      await store.update(deal.uuid, {
        checkpoint: 'PublishConfirmed',
        chainDealId,
        publishCid: lookup.Message['/'],
        sealingStatus: 'WaitDeals'
      });
      return false;
    }
    case 'PublishConfirmed': {
      const faults = ctx.faults();
      if (faults.neverSeal) {
        await store.update(deal.uuid, { sealingStatus: 'PreCommit1' });
        // Never activates: the deal times out at StartEpoch on chain, as on a stuck SP.
        await waitForEpoch(ctx, deal.startEpoch + 1);
        throw new Error(
          `deal ${deal.chainDealId} was not activated before its start epoch ${deal.startEpoch}`
        );
      }
      await store.update(deal.uuid, { sealingStatus: 'PreCommit1' });
      await sleep(faults.sealDelayMs ?? ctx.sealDelayMs, signal);
      // The data is served from the moment the deal can be active, as Boost's unsealed copy and
      // index exist before a sector is proven (a client may retrieve as soon as it sees activation).
      await ctx.index.add(deal.uuid, carPath(ctx, deal), deal.pieceSize);
      const sectorNumber = deal.sectorNumber ?? (await store.allocateSector());
      await store.update(deal.uuid, { sectorNumber, sealingStatus: 'CommitWait' });
      await ctx.sender.send(
        {
          to: ctx.actorId,
          method: MinerMethod.ProveCommitSectors3,
          params: dagCbor.encode([sectorNumber, [deal.chainDealId!]])
        },
        { signal }
      );
      log.info({ sectorNumber }, 'activated');
      await store.update(deal.uuid, { checkpoint: 'AddedPiece', sealingStatus: 'Proving' });
      return false;
    }
    case 'AddedPiece': {
      const indexed = await ctx.index.add(deal.uuid, carPath(ctx, deal), deal.pieceSize);
      if (ctx.ipniUrl != null && !deal.skipIpniAnnounce) {
        await announce(
          ctx.ipniUrl,
          {
            signedProposalCid: CID.parse(deal.signedProposalCid),
            pieceCid: CID.parse(deal.pieceCid),
            verifiedDeal: deal.verifiedDeal,
            peerId: ctx.peerId,
            addrs: ctx.announceAddrs(),
            blocks: indexed.blocks
          },
          { signal }
        );
      }
      await store.update(deal.uuid, { checkpoint: 'IndexedAndAnnounced' });
      return false;
    }
    case 'IndexedAndAnnounced': {
      if ((ctx.faults().slashAfterActivation || ctx.faults().slashActiveDeals) && !deal.slashed) {
        await ctx.sender.send(
          {
            to: ctx.actorId,
            method: MinerMethod.TerminateSectors,
            params: dagCbor.encode([deal.sectorNumber!])
          },
          { signal }
        );
        ctx.index.remove(deal.uuid);
        if (ctx.ipniUrl != null) {
          await removeAnnouncement(ctx.ipniUrl, CID.parse(deal.signedProposalCid), ctx.peerId, {
            signal
          }).catch(() => undefined);
        }
        await store.update(deal.uuid, {
          slashed: true,
          checkpoint: 'Complete',
          sealingStatus: 'Terminated',
          error: `deal ${deal.chainDealId} was slashed: sector ${deal.sectorNumber} terminated`
        });
        return true;
      }
      // Active: the provider keeps serving it. (Expiry is left to the chain's deal state.)
      if (!ctx.index.has(CID.parse(deal.dealDataRoot)))
        await ctx.index.add(deal.uuid, carPath(ctx, deal), deal.pieceSize);
      return true;
    }
    case 'Complete':
      return true;
  }
}

/** Boost's dealIDFromPublishDealsMsg: the i-th proposal's ID is IDs[popcount(ValidDeals < i)]. */
export function dealIdFromReturn(returnBase64: string | null, index: number): number {
  if (returnBase64 == null) throw new Error('publish deals receipt has no return value');
  const decoded = dagCbor.decode(Buffer.from(returnBase64, 'base64'));
  if (!Array.isArray(decoded) || decoded.length !== 2) throw new Error('malformed PublishStorageDealsReturn');
  const [ids, validBytes] = decoded as [unknown, unknown];
  if (!Array.isArray(ids) || !(validBytes instanceof Uint8Array))
    throw new Error('malformed PublishStorageDealsReturn');
  const valid = decodeRlePlus(validBytes);
  if (!valid.includes(index)) throw new Error(`deal index ${index} was not valid in the publish message`);
  const outIdx = valid.filter((v) => v < index).length;
  const id = ids[outIdx] as unknown;
  if (typeof id !== 'number' && typeof id !== 'bigint')
    throw new Error('deal ID missing from publish return');
  return Number(id);
}

async function waitForEpoch(ctx: PipelineContext, epoch: number): Promise<void> {
  for (;;) {
    const head = (await ctx.lotus.call<{ Height: number }>('ChainHead', null, { signal: ctx.signal })).Height;
    if (head >= epoch) return;
    await sleep(500, ctx.signal);
  }
}

/** Boost's fund manager: make sure the miner's market escrow covers this deal's collateral. */
async function ensureCollateral(ctx: PipelineContext, deal: DealRecord): Promise<void> {
  const tuple = dagCbor.decode(Buffer.from(deal.clientDealProposal, 'base64')) as unknown[][];
  const collateral = parseCollateral(tuple);
  const balance = await ctx.lotus.call<{ Escrow: string; Locked: string }>(
    'StateMarketBalance',
    [ctx.actorId, null],
    { signal: ctx.signal }
  );
  const available = parseBigIntString(balance.Escrow) - parseBigIntString(balance.Locked);
  if (available >= collateral) return;
  await ctx.sender.send(
    {
      to: MARKET_ACTOR,
      method: MarketMethod.AddBalance,
      params: dagCbor.encode(addressToBytes(ctx.actorId)),
      value: collateral - available
    },
    { signal: ctx.signal }
  );
}

function parseCollateral(tuple: unknown[][]): bigint {
  const bytes = tuple[0]?.[9];
  return bytes instanceof Uint8Array ? decodeBigInt(bytes) : 0n;
}
