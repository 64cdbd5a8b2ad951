import adapter from '@sveltejs/adapter-static';
import { vitePreprocess } from '@sveltejs/vite-plugin-svelte';

/** @type {import('@sveltejs/kit').Config} */
const config = {
  preprocess: vitePreprocess(),
  kit: {
    // A single-page app: the service serves build/ and falls back to index.html.
    adapter: adapter({ pages: 'build', assets: 'build', fallback: 'index.html', strict: true }),
    files: { lib: 'src/lib', routes: 'src/routes' },
    // The app's type check covers the app; the service and its tests have tsconfig.server.json.
    typescript: {
      config: (c) => ({ ...c, include: c.include.filter((p) => !p.startsWith('../test')) })
    }
  }
};

export default config;
