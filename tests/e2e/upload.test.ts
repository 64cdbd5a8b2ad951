// Uploading from the browser peer in real Chromium: register, add a 5 MiB file and a folder of 3 files
// through the page's pickers; the page shows the CID `ipfs-unixfs-importer` computes for the same bytes, the
// service pulls the blocks over bitswap from the page's Helia node and reports the pin pinned, and the bytes
// come back identical from the public gateway. Needs the built app (`npx vite build`).
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { type BrowserContext, type Locator, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deterministicBytes } from '../helpers/bytes.ts';
import { startTestService, type TestService } from '../helpers/service.ts';
import { expectedCid } from './helpers/unixfs.ts';
import { assertAppBuilt, launchPersistent } from './helpers/browser.ts';

const PASSWORD = 'uploader-Passw0rd';

interface PinStatusJson {
  requestid: string;
  status: string;
  pin: { cid: string; origins: string[] };
  info: Record<string, string>;
}

/** The upload card with this name. */
function uploadCard(page: Page, name: string): Locator {
  return page.getByRole('listitem', { name, exact: true });
}

async function pinsFor(service: TestService, token: string, cid: string): Promise<PinStatusJson[]> {
  const response = await fetch(`${service.apiUrl}/api/pinning/pins?cid=${cid}`, {
    headers: { authorization: `Bearer ${token}` }
  });
  expect(response.status).toBe(200);
  const body = (await response.json()) as { results: PinStatusJson[] };
  return body.results;
}

async function fromGateway(service: TestService, pathname: string): Promise<Uint8Array> {
  const response = await fetch(`${service.gatewayUrl}${pathname}`);
  expect(response.status).toBe(200);
  return new Uint8Array(await response.arrayBuffer());
}

describe('uploading from the browser peer', () => {
  let service: TestService | undefined;
  let context: BrowserContext | undefined;
  let page: Page;
  let origin: string;
  let token: string;
  let profileDir: string | undefined;
  let filesDir: string | undefined;
  const pageErrors: Error[] = [];

  beforeAll(async () => {
    assertAppBuilt();
    service = await startTestService();
    origin = service.apiUrl.replace(/\/+$/, '');
    profileDir = await fs.mkdtemp(path.join(os.tmpdir(), 'firth-chromium-'));
    filesDir = await fs.mkdtemp(path.join(os.tmpdir(), 'firth-files-'));
    context = await launchPersistent(profileDir);
    page = context.pages()[0] ?? (await context.newPage());
    page.on('pageerror', (err) => pageErrors.push(err));

    await page.goto(`${origin}/register?invite=${encodeURIComponent(service.adminInvite)}`);
    await page.getByLabel('Username', { exact: true }).fill('uploader');
    await page.getByLabel('Password', { exact: true }).fill(PASSWORD);
    await page.getByRole('button', { name: 'Create account' }).click();
    await page.getByText('Signed in as uploader').waitFor();
    token = (await page.evaluate(() => localStorage.getItem('firth.token'))) ?? '';
    expect(token).toMatch(/\S/);

    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Upload' }).click();
    await page.getByRole('heading', { name: 'Upload', level: 1 }).waitFor();
  });

  afterAll(async () => {
    await context?.close();
    await service?.stop();
    if (profileDir) await fs.rm(profileDir, { recursive: true, force: true });
    if (filesDir) await fs.rm(filesDir, { recursive: true, force: true });
  });

  it('connects the page peer to the service directly and reserves a relay slot', async () => {
    await page.getByRole('status').filter({ hasText: 'Connected to the service' }).waitFor();
    const peers = (await (await fetch(`${origin}/api/public/net/peers`)).json()) as Array<{
      id: string;
      limited: boolean;
    }>;
    expect(peers.some((p) => !p.limited)).toBe(true);
  });

  it('hashes a 5 MiB file in the page, shows its CID, and the service pins it from the browser', async () => {
    const bytes = deterministicBytes('firth-e2e-upload-5mib', 5 * 1024 * 1024);
    const cid = await expectedCid([{ path: 'five.bin', bytes }]);

    await page.getByTestId('file-input').setInputFiles({
      name: 'five.bin',
      mimeType: 'application/octet-stream',
      buffer: Buffer.from(bytes)
    });
    const card = uploadCard(page, 'five.bin');
    const shownCid = card.getByTestId('upload-cid');
    await shownCid.waitFor();
    expect(await shownCid.textContent()).toBe(cid);

    await card.locator('[data-state="pinned"]').waitFor({ timeout: 90_000 });

    const pins = await pinsFor(service!, token, cid);
    expect(pins.map((p) => p.status)).toEqual(['pinned']);
    // The page named itself as the origin, through the service's relay.
    expect(pins[0]!.pin.origins.some((o) => o.includes('/p2p-circuit/p2p/'))).toBe(true);
    expect(Number(pins[0]!.info.dag_size)).toBeGreaterThanOrEqual(bytes.length);

    expect(Buffer.from(await fromGateway(service!, `/ipfs/${cid}`)).equals(Buffer.from(bytes))).toBe(true);
    expect(await page.evaluate(() => document.documentElement.scrollWidth <= innerWidth)).toBe(true);
  });

  it('hashes a folder of 3 files and the service pins the folder', async () => {
    const folder = path.join(filesDir!, 'album');
    await fs.mkdir(folder);
    const files = [
      { name: 'a.txt', bytes: new TextEncoder().encode('hello from the browser peer\n') },
      { name: 'b.bin', bytes: deterministicBytes('firth-e2e-folder-b', 1536 * 1024) },
      { name: 'c.bin', bytes: deterministicBytes('firth-e2e-folder-c', 70_000) }
    ];
    for (const f of files) await fs.writeFile(path.join(folder, f.name), f.bytes);
    const cid = await expectedCid(files.map((f) => ({ path: `album/${f.name}`, bytes: f.bytes })));

    await page.getByTestId('folder-input').setInputFiles(folder);
    const card = uploadCard(page, 'album');
    await card.getByText('Folder, 3 files').waitFor();
    const shownCid = card.getByTestId('upload-cid');
    await shownCid.waitFor();
    expect(await shownCid.textContent()).toBe(cid);

    await card.locator('[data-state="pinned"]').waitFor({ timeout: 90_000 });
    const pins = await pinsFor(service!, token, cid);
    expect(pins.map((p) => p.status)).toEqual(['pinned']);

    for (const f of files) {
      const back = await fromGateway(service!, `/ipfs/${cid}/${f.name}`);
      expect(Buffer.from(back).equals(Buffer.from(f.bytes))).toBe(true);
    }
  });

  it('keeps the queue across a reload', async () => {
    await page.reload();
    await uploadCard(page, 'five.bin').locator('[data-state="pinned"]').waitFor();
    await uploadCard(page, 'album').locator('[data-state="pinned"]').waitFor();
    expect(pageErrors).toEqual([]);
  });

  it('deleting on the content page shows the upload as deleted, and the service stops serving it', async () => {
    const cid = await uploadCard(page, 'five.bin').getByTestId('upload-cid').textContent();
    const [pin] = await pinsFor(service!, token, cid!);
    await page.goto(`${origin}/content/${pin!.info.content_id}`);
    await page.getByRole('button', { name: 'Delete this content' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Delete', exact: true }).click();
    await page.waitForURL(`${origin}/`);
    const gone = await fetch(`${service!.gatewayUrl}/ipfs/${cid}`);
    await gone.arrayBuffer();
    expect(gone.status).toBe(410);

    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Upload' }).click();
    const card = uploadCard(page, 'five.bin');
    await card.locator('[data-state="removed"]').waitFor();
    expect(await card.getByTestId('removed-note').textContent()).toContain('no longer keeps or serves it');
  });

  it('a pin deleted elsewhere (the API) shows as deleted after a reload, and can be pinned again', async () => {
    const cid = await uploadCard(page, 'album').getByTestId('upload-cid').textContent();
    const [pin] = await pinsFor(service!, token, cid!);
    const del = await fetch(`${service!.apiUrl}/api/pinning/pins/${pin!.requestid}`, {
      method: 'DELETE',
      headers: { authorization: `Bearer ${token}` }
    });
    expect(del.status).toBe(202);
    await page.reload();
    const card = uploadCard(page, 'album');
    await card.locator('[data-state="removed"]').waitFor();
    await card.getByRole('button', { name: 'Pin again album' }).click();
    await card.locator('[data-state="pinned"]').waitFor({ timeout: 90_000 });
    expect((await pinsFor(service!, token, cid!)).map((p) => p.status)).toEqual(['pinned']);
    expect(pageErrors).toEqual([]);
  });
});
