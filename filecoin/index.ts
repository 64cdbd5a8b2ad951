// The service's Filecoin client layer, composed: the wallet, a Lotus JSON-RPC client, signed chain
// messages, market escrow with automatic top-up, and the Boost protocol client over the service's
// libp2p node. It talks to whatever FilecoinNetwork names — a real Lotus/gateway or the in-process
// devnet — only over the wire.
import type { Libp2p } from '@libp2p/interface';
import type { FirthConfig } from '../server/config.ts';
import type { FilecoinNetwork } from '../server/filecoin-network.ts';
import { decodeClientDealProposal } from './boost/cbor.ts';
import { buildProposal, createBoostClient, signProposal, type BoostClient } from './boost/client.ts';
import type { DealNetwork, ProviderStatus } from './deals/network.ts';
import { createEscrow, type Escrow } from './chain/escrow.ts';
import { createMessageSender, type MessageSender } from './chain/messages.ts';
import { InvalidInputError, NotFoundError, UnavailableError } from '../server/errors.ts';
import { createLotusClient, type LotusClient } from './lotus/client.ts';
import { LotusError } from './lotus/errors.ts';
import { networkOf, openWallet, type Wallet, type WalletNetwork } from './wallet/index.ts';

export interface FilecoinClient {
  wallet: Wallet;
  lotus: LotusClient;
  sender: MessageSender;
  escrow: Escrow;
  boost: BoostClient;
  /** StateNetworkName at start (undefined when Lotus could not be asked). */
  networkName: string | undefined;
  stop(): Promise<void>;
}

type Log = {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
};

export interface StartFilecoinClientInit {
  config: Pick<FirthConfig, 'dataDir' | 'walletKey' | 'escrowReserveDeals'>;
  network: FilecoinNetwork;
  libp2p: Libp2p;
  log: Log;
}

/**
 * The wallet's address before any network is up: the in-process devnet funds it at start. Devnet
 * and test networks use `t` addresses, so no network name is needed for it.
 */
export async function walletAddress(
  config: Pick<FirthConfig, 'dataDir' | 'walletKey'>,
  network: WalletNetwork = 'testnet'
): Promise<string> {
  return (await openWallet({ dataDir: config.dataDir, network, importKey: config.walletKey })).address;
}

export async function startFilecoinClient(init: StartFilecoinClientInit): Promise<FilecoinClient> {
  const { config, network, log } = init;
  if (network.kind === 'none' || network.lotusUrl == null) {
    throw new Error('startFilecoinClient needs a Lotus endpoint (the Filecoin network is off)');
  }
  const lotus = createLotusClient({ url: network.lotusUrl, token: network.lotusToken });

  // The address prefix follows the chain: f on mainnet, t anywhere else. If Lotus cannot be asked
  // now, guess from the kind of network (the prefix is only cosmetic: Lotus accepts either).
  let networkName: string | undefined;
  try {
    networkName = await lotus.stateNetworkName({ timeoutMs: 15_000 });
  } catch (err) {
    log.warn(
      { err: (err as Error).message },
      'Filecoin: could not read StateNetworkName; guessing the address prefix'
    );
  }
  const walletNetwork: WalletNetwork =
    networkName != null ? networkOf(networkName) : network.kind === 'lotus' ? 'mainnet' : 'testnet';
  const wallet = await openWallet({
    dataDir: config.dataDir,
    network: walletNetwork,
    importKey: config.walletKey
  });
  log.info({ address: wallet.address, network: networkName }, 'Filecoin wallet ready');

  const sender = createMessageSender({ lotus, wallet, log });
  const escrow = createEscrow({ lotus, sender, wallet, log, reserveDeals: config.escrowReserveDeals });
  const boost = createBoostClient({ libp2p: init.libp2p, lotus, log });

  return {
    wallet,
    lotus,
    sender,
    escrow,
    boost,
    networkName,
    async stop() {
      // Nothing long-lived is held: in-flight calls end with their callers' signals.
    }
  };
}

/**
 * The deal pipeline's view of the network (filecoin/deals/network.ts) over this client: actor IDs
 * become `f0…`/`t0…` addresses with the wallet's prefix.
 */
export function createDealNetwork(
  client: Pick<FilecoinClient, 'wallet' | 'lotus' | 'escrow' | 'boost'>
): DealNetwork {
  const { wallet, lotus, escrow, boost } = client;
  const actor = (id: number) => `${wallet.address[0]}0${id}`;
  const actorNumber = (address: string) => Number(/^[ft]0(\d+)$/.exec(address)?.[1] ?? NaN);
  return {
    head: async () => (await lotus.chainHead()).height,
    collateralBounds: (pieceSize, verified) => lotus.stateDealProviderCollateralBounds(pieceSize, verified),
    dataCap: () => lotus.stateVerifiedClientStatus(wallet.address),
    ensureEscrow: (amount, committed) => escrow.ensureAvailable(amount, { committed }),
    async providerInfo(provider) {
      let info: Awaited<ReturnType<LotusClient['stateMinerInfo']>>;
      try {
        info = await lotus.stateMinerInfo(actor(provider));
      } catch (err) {
        const message = (err as Error).message;
        // Lotus: "resolution lookup failed (…): actor not found", "actor code is not miner".
        if (err instanceof LotusError && /not found|not miner|not a miner/i.test(message)) {
          throw new NotFoundError(
            'ERR_MINER_NOT_ON_CHAIN',
            `${actor(provider)} is not a storage provider on chain (${message})`
          );
        }
        throw new UnavailableError(
          'ERR_CHAIN_UNAVAILABLE',
          `could not look ${actor(provider)} up on chain: ${message}`,
          { cause: err }
        );
      }
      if (info.peerId == null) {
        throw new InvalidInputError(
          'ERR_MINER_NO_PEER_ID',
          `${actor(provider)} has no peer ID on chain, so it cannot take deals`
        );
      }
      return { peerId: info.peerId, multiaddrs: info.multiaddrs };
    },
    async ask(provider) {
      const a = await boost.getAsk({ actorId: actor(provider) });
      return {
        price: a.price,
        verifiedPrice: a.verifiedPrice,
        minPieceSize: a.minPieceSize,
        maxPieceSize: a.maxPieceSize
      };
    },
    async sign(terms) {
      const proposal = buildProposal({
        pieceCid: terms.pieceCid,
        pieceSize: terms.pieceSize,
        verified: terms.verified,
        client: wallet.address,
        provider: actor(terms.provider),
        label: terms.label,
        startEpoch: terms.startEpoch,
        endEpoch: terms.endEpoch,
        pricePerEpoch: terms.pricePerEpoch,
        providerCollateral: terms.providerCollateral
      });
      const signed = await signProposal(wallet, proposal);
      return {
        hex: Buffer.from(signed.bytes).toString('hex'),
        proposalCid: signed.proposalCid,
        signedProposalCid: signed.signedProposalCid
      };
    },
    async propose(provider, deal) {
      const { proposal, signature } = decodeClientDealProposal(
        new Uint8Array(Buffer.from(deal.signed.hex, 'hex'))
      );
      const res = await boost.proposeDeal(
        { actorId: actor(provider) },
        { proposal, signature, uuid: deal.uuid, dealDataRoot: deal.dealDataRoot, transfer: deal.transfer }
      );
      return { accepted: res.accepted, message: res.message };
    },
    async status(provider, uuid): Promise<ProviderStatus> {
      const res = await boost.dealStatus({ actorId: actor(provider) }, uuid, wallet);
      const ds = res.dealStatus;
      return {
        checkpoint: ds?.status ?? '',
        error: res.error !== '' ? res.error : (ds?.error ?? ''),
        chainDealId: ds != null && ds.chainDealId > 0 ? ds.chainDealId : null,
        publishCid: ds?.publishCid?.toString() ?? null,
        bytesReceived: res.nBytesReceived,
        transferSize: res.transferSize
      };
    },
    async chainDeal(dealId) {
      const deal = await lotus.stateMarketStorageDeal(dealId);
      if (deal == null) return null;
      return {
        sectorStartEpoch: deal.state.sectorStartEpoch,
        slashEpoch: deal.state.slashEpoch,
        startEpoch: deal.proposal.startEpoch,
        endEpoch: deal.proposal.endEpoch,
        provider: actorNumber(deal.proposal.provider),
        pieceCid: deal.proposal.pieceCid
      };
    }
  };
}

export { LotusError, LotusUnavailableError } from './lotus/errors.ts';
export { WalletShortError } from './chain/escrow.ts';
export { BoostError, InvalidAskError } from './boost/client.ts';
export { WalletError } from './wallet/index.ts';
