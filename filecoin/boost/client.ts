// The Boost mk12 client over the service's libp2p node (filecoin.md §1, §11): storage ask, deal
// proposal and deal status. Framing as Boost's Go client: one CBOR item each way per stream — write
// the request, close our write side, read to EOF, decode one item; 10 s to write, 60 s for the reply.
import type { Libp2p, Stream } from '@libp2p/interface';
import { peerIdFromString } from '@libp2p/peer-id';
import { multiaddr } from '@multiformats/multiaddr';
import { fromString as addressFromString } from 'iso-filecoin/address';
import { Signature } from 'iso-filecoin/signature';
import { recoverAddress, verify } from 'iso-filecoin/wallet';
import { CID } from 'multiformats/cid';
import type { LotusClient } from '../lotus/client.ts';
import {
  decodeAskResponse,
  decodeDealResponse,
  decodeDealStatusResponse,
  encodeAskRequest,
  encodeClientDealProposal,
  encodeDealParams,
  encodeDealProposal,
  encodeDealStatusRequest,
  encodeStorageAsk,
  httpTransferParams,
  proposalCid,
  signedProposalCid,
  uuidToBytes,
  type ClientDealProposal,
  type DealProposal,
  type DealResponse,
  type DealStatusResponse,
  type StorageAsk
} from './cbor.ts';

export const DEAL_PROTOCOLS = ['/fil/storage/mk/1.2.1', '/fil/storage/mk/1.2.0'];
export const STATUS_PROTOCOL = '/fil/storage/status/1.2.0';
export const ASK_PROTOCOL = '/fil/storage/ask/1.1.0';

/** A storage provider as the chain knows it (StateMinerInfo's PeerId and Multiaddrs). */
export interface ProviderRef {
  /** Actor address, e.g. `f01000` / `t01000`. */
  actorId: string;
  /** Looked up with StateMinerInfo when absent. */
  peerId?: string | null;
  multiaddrs?: string[];
}

export interface Signer {
  sign(data: Uint8Array): Uint8Array;
}

export interface ProposeDealInput {
  proposal: DealProposal;
  /** The client's signature over the proposal CBOR (type byte ‖ data). */
  signature: Uint8Array;
  uuid: string;
  dealDataRoot: CID | string;
  transfer: { url: string; headers?: Record<string, string>; size: number };
  skipIpniAnnounce?: boolean;
  removeUnsealedCopy?: boolean;
}

export interface BoostClient {
  /** The provider's current ask, its signature checked against the worker key on chain. */
  getAsk(provider: ProviderRef, options?: { signal?: AbortSignal }): Promise<StorageAsk>;
  proposeDeal(
    provider: ProviderRef,
    deal: ProposeDealInput,
    options?: { signal?: AbortSignal }
  ): Promise<DealResponse & { protocol: string }>;
  /** `signer` must be the wallet that signed the proposal (the provider checks it). */
  dealStatus(
    provider: ProviderRef,
    uuid: string,
    signer: Signer,
    options?: { signal?: AbortSignal }
  ): Promise<DealStatusResponse>;
}

export interface BoostClientInit {
  libp2p: Pick<Libp2p, 'dialProtocol' | 'peerStore'>;
  lotus: LotusClient;
  log: { info(obj: object, msg: string): void; warn(obj: object, msg: string): void };
  /** @default 10_000 */
  writeTimeoutMs?: number;
  /** @default 60_000 */
  responseTimeoutMs?: number;
  /** @default 30_000 */
  dialTimeoutMs?: number;
}

/** The provider could not be reached, or broke the protocol. */
export class BoostError extends Error {
  override name = 'BoostError';
  readonly provider: string;
  constructor(provider: string, message: string, options?: ErrorOptions) {
    super(message, options);
    this.provider = provider;
  }
}

/** The provider sent no ask, or one whose signature is not its worker's. */
export class InvalidAskError extends BoostError {
  override name = 'InvalidAskError';
}

/** Address bytes without the network prefix, to compare f… and t… forms. */
const sameAddress = (a: string, b: string) =>
  Buffer.from(addressFromString(a).toBytes()).equals(Buffer.from(addressFromString(b).toBytes()));

// --- proposal helpers -----------------------------------------------------------------------------

export interface ProposalInput {
  pieceCid: CID | string;
  pieceSize: number;
  verified: boolean;
  client: string;
  provider: string;
  label: string;
  startEpoch: number;
  endEpoch: number;
  pricePerEpoch: bigint;
  providerCollateral: bigint;
  /** @default 0n */
  clientCollateral?: bigint;
}

export function buildProposal(input: ProposalInput): DealProposal {
  const pieceCid = typeof input.pieceCid === 'string' ? CID.parse(input.pieceCid) : input.pieceCid;
  if (pieceCid.code !== 0xf101 || pieceCid.multihash.code !== 0x1012) {
    throw new RangeError(
      `${pieceCid.toString()} is not a piece CID (fil-commitment-unsealed, sha2-256-trunc254-padded)`
    );
  }
  if (input.pieceSize < 128 || (input.pieceSize & (input.pieceSize - 1)) !== 0) {
    throw new RangeError(`piece size ${input.pieceSize} is not a power of two ≥ 128`);
  }
  if (input.endEpoch <= input.startEpoch) throw new RangeError('EndEpoch must be after StartEpoch');
  if (new TextEncoder().encode(input.label).length > 256) throw new RangeError('label is over 256 bytes');
  return {
    pieceCid,
    pieceSize: input.pieceSize,
    verifiedDeal: input.verified,
    client: input.client,
    provider: input.provider,
    label: input.label,
    startEpoch: input.startEpoch,
    endEpoch: input.endEpoch,
    storagePricePerEpoch: input.pricePerEpoch,
    providerCollateral: input.providerCollateral,
    clientCollateral: input.clientCollateral ?? 0n
  };
}

export interface SignedDealProposal {
  clientDealProposal: ClientDealProposal;
  /** ClientDealProposal CBOR. */
  bytes: Uint8Array;
  /** On-chain proposal CID (blake2b). */
  proposalCid: string;
  /** Boost's SignedProposalCid (sha2-256), also the IPNI ContextID. */
  signedProposalCid: string;
}

/** Signs the proposal's CBOR with the wallet (Lotus `WalletSign` with MTDealProposal). */
export async function signProposal(wallet: Signer, proposal: DealProposal): Promise<SignedDealProposal> {
  const signature = wallet.sign(encodeDealProposal(proposal));
  const clientDealProposal = { proposal, signature };
  const bytes = encodeClientDealProposal(clientDealProposal);
  return {
    clientDealProposal,
    bytes,
    proposalCid: proposalCid(proposal).toString(),
    signedProposalCid: (await signedProposalCid(bytes)).toString()
  };
}

// --- the client -----------------------------------------------------------------------------------

export function createBoostClient(init: BoostClientInit): BoostClient {
  const { libp2p, lotus, log } = init;
  const writeTimeoutMs = init.writeTimeoutMs ?? 10_000;
  const responseTimeoutMs = init.responseTimeoutMs ?? 60_000;
  const dialTimeoutMs = init.dialTimeoutMs ?? 30_000;

  async function resolve(provider: ProviderRef, signal?: AbortSignal) {
    let peerId = provider.peerId ?? null;
    let addrs = provider.multiaddrs ?? [];
    if (peerId == null || addrs.length === 0) {
      const info = await lotus.stateMinerInfo(provider.actorId, { signal });
      peerId ??= info.peerId;
      if (addrs.length === 0) addrs = info.multiaddrs;
    }
    if (peerId == null)
      throw new BoostError(provider.actorId, `provider ${provider.actorId} has no peer ID on chain`);
    return { peerId, addrs };
  }

  /** One request, one reply, on a fresh stream. */
  async function exchange(
    provider: ProviderRef,
    protocols: string[],
    request: (protocol: string) => Uint8Array,
    signal?: AbortSignal
  ): Promise<{ reply: Uint8Array; protocol: string }> {
    const { peerId, addrs } = await resolve(provider, signal);
    const id = peerIdFromString(peerId);
    const multiaddrs = addrs.flatMap((a) => {
      try {
        return [multiaddr(a)];
      } catch {
        return [];
      }
    });
    if (multiaddrs.length > 0) await libp2p.peerStore.merge(id, { multiaddrs });

    const dialSignal = AbortSignal.any([AbortSignal.timeout(dialTimeoutMs), ...(signal ? [signal] : [])]);
    let stream: Stream;
    try {
      stream = await libp2p.dialProtocol(id, protocols, { signal: dialSignal });
    } catch (err) {
      if (signal?.aborted) throw err;
      throw new BoostError(
        provider.actorId,
        `could not open ${protocols.join(' or ')} to ${provider.actorId} (${peerId}): ${(err as Error).message}`,
        { cause: err }
      );
    }
    const protocol = stream.protocol ?? protocols[0]!;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const onAbort = () => stream.abort(new Error('aborted'));
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      const writeSignal = AbortSignal.timeout(writeTimeoutMs);
      if (!stream.send(request(protocol))) await stream.onDrain({ signal: writeSignal });
      await stream.close({ signal: writeSignal });
      timer = setTimeout(
        () => stream.abort(new Error(`no reply within ${responseTimeoutMs} ms`)),
        responseTimeoutMs
      );
      const chunks: Uint8Array[] = [];
      for await (const chunk of stream) chunks.push(chunk instanceof Uint8Array ? chunk : chunk.subarray());
      const reply = Buffer.concat(chunks);
      if (reply.length === 0) throw new Error('the provider closed the stream without a reply');
      return { reply: new Uint8Array(reply), protocol };
    } catch (err) {
      stream.abort(err as Error);
      if (signal?.aborted) throw signal.reason;
      throw new BoostError(
        provider.actorId,
        `${protocol} with ${provider.actorId}: ${(err as Error).message}`,
        {
          cause: err
        }
      );
    } finally {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
    }
  }

  async function verifyAsk(
    provider: ProviderRef,
    ask: StorageAsk,
    signature: Uint8Array | null,
    signal?: AbortSignal
  ) {
    if (signature == null || signature.length < 2) {
      throw new InvalidAskError(provider.actorId, `the ask from ${provider.actorId} is not signed`);
    }
    if (!sameAddress(ask.miner, provider.actorId)) {
      throw new InvalidAskError(provider.actorId, `the ask from ${provider.actorId} names ${ask.miner}`);
    }
    const info = await lotus.stateMinerInfo(provider.actorId, { signal });
    const key = await lotus.stateAccountKey(info.worker, { signal });
    const data = encodeStorageAsk(ask);
    let ok = false;
    try {
      if (signature[0] === 1) {
        const sig = new Signature({ type: 'SECP256K1', data: signature.subarray(1) });
        ok = sameAddress(recoverAddress(sig, data, 'testnet').toString(), key);
      } else if (signature[0] === 2) {
        const sig = new Signature({ type: 'BLS', data: signature.subarray(1) });
        ok = verify(sig, data, addressFromString(key).toBytes().subarray(1));
      }
    } catch {
      ok = false;
    }
    if (!ok) {
      throw new InvalidAskError(
        provider.actorId,
        `the ask from ${provider.actorId} is not signed by its worker key ${key}`
      );
    }
  }

  return {
    async getAsk(provider, options = {}) {
      const { reply } = await exchange(
        provider,
        [ASK_PROTOCOL],
        () => encodeAskRequest(provider.actorId),
        options.signal
      );
      const signed = decodeAskResponse(reply);
      if (signed == null) throw new InvalidAskError(provider.actorId, `${provider.actorId} sent no ask`);
      await verifyAsk(provider, signed.ask, signed.signature, options.signal);
      return signed.ask;
    },

    async proposeDeal(provider, deal, options = {}) {
      const root = typeof deal.dealDataRoot === 'string' ? CID.parse(deal.dealDataRoot) : deal.dealDataRoot;
      const params = {
        dealUuid: uuidToBytes(deal.uuid),
        isOffline: false,
        clientDealProposal: { proposal: deal.proposal, signature: deal.signature },
        dealDataRoot: root,
        transfer: {
          type: 'http',
          size: deal.transfer.size,
          params: httpTransferParams(deal.transfer.url, deal.transfer.headers ?? {}),
          clientId: ''
        },
        removeUnsealedCopy: deal.removeUnsealedCopy ?? false,
        skipIpniAnnounce: deal.skipIpniAnnounce ?? false
      };
      const { reply, protocol } = await exchange(
        provider,
        DEAL_PROTOCOLS,
        (p) => encodeDealParams(params, p.endsWith('/1.2.0') ? '1.2.0' : '1.2.1'),
        options.signal
      );
      const response = decodeDealResponse(reply);
      log.info(
        {
          provider: provider.actorId,
          uuid: deal.uuid,
          accepted: response.accepted,
          message: response.message
        },
        response.accepted ? 'deal proposal accepted' : 'deal proposal rejected'
      );
      return { ...response, protocol };
    },

    async dealStatus(provider, uuid, signer, options = {}) {
      const dealUuid = uuidToBytes(uuid);
      const { reply } = await exchange(
        provider,
        [STATUS_PROTOCOL],
        () => encodeDealStatusRequest({ dealUuid, signature: signer.sign(dealUuid) }),
        options.signal
      );
      return decodeDealStatusResponse(reply);
    }
  };
}
