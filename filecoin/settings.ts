// Deal pipeline settings: explicit overrides from the environment, else defaults for the network in
// use. The devnet's defaults make the whole pipeline visible in seconds on one laptop; a real
// network's follow Estuary and Boost (hours, not seconds; FIL+ at price 0).
import type { DealSettingsOverrides } from '../server/config.ts';
import { MAX_PIECE_PAYLOAD_BYTES } from './pieces/shards.ts';
import type { DealPipelineConfig } from './pipeline.ts';

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;

export function resolveDealSettings(
  overrides: DealSettingsOverrides,
  network: 'devnet' | 'lotus',
  apiUrl: string
): DealPipelineConfig {
  const devnet = network === 'devnet';
  return {
    minDealBytes: overrides.minDealBytes ?? (devnet ? 4 * MiB : GiB),
    aggregateTargetBytes: overrides.aggregateTargetBytes ?? (devnet ? 4 * MiB : GiB),
    aggregateMaxWaitMs: overrides.aggregateMaxWaitMs ?? (devnet ? 10_000 : 6 * 3600_000),
    minPieceSize: overrides.minPieceSize ?? 256,
    // The largest sector providers commonly offer is 32 GiB, which holds 32 GiB·127/128 of payload
    // (Fr32); keep a margin below it. Larger content is split into shards of at most this.
    maxPiecePayloadBytes: overrides.maxPiecePayloadBytes ?? MAX_PIECE_PAYLOAD_BYTES,
    // Estuary's caps: 0.00000003 FIL/GiB/epoch unverified, free for verified (FIL+) deals.
    maxPrice: overrides.maxPrice ?? 30_000_000_000n,
    maxVerifiedPrice: overrides.maxVerifiedPrice ?? 0n,
    // Estuary: three weeks less than the old 540-day maximum.
    durationEpochs: overrides.durationEpochs ?? 1_494_720,
    // Boost's CLI default: two days, leaving Boost's minimum of one day for sealing.
    startDelayEpochs: overrides.startDelayEpochs ?? 5760,
    verified: overrides.verified ?? true,
    dealDataUrl: overrides.dealDataUrl ?? apiUrl,
    pollMs: overrides.pollMs ?? (devnet ? 1000 : 30_000),
    activeCheckMs: devnet ? 5000 : 10 * 60_000,
    proposeAttempts: 3,
    replicationCheckMs: devnet ? 5000 : 10 * 60_000,
    askRefreshMs: devnet ? 30_000 : 30 * 60_000,
    // On the devnet a piece short of good providers tries the ones that failed it again soon.
    failedProviderCooldownMs: devnet ? 30_000 : 3600_000
  };
}
