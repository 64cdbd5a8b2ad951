import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { CarBlockIterator } from '@ipld/car';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestService, type TestService } from '../helpers/service.ts';
import { GATEWAY_CONFORMANCE, reportSkipped } from './tools.ts';

/**
 * The official ipfs/gateway-conformance suite against Firth's public gateway: the suite's own
 * fixtures loaded into the blockstore, its `test` run for the path, trustless, subdomain and
 * `_redirects` specs, and its JSON report (go test -json events) parsed. Every failing leaf test
 * must be on tests/interop/gateway-conformance-skips.json with a reason; anything else fails.
 *
 * `npm run interop:tools` builds the suite into the interop cache when the Go module proxy serves
 * it (the one here does not); FIRTH_GATEWAY_CONFORMANCE and GATEWAY_CONFORMANCE_HOME point at
 * another build and its source (its `test` command runs `go test ./tests` there, so Go must be on
 * PATH).
 */

const BINARY = GATEWAY_CONFORMANCE.binary;
const HOME = GATEWAY_CONFORMANCE.home;
const DOMAIN = 'example.com';
const SPECS =
  'path-gateway,trustless-gateway,subdomain-ipfs-gateway,redirects-file,proxy-gateway,+trustless-car-gateway-optional';
/** A full run takes seconds here; a hung suite must not hang CI. */
const RUN_TIMEOUT_MS = 15 * 60_000;

const missing = [
  existsSync(BINARY) ? '' : `no gateway-conformance binary at ${BINARY} (FIRTH_GATEWAY_CONFORMANCE)`,
  existsSync(path.join(HOME, 'tests'))
    ? ''
    : `no gateway-conformance source at ${HOME} (GATEWAY_CONFORMANCE_HOME)`
].filter((m) => m !== '');

reportSkipped(
  'the official gateway-conformance suite (tests/interop/gateway-conformance.test.ts)',
  missing,
  'The Go module proxy here refuses github.com/ipfs/gateway-conformance, so `npm run interop:tools` cannot build it; point FIRTH_GATEWAY_CONFORMANCE and GATEWAY_CONFORMANCE_HOME at a build and its source.'
);

interface Skip {
  prefix: string;
  reason: string;
}

interface GoTestEvent {
  Action?: string;
  Test?: string;
  Output?: string;
}

interface Report {
  /** Final result of every leaf test (one with no subtests). */
  leaves: Map<string, 'pass' | 'fail' | 'skip'>;
  /** Output lines of each test, for failure messages. */
  output: Map<string, string>;
}

/** go test -json: one event a line; the last pass/fail/skip of a test is its result. */
function parseReport(text: string): Report {
  const results = new Map<string, 'pass' | 'fail' | 'skip'>();
  const output = new Map<string, string>();
  for (const line of text.split('\n')) {
    if (!line.startsWith('{')) continue;
    let event: GoTestEvent;
    try {
      event = JSON.parse(line) as GoTestEvent;
    } catch {
      continue;
    }
    if (event.Test == null) continue;
    if (event.Action === 'pass' || event.Action === 'fail' || event.Action === 'skip') {
      results.set(event.Test, event.Action);
    } else if (event.Action === 'output') {
      output.set(event.Test, (output.get(event.Test) ?? '') + (event.Output ?? ''));
    }
  }
  const parents = new Set<string>();
  for (const name of results.keys()) {
    for (let i = name.indexOf('/'); i >= 0; i = name.indexOf('/', i + 1)) parents.add(name.slice(0, i));
  }
  const leaves = new Map([...results].filter(([name]) => !parents.has(name)));
  return { leaves, output };
}

function run(
  command: string,
  args: string[],
  cwd: string
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), RUN_TIMEOUT_MS);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

describe.skipIf(missing.length > 0)('official gateway-conformance suite', () => {
  let svc: TestService;
  let work: string;
  let skips: Skip[];

  beforeAll(async () => {
    skips = JSON.parse(
      await fs.readFile(path.join(import.meta.dirname, 'gateway-conformance-skips.json'), 'utf8')
    ) as Skip[];
    work = await fs.mkdtemp(path.join(os.tmpdir(), 'firth-gwc-'));
    const extracted = await run(BINARY, ['extract-fixtures', '--directory', work, '--merged'], HOME);
    if (extracted.code !== 0) throw new Error(`extract-fixtures failed: ${extracted.stderr}`);
    // A short retrieval timeout: some fixtures lack a block on purpose, and missing blocks are
    // looked for on the network until it runs out.
    svc = await startTestService({
      env: { FIRTH_GATEWAY_DOMAIN: DOMAIN, FIRTH_GATEWAY_TIMEOUT: '2', FIRTH_LOG_LEVEL: 'error' }
    });
    const car = await CarBlockIterator.fromBytes(await fs.readFile(path.join(work, 'fixtures.car')));
    for await (const { cid, bytes } of car) await svc.node.blockstore.put(cid, new Uint8Array(bytes));
  });

  afterAll(async () => {
    await svc?.stop();
    if (work != null) await fs.rm(work, { recursive: true, force: true });
  });

  it(
    'passes every check of the specs Firth implements; the rest are on the skip list',
    { timeout: RUN_TIMEOUT_MS + 60_000 },
    async () => {
      const json = path.join(work, 'report.json');
      const result = await run(
        BINARY,
        [
          'test',
          '--gateway-url',
          svc.gatewayUrl,
          '--subdomain-url',
          `http://${DOMAIN}`,
          '--specs',
          SPECS,
          '--json-output',
          json
        ],
        HOME
      );
      const report = parseReport(await fs.readFile(json, 'utf8').catch(() => ''));
      expect(
        report.leaves.size,
        `no report from the suite (exit ${result.code}):\n${result.stderr.slice(-4000)}`
      ).toBeGreaterThan(0);

      const onList = (name: string) => skips.find((s) => name.startsWith(s.prefix));
      const counts = { pass: 0, fail: 0, skip: 0 };
      const unexpected: string[] = [];
      const listedFailures = new Map<Skip, number>();
      const suiteSkips: string[] = [];
      for (const [name, result] of report.leaves) {
        counts[result]++;
        const skip = onList(name);
        if (skip != null && result !== 'pass') listedFailures.set(skip, (listedFailures.get(skip) ?? 0) + 1);
        if (result === 'fail' && skip == null) unexpected.push(name);
        if (result === 'skip' && skip == null) suiteSkips.push(name);
      }
      console.log(
        [
          `gateway-conformance (${SPECS}): ${counts.pass} pass, ${counts.fail} fail, ${counts.skip} skip (leaf tests)`,
          `  on the skip list: ${[...listedFailures.values()].reduce((a, b) => a + b, 0)} failing or skipped, ${unexpected.length} failing and not on it`,
          ...[...listedFailures].map(([s, n]) => `  listed: ${n} × ${s.prefix}: ${s.reason}`)
        ].join('\n')
      );
      const stale = skips.filter((s) => !listedFailures.has(s));
      if (stale.length > 0)
        console.warn(
          `skip-list entries that matched nothing (remove them?): ${stale.map((s) => s.prefix).join(', ')}`
        );
      if (suiteSkips.length > 0)
        console.warn(`tests the suite skipped that are not on the skip list: ${suiteSkips.join(', ')}`);

      const details = unexpected
        .slice(0, 20)
        .map((name) => `--- ${name}\n${(report.output.get(name) ?? '').slice(-1500)}`)
        .join('\n');
      expect(unexpected, `failing tests not on gateway-conformance-skips.json:\n${details}`).toEqual([]);
      // Suite-skipped tests must be explained too: the goal is no unexplained skip.
      expect(suiteSkips).toEqual([]);
    }
  );
});
