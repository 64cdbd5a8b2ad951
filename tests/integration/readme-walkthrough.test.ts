// The README's curl walk-through, run as written: its sh blocks between the walkthrough markers,
// in bash (`set -euo pipefail`: an undefined variable or a failing command stops it), against the
// service started as `npm start` starts it (its own process, the in-process devnet), on a fresh
// data dir and database. Only the base URL is given, through the FIRTH variable the README reads.
// Every curl must get a 2xx, and each reply the README shows (`# → {…}`) must carry the fields
// it names.
import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { startServiceProcess, type ServiceProcess } from '../../bench/service-process.ts';
import { DATABASES, serviceDatabase } from '../helpers/databases.ts';

const run = promisify(execFile);
const ROOT = path.resolve(import.meta.dirname, '../..');

/** The walk-through's shell code: the sh blocks between the markers, in order. */
async function walkthrough(): Promise<string> {
  const readme = await fs.readFile(path.join(ROOT, 'README.md'), 'utf8');
  const region = /<!-- walkthrough:start -->([\s\S]*?)<!-- walkthrough:end -->/.exec(readme)?.[1];
  if (region == null) throw new Error('README.md has no walkthrough markers');
  const blocks = [...region.matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => m[1]!);
  expect(blocks.length).toBeGreaterThan(0);
  return blocks.join('\n');
}

// Records each reply with the script line that made it, and makes any HTTP error fail the command.
const PRELUDE = `set -euo pipefail
curl() {
  local out
  out=$(command curl --fail-with-body "$@") || {
    local status=$?
    printf 'curl failed (%s) on line %s: %s\\n%s\\n' "$status" "\${BASH_LINENO[0]}" "$*" "$out" >&2
    return $status
  }
  printf '%s\\t%s\\n' "\${BASH_LINENO[0]}" "$(printf '%s' "$out" | base64 -w0)" >> "$REPLIES"
  printf '%s' "$out"
}
source "$WALKTHROUGH"
`;

/** Every key a shown reply names, e.g. `{"cid":"bafk…","deals":{…}}` → cid, deals. */
function keysShown(comment: string): string[] {
  return [...comment.matchAll(/"([A-Za-z_][A-Za-z0-9_]*)":/g)].map((m) => m[1]!);
}

function keysOf(value: unknown, into = new Set<string>()): Set<string> {
  if (Array.isArray(value)) for (const v of value) keysOf(v, into);
  else if (value !== null && typeof value === 'object')
    for (const [k, v] of Object.entries(value)) {
      into.add(k);
      keysOf(v, into);
    }
  return into;
}

describe.each(DATABASES)('the README curl walk-through (%s)', (kind) => {
  let svc: ServiceProcess | undefined;
  let drop: () => Promise<void> = async () => {};
  let work: string | undefined;
  afterEach(async () => {
    await svc?.stop();
    await drop();
    if (work) await fs.rm(work, { recursive: true, force: true });
  });

  it('runs as written against a fresh service, and every reply has the shape shown', async () => {
    const code = await walkthrough();
    // Runnable as it stands: no placeholder left outside comments.
    const placeholders = code.split('\n').filter((l) => l.includes('…') && !l.trimStart().startsWith('#'));
    expect(placeholders).toEqual([]);

    const database = await serviceDatabase(kind);
    drop = database.drop;
    svc = await startServiceProcess({
      FIRTH_DEVNET: 'on',
      FIRTH_DEVNET_EPHEMERAL: 'true',
      FIRTH_DATABASE_URL: database.databaseUrl ?? ''
    });
    work = await fs.mkdtemp(path.join(os.tmpdir(), 'firth-walkthrough-'));
    const script = path.join(work, 'walkthrough.sh');
    const replies = path.join(work, 'replies.tsv');
    await fs.writeFile(script, code);
    await fs.writeFile(replies, '');
    const result = await run('bash', ['-c', PRELUDE], {
      cwd: ROOT,
      timeout: 300_000,
      maxBuffer: 64 * 1024 * 1024,
      env: {
        ...process.env,
        FIRTH: svc.apiUrl,
        // What `npx firth invite create` needs to reach the service's accounts.
        FIRTH_DATA_DIR: svc.dataDir,
        FIRTH_DATABASE_URL: database.databaseUrl ?? '',
        WALKTHROUGH: script,
        REPLIES: replies
      }
    }).catch((err: { stderr?: string; message: string }) => {
      throw new Error(`the walk-through failed: ${err.stderr ?? err.message}`);
    });
    expect(result.stderr).toBe('');

    const made = (await fs.readFile(replies, 'utf8'))
      .split('\n')
      .filter((l) => l !== '')
      .map((l) => {
        const [line, body] = l.split('\t');
        return { line: Number(line), body: Buffer.from(body ?? '', 'base64').toString('utf8') };
      });
    const lines = code.split('\n');
    let previousShown = 0;
    let checked = 0;
    lines.forEach((text, index) => {
      const at = index + 1;
      if (!text.trimStart().startsWith('# →')) return;
      // The reply shown is the last one made by a command between the previous shown reply and here.
      const reply = made.filter((r) => r.line > previousShown && r.line < at).at(-1);
      previousShown = at;
      expect(reply, `no reply before README walk-through line ${at}: ${text}`).toBeDefined();
      const keys = keysOf(JSON.parse(reply!.body));
      const missing = keysShown(text).filter((k) => !keys.has(k));
      expect(missing, `walk-through line ${at} shows ${text}; the reply was ${reply!.body}`).toEqual([]);
      checked++;
    });
    expect(checked).toBeGreaterThan(5);
  });
});
