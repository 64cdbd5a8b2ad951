import { existsSync } from 'node:fs';
import { chromium, type Browser, type BrowserContext } from 'playwright-core';

/** Debian's Chromium, never a downloaded browser; flags that work on these machines. */
export const CHROMIUM = '/usr/bin/chromium';
export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run'
];

/** The narrowest screen the app promises to work on. */
export const VIEWPORT = { width: 360, height: 740 };

/** The e2e tests drive the built app the service serves. */
export function assertAppBuilt(): void {
  if (!existsSync(new URL('../../../build/index.html', import.meta.url))) {
    throw new Error('The app is not built: run `npx vite build` before the browser tests.');
  }
}

export function launchBrowser(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
}

/** A persistent profile: IndexedDB is not squeezed by the incognito quota. */
export function launchPersistent(profileDir: string): Promise<BrowserContext> {
  return chromium.launchPersistentContext(profileDir, {
    executablePath: CHROMIUM,
    args: CHROMIUM_ARGS,
    viewport: VIEWPORT
  });
}
