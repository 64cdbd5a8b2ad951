import { sveltekit } from '@sveltejs/kit/vite';
import { defineConfig } from 'vite';

export default defineConfig({
  plugins: [sveltekit()],
  // The import worker (src/lib/peer/import.worker.ts) is an ES module worker: its dependencies split into chunks.
  worker: { format: 'es' },
  server: {
    // `npm run dev:app` proxies the API to a service started with `npm run serve`.
    proxy: { '/api': 'http://127.0.0.1:3000' }
  }
});
