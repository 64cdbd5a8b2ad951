// The built app is named after its sources (SvelteKit's version, hence the service worker's cache), not the
// time of the build, and `npm start` (bin/build-app.js) rebuilds only when the sources changed: a restarted
// service keeps serving the files browsers have cached.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { appSourceHash, builtAppVersion } from '../../bin/app-sources.js';

const ROOT = path.resolve(import.meta.dirname, '../..');

function buildApp(): string {
  return execFileSync(process.execPath, [path.join(ROOT, 'bin/build-app.js')], {
    cwd: ROOT,
    encoding: 'utf8'
  });
}

describe('the app build', () => {
  it('hashes the same sources the same way, and another source another way', async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'firth-app-sources-'));
    try {
      for (const input of ['src', 'static', 'svelte.config.js', 'vite.config.ts', 'package.json'])
        await fs.cp(path.join(ROOT, input), path.join(dir, input), { recursive: true });
      const first = appSourceHash(dir);
      expect(appSourceHash(dir)).toBe(first);
      expect(first).toMatch(/^[0-9a-f]{16}$/);
      await fs.appendFile(path.join(dir, 'src/app.css'), '\n/* changed */\n');
      expect(appSourceHash(dir)).not.toBe(first);
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
  });

  it('names the build after its sources and does not rebuild unchanged sources', async () => {
    // Builds only if build/ is missing or stale (`npm test` builds first, so normally not).
    buildApp();
    expect(builtAppVersion()).toBe(appSourceHash());
    const index = path.join(ROOT, 'build/index.html');
    const before = (await fs.stat(index)).mtimeMs;
    const output = buildApp();
    expect(output).toContain('up to date');
    expect((await fs.stat(index)).mtimeMs).toBe(before);
    // The service worker's cache is named after the same version.
    expect(await fs.readFile(path.join(ROOT, 'build/service-worker.js'), 'utf8')).toContain(appSourceHash());
  });
});
