// Stopping the service (its own process, as `npx firth serve` runs it) with SIGTERM while a browser
// holds a WebRTC-direct connection to it: every stop must exit 0, without node-datachannel's native
// abort (`terminate called after throwing an instance of 'std::system_error'`). And an HTTP upload
// in progress at SIGTERM is finished before the process exits (README, Configuration). Real
// Chromium, real service processes on port 0. Needs `npx vite build`.
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { type Browser, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServiceProcess, type ServiceProcess } from '../../bench/service-process.ts';
import { deterministicBytes } from '../helpers/bytes.ts';
import { assertAppBuilt, launchBrowser } from './helpers/browser.ts';
import { expectedCid } from './helpers/unixfs.ts';

const PASSWORD = 'stopper-Passw0rd';
const MiB = 1024 * 1024;
/** Starts and stops, each with a browser connected over WebRTC-direct: bounded. */
const STOPS = 6;
const NATIVE_ABORT = /terminate called|Aborted|core dumped|std::system_error/;

interface Stop {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** Lines printed after SIGTERM was sent (stdout and stderr). */
  after: string[];
}

/** Sends SIGTERM and waits for the exit, recording what the process printed on its way down. */
async function sigterm(service: ServiceProcess, lines: string[]): Promise<Stop> {
  const from = lines.length;
  await service.stop({ keepData: true, allowUncleanExit: true });
  return { code: service.child.exitCode, signal: service.child.signalCode, after: lines.slice(from) };
}

async function startService(dataDir: string, lines: string[]): Promise<ServiceProcess> {
  const service = await startServiceProcess({ FIRTH_DATA_DIR: dataDir }, { onLine: (l) => lines.push(l) });
  return service;
}

async function login(apiUrl: string, username: string): Promise<string> {
  const response = await fetch(`${apiUrl}/api/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username, password: PASSWORD })
  });
  expect(response.status).toBe(200);
  return ((await response.json()) as { token: string }).token;
}

/**
 * Opens the Upload page signed in with `token` and waits until the page's Helia node is connected
 * to the service. `webrtcOnly`: the service's addresses reach the page cut down to WebRTC-direct
 * (the app would pick WebSockets first), and the service is checked to hold that connection.
 */
async function openUploadPage(browser: Browser, service: ServiceProcess, token: string, webrtcOnly: boolean) {
  const context = await browser.newContext();
  await context.addInitScript((t) => localStorage.setItem('firth.token', t), token);
  if (webrtcOnly)
    await context.route('**/api/public/net/addrs', async (route) => {
      const response = await route.fetch();
      const body = (await response.json()) as { id: string; addresses: string[] };
      const addresses = body.addresses.filter((a) => a.includes('/webrtc-direct/'));
      await route.fulfill({ response, json: { ...body, addresses } });
    });
  const page = await context.newPage();
  await page.goto(`${service.apiUrl}/upload`);
  await page.getByRole('status').filter({ hasText: 'Connected to the service' }).waitFor({ timeout: 60_000 });
  if (webrtcOnly) {
    const peers = (await (await fetch(`${service.apiUrl}/api/public/net/peers`)).json()) as Array<{
      address: string;
      limited: boolean;
    }>;
    expect(peers.some((p) => p.address.includes('/webrtc-direct') && !p.limited)).toBe(true);
  }
  return { context, page };
}

/** Adds a file on the Upload page and waits until the service has pulled it over bitswap and pinned it. */
async function uploadFromPage(page: Page, dir: string, name: string, bytes: Uint8Array): Promise<void> {
  const file = path.join(dir, name);
  await fs.writeFile(file, bytes);
  await page.getByTestId('file-input').setInputFiles(file);
  await page
    .getByRole('listitem', { name, exact: true })
    .locator('[data-state="pinned"]')
    .waitFor({ timeout: 90_000 });
}

describe('SIGTERM with a browser connected over WebRTC-direct', () => {
  let browser: Browser | undefined;
  let filesDir: string;
  const dirs: string[] = [];
  const open: BrowserContext[] = [];

  /** A first start on a new data dir, as after `npm install`: the admin registered with its invite. */
  async function freshService(lines: string[]): Promise<{ service: ServiceProcess; token: string }> {
    const dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'firth-stop-'));
    dirs.push(dataDir);
    const service = await startService(dataDir, lines);
    const reg = await fetch(`${service.apiUrl}/api/register`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: 'stopper', password: PASSWORD, inviteCode: service.adminInvite })
    });
    expect(reg.status).toBe(200);
    return { service, token: ((await reg.json()) as { token: string }).token };
  }

  beforeAll(async () => {
    assertAppBuilt();
    filesDir = await fs.mkdtemp(path.join(os.tmpdir(), 'firth-stop-files-'));
    dirs.push(filesDir);
    browser = await launchBrowser();
  });

  afterAll(async () => {
    for (const context of open) await context.close().catch(() => {});
    await browser?.close();
    for (const dir of dirs) await fs.rm(dir, { recursive: true, force: true });
  });

  it(`exits 0 on every one of ${STOPS} stops, with no native abort`, async () => {
    const stops: Stop[] = [];
    for (let i = 0; i < STOPS; i++) {
      const lines: string[] = [];
      const { service, token } = await freshService(lines);
      // Every other start the page's only way in is WebRTC-direct; else WebSockets, with the
      // page's libp2p still redialling the service's WebRTC-direct address as it goes away.
      const { context, page } = await openUploadPage(browser!, service, token, i % 2 === 0);
      open.push(context);
      await uploadFromPage(
        page,
        filesDir,
        `stop-${i}.bin`,
        deterministicBytes(`firth-e2e-stop-${i}`, 3 * MiB + i)
      );
      // The page stays open while the service goes down.
      stops.push(await sigterm(service, lines));
      await context.close();
    }
    const summary = stops.map((s) => ({
      code: s.code,
      signal: s.signal,
      abort: s.after.filter((l) => NATIVE_ABORT.test(l))
    }));
    expect(summary).toEqual(stops.map(() => ({ code: 0, signal: null, abort: [] })));
  });

  it('finishes an HTTP upload in progress at SIGTERM, then exits 0; the content is there after a restart', async () => {
    const lines: string[] = [];
    const { service, token } = await freshService(lines);
    const { context } = await openUploadPage(browser!, service, token, true);
    open.push(context);

    // A multipart upload whose body is pulled piece by piece: the second half waits for SIGTERM.
    const bytes = deterministicBytes('firth-e2e-stop-upload', 6 * 1024 * 1024 + 123);
    const boundary = 'firthstopboundary';
    const pieces: Uint8Array[] = [
      new TextEncoder().encode(
        `--${boundary}\r\nContent-Disposition: form-data; name="data"; filename="during-stop.bin"\r\n` +
          'Content-Type: application/octet-stream\r\n\r\n'
      )
    ];
    for (let at = 0; at < bytes.length; at += 256 * 1024) pieces.push(bytes.subarray(at, at + 256 * 1024));
    pieces.push(new TextEncoder().encode(`\r\n--${boundary}--\r\n`));
    const half = Math.floor(pieces.length / 2);
    let sendRest: () => void = () => {};
    const restMayGo = new Promise<void>((r) => (sendRest = r));
    let pulled = 0;
    const body = new ReadableStream<Uint8Array>({
      async pull(controller) {
        if (pulled === half) await restMayGo;
        controller.enqueue(pieces[pulled++]!);
        if (pulled === pieces.length) controller.close();
      }
    });
    const upload = fetch(`${service.apiUrl}/api/content/add`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${token}`,
        'content-type': `multipart/form-data; boundary=${boundary}`
      },
      body,
      duplex: 'half'
    } as RequestInit);
    // SIGTERM once the service is receiving the upload and has its first half.
    const arrived = () => lines.some((l) => l.includes('"url":"/api/content/add"'));
    for (let i = 0; i < 200 && (pulled < half || !arrived()); i++)
      await new Promise((r) => setTimeout(r, 50));
    expect(arrived()).toBe(true);
    const signalled = lines.length;
    const exited = sigterm(service, lines);
    // The rest of the body follows once the service has the signal (it logs 'shutting down').
    for (let i = 0; i < 200 && !lines.slice(signalled).some((l) => l.includes('shutting down')); i++)
      await new Promise((r) => setTimeout(r, 50));
    sendRest();
    const response = await upload;
    expect(response.status).toBe(200);
    const added = (await response.json()) as { cid: string; estuaryId: number };
    expect(added.cid).toBe(await expectedCid([{ path: 'during-stop.bin', bytes }]));
    const stop = await exited;
    expect({
      code: stop.code,
      signal: stop.signal,
      abort: stop.after.filter((l) => NATIVE_ABORT.test(l))
    }).toEqual({
      code: 0,
      signal: null,
      abort: []
    });
    await context.close();

    const again = await startService(service.dataDir, []);
    try {
      const listed = (await (
        await fetch(`${again.apiUrl}/api/content/${added.estuaryId}`, {
          headers: { authorization: `Bearer ${await login(again.apiUrl, 'stopper')}` }
        })
      ).json()) as { cid: string };
      expect(listed.cid).toBe(added.cid);
      const served = await fetch(`${again.gatewayUrl}/ipfs/${added.cid}`);
      expect(served.status).toBe(200);
      expect(Buffer.from(await served.arrayBuffer()).equals(Buffer.from(bytes))).toBe(true);
    } finally {
      await again.stop();
    }
  });
});
