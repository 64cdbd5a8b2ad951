// The admin page's storage providers in real Chromium against the service on the in-process devnet:
// removing a provider takes it off the list at once (no reload), also when someone else removed it
// first, and adding one the chain does not have says so and lists nothing.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { devnetEnv } from '../helpers/devnet.ts';
import { registerUser, startTestService, type TestService } from '../helpers/service.ts';
import { assertAppBuilt, launchBrowser } from './helpers/browser.ts';

describe('admin providers in the app', () => {
  let service: TestService | undefined;
  let browser: Browser | undefined;
  let page: Page;
  let origin: string;

  beforeAll(async () => {
    assertAppBuilt();
    service = await startTestService({ env: devnetEnv(2) });
    origin = service.apiUrl.replace(/\/+$/, '');
    browser = await launchBrowser();
    page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await service?.stop();
  });

  it('removes a provider from the list at once, and refuses one the chain does not have', async () => {
    const { session } = await registerUser(service!.apiUrl, service!.adminInvite, 'operator');
    await page.goto(`${origin}/login`);
    await page.evaluate((t) => localStorage.setItem('firth.token', t), session);
    await page.goto(`${origin}/admin`);

    const providers = page.locator('ul.miners > li');
    const [first, second] = service!.node.filecoin.devnetProviders.map((p) => p.actorId);
    await providers.filter({ hasText: first! }).waitFor();
    expect(await providers.count()).toBe(2);

    await providers.filter({ hasText: first! }).getByRole('button', { name: 'Remove' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Remove' }).click();
    await providers.filter({ hasText: first! }).waitFor({ state: 'detached', timeout: 10_000 });
    expect(await providers.count()).toBe(1);
    await providers.filter({ hasText: second! }).waitFor();

    // Removed meanwhile elsewhere (another tab, the API): Remove here says so and drops it too.
    const rm = await fetch(`${origin}/api/admin/miners/rm/${second}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${session}` }
    });
    expect(rm.status).toBe(200);
    await providers.filter({ hasText: second! }).getByRole('button', { name: 'Remove' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Remove' }).click();
    await page.getByText('is not in the list').waitFor({ timeout: 10_000 });
    await providers.filter({ hasText: second! }).waitFor({ state: 'detached', timeout: 10_000 });

    await page.getByLabel('Add a provider').fill('t099999');
    await page.getByLabel('Add a provider').press('Enter');
    await page.getByText('not a storage provider on chain').waitFor({ timeout: 10_000 });
    expect(await providers.count()).toBe(0);
  }, 60_000);
});
