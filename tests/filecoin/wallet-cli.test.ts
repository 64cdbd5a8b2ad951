// `firth wallet import` / `firth wallet address` as an operator runs them: the real CLI in a child
// process against a data dir, no service running (no FIRTH_LOTUS_URL: devnet t-addresses).
import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterEach, beforeEach, expect, it } from 'vitest';

const run = promisify(execFile);
const BIN = path.resolve(import.meta.dirname, '../../bin/firth.js');
const KEY_HEX =
  '7b2254797065223a22736563703235366b31222c22507269766174654b6579223a224c7a6a735a4558437936744457417863466975373649525177486b6f68577673564b31542b3251354e66593d227d';
const OTHER_HEX = Buffer.from(
  JSON.stringify({ Type: 'secp256k1', PrivateKey: 'tI1wF8uJseC1QdNj3CbpBAVC8G9/pfgtSYt4yXlJ+UY=' })
).toString('hex');

let dataDir: string;
beforeEach(async () => {
  dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'firth-wallet-cli-'));
});
afterEach(() => fs.rm(dataDir, { recursive: true, force: true }));

const firth = (...args: string[]) =>
  run(BIN, args, {
    env: { ...process.env, FIRTH_DATA_DIR: dataDir, FIRTH_LOTUS_URL: '', FIRTH_WALLET_KEY: '' }
  });

it('imports a Lotus key export, prints the address, and refuses a different key without --force', async () => {
  const imported = await firth('wallet', 'import', KEY_HEX);
  expect(imported.stdout.trim()).toBe('t1drv36h2ldc4xzhjfiwicxsq6rgkl6z5vhit2roq');
  expect((await fs.stat(path.join(dataDir, 'wallet.key'))).mode & 0o777).toBe(0o600);
  expect((await firth('wallet', 'address')).stdout.trim()).toBe('t1drv36h2ldc4xzhjfiwicxsq6rgkl6z5vhit2roq');

  const refused = await firth('wallet', 'import', OTHER_HEX).catch(
    (e: { code: number; stderr: string }) => e
  );
  expect(refused).toMatchObject({ code: 1, stderr: expect.stringMatching(/different key/) });
  expect((await firth('wallet', 'address')).stdout.trim()).toBe('t1drv36h2ldc4xzhjfiwicxsq6rgkl6z5vhit2roq');

  const forced = await firth('wallet', 'import', '--force', OTHER_HEX);
  expect(forced.stdout.trim()).toBe('t17dyptywvmnldq2fsm6j226txnltf4aiwsi3vlka');
  // The key itself is never printed.
  expect(forced.stdout + forced.stderr + imported.stdout + imported.stderr).not.toMatch(/LzjsZE|tI1wF8/);
});

it('rejects what is not a key export', async () => {
  const bad = await firth('wallet', 'import', 'not-hex').catch((e: { code: number; stderr: string }) => e);
  expect(bad).toMatchObject({ code: 1, stderr: expect.stringMatching(/Lotus key export/) });
});
