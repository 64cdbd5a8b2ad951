// The app with the network really cut (CDP `Network.emulateNetworkConditions` offline) and the service
// stopped, in real Chromium with a persistent profile: a page opened offline keeps the account this device
// knows and lists the uploads stored here; a file chosen then is imported and queued, and syncs once the
// service is back; the estimate's error clears on reconnect. Then a service restarted on another build of
// the app: a reload while it is down still opens the app (the shell always matches the cached chunks).
// Needs `npx vite build`.
import fs from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type { BrowserContext, CDPSession, Locator, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServiceProcess, type ServiceProcess } from '../../bench/service-process.ts';
import { deterministicBytes } from '../helpers/bytes.ts';
import { devnetEnv } from '../helpers/devnet.ts';
import { assertAppBuilt, launchPersistent } from './helpers/browser.ts';
import { expectedCid } from './helpers/unixfs.ts';

const BUILD_DIR = path.resolve(import.meta.dirname, '../../build');

function uploadCard(page: Page, name: string): Locator {
  return page.getByRole('listitem', { name, exact: true });
}

/** Cuts (or restores) the page's network the way DevTools does; the session is kept so the setting stays. */
async function setNetwork(cdp: CDPSession, offline: boolean): Promise<void> {
  await cdp.send('Network.enable');
  await cdp.send('Network.emulateNetworkConditions', {
    offline,
    latency: 0,
    downloadThroughput: -1,
    uploadThroughput: -1
  });
}

async function register(page: Page, service: ServiceProcess, username: string): Promise<void> {
  await page.goto(`${service.apiUrl}/register?invite=${encodeURIComponent(service.adminInvite)}`);
  await page.getByLabel('Username', { exact: true }).fill(username);
  await page.getByLabel('Password', { exact: true }).fill(`${username}-Passw0rd`);
  await page.getByRole('button', { name: 'Create account' }).click();
  await page.getByText(`Signed in as ${username}`).waitFor();
  // The service worker controls the page from here on: the shell is precached.
  await page.evaluate(async () => navigator.serviceWorker.ready);
  await page.reload();
  await page.waitForFunction(() => navigator.serviceWorker.controller !== null);
}

describe('the app while the service cannot be reached', () => {
  let service: ServiceProcess | undefined;
  let context: BrowserContext | undefined;
  let cdp: CDPSession;
  let page: Page;
  let port: string;
  let dataDir: string | undefined;
  let profileDir: string | undefined;
  let filesDir: string | undefined;
  const env = devnetEnv(1, {}, { ephemeral: false });

  beforeAll(async () => {
    assertAppBuilt();
    dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'firth-offline-'));
    service = await startServiceProcess({ ...env, FIRTH_DATA_DIR: dataDir });
    port = new URL(service.apiUrl).port;
    profileDir = await fs.mkdtemp(path.join(os.tmpdir(), 'firth-chromium-'));
    filesDir = await fs.mkdtemp(path.join(os.tmpdir(), 'firth-files-'));
    context = await launchPersistent(profileDir);
    page = context.pages()[0] ?? (await context.newPage());
    cdp = await context.newCDPSession(page);
    await register(page, service, 'traveller');

    // One upload pinned while online: it is stored on this device.
    await page.goto(`${service.apiUrl}/upload`);
    await page.getByRole('status').filter({ hasText: 'Connected to the service' }).waitFor();
    await page.getByTestId('file-input').setInputFiles({
      name: 'before.bin',
      mimeType: 'application/octet-stream',
      buffer: Buffer.from(deterministicBytes('firth-offline-before', 100_000))
    });
    await uploadCard(page, 'before.bin').locator('[data-state="pinned"]').waitFor({ timeout: 90_000 });
  }, 180_000);

  afterAll(async () => {
    await context?.close();
    await service?.stop({ allowUncleanExit: true });
    for (const dir of [profileDir, filesDir]) if (dir) await fs.rm(dir, { recursive: true, force: true });
  });

  it('opens offline signed in, with the uploads stored on this device', async () => {
    await service!.stop({ keepData: true, allowUncleanExit: true });
    service = undefined;
    await setNetwork(cdp, true);

    await page.goto(`http://127.0.0.1:${port}/`);
    const nav = page.getByRole('navigation', { name: 'Main' });
    await nav.getByRole('button', { name: 'Sign out' }).waitFor();
    expect(await nav.getByRole('link', { name: 'Upload' }).count()).toBe(1);
    expect(await nav.getByRole('link', { name: 'Sign in' }).count()).toBe(0);
    await page.getByRole('heading', { name: 'Your content', level: 1 }).waitFor();
    await page.getByRole('alert').filter({ hasText: 'Could not load your account' }).waitFor();

    await nav.getByRole('link', { name: 'Upload' }).click();
    await uploadCard(page, 'before.bin').locator('[data-state="pinned"]').waitFor();
    expect(await page.getByText('Nothing added yet').count()).toBe(0);

    // A full load of the upload page, offline, lists it too.
    await page.reload();
    await uploadCard(page, 'before.bin').locator('[data-state="pinned"]').waitFor();
  });

  it('queues a file chosen while unreachable, and pins it once the service is back', async () => {
    // Still offline, on the upload page loaded offline.
    const bytes = deterministicBytes('firth-offline-chosen', 1_500_000);
    const cid = await expectedCid([{ path: 'chosen.bin', bytes }]);
    await fs.writeFile(path.join(filesDir!, 'chosen.bin'), bytes);
    await page.getByTestId('file-input').setInputFiles(path.join(filesDir!, 'chosen.bin'));

    const card = uploadCard(page, 'chosen.bin');
    await card.locator('[data-state="hashed"]').waitFor({ timeout: 60_000 });
    await card.getByText('waiting for the service').waitFor();
    expect(await card.getByTestId('upload-cid').textContent()).toBe(cid);
    const estimateError = page.getByText('Could not estimate the Filecoin cost');
    await estimateError.waitFor();

    // The service comes back on the same origin, and the network with it.
    service = await startServiceProcess({ ...env, FIRTH_DATA_DIR: dataDir!, FIRTH_PORT: port });
    await setNetwork(cdp, false);

    await card.locator('[data-state="pinned"]').waitFor({ timeout: 120_000 });
    await page.getByText('will cost about').waitFor({ timeout: 30_000 });
    expect(await estimateError.count()).toBe(0);
    await page
      .getByRole('alert')
      .filter({ hasText: 'Could not load your account' })
      .waitFor({ state: 'detached', timeout: 30_000 });
  }, 240_000);

  it('opens signed in when the service takes connections but never answers', async () => {
    // A hung service (or a half-open link): the TCP connection is accepted, no byte ever comes back.
    await service!.stop({ keepData: true, allowUncleanExit: true });
    service = undefined;
    const sockets = new Set<net.Socket>();
    const silent = net.createServer((socket) => {
      sockets.add(socket);
      socket.on('error', () => {});
    });
    await new Promise<void>((resolve) => silent.listen(Number(port), '127.0.0.1', resolve));
    try {
      await page.reload();
      const nav = page.getByRole('navigation', { name: 'Main' });
      await nav.getByRole('button', { name: 'Sign out' }).waitFor({ timeout: 60_000 });
      await page.getByRole('alert').filter({ hasText: 'Could not load your account' }).waitFor();
    } finally {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => silent.close(resolve));
    }
  }, 120_000);
});

/**
 * Another build of the same app, as a rebuild that changes every module makes: every chunk gets a new name
 * (and the HTML, the other chunks and the service worker name them), and the build has another version, so
 * no chunk of one build is in the other's cache.
 */
async function makeAnotherBuild(from: string, to: string): Promise<void> {
  await fs.cp(from, to, { recursive: true });
  const { version } = JSON.parse(await fs.readFile(path.join(to, '_app/version.json'), 'utf8')) as {
    version: string;
  };
  const renames = new Map<string, string>([[version, `${version}0other`]]);
  const immutable = path.join(to, '_app/immutable');
  for (const name of await fs.readdir(immutable, { recursive: true })) {
    if (!name.endsWith('.js')) continue;
    const renamed = name.replace(/\.js$/, 'X.js');
    await fs.rename(path.join(immutable, name), path.join(immutable, renamed));
    renames.set(path.basename(name), path.basename(renamed));
  }
  const files = (await fs.readdir(to, { recursive: true })).filter((f) => /\.(html|js|json)$/.test(f));
  for (const file of files) {
    const abs = path.join(to, file);
    let text = await fs.readFile(abs, 'utf8');
    for (const [a, b] of renames) text = text.replaceAll(a, b);
    await fs.writeFile(abs, text);
  }
}

describe('the app after the service restarted with another build', () => {
  let service: ServiceProcess | undefined;
  let context: BrowserContext | undefined;
  let cdp: CDPSession;
  let page: Page;
  let port: string;
  let dataDir: string | undefined;
  let profileDir: string | undefined;
  let otherBuild: string | undefined;
  const pageErrors: string[] = [];

  beforeAll(async () => {
    assertAppBuilt();
    dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'firth-rebuilt-'));
    otherBuild = await fs.mkdtemp(path.join(os.tmpdir(), 'firth-other-build-'));
    await makeAnotherBuild(BUILD_DIR, otherBuild);
    service = await startServiceProcess({ FIRTH_DATA_DIR: dataDir, FIRTH_APP_DIR: BUILD_DIR });
    port = new URL(service.apiUrl).port;
    profileDir = await fs.mkdtemp(path.join(os.tmpdir(), 'firth-chromium-'));
    context = await launchPersistent(profileDir);
    page = context.pages()[0] ?? (await context.newPage());
    page.on('pageerror', (err) => pageErrors.push(err.message));
    cdp = await context.newCDPSession(page);
    await register(page, service, 'restarter');
  }, 120_000);

  afterAll(async () => {
    await context?.close();
    await service?.stop({ allowUncleanExit: true });
    for (const dir of [profileDir, otherBuild]) if (dir) await fs.rm(dir, { recursive: true, force: true });
  });

  it('opens the app on a reload while the service is down, before and after the update', async () => {
    // Restarted with the other build; the page is reloaded while it runs, so that build's worker installs.
    await service!.stop({ keepData: true, allowUncleanExit: true });
    service = await startServiceProcess({
      FIRTH_DATA_DIR: dataDir!,
      FIRTH_PORT: port,
      FIRTH_APP_DIR: otherBuild!
    });
    await page.reload();
    await page.getByText('Signed in as restarter').waitFor();
    // The new build's worker takes over once installed (its cache is the second; nothing waits or installs).
    await expect
      .poll(
        () =>
          page.evaluate(async () => {
            const registration = await navigator.serviceWorker.getRegistration();
            const shells = (await globalThis.caches.keys()).filter((k) => k.startsWith('firth-shell-'));
            return registration?.waiting === null && registration.installing === null ? shells.length : 0;
          }),
        { timeout: 30_000 }
      )
      .toBe(2);

    await service.stop({ keepData: true, allowUncleanExit: true });
    service = undefined;
    await setNetwork(cdp, true);
    const nav = page.getByRole('navigation', { name: 'Main' });
    // The first reload opens the new build's shell and drops the older cache; later ones run it alone.
    for (let i = 0; i < 3; i++) {
      await page.reload();
      // Not a blank page: the app runs (a shell naming chunks no cache holds stops at its first import).
      await nav.getByRole('link', { name: 'Stats' }).waitFor();
      expect(pageErrors).toEqual([]);
    }
    await page.getByText('Signed in as restarter').waitFor();
    const caches = await page.evaluate(async () => (await globalThis.caches.keys()).sort());
    expect(caches.filter((k) => k.startsWith('firth-shell-'))).toHaveLength(1);
  }, 180_000);
});
