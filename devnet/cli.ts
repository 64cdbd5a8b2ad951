// `npm run devnet`: runs the devnet on its own and prints where everything is — as one line of
// JSON (for scripts) and in words (for people). Stops cleanly on Ctrl-C.
import { parseArgs } from 'node:util';
import pino from 'pino';
import { startDevnet, type Devnet } from './index.ts';
import type { ProviderFaults } from './provider/index.ts';

const USAGE = `usage: npm run devnet -- [options]
  --data-dir DIR     where state persists (default ./data/devnet)
  --ephemeral        keep nothing: a temporary directory removed at exit
  --providers N      storage providers to run (default 8)
  --epoch-ms MS      real time per epoch (default 1000)
  --port PORT        Lotus JSON-RPC + admin port (default 1234, Lotus's own; 0 = any)
  --ipni-port PORT   IPNI find API port (default 3104; 0 = any)
  --faults JSON      faults per provider, e.g. '{"sp2":{"neverSeal":true}}'
  --log-level LEVEL  pino level (default info)`;

function fail(message: string): never {
  process.stderr.write(`${message}\n\n${USAGE}\n`);
  process.exit(2);
}

function int(value: string | undefined, fallback: number, name: string): number {
  if (value == null) return fallback;
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < 0) fail(`--${name} must be a non-negative integer`);
  return n;
}

export function describeDevnet(devnet: Devnet): { json: string; words: string } {
  const summary = {
    lotusUrl: devnet.lotusUrl,
    ipniUrl: devnet.ipniUrl,
    adminUrl: devnet.adminUrl,
    dataDir: devnet.dataDir,
    providers: devnet.providers,
    client: { address: devnet.client.address, lotusKeyExport: devnet.client.lotusExport }
  };
  const words = [
    'Firth devnet is running. This is a LOCAL development network, not Filecoin mainnet or calibration net:',
    'its FIL is worthless and its "sealing" proves nothing.',
    '',
    `  Lotus JSON-RPC   ${devnet.lotusUrl}`,
    `  IPNI (find API)  ${devnet.ipniUrl}/cid/{cid}`,
    `  Admin            ${devnet.adminUrl}/admin/providers  (faults: PUT /admin/providers/{actor}/faults)`,
    `  State            ${devnet.dataDir}`,
    '',
    `  ${devnet.providers.length} storage providers (Boost protocols /fil/storage/mk/1.2.x, status, ask):`,
    ...devnet.providers.map(
      (p) =>
        `    ${p.name}  ${p.actorId}  ${p.peerId}\n          ${p.multiaddrs.join('\n          ')}\n          retrieval ${p.httpUrl}`
    ),
    '',
    `  Funded client key (10,000 devnet FIL, 1 TiB DataCap): ${devnet.client.address}`,
    `    lotus key export: ${devnet.client.lotusExport}`,
    '',
    `  Point Firth at it: FIRTH_LOTUS_URL=${devnet.lotusUrl} FIRTH_INDEXER_URL=${devnet.ipniUrl} npm start`
  ].join('\n');
  return { json: JSON.stringify(summary), words };
}

async function main(): Promise<void> {
  let values;
  try {
    ({ values } = parseArgs({
      options: {
        'data-dir': { type: 'string' },
        ephemeral: { type: 'boolean' },
        providers: { type: 'string' },
        'epoch-ms': { type: 'string' },
        port: { type: 'string' },
        'ipni-port': { type: 'string' },
        faults: { type: 'string' },
        'log-level': { type: 'string' },
        help: { type: 'boolean', short: 'h' }
      }
    }));
  } catch (err) {
    fail((err as Error).message);
  }
  if (values.help) {
    process.stdout.write(USAGE + '\n');
    return;
  }
  let faults: Record<string, ProviderFaults> | undefined;
  if (values.faults != null) {
    try {
      faults = JSON.parse(values.faults) as Record<string, ProviderFaults>;
    } catch {
      fail('--faults must be JSON like {"sp2":{"neverSeal":true}}');
    }
  }
  const logger = pino({ level: values['log-level'] ?? 'info' }, pino.destination(2));
  const devnet = await startDevnet({
    dataDir: values['data-dir'],
    ephemeral: values.ephemeral,
    providers: int(values.providers, 8, 'providers'),
    epochMs: int(values['epoch-ms'], 1000, 'epoch-ms') || 1000,
    lotusPort: int(values.port, 1234, 'port'),
    ipniPort: int(values['ipni-port'], 3104, 'ipni-port'),
    faults,
    logger
  });
  const { json, words } = describeDevnet(devnet);
  process.stdout.write(`${json}\n\n${words}\n`);

  let stopping = false;
  const stop = () => {
    if (stopping) process.exit(1);
    stopping = true;
    devnet.stop().then(
      () => process.exit(0),
      (err: unknown) => {
        logger.error({ err }, 'devnet: stop failed');
        process.exit(1);
      }
    );
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

await main();
