// Built-in actor addresses and method numbers (go-state-types builtin/methods.go) the devnet runs.
export const SYSTEM_ACTOR = 't00';
export const INIT_ACTOR = 't01';
export const REWARD_ACTOR = 't02';
export const CRON_ACTOR = 't03';
export const POWER_ACTOR = 't04';
export const MARKET_ACTOR = 't05';
export const VERIFIED_REGISTRY_ACTOR = 't06';
export const BURNT_FUNDS_ACTOR = 't099';

export const METHOD_SEND = 0;

export const MarketMethod = {
  AddBalance: 2,
  WithdrawBalance: 3,
  PublishStorageDeals: 4
} as const;

export const VerifiedRegistryMethod = {
  AddVerifiedClient: 4
} as const;

/**
 * Miner methods the devnet honours. The numbers are Lotus's; the params are simplified because the
 * devnet has no sectors to prove: ProveCommitSectors3 takes `[sectorNumber, [dealId…]]` and
 * activates those deals; TerminateSectors takes `[sectorNumber]` and terminates (slashes) them.
 */
export const MinerMethod = {
  ChangePeerID: 4,
  TerminateSectors: 9,
  ChangeMultiaddrs: 18,
  ProveCommitSectors3: 34
} as const;
