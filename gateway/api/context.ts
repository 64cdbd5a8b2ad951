import type { Accounts } from '../../server/accounts/accounts.ts';
import type { FirthConfig } from '../../server/config.ts';
import type { ContentQueries } from '../../server/content/queries.ts';
import type { UploadContext } from '../../server/content/upload.ts';
import type { Pins } from '../../server/pinning/pins.ts';
import type { FirthPeer } from '../../relay/peer.ts';

/** What the API's routes can reach: domain services only, no database handles. */
export interface ApiContext {
  config: FirthConfig;
  accounts: Accounts;
  pins: Pins;
  content: ContentQueries;
  uploads: UploadContext;
  peer: FirthPeer;
  /** Our multiaddrs, each ending in /p2p/<id>. */
  addresses(): string[];
  /** Base URL of the public gateway, for `retrieval_url`. */
  gatewayUrl(): string;
}
