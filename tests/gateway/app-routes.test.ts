import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startTestService, type TestService } from '../helpers/service.ts';

// A stand-in app build (index.html and one hashed asset), so the test needs no `npm run build:app`.
let appDir: string;
let svc: TestService;
const INDEX = '<!doctype html><title>Firth</title><div id="app"></div>';
const ASSET = 'console.log("firth");\n';

beforeAll(async () => {
  appDir = await fs.mkdtemp(path.join(os.tmpdir(), 'firth-app-'));
  await fs.mkdir(path.join(appDir, '_app/immutable'), { recursive: true });
  await fs.writeFile(path.join(appDir, 'index.html'), INDEX);
  await fs.writeFile(path.join(appDir, '_app/immutable/start.abc123.js'), ASSET);
  svc = await startTestService({ env: { FIRTH_APP_DIR: appDir } });
});
afterAll(async () => {
  await svc?.stop();
  await fs.rm(appDir, { recursive: true, force: true });
});

for (const route of ['/', '/upload', '/content/1', '/_app/immutable/start.abc123.js']) {
  it(`answers GET and HEAD alike on ${route}`, async () => {
    const get = await fetch(`${svc.apiUrl}${route}`);
    expect(get.status).toBe(200);
    const body = await get.text();
    expect(body).toBe(route.endsWith('.js') ? ASSET : INDEX);
    const head = await fetch(`${svc.apiUrl}${route}`, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(head.headers.get('content-type')).toBe(get.headers.get('content-type'));
    expect(await head.text()).toBe('');
  });
}

it('still answers 404 for a missing asset and for unknown API routes, on GET and HEAD', async () => {
  for (const method of ['GET', 'HEAD']) {
    expect((await fetch(`${svc.apiUrl}/_app/immutable/missing.js`, { method })).status).toBe(404);
    expect((await fetch(`${svc.apiUrl}/api/no-such-route`, { method })).status).toBe(404);
  }
});
