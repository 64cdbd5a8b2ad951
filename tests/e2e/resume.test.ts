// Sync robustness in real Chromium (persistent profile, the real service on port 0): live pin status over
// gossipsub, dropping local copies only once pinned, a reload in the middle of a 50 MiB transfer, and an
// upload added while the service is down that is pinned once it is back. Needs `npx vite build`.
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { type BrowserContext, type Locator, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deterministicBytes } from '../helpers/bytes.ts';
import { startServiceProcess, type ServiceProcess } from '../../bench/service-process.ts';
import { expectedCid } from './helpers/unixfs.ts';
import { assertAppBuilt, launchPersistent } from './helpers/browser.ts';

const PASSWORD = 'resumer-Passw0rd';
const MiB = 1024 * 1024;

interface PinStatusJson {
  requestid: string;
  status: string;
  info: Record<string, string>;
}

// The service runs as its own process here (as `npx firth serve` does), so stopping and restarting
// it is a real process restart, and every stop must exit cleanly (code 0).

function uploadCard(page: Page, name: string): Locator {
  return page.getByRole('listitem', { name, exact: true });
}

async function pinsFor(service: ServiceProcess, token: string, cid: string): Promise<PinStatusJson[]> {
  const response = await fetch(
    `${service.apiUrl}/api/pinning/pins?cid=${cid}&status=queued,pinning,pinned,failed`,
    { headers: { authorization: `Bearer ${token}` } }
  );
  expect(response.status).toBe(200);
  return ((await response.json()) as { results: PinStatusJson[] }).results;
}

/** Blocks in the page's IndexedDB blockstore. */
function localBlockCount(page: Page): Promise<number> {
  return page.evaluate(
    () =>
      new Promise<number>((resolve, reject) => {
        const open = indexedDB.open('/firth/blocks');
        open.onerror = () => reject(open.error ?? new Error('open failed'));
        open.onsuccess = () => {
          const db = open.result;
          const name = db.objectStoreNames[0]!;
          const count = db.transaction(name).objectStore(name).count();
          count.onsuccess = () => {
            resolve(count.result);
            db.close();
          };
          count.onerror = () => reject(count.error ?? new Error('count failed'));
        };
      })
  );
}

/** Picks a file (written to disk first: Playwright caps in-memory files at 50 MB). */
async function addFile(page: Page, dir: string, name: string, bytes: Uint8Array): Promise<void> {
  const file = path.join(dir, name);
  await fs.writeFile(file, bytes);
  await page.getByTestId('file-input').setInputFiles(file);
}

async function until<T>(what: string, check: () => Promise<T | undefined>, timeoutMs = 120_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('sync robustness of the browser peer', () => {
  let service: ServiceProcess | undefined;
  let context: BrowserContext | undefined;
  let page: Page;
  let token: string;
  let dataDir: string | undefined;
  let profileDir: string | undefined;
  let filesDir: string | undefined;

  beforeAll(async () => {
    assertAppBuilt();
    dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'firth-resume-'));
    service = await startServiceProcess({ FIRTH_DATA_DIR: dataDir });
    profileDir = await fs.mkdtemp(path.join(os.tmpdir(), 'firth-chromium-'));
    filesDir = await fs.mkdtemp(path.join(os.tmpdir(), 'firth-files-'));
    context = await launchPersistent(profileDir);
    page = context.pages()[0] ?? (await context.newPage());
    await page.goto(`${service.apiUrl}/register?invite=${encodeURIComponent(service.adminInvite)}`);
    await page.getByLabel('Username', { exact: true }).fill('resumer');
    await page.getByLabel('Password', { exact: true }).fill(PASSWORD);
    await page.getByRole('button', { name: 'Create account' }).click();
    await page.getByText('Signed in as resumer').waitFor();
    token = (await page.evaluate(() => localStorage.getItem('firth.token'))) ?? '';
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Upload' }).click();
    await page.getByRole('status').filter({ hasText: 'Connected to the service' }).waitFor();
  });

  afterAll(async () => {
    await context?.close();
    await service?.stop({ keepData: true });
    for (const dir of [dataDir, profileDir, filesDir])
      if (dir) await fs.rm(dir, { recursive: true, force: true });
  });

  it('drops the local copy only once pinned, keeping the service copy', async () => {
    const bytes = deterministicBytes('firth-e2e-drop', 3 * MiB + 1000);
    const cid = await expectedCid([{ path: 'drop.bin', bytes }]);
    await addFile(page, filesDir!, 'drop.bin', bytes);
    const card = uploadCard(page, 'drop.bin');
    await card.locator('[data-state="pinned"]').waitFor({ timeout: 90_000 });
    await expect.poll(() => page.getByTestId('storage').textContent()).toMatch(/holds .+ of .+ available/);

    const before = await localBlockCount(page);
    await card.getByRole('button', { name: 'Remove from this device' }).click();
    await card.getByText('Kept by the service only').waitFor();
    // Root and four 1 MiB leaves: all gone from IndexedDB.
    expect(before - (await localBlockCount(page))).toBe(5);
    expect(await card.getByRole('button', { name: 'Remove from this device' }).count()).toBe(0);
    const back = await fetch(`${service!.gatewayUrl}/ipfs/${cid}`);
    expect(Buffer.from(await back.arrayBuffer()).equals(Buffer.from(bytes))).toBe(true);
  });

  it('receives live status over gossipsub, signed by the service', async () => {
    // The account's topic is known (from the first pin) and subscribed: this pin's changes arrive live.
    const bytes = deterministicBytes('firth-e2e-gossip', 12 * MiB);
    await addFile(page, filesDir!, 'gossip.bin', bytes);
    await uploadCard(page, 'gossip.bin').locator('[data-state="pinned"]').waitFor({ timeout: 90_000 });
    await expect
      .poll(async () => Number(await page.getByTestId('storage').getAttribute('data-gossip')), {
        timeout: 30_000
      })
      .toBeGreaterThan(0);
  });

  it('pins an upload added while the service was down once it is back (same origin)', async () => {
    const port = new URL(service!.apiUrl).port;
    await service!.stop({ keepData: true });
    service = undefined;
    await page.getByRole('status').filter({ hasText: 'Offline' }).waitFor({ timeout: 30_000 });

    const bytes = deterministicBytes('firth-e2e-offline', 2 * MiB + 77);
    const cid = await expectedCid([{ path: 'offline.bin', bytes }]);
    await addFile(page, filesDir!, 'offline.bin', bytes);
    const card = uploadCard(page, 'offline.bin');
    await card.getByTestId('upload-cid').waitFor();
    expect(await card.getByTestId('upload-cid').textContent()).toBe(cid);
    await card.locator('[data-state="hashed"]').waitFor();
    expect(await card.getByRole('button', { name: 'Remove from this device' }).count()).toBe(0);

    // The same data dir and HTTP port (IndexedDB is per origin); its libp2p ports are new.
    service = await startServiceProcess({ FIRTH_DATA_DIR: dataDir!, FIRTH_PORT: port });
    await card.locator('[data-state="pinned"]').waitFor({ timeout: 120_000 });
    expect((await pinsFor(service, token, cid)).map((p) => p.status)).toEqual(['pinned']);
  });

  it('finishes a 50 MiB transfer interrupted by a reload', async () => {
    const bytes = deterministicBytes('firth-e2e-reload', 50 * MiB);
    const cid = await expectedCid([{ path: 'reload.bin', bytes }]);
    await addFile(page, filesDir!, 'reload.bin', bytes);
    const card = uploadCard(page, 'reload.bin');
    await card.getByTestId('upload-cid').waitFor({ timeout: 90_000 });
    // Reload as soon as the service reports holding some of it.
    const during = await until('the transfer to start', async () => {
      const [pin] = await pinsFor(service!, token, cid);
      return pin !== undefined && (pin.status === 'pinned' || Number(pin.info.dag_size) > 0)
        ? pin
        : undefined;
    });
    // Not pinned yet: the local copy cannot be dropped.
    if (during.status !== 'pinned')
      expect(await card.getByRole('button', { name: 'Remove from this device' }).count()).toBe(0);
    await page.reload();
    await uploadCard(page, 'reload.bin').locator('[data-state="pinned"]').waitFor({ timeout: 180_000 });
    const pins = await pinsFor(service!, token, cid);
    expect(pins.map((p) => p.status)).toEqual(['pinned']);
    expect(Number(pins[0]!.info.dag_size)).toBeGreaterThanOrEqual(bytes.length);
  });
});
