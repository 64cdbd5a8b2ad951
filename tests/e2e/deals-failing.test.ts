// In real Chromium against the devnet, where every provider refuses deals with the same message:
// the piece is stopped as the client's fault, and the app says so — "deals failing" on My content
// and on the content page (with the reason), and an alert at the top of the admin page.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { registerUser, startTestService, type TestService } from '../helpers/service.ts';
import { deterministicBytes } from '../helpers/bytes.ts';
import { apiFetch, devnetEnv, uploadContent } from '../helpers/devnet.ts';
import { VIEWPORT, assertAppBuilt, launchBrowser } from './helpers/browser.ts';

const REFUSAL = 'deal rejected: refused by every provider (e2e fault)';

describe('deals failing in the app', () => {
  let service: TestService | undefined;
  let browser: Browser | undefined;
  let page: Page;
  let origin: string;
  let session: string;
  let apiKey: string;
  const api = apiFetch(
    () => service!.apiUrl,
    () => apiKey
  );

  beforeAll(async () => {
    assertAppBuilt();
    service = await startTestService({ env: devnetEnv(4, { FIRTH_AGGREGATE_MAX_WAIT: '1' }) });
    origin = service.apiUrl.replace(/\/+$/, '');
    for (const provider of service.node.filecoin.devnetProviders) {
      const res = await fetch(
        `${service.node.filecoin.devnetAdminUrl}/admin/providers/${provider.actorId}/faults`,
        {
          method: 'PUT',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ rejectProposals: REFUSAL })
        }
      );
      expect(res.status).toBe(200);
    }
    ({ session, apiKey } = await registerUser(service.apiUrl, service.adminInvite, 'operator'));
    browser = await launchBrowser();
    page = await browser.newPage({ viewport: VIEWPORT });
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await service?.stop();
  });

  it('shows deals failing on the content and an alert for the admin', async () => {
    const { estuaryId } = await uploadContent(api, 'refused.txt', deterministicBytes('refused-e2e', 30_000));
    const deadline = Date.now() + 90_000;
    for (;;) {
      const s = (await (await api(`/content/status/${estuaryId}`)).json()) as {
        summary: { failing: string | null };
      };
      if (s.summary.failing != null) break;
      if (Date.now() > deadline) throw new Error('the piece never stopped');
      await new Promise((r) => setTimeout(r, 500));
    }

    await page.goto(`${origin}/login`);
    await page.evaluate((t) => localStorage.setItem('firth.token', t), session);
    await page.goto(`${origin}/`);
    const item = page.getByRole('listitem').filter({ hasText: 'refused.txt' });
    await item.getByText('deals failing', { exact: true }).waitFor({ timeout: 30_000 });

    await page.getByRole('link', { name: 'refused.txt', exact: true }).click();
    await page.getByRole('heading', { name: 'refused.txt', level: 1 }).waitFor();
    await page.getByText('deals failing', { exact: true }).waitFor({ timeout: 30_000 });
    await page.getByText(REFUSAL, { exact: false }).first().waitFor();

    await page.goto(`${origin}/admin`);
    const alerts = page.getByRole('region', { name: 'Alerts' });
    await alerts.waitFor({ timeout: 30_000 });
    expect(await alerts.textContent()).toContain('Deals failing');
    expect(await alerts.textContent()).toContain(REFUSAL);
  }, 180_000);
});
