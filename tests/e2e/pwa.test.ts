// The installable app and the content pages in real Chromium: the web app manifest and its icons, the service
// worker (controls the page, opens the app shell with the network off, never caches the API, drops old
// caches), Chromium's installability check; then "My content" (paged list, copy, delete) and the content detail
// page (pin status, empty deal list, gateway links that serve the bytes). Needs the built app (`npx vite build`).
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { CID } from 'multiformats/cid';
import { type Browser, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registerUser, startTestService, type TestService } from '../helpers/service.ts';
import { VIEWPORT, assertAppBuilt, launchBrowser, launchPersistent } from './helpers/browser.ts';

interface ManifestIcon {
  src: string;
  sizes: string;
  type?: string;
  purpose?: string;
}

interface Manifest {
  name?: string;
  short_name?: string;
  start_url?: string;
  scope?: string;
  display?: string;
  theme_color?: string;
  background_color?: string;
  icons?: ManifestIcon[];
}

async function overflowsHorizontally(page: Page): Promise<boolean> {
  return page.evaluate(() => document.documentElement.scrollWidth > document.documentElement.clientWidth);
}

/** Signs the page in with a session token, as the app itself keeps it. */
async function signIn(page: Page, origin: string, token: string): Promise<void> {
  await page.goto(`${origin}/login`);
  await page.evaluate((t) => localStorage.setItem('firth.token', t), token);
}

async function addFile(service: TestService, apiKey: string, name: string, bytes: string) {
  const form = new FormData();
  form.append('data', new Blob([bytes], { type: 'text/plain' }), name);
  const response = await fetch(`${service.apiUrl}/api/content/add`, {
    method: 'POST',
    headers: { authorization: `Bearer ${apiKey}` },
    body: form
  });
  expect(response.status).toBe(200);
  return (await response.json()) as { cid: string; estuaryId: number };
}

describe('the installable app', () => {
  let service: TestService | undefined;
  let context: BrowserContext | undefined;
  let page: Page;
  let origin: string;
  let profileDir: string | undefined;

  beforeAll(async () => {
    assertAppBuilt();
    service = await startTestService();
    origin = service.apiUrl.replace(/\/+$/, '');
    // A persistent (not incognito) profile: what a person who installs the app has.
    profileDir = await fs.mkdtemp(path.join(os.tmpdir(), 'firth-pwa-profile-'));
    context = await launchPersistent(profileDir);
    page = context.pages()[0] ?? (await context.newPage());
  });

  afterAll(async () => {
    await context?.close();
    await service?.stop();
    if (profileDir) await fs.rm(profileDir, { recursive: true, force: true });
  });

  it('links a valid web app manifest whose icons load at their sizes', async () => {
    await page.goto(`${origin}/`);
    const href = await page.locator('link[rel="manifest"]').getAttribute('href');
    expect(href).toBeTruthy();
    const manifestUrl = new URL(href!, `${origin}/`);
    const response = await fetch(manifestUrl);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type') ?? '').toMatch(/json/);
    const manifest = (await response.json()) as Manifest;

    expect(manifest.name).toBe('Firth');
    expect(manifest.short_name).toBeTruthy();
    expect(new URL(manifest.start_url!, manifestUrl).href).toBe(`${origin}/`);
    expect(new URL(manifest.scope!, manifestUrl).href).toBe(`${origin}/`);
    expect(manifest.display).toBe('standalone');
    expect(manifest.theme_color).toMatch(/^#[0-9a-f]{6}$/i);
    expect(manifest.background_color).toMatch(/^#[0-9a-f]{6}$/i);

    const icons = manifest.icons ?? [];
    const png = (size: number, purpose: string) =>
      icons.find(
        (i) =>
          i.type === 'image/png' &&
          i.sizes.split(/\s+/).includes(`${size}x${size}`) &&
          (i.purpose ?? 'any').split(/\s+/).includes(purpose)
      );
    expect(png(192, 'any')).toBeDefined();
    expect(png(512, 'any')).toBeDefined();
    expect(png(512, 'maskable') ?? png(192, 'maskable')).toBeDefined();

    // Every PNG icon decodes in the browser at the size the manifest declares.
    for (const icon of icons.filter((i) => i.type === 'image/png')) {
      const url = new URL(icon.src, manifestUrl).href;
      const size = await page.evaluate(async (src) => {
        const img = new Image();
        img.src = src;
        await img.decode();
        return `${img.naturalWidth}x${img.naturalHeight}`;
      }, url);
      expect(size).toBe(icon.sizes);
    }
  });

  it('is controlled by the service worker after a reload', async () => {
    await page.goto(`${origin}/`);
    const scope = await page.evaluate(async () => (await navigator.serviceWorker.ready).scope);
    expect(scope).toBe(`${origin}/`);
    await page.reload();
    const controller = await page.evaluate(() => navigator.serviceWorker.controller?.scriptURL ?? null);
    expect(controller).toBe(`${origin}/service-worker.js`);
  });

  it('is installable according to Chromium', async () => {
    await page.goto(`${origin}/`);
    await page.evaluate(async () => navigator.serviceWorker.ready);
    const cdp = await context!.newCDPSession(page);
    const manifest = (await cdp.send('Page.getAppManifest')) as { url: string; errors: unknown[] };
    expect(manifest.url).toBe(`${origin}/manifest.webmanifest`);
    expect(manifest.errors).toEqual([]);
    const { installabilityErrors } = await cdp.send('Page.getInstallabilityErrors');
    expect(installabilityErrors).toEqual([]);
    await cdp.detach();
  });

  it('opens the app shell with the network off, and never caches the API', async () => {
    const { session } = await registerUser(service!.apiUrl, service!.adminInvite, 'offline-user');
    await signIn(page, origin, session);
    await page.goto(`${origin}/`);
    await page.getByText('Signed in as offline-user').waitFor();
    expect(await page.evaluate(() => navigator.serviceWorker.controller !== null)).toBe(true);

    await context!.setOffline(true);
    try {
      await page.reload();
      // The shell runs; the API cannot be reached, and the page says so in words.
      await page.getByRole('navigation', { name: 'Main' }).waitFor();
      await page.getByRole('alert').filter({ hasText: 'Could not load your account' }).waitFor();

      // A deep link into a client-side route opens from the cache too.
      await page.goto(`${origin}/content/1`);
      await page.getByRole('link', { name: '← Your content' }).waitFor();
      await page.getByText('The details appear here once Firth can be reached.').waitFor();
    } finally {
      await context!.setOffline(false);
    }

    const cached = await page.evaluate(async () => {
      const urls: string[] = [];
      for (const key of await caches.keys()) {
        const cache = await caches.open(key);
        for (const request of await cache.keys()) urls.push(new URL(request.url).pathname);
      }
      return urls;
    });
    expect(cached).toContain('/');
    expect(cached).toContain('/manifest.webmanifest');
    expect(cached.filter((p) => p.startsWith('/api'))).toEqual([]);
  });

  it('keeps older builds’ caches while a page may run them, and deletes them on the next navigation', async () => {
    await page.goto(`${origin}/`);
    await page.evaluate(async () => {
      const stale = await caches.open('firth-shell-stale-build');
      await stale.put('/stale', new Response('old'));
      // A fresh install of the worker stands in for a new build.
      const registration = await navigator.serviceWorker.getRegistration();
      await registration?.unregister();
    });
    await page.reload();
    await page.evaluate(async () => navigator.serviceWorker.ready);
    await expect.poll(() => page.evaluate(() => navigator.serviceWorker.controller !== null)).toBe(true);
    // The new worker runs this page now, but a page of the older build could still need its cache.
    expect(await page.evaluate(async () => caches.has('firth-shell-stale-build'))).toBe(true);
    // A navigation of the only window leaves no page of the older build.
    await page.reload();
    await expect
      .poll(() =>
        page.evaluate(async () => (await caches.keys()).filter((k) => k.startsWith('firth-shell-')))
      )
      .toHaveLength(1);
    expect(await page.evaluate(async () => caches.has('firth-shell-stale-build'))).toBe(false);
  });
});

describe('the content pages', () => {
  let service: TestService | undefined;
  let browser: Browser | undefined;
  let context: BrowserContext;
  let page: Page;
  let origin: string;
  let apiKey: string;
  let session: string;
  const pageErrors: Error[] = [];

  beforeAll(async () => {
    assertAppBuilt();
    service = await startTestService();
    origin = service.apiUrl.replace(/\/+$/, '');
    ({ session, apiKey } = await registerUser(service.apiUrl, service.adminInvite, 'content-user'));
    browser = await launchBrowser();
    context = await browser.newContext({ viewport: VIEWPORT });
    await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin });
    page = await context.newPage();
    page.on('pageerror', (err) => pageErrors.push(err));
    await signIn(page, origin, session);
  });

  afterAll(async () => {
    await browser?.close();
    await service?.stop();
  });

  it('lists uploaded content, opens its detail page, and its gateway links serve the bytes', async () => {
    const text = `hello from the content page test ${Date.now()}\n`;
    const added = await addFile(service!, apiKey, 'hello.txt', text);

    await page.goto(`${origin}/`);
    const item = page
      .getByRole('listitem')
      .filter({ has: page.getByRole('link', { name: 'hello.txt', exact: true }) });
    await item.waitFor();
    await item.getByText(added.cid, { exact: true }).waitFor();
    await item.getByText('pinned').waitFor();
    expect(await overflowsHorizontally(page)).toBe(false);

    await item.getByRole('button', { name: 'Copy CID of hello.txt' }).click();
    await item.getByRole('status').filter({ hasText: 'Copied.' }).waitFor({ state: 'attached' });
    expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(added.cid);

    await item.getByRole('link', { name: 'hello.txt', exact: true }).click();
    await page.waitForURL(`${origin}/content/${added.estuaryId}`);
    await page.getByRole('heading', { name: 'hello.txt', level: 1 }).waitFor();
    expect(await page.getByLabel('CID', { exact: true }).inputValue()).toBe(added.cid);
    // This service runs without a Filecoin network (FIRTH_DEVNET=off): the deal section says so.
    await page.getByText('makes no Filecoin deals', { exact: false }).waitFor();
    await page.getByText('pinned', { exact: true }).waitFor();

    const info = (await (await fetch(`${origin}/api/public/info`)).json()) as { gatewayUrl: string };
    const gateway = new URL(info.gatewayUrl);
    const pathLink = page.getByLabel('Gateway link (path)', { exact: true });
    await pathLink.waitFor();
    expect(await pathLink.inputValue()).toBe(`${info.gatewayUrl.replace(/\/+$/, '')}/ipfs/${added.cid}`);
    const subdomainLink = await page.getByLabel('Gateway link (subdomain)', { exact: true }).inputValue();
    const label = CID.parse(added.cid).toV1().toString();
    expect(subdomainLink).toBe(`${gateway.protocol}//${label}.ipfs.${gateway.host}/`);
    expect(await overflowsHorizontally(page)).toBe(false);

    // Both links serve the uploaded bytes (Chromium resolves *.localhost itself).
    const viewer = await context.newPage();
    for (const link of [await pathLink.inputValue(), subdomainLink]) {
      const response = await viewer.goto(link);
      expect(response?.status()).toBe(200);
      expect((await response!.body()).toString('utf8')).toBe(text);
    }
    await viewer.close();
  });

  it('pages through content, newest first', async () => {
    // 21 more files: with hello.txt that makes 22, two pages of 20.
    for (let i = 0; i < 21; i++) await addFile(service!, apiKey, `file-${i}.txt`, `file number ${i}\n`);
    await page.goto(`${origin}/`);
    const list = page.getByRole('list', { name: 'Your content, page 1' });
    await list.waitFor();
    await list.getByRole('link', { name: 'file-20.txt', exact: true }).waitFor();
    expect(await list.getByRole('listitem').count()).toBe(20);

    const pager = page.getByRole('navigation', { name: 'Content pages' });
    await pager.getByRole('button', { name: 'Older' }).click();
    await page.waitForURL(`${origin}/?page=2`);
    const second = page.getByRole('list', { name: 'Your content, page 2' });
    await second.getByRole('link', { name: 'hello.txt', exact: true }).waitFor();
    expect(await second.getByRole('listitem').count()).toBe(2);
    expect(await pager.getByRole('button', { name: 'Older' }).isDisabled()).toBe(true);
  });

  it('deletes content from the list after confirming', async () => {
    await page.goto(`${origin}/?page=2`);
    const link = page.getByRole('link', { name: 'hello.txt', exact: true });
    await link.waitFor();
    const id = (await link.getAttribute('href'))!.split('/').pop();

    // Cancel leaves it alone.
    await page.getByRole('button', { name: 'Delete hello.txt' }).click();
    const dialog = page.getByRole('dialog', { name: 'Delete hello.txt?' });
    await dialog.getByRole('button', { name: 'Cancel' }).click();
    await dialog.waitFor({ state: 'hidden' });
    await link.waitFor();

    await page.getByRole('button', { name: 'Delete hello.txt' }).click();
    await dialog.getByRole('button', { name: 'Delete', exact: true }).click();
    await link.waitFor({ state: 'detached' });
    await page.getByText('Deleted hello.txt.').waitFor({ state: 'attached' });

    const response = await fetch(`${origin}/api/content/${id}`, {
      headers: { authorization: `Bearer ${apiKey}` }
    });
    await response.body?.cancel();
    expect(response.status).toBe(404);
  });

  it('shows the service’s error in words for content that does not exist', async () => {
    await page.goto(`${origin}/content/999999`);
    await page.getByRole('alert').filter({ hasText: 'no content with id 999999' }).waitFor();
    expect(pageErrors).toEqual([]);
  });
});
