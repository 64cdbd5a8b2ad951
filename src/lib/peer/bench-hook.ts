import type { UploadManager } from '$lib/managers/upload-manager.svelte';
import { createImporter } from './importer';

/** What `window.firthBench` holds while the page runs with `?bench`. */
export interface FirthBenchHook {
  /** The app's upload queue: `add()` imports in the worker, then pins with this peer as origin. */
  uploads: UploadManager;
  /** The app's importer, on its own worker (for imports that should not be synced). */
  createImporter: typeof createImporter;
}

/**
 * Bench-only: the upload page calls this when its URL has `?bench`, so `npm run bench -- browser`
 * (bench/browser.ts) can drive the app's own importer and upload queue on bytes generated in the page.
 * Without the flag it is never loaded and nothing is put on `window`.
 */
export function installBenchHook(uploads: UploadManager): void {
  (globalThis as { firthBench?: FirthBenchHook }).firthBench = { uploads, createImporter };
}
