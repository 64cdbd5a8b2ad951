// Where the interop tests find the real peers and suites that `npm run interop:tools` builds
// (bin/interop-tools.sh), and the one loud banner a suite prints when it cannot run here.
import { existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/** The cache folder outside the repository that bin/interop-tools.sh fills. */
export const INTEROP_HOME =
  process.env.FIRTH_INTEROP_HOME ?? path.join(os.homedir(), '.cache', 'firth-interop');

/** Kubo v0.43.1 (`ipfs`). */
export const KUBO_BINARY = process.env.FIRTH_KUBO_BINARY ?? path.join(INTEROP_HOME, 'bin', 'ipfs');

/** The gateway-conformance binary and its source (its `test` runs `go test ./tests` there). */
export const GATEWAY_CONFORMANCE = {
  binary: process.env.FIRTH_GATEWAY_CONFORMANCE ?? path.join(INTEROP_HOME, 'bin', 'gateway-conformance'),
  home: process.env.GATEWAY_CONFORMANCE_HOME ?? path.join(INTEROP_HOME, 'src', 'gateway-conformance')
};

/** The installed @ipfs-shipyard/pinning-service-compliance package. */
export const PINNING_COMPLIANCE = path.join(
  INTEROP_HOME,
  'psc',
  'node_modules',
  '@ipfs-shipyard',
  'pinning-service-compliance'
);

export const hasKubo = (): boolean => existsSync(KUBO_BINARY);

/**
 * Prints a banner no one can miss in the test output: a suite that silently does not run would read
 * as a pass. Call at module load when `missing` is non-empty, and `describe.skipIf` the suite.
 */
export function reportSkipped(suite: string, missing: string[], hint = 'Run `npm run interop:tools`.'): void {
  if (missing.length === 0) return;
  const bar = '!'.repeat(90);
  console.warn(
    ['', bar, `!! SKIPPED: ${suite}`, ...missing.map((m) => `!! ${m}`), `!! ${hint}`, bar, ''].join('\n')
  );
}
