// The browser route of the UnixFS CID interop check: in real Chromium the app's importer (its Web Worker)
// hashes a file and folders picked on the upload page, and the CID the page shows is the one Kubo
// 0.43.1 gives with its `unixfs-v1-2025` profile. Browser folder pickers list files only, so the
// folders here have no empty directories. Needs the built app (`npx vite build`).
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { assertAppBuilt, launchPersistent } from '../e2e/helpers/browser.ts';
import { startTestService, type TestService } from '../helpers/service.ts';
import { hasKubo, reportSkipped } from './tools.ts';
import { FILE_CASES, folderCases, kuboAdd, kuboRepo, writeFolder } from './unixfs-fixtures.ts';

const missing = hasKubo() ? [] : ['Kubo (ipfs) is not built'];
reportSkipped('UnixFS CIDs in the browser: Kubo unixfs-v1-2025 vs the app', missing);

/** Folders a browser can pick as they are: no empty directories. */
const BROWSER_FOLDERS = ['ünïcödé-名前', 'hamt-by-block-size', 'block-over-threshold', 'block-at-threshold'];

async function shownCid(page: Page, name: string): Promise<string> {
  const cid = page.getByRole('listitem', { name, exact: true }).getByTestId('upload-cid');
  await cid.waitFor({ timeout: 90_000 });
  return (await cid.textContent()) ?? '';
}

describe.skipIf(missing.length > 0)("the app's importer gives Kubo's unixfs-v1-2025 CIDs", () => {
  let service: TestService | undefined;
  let context: BrowserContext | undefined;
  let page: Page;
  let repo = '';
  let dir = '';
  let profileDir = '';
  const pageErrors: Error[] = [];

  beforeAll(async () => {
    assertAppBuilt();
    repo = await kuboRepo();
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'firth-unixfs-browser-'));
    profileDir = await fs.mkdtemp(path.join(os.tmpdir(), 'firth-chromium-'));
    service = await startTestService();
    context = await launchPersistent(profileDir);
    page = context.pages()[0] ?? (await context.newPage());
    page.on('pageerror', (err) => pageErrors.push(err));

    const origin = service.apiUrl.replace(/\/+$/, '');
    await page.goto(`${origin}/register?invite=${encodeURIComponent(service.adminInvite)}`);
    await page.getByLabel('Username', { exact: true }).fill('cids');
    await page.getByLabel('Password', { exact: true }).fill('cids-Passw0rd-long');
    await page.getByRole('button', { name: 'Create account' }).click();
    await page.getByText('Signed in as cids').waitFor();
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Upload' }).click();
    await page.getByRole('heading', { name: 'Upload', level: 1 }).waitFor();
  });

  afterAll(async () => {
    await context?.close();
    await service?.stop();
    for (const d of [repo, dir, profileDir]) if (d !== '') await fs.rm(d, { recursive: true, force: true });
  });

  it('a multi-MiB file', async () => {
    const f = FILE_CASES.find((c) => c.name === 'five-mib-plus-123')!;
    const file = path.join(dir, `${f.name}.bin`);
    await fs.writeFile(file, f.bytes);
    await page.getByTestId('file-input').setInputFiles(file);
    expect(await shownCid(page, `${f.name}.bin`)).toBe(await kuboAdd(repo, file, true));
  });

  it.each(BROWSER_FOLDERS)('folder %s', async (name) => {
    const folder = (await folderCases()).find((c) => c.name === name)!;
    expect(folder.emptyDirs).toEqual([]);
    const root = await writeFolder(dir, folder);
    await page.getByTestId('folder-input').setInputFiles(root);
    expect(await shownCid(page, name)).toBe(await kuboAdd(repo, root, true));
    expect(pageErrors).toEqual([]);
  });
});
