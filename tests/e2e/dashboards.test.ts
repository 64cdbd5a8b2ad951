// In real Chromium against the service on the in-process devnet: after an upload reaches its deals
// and is read from the gateway, the public stats page, the providers table, a provider's page and the
// signed-in dashboard all draw their charts (uPlot canvases) with data, and say what the data is in
// words (the summary screen readers get).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { deterministicBytes } from '../helpers/bytes.ts';
import { apiFetch, devnetEnv, uploadContent } from '../helpers/devnet.ts';
import { registerUser, startTestService, type TestService } from '../helpers/service.ts';
import { VIEWPORT, assertAppBuilt, launchBrowser } from './helpers/browser.ts';

describe('dashboards in the app', () => {
  let service: TestService | undefined;
  let browser: Browser | undefined;
  let page: Page;
  let origin: string;
  let session: string;
  let provider: string;
  let contentId: number;

  beforeAll(async () => {
    assertAppBuilt();
    service = await startTestService({
      env: devnetEnv(6)
    });
    origin = service.apiUrl.replace(/\/+$/, '');
    ({ session } = await registerUser(service.apiUrl, service.adminInvite, 'charts'));
    const api = apiFetch(
      () => origin,
      () => session
    );
    const { cid, estuaryId } = await uploadContent(
      api,
      'c.bin',
      deterministicBytes('dashboards-e2e', 1536 * 1024)
    );
    const served = await fetch(`${service.gatewayUrl}/ipfs/${cid}`);
    await served.arrayBuffer();
    const deadline = Date.now() + 90_000;
    for (;;) {
      const s = await api(`/content/status/${estuaryId}`);
      const body = (await s.json()) as { summary: { active: number; target: number } };
      if (body.summary.active >= body.summary.target) break;
      if (Date.now() > deadline) throw new Error(`deals did not complete: ${JSON.stringify(body.summary)}`);
      await new Promise((r) => setTimeout(r, 500));
    }
    contentId = estuaryId;
    await service.node.tracking.meter.flush();
    provider = service.node.filecoin.devnetProviders[0]!.actorId;
    browser = await launchBrowser();
    page = await browser.newPage({ viewport: VIEWPORT });
  }, 180_000);

  afterAll(async () => {
    await browser?.close();
    await service?.stop();
  });

  /** Every chart on the page has a drawn canvas and a summary that reports data. */
  async function expectCharts(min: number): Promise<string[]> {
    const charts = page.locator('figure.chart');
    await charts.first().locator('canvas').first().waitFor({ timeout: 30_000 });
    expect(await charts.count()).toBeGreaterThanOrEqual(min);
    const summaries: string[] = [];
    for (let i = 0; i < (await charts.count()); i++) {
      const chart = charts.nth(i);
      const canvas = chart.locator('canvas').first();
      const box = await canvas.boundingBox();
      expect(box?.width ?? 0).toBeGreaterThan(100);
      const summary = (await chart.getByTestId('chart-summary').textContent()) ?? '';
      expect(summary).not.toContain('No data');
      summaries.push(summary);
    }
    return summaries;
  }

  it('shows public stats and deals over time without signing in', async () => {
    await page.goto(`${origin}/stats`);
    await page.getByRole('heading', { name: 'Statistics', level: 1 }).waitFor();
    const figures = page.getByTestId('public-figures');
    await figures.waitFor();
    expect(await figures.textContent()).toMatch(/Deals on chain\s*6/);
    const [summary] = await expectCharts(1);
    expect(summary).toMatch(/Attempted: [1-9]\d* in total/);
    expect(summary).toMatch(/Active: 6 in total/);
    // The data is readable as a table too.
    await page.getByText('Data table').first().click();
    expect(await page.locator('figure.chart table tbody tr').count()).toBeGreaterThan(0);
  }, 60_000);

  it('lists providers with score and sparkline, and shows one provider with its chart and log', async () => {
    await page.goto(`${origin}/providers`);
    const table = page.getByTestId('providers-table');
    await table.waitFor();
    expect(await table.locator('tbody tr').count()).toBe(6);
    expect(await table.locator('svg.sparkline').count()).toBe(6);
    expect(await table.locator('meter').count()).toBe(6);
    const label = await table.locator('svg.sparkline').first().getAttribute('aria-label');
    expect(label).toMatch(/\(1 in total\)/);

    await table.getByRole('link', { name: provider.replace(/^t/, 't') }).click();
    await page.getByRole('heading', { name: provider, level: 1 }).waitFor();
    await page.getByTestId('provider-figures').waitFor();
    const [summary] = await expectCharts(1);
    expect(summary).toMatch(/Active: 1 in total/);
    const log = page.getByTestId('provider-log');
    await log.waitFor();
    expect(await log.textContent()).toContain('activated');
  }, 60_000);

  it('fits the providers table in a laptop-wide window, every column shown', async () => {
    await page.setViewportSize({ width: 1280, height: 800 });
    try {
      await page.goto(`${origin}/providers`);
      const table = page.getByTestId('providers-table');
      await table.locator('tbody tr').first().waitFor();
      const fit = await table.evaluate((t) => {
        const box = t.parentElement!;
        return {
          scroll: box.scrollWidth,
          client: box.clientWidth,
          page: document.documentElement.scrollWidth
        };
      });
      expect(fit.scroll).toBeLessThanOrEqual(fit.client);
      expect(fit.page).toBeLessThanOrEqual(1280);
      // The last column is on screen, not cut off.
      const last = await table.getByRole('columnheader', { name: 'Transfer speed' }).boundingBox();
      expect(last!.x + last!.width).toBeLessThanOrEqual(1280);
    } finally {
      await page.setViewportSize(VIEWPORT);
    }
  }, 60_000);

  it("shows each content's active deals on My content, linking to its page", async () => {
    await page.goto(`${origin}/login`);
    await page.evaluate((t) => localStorage.setItem('firth.token', t), session);
    await page.goto(`${origin}/`);
    const item = page
      .getByRole('listitem')
      .filter({ has: page.getByRole('link', { name: 'c.bin', exact: true }) });
    const active = item.getByTestId('active-deals');
    await active.waitFor();
    expect(await active.textContent()).toBe('6 of 6 active');
    expect(await active.getAttribute('href')).toBe(`/content/${contentId}`);
  }, 60_000);

  it("draws the signed-in user's bandwidth and, for the admin, everyone's", async () => {
    await page.goto(`${origin}/login`);
    await page.evaluate((t) => localStorage.setItem('firth.token', t), session);
    await page.goto(`${origin}/dashboard`);
    await page.getByRole('heading', { name: 'Dashboard', level: 1 }).waitFor();
    await page.getByRole('heading', { name: 'All bandwidth (admin)' }).waitFor();
    // Each section is headed once (the chart under it has a title of its own).
    await page.locator('figure.chart').first().waitFor();
    expect(await page.getByText('My bandwidth', { exact: true }).count()).toBe(1);
    expect(await page.getByText(/^All bandwidth/).count()).toBe(1);
    const summaries = await expectCharts(2);
    expect(summaries[0]).toMatch(/HTTP uploads: 1\.50 MiB in total/);
    expect(summaries[0]).toMatch(/Gateway out: 1\.50 MiB in total/);
    expect(summaries[1]).toMatch(/Deal transfers out: [1-9]/);
    const breakdown = page.getByTestId('breakdown');
    await breakdown.waitFor();
    expect(await breakdown.textContent()).toContain('charts');
  }, 60_000);
});
