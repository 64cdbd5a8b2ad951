// In real Chromium against the service running the in-process devnet: a file uploaded through the
// app's own upload page goes on to 6 active deals, and its content page follows it live to
// "6 of 6 active" with every deal's timeline — no manual step.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { registerUser, startTestService, type TestService } from '../helpers/service.ts';
import { deterministicBytes } from '../helpers/bytes.ts';
import { devnetEnv } from '../helpers/devnet.ts';
import { VIEWPORT, assertAppBuilt, launchBrowser } from './helpers/browser.ts';

describe('deals in the app', () => {
  let service: TestService | undefined;
  let browser: Browser | undefined;
  let page: Page;
  let origin: string;

  beforeAll(async () => {
    assertAppBuilt();
    service = await startTestService({
      env: devnetEnv(6)
    });
    origin = service.apiUrl.replace(/\/+$/, '');
    browser = await launchBrowser();
    page = await browser.newPage({ viewport: VIEWPORT });
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await service?.stop();
  });

  it('takes a file dropped in the app to 6 of 6 active deals, shown live', async () => {
    const { session } = await registerUser(service!.apiUrl, service!.adminInvite, 'watcher');
    await page.goto(`${origin}/login`);
    await page.evaluate((t) => localStorage.setItem('firth.token', t), session);

    await page.goto(`${origin}/upload`);
    await page.getByTestId('file-input').setInputFiles({
      name: 'report.bin',
      mimeType: 'application/octet-stream',
      buffer: Buffer.from(deterministicBytes('deals-e2e', 2 * 1024 * 1024))
    });
    // The browser hashes it, the service pulls it over bitswap and pins it.
    await page
      .getByRole('listitem', { name: 'report.bin', exact: true })
      .locator('[data-state="pinned"]')
      .waitFor({ timeout: 90_000 });

    await page.goto(`${origin}/`);
    await page.getByRole('link', { name: 'report.bin', exact: true }).click();
    await page.getByRole('heading', { name: 'report.bin', level: 1 }).waitFor();
    const progress = page.getByRole('progressbar', { name: /active/ });
    await progress.waitFor();
    // The page follows the deals without a reload.
    await page.getByText('6 of 6', { exact: false }).waitFor({ timeout: 90_000 });
    expect(await progress.getAttribute('aria-valuenow')).toBe('6');
    const deals = page.locator('ul.deals > li');
    expect(await deals.count()).toBe(6);
    const contentPath = new URL(page.url()).pathname;

    // The pinned upload's card says so too, and links to the content page.
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Upload' }).click();
    const active = page
      .getByRole('listitem', { name: 'report.bin', exact: true })
      .getByTestId('active-deals');
    await active.waitFor({ timeout: 30_000 });
    expect(await active.textContent()).toBe('6 of 6 active');
    expect(await active.getAttribute('href')).toBe(contentPath);
    await active.click();
    await page.waitForURL(`${origin}${contentPath}`);
  }, 180_000);
});
