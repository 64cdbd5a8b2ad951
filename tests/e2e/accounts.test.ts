// Accounts through the app in real Chromium: register with the admin invite, create and revoke an API key,
// invite a second user, register them, and sign-in errors. Needs the built app (`npx vite build`).
import { type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestService, type TestService } from '../helpers/service.ts';
import { VIEWPORT, assertAppBuilt, launchBrowser } from './helpers/browser.ts';

const TOKEN_PATTERN = /^EST[0-9a-f-]{36}ARY$/;
const ALICE_PASSWORD = 'alice-Passw0rd';
const BOB_PASSWORD = 'bob-Passw0rd';

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

async function viewerStatus(service: TestService, token: string): Promise<number> {
  const response = await fetch(`${service.apiUrl}/api/viewer`, {
    headers: { authorization: `Bearer ${token}` }
  });
  await response.body?.cancel();
  return response.status;
}

/** Whether the page scrolls sideways: at 360 px everything must fit. */
async function overflowsHorizontally(page: Page): Promise<boolean> {
  return page.evaluate(() => document.documentElement.scrollWidth > document.documentElement.clientWidth);
}

describe('accounts in the browser', () => {
  let service: TestService | undefined;
  let browser: Browser | undefined;
  let page: Page;
  let origin: string;
  let inviteLink: string;
  const pageErrors: Error[] = [];

  beforeAll(async () => {
    assertAppBuilt();
    service = await startTestService();
    origin = service.apiUrl.replace(/\/+$/, '');
    browser = await launchBrowser();
    const context = await browser.newContext({ viewport: VIEWPORT });
    page = await context.newPage();
    page.on('pageerror', (err) => pageErrors.push(err));
  });

  afterAll(async () => {
    await browser?.close();
    await service?.stop();
  });

  it('registers the first user with the admin invite and lands signed in', async () => {
    const invite = service!.adminInvite;
    await page.goto(`${origin}/register?invite=${encodeURIComponent(invite)}`);

    expect(await page.getByLabel('Invite code', { exact: true }).inputValue()).toBe(invite);
    await page.getByLabel('Username', { exact: true }).fill('alice');
    await page.getByLabel('Password', { exact: true }).fill(ALICE_PASSWORD);
    await page.getByRole('button', { name: 'Create account' }).click();

    await page.waitForURL(`${origin}/`);
    await page.getByText('Signed in as alice').waitFor();
    await page.getByText('Nothing stored yet.').waitFor();
    const nav = page.getByRole('navigation', { name: 'Main' });
    await nav.getByRole('link', { name: 'Admin' }).waitFor();
    expect(await page.evaluate(() => localStorage.getItem('firth.token'))).toMatch(/\S/);
  });

  it('creates an upload-only API key, shows its token once, and revokes it', async () => {
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'API keys' }).click();
    await page.getByRole('heading', { name: 'API keys', level: 1 }).waitFor();

    await page.getByLabel('Label', { exact: true }).fill('ci');
    await page.getByLabel('Upload only', { exact: true }).check();
    await page.getByRole('button', { name: 'Create key' }).click();

    const tokenField = page.getByLabel('New API key', { exact: true });
    await tokenField.waitFor();
    const token = await tokenField.inputValue();
    expect(token).toMatch(TOKEN_PATTERN);
    await page.getByText('Copy it now: Firth stores only its hash').waitFor();
    await page.getByRole('button', { name: 'Copy New API key' }).waitFor();
    expect(await overflowsHorizontally(page)).toBe(false);

    expect(await viewerStatus(service!, token)).toBe(200);
    // Upload-only: the key may not manage keys.
    const keysWithKey = await fetch(`${origin}/api/user/api-keys`, {
      headers: { authorization: `Bearer ${token}` }
    });
    await keysWithKey.body?.cancel();
    expect(keysWithKey.status).toBe(403);

    const revokeButton = page.getByRole('button', { name: 'Revoke ci', exact: true });
    await revokeButton.click();
    const dialog = page.getByRole('dialog', { name: 'Revoke ci?' });
    await dialog.waitFor();
    await dialog.getByRole('button', { name: 'Revoke', exact: true }).click();
    await revokeButton.waitFor({ state: 'detached' });
    await tokenField.waitFor({ state: 'detached' });

    expect(await viewerStatus(service!, token)).toBe(401);
  });

  it('creates an invite and shows its registration link', async () => {
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Admin' }).click();
    await page.getByRole('heading', { name: 'Admin', level: 1 }).waitFor();
    // The first user is listed.
    await page
      .getByRole('table', { name: 'Users' })
      .getByRole('cell', { name: 'alice', exact: true })
      .waitFor();

    const code = await page.getByLabel('Invite code', { exact: true }).inputValue();
    expect(code).toMatch(/^firth-invite-[0-9a-f-]{36}$/);
    await page.getByRole('button', { name: 'Create invite' }).click();

    const linkField = page.getByLabel('Registration link', { exact: true });
    await linkField.waitFor();
    inviteLink = await linkField.inputValue();
    expect(inviteLink).toMatch(
      new RegExp(`^${escapeRegExp(origin)}/register\\?invite=${escapeRegExp(code)}$`)
    );
    await page
      .getByRole('table', { name: 'Invites' })
      .getByRole('cell', { name: code, exact: true })
      .waitFor();
    expect(await overflowsHorizontally(page)).toBe(false);
  });

  it('signs out and registers a second user with the invite', async () => {
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Sign in' }).waitFor();
    expect(await page.evaluate(() => localStorage.getItem('firth.token'))).toBeNull();

    await page.goto(inviteLink);
    await page.getByLabel('Username', { exact: true }).fill('bob');
    await page.getByLabel('Password', { exact: true }).fill(BOB_PASSWORD);
    await page.getByRole('button', { name: 'Create account' }).click();
    await page.getByText('Signed in as bob').waitFor();

    // Bob is no admin: no Admin link, and the admin page says so.
    const nav = page.getByRole('navigation', { name: 'Main' });
    expect(await nav.getByRole('link', { name: 'Admin' }).count()).toBe(0);
    await page.goto(`${origin}/admin`);
    await page.getByText('who is not an admin').waitFor();

    // The invite is used up.
    await page.getByRole('button', { name: 'Sign out' }).click();
    await nav.getByRole('link', { name: 'Sign in' }).waitFor();
    await page.goto(inviteLink);
    await page.getByLabel('Username', { exact: true }).fill('carol');
    await page.getByLabel('Password', { exact: true }).fill('carol-Passw0rd');
    await page.getByRole('button', { name: 'Create account' }).click();
    await page.getByRole('alert').filter({ hasText: /\S/ }).waitFor();
    expect(page.url()).toContain('/register');
  });

  it('shows an error for a wrong password and signs in with the right one', async () => {
    await page.goto(`${origin}/login`);
    await page.getByLabel('Username', { exact: true }).fill('bob');
    await page.getByLabel('Password', { exact: true }).fill('not-the-password');
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();

    const alert = page.getByRole('alert').filter({ hasText: /\S/ });
    await alert.waitFor();
    expect((await alert.textContent())?.trim()).not.toBe('');
    expect(page.url()).toBe(`${origin}/login`);
    expect(await page.evaluate(() => localStorage.getItem('firth.token'))).toBeNull();

    await page.getByLabel('Password', { exact: true }).fill(BOB_PASSWORD);
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await page.getByText('Signed in as bob').waitFor();
  });

  it('ends the session on the service when signing out', async () => {
    const token = await page.evaluate(() => localStorage.getItem('firth.token'));
    expect(token).toMatch(TOKEN_PATTERN);
    expect(await viewerStatus(service!, token!)).toBe(200);
    // The row of this browser's own session is marked.
    await page.goto(`${origin}/keys`);
    await page.getByText('this browser').waitFor();

    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Sign in' }).waitFor();
    // The service is told after the page has signed out; give it a moment.
    let status = 0;
    for (let attempt = 0; attempt < 50; attempt++) {
      status = await viewerStatus(service!, token!);
      if (status === 401) break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(status).toBe(401);
  });

  it('sends a signed-out visitor of a private page to sign-in', async () => {
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Sign in' }).waitFor();
    await page.goto(`${origin}/keys`);
    await page.waitForURL(`${origin}/login?next=/keys`);
    await page.getByRole('heading', { name: 'Sign in', level: 1 }).waitFor();
    expect(pageErrors).toEqual([]);
  });
});
