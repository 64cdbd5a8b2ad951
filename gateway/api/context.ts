import type { Accounts } from '../../server/accounts/accounts.ts';
import type { FirthConfig } from '../../server/config.ts';
import type { ContentQueries } from '../../server/content/queries.ts';
import type { UploadContext } from '../../server/content/upload.ts';
import type { Pins } from '../../server/pinning/pins.ts';
import type { FirthPeer } from '../../relay/peer.ts';
import type { DealDataSource } from '../../filecoin/deals/deal-data.ts';
import type { FilecoinClient } from '../../filecoin/index.ts';
import type { DealsApi } from '../../filecoin/deals/api.ts';
import type { Offloader } from '../../filecoin/offload/index.ts';
import type { RetrievalStats, Retriever } from '../../filecoin/retrieval/index.ts';
import type { Tracking } from '../../server/metrics/index.ts';

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
  /** Base URL of the public gateway for browsers (the app's links; subdomains hang off its host). */
  gatewayUrl(): string;
  /**
   * Base URL where `/ipfs/<cid>` answers with the bytes instead of a redirect to the CID's subdomain,
   * for `retrieval_url`: scripts (Node's fetch, curl, wget, Python) cannot resolve `*.localhost`.
   */
  pathGatewayUrl(): string;
  /** Where providers pull deal data from; absent when no Filecoin network is configured. */
  dealData?: DealDataSource;
  /** Wallet, escrow and Lotus; absent when no Filecoin network is configured (admin wallet routes answer 503). */
  filecoin?: FilecoinClient;
  /** Deal queries, provider list and estimates; absent when no Filecoin network is configured (deal routes answer 503). */
  deals?: DealsApi;
  /** Case B retrieval and offloading; absent when no Filecoin network is configured (routes answer 503). */
  retrieval?: { retriever: Retriever; offloader: Offloader; stats(): Promise<RetrievalStats> };
  /** Bandwidth meter, stats queries and Prometheus metrics. */
  stats?: Tracking;
}
