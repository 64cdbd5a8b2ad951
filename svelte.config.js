import adapter from '@sveltejs/adapter-static';
import { vitePreprocess } from '@sveltejs/vite-plugin-svelte';
import { appSourceHash } from './bin/app-sources.js';

/** @type {import('@sveltejs/kit').Config} */
const config = {
  preprocess: vitePreprocess(),
  kit: {
    // A single-page app: the service serves build/ and falls back to index.html.
    adapter: adapter({ pages: 'build', assets: 'build', fallback: 'index.html', strict: true }),
    files: { lib: 'src/lib', routes: 'src/routes' },
    // Named after its sources, not the time of the build: the same sources build the same files, so a
    // restarted service keeps serving what browsers' service workers have cached (bin/app-sources.js).
    version: { name: appSourceHash() },
    // The app's type check covers the app; the service and its tests have tsconfig.server.json.
    typescript: {
      config: (c) => ({ ...c, include: c.include.filter((p) => !p.startsWith('../test')) })
    }
  }
};

export default config;
