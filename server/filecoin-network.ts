// Which Filecoin network the service talks to: a real Lotus endpoint when FIRTH_LOTUS_URL is set
// (no devnet code is even loaded), otherwise the local devnet started in this process — said
// loudly, because deals made there are not real storage.
import path from 'node:path';
import type { FirthConfig } from './config.ts';
import type { Logger } from './log.ts';

export interface FilecoinNetwork {
  kind: 'lotus' | 'devnet' | 'none';
  lotusUrl: string | undefined;
  lotusToken: string | undefined;
  indexerUrl: string | undefined;
  /** The devnet's providers, when it is the devnet (added to the provider list automatically). */
  devnetProviders: Array<{
    name: string;
    actorId: string;
    peerId: string;
    multiaddrs: string[];
    httpUrl: string;
  }>;
  /** Devnet admin base URL (faults), when it is the devnet. */
  devnetAdminUrl: string | undefined;
  stop(): Promise<void>;
}

const CID_CONTACT = 'https://cid.contact';

/** `fundAddresses`: key addresses the in-process devnet funds at start (the service's wallet). */
export async function startFilecoinNetwork(
  config: FirthConfig,
  log: Logger,
  fundAddresses: string[] = []
): Promise<FilecoinNetwork> {
  if (config.lotusUrl != null) {
    log.info({ lotusUrl: config.lotusUrl }, 'Filecoin: using the Lotus endpoint from FIRTH_LOTUS_URL');
    return {
      kind: 'lotus',
      lotusUrl: config.lotusUrl,
      lotusToken: config.lotusToken,
      indexerUrl: config.indexerUrl ?? CID_CONTACT,
      devnetProviders: [],
      devnetAdminUrl: undefined,
      stop: async () => {}
    };
  }
  if (!config.devnet.enabled) {
    log.warn(
      'Filecoin: off (FIRTH_DEVNET=off and no FIRTH_LOTUS_URL): content is pinned but no deals are made'
    );
    return {
      kind: 'none',
      lotusUrl: undefined,
      lotusToken: undefined,
      indexerUrl: config.indexerUrl,
      devnetProviders: [],
      devnetAdminUrl: undefined,
      stop: async () => {}
    };
  }
  const { startDevnet } = await import('../devnet/index.ts');
  const devnet = await startDevnet({
    dataDir: path.join(config.dataDir, 'devnet'),
    ephemeral: config.devnet.ephemeral,
    host: config.p2pHost,
    providers: config.devnet.providers,
    epochMs: config.devnet.epochMs,
    faults: config.devnet.faults,
    fund: fundAddresses.map((address) => ({ address })),
    logger: log.child({ module: 'devnet' })
  });
  log.warn(
    { lotusUrl: devnet.lotusUrl, ipniUrl: devnet.ipniUrl, providers: devnet.providers.length },
    'Filecoin: LOCAL DEVNET. No FIRTH_LOTUS_URL is set, so deals go to a development network running ' +
      'inside this process — not Filecoin mainnet or calibration net. Set FIRTH_LOTUS_URL to use a real network.'
  );
  return {
    kind: 'devnet',
    lotusUrl: devnet.lotusUrl,
    lotusToken: undefined,
    indexerUrl: config.indexerUrl ?? devnet.ipniUrl,
    devnetProviders: devnet.providers,
    devnetAdminUrl: devnet.adminUrl,
    stop: () => devnet.stop()
  };
}
