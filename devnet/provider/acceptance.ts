// Boost's acceptance rules for a proposal (filecoin.md §1.4; boost storagemarket/deal_acceptance.go
// validateDealProposal + validateAsk, node/modules/dealfilter.go), checked against the chain over
// Lotus JSON-RPC. Returns the rejection reason, or null to accept. The texts are Boost's.
import { parseBigIntString } from '../wire/big-int.ts';
import { sameAddress } from '../wire/address.ts';
import { encodeDealProposal, isPieceCid, labelByteLength } from '../wire/deal-proposal.ts';
import { signatureFromBytes, verifySignature } from '../wire/signature.ts';
import type { DealParams, StorageAsk } from './boost-types.ts';
import type { LotusClient } from './lotus-client.ts';

/** go-state-types builtin/v12 market.DealDurationBounds and miner.MaxSectorExpirationExtension. */
export const MIN_DEAL_DURATION = 180 * 2880;
export const MAX_DEAL_DURATION = 1278 * 2880;
export const MAX_SECTOR_EXPIRATION_EXTENSION = 1278 * 2880;
/** Boost's provider.go: the collateral upper bound is 2× the chain's minimum. */
const MAX_COLLATERAL_MULTIPLIER = 2n;

export interface AcceptanceContext {
  lotus: LotusClient;
  actorId: string;
  ask: StorageAsk;
  sectorSize: number;
  expectedSealEpochs: number;
  maxStartDelayEpochs: number;
  signal?: AbortSignal;
}

export interface HttpTransferParams {
  URL: string;
  Headers: Record<string, string>;
}

/** Go's json.Unmarshal matches keys case-insensitively; so does this. */
export function parseHttpTransferParams(bytes: Uint8Array): HttpTransferParams {
  const value: unknown = JSON.parse(new TextDecoder().decode(bytes));
  if (value == null || typeof value !== 'object')
    throw new TypeError('transfer params must be a JSON object');
  let url: unknown;
  let headers: unknown;
  for (const [key, v] of Object.entries(value)) {
    if (key.toLowerCase() === 'url') url = v;
    if (key.toLowerCase() === 'headers') headers = v;
  }
  if (typeof url !== 'string' || url === '') throw new TypeError('transfer params must have a URL');
  const out: Record<string, string> = {};
  if (headers != null && typeof headers === 'object') {
    for (const [k, v] of Object.entries(headers)) if (typeof v === 'string') out[k] = v;
  }
  return { URL: url, Headers: out };
}

export async function validateProposal(params: DealParams, ctx: AcceptanceContext): Promise<string | null> {
  const { lotus, signal } = ctx;
  const { proposal, clientSignature } = params.clientDealProposal;
  const head = (await lotus.call<{ Height: number }>('ChainHead', null, { signal })).Height;

  // Signature over the proposal's tuple CBOR, checked against the client's key address.
  let signatureOk: boolean;
  try {
    const keyAddress = await lotus.call<string>('StateAccountKey', [proposal.client, null], { signal });
    signatureOk = verifySignature(
      signatureFromBytes(clientSignature),
      encodeDealProposal(proposal),
      keyAddress
    );
  } catch {
    signatureOk = false;
  }
  if (!signatureOk) return 'validateSignature failed: could not verify signature';

  if (!sameAddress(proposal.provider, ctx.actorId)) return 'incorrect provider for deal';
  const labelLength = labelByteLength(proposal.label);
  if (labelLength > 256) return `deal label can be at most 256 bytes, is ${labelLength}`;
  const size = proposal.pieceSize;
  if (size < 128) return 'proposal piece size is invalid: minimum piece size is 128 bytes';
  if ((size & (size - 1)) !== 0)
    return 'proposal piece size is invalid: padded piece size must be a power of 2';
  if (size > ctx.sectorSize) return `piece size ${size} is greater than sector size ${ctx.sectorSize}`;
  if (!isPieceCid(proposal.pieceCid)) return 'proposal PieceCID had wrong prefix';
  if (proposal.endEpoch <= proposal.startEpoch) return 'proposal end before proposal start';
  if (head > proposal.startEpoch) return 'deal start epoch has already elapsed';
  const duration = proposal.endEpoch - proposal.startEpoch;
  if (duration < MIN_DEAL_DURATION || duration > MAX_DEAL_DURATION) {
    return `deal duration out of bounds (min, max, provided): ${MIN_DEAL_DURATION}, ${MAX_DEAL_DURATION}, ${duration}`;
  }
  const maxEnd = head + MAX_SECTOR_EXPIRATION_EXTENSION;
  if (proposal.endEpoch > maxEnd) {
    return `invalid deal end epoch ${proposal.endEpoch}: cannot be more than ${MAX_SECTOR_EXPIRATION_EXTENSION} past current epoch ${head}`;
  }

  const bounds = await lotus.call<{ Min: string; Max: string }>(
    'StateDealProviderCollateralBounds',
    [size, proposal.verifiedDeal, null],
    { signal }
  );
  const pcMin = parseBigIntString(bounds.Min);
  const pcMax = pcMin * MAX_COLLATERAL_MULTIPLIER;
  if (proposal.providerCollateral < pcMin) {
    return `proposed provider collateral below minimum: ${proposal.providerCollateral} < ${pcMin}`;
  }
  if (proposal.providerCollateral > pcMax) {
    return `proposed provider collateral above maximum: ${proposal.providerCollateral} > ${pcMax}`;
  }

  // validateAsk
  const askPrice = proposal.verifiedDeal ? ctx.ask.verifiedPrice : ctx.ask.price;
  const minPrice = (askPrice * BigInt(size)) / (1n << 30n);
  if (proposal.storagePricePerEpoch < minPrice) {
    return `validateAsk failed: storage price per epoch less than asking price: ${proposal.storagePricePerEpoch} < ${minPrice}`;
  }
  if (size < ctx.ask.minPieceSize) {
    return `validateAsk failed: piece size less than minimum required size: ${size} < ${ctx.ask.minPieceSize}`;
  }
  if (size > ctx.ask.maxPieceSize) {
    return `validateAsk failed: piece size more than maximum allowed size: ${size} > ${ctx.ask.maxPieceSize}`;
  }

  // Client escrow (ClientBalanceRequirement), only when the deal costs something.
  const required = proposal.storagePricePerEpoch * BigInt(duration) + proposal.clientCollateral;
  if (required > 0n) {
    const balance = await lotus.call<{ Escrow: string; Locked: string }>(
      'StateMarketBalance',
      [proposal.client, null],
      { signal }
    );
    const available = parseBigIntString(balance.Escrow) - parseBigIntString(balance.Locked);
    if (available < required) return `clientMarketBalance.Available too small: ${available} < ${required}`;
  }

  if (proposal.verifiedDeal) {
    const dataCap = await lotus.call<string | null>('StateVerifiedClientStatus', [proposal.client, null], {
      signal
    });
    if (dataCap == null) {
      return 'node error fetching verified data cap: data cap missing -- client not verified';
    }
    if (parseBigIntString(dataCap) < BigInt(size)) {
      return 'verified deal DataCap too small for proposed piece size';
    }
  }

  // The deal filter's sealing window (dealfilter.go): room to seal, and not too far out for online deals.
  const earliest = head + ctx.expectedSealEpochs;
  if (proposal.startEpoch < earliest) {
    return `cannot seal a sector before ${proposal.startEpoch}: earliest start epoch is ${earliest}`;
  }
  if (!params.isOffline) {
    const latest = earliest + ctx.maxStartDelayEpochs;
    if (proposal.startEpoch > latest) {
      return `deal start epoch is too far in the future: ${proposal.startEpoch} > ${latest}`;
    }
  }

  // Transfer: online deals need an http(s) transfer with a URL.
  if (!params.isOffline) {
    if (params.transfer.type !== 'http') return `transfer type ${params.transfer.type} not supported`;
    try {
      const { URL: url } = parseHttpTransferParams(params.transfer.params);
      const protocol = new URL(url).protocol;
      if (protocol !== 'http:' && protocol !== 'https:') return `unsupported URL scheme ${protocol}`;
    } catch (err) {
      return `failed to parse transfer parameters: ${(err as Error).message}`;
    }
    if (params.transfer.size <= 0) return 'transfer size must be greater than zero';
    const maxCar = (size / 128) * 127;
    if (params.transfer.size > maxCar) {
      return `transfer size ${params.transfer.size} exceeds the unpadded piece size ${maxCar}`;
    }
  }
  return null;
}
