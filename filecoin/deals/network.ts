// What the deal worker needs from the Filecoin network, as one small interface. The service
// implements it over its wallet, Lotus JSON-RPC and the Boost protocols (filecoin/index.ts); tests
// can read it to see exactly which remote calls a deal makes.

export interface ProposalTerms {
  pieceCid: string;
  pieceSize: number;
  verified: boolean;
  /** Actor ID number of the provider. */
  provider: number;
  label: string;
  startEpoch: number;
  endEpoch: number;
  pricePerEpoch: bigint;
  providerCollateral: bigint;
}

export interface SignedProposal {
  /** ClientDealProposal CBOR, hex, so a resend carries the identical signed proposal. */
  hex: string;
  /** On-chain proposal CID (blake2b) and Boost's SignedProposalCid (sha256). */
  proposalCid: string;
  signedProposalCid: string;
}

export interface ProviderStatus {
  /** Boost checkpoint name (Accepted, Transferred, Published, …, Complete). */
  checkpoint: string;
  error: string;
  chainDealId: number | null;
  publishCid: string | null;
  bytesReceived: number;
  transferSize: number;
}

export interface ChainDeal {
  sectorStartEpoch: number;
  slashEpoch: number;
  startEpoch: number;
  endEpoch: number;
  provider: number;
  pieceCid: string;
}

export interface ProviderAsk {
  price: bigint;
  verifiedPrice: bigint;
  minPieceSize: number;
  maxPieceSize: number;
}

export interface DealNetwork {
  head(): Promise<number>;
  collateralBounds(pieceSize: number, verified: boolean): Promise<{ min: bigint; max: bigint }>;
  /** The wallet's DataCap, or null when it is not a verified client. */
  dataCap(): Promise<bigint | null>;
  /**
   * Makes sure market escrow can cover `amount` more (tops up when needed), on top of `committed`:
   * what our proposed, not yet published deals will lock.
   */
  ensureEscrow(amount: bigint, committed?: bigint): Promise<void>;
  /**
   * Peer ID and addresses from the chain (StateMinerInfo). Throws NotFoundError
   * (ERR_MINER_NOT_ON_CHAIN) when the chain has no such storage provider, InvalidInputError
   * (ERR_MINER_NO_PEER_ID) when it has one that cannot take deals, UnavailableError when the chain
   * cannot be asked.
   */
  providerInfo(provider: number): Promise<{ peerId: string; multiaddrs: string[] }>;
  ask(provider: number): Promise<ProviderAsk>;
  sign(terms: ProposalTerms): Promise<SignedProposal>;
  /** Sends DealParams over /fil/storage/mk/1.2.x; `accepted` false carries the provider's reason. */
  propose(
    provider: number,
    deal: {
      uuid: string;
      signed: SignedProposal;
      dealDataRoot: string;
      transfer: { url: string; headers: Record<string, string>; size: number };
    }
  ): Promise<{ accepted: boolean; message: string }>;
  status(provider: number, uuid: string): Promise<ProviderStatus>;
  /** StateMarketStorageDeal; null when the chain no longer (or never) has it. */
  chainDeal(dealId: number): Promise<ChainDeal | null>;
}
