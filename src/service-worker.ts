/// <reference no-default-lib="true"/>
/// <reference lib="esnext" />
/// <reference lib="webworker" />
/// <reference types="@sveltejs/kit" />

/**
 * Firth's service worker: precaches the app shell (the SPA's index.html, every built chunk and the static
 * files) so the app opens with no network, and keeps API traffic out of every cache.
 *
 * - Install: one cache per build (`firth-shell-<version>`), filled with `build` + `files` + the shell.
 * - Navigations: the shell from this worker's own precache, online or not, so the page always runs the
 *   build whose chunks this worker holds (a network shell from a rebuilt service would name chunks that
 *   no cache has once the service is down). The network answers only if the precache lost the shell.
 * - Built and static files: cache first, from this build's cache (or another build's, while both exist);
 *   on demand from the network otherwise.
 * - `/api/*`: never touched (the browser handles it as if there were no worker).
 * - Updates: a new build installs in the background and takes over at once, but the older build's cache
 *   stays while a page may still run that build (its chunks are served from it, as above). Older caches go
 *   on a navigation from the only open window: that window is leaving its page for this build's shell, so
 *   no page is left that needs them. A page never runs against a cache that lacks its chunks.
 */
import { base, build, files, version } from '$service-worker';

const sw = globalThis as unknown as ServiceWorkerGlobalScope;

const CACHE_PREFIX = 'firth-shell-';
const CACHE = `${CACHE_PREFIX}${version}`;
/** The SPA's fallback page: the same index.html answers every client-side route. */
const SHELL = `${base}/`;
const PRECACHE = [...new Set([...build, ...files, SHELL])];
const ASSETS = new Set([...build, ...files]);

sw.addEventListener('install', (event) => {
  event.waitUntil(
    (async () => {
      const cache = await caches.open(CACHE);
      // `reload` skips the HTTP cache so that a new build never precaches an older build's shell.
      await cache.addAll(PRECACHE.map((url) => new Request(url, { cache: 'reload' })));
      await sw.skipWaiting();
    })()
  );
});

// Claiming keeps older pages working: their chunks come from their build's cache, which is not deleted here.
sw.addEventListener('activate', (event) => event.waitUntil(sw.clients.claim()));

sw.addEventListener('fetch', (event) => {
  const { request } = event;
  if (request.method !== 'GET' || request.headers.has('range')) return;
  const url = new URL(request.url);
  if (url.origin !== sw.location.origin) return;
  // The API and SvelteKit's version check always go to the network, uncached.
  if (url.pathname === `${base}/api` || url.pathname.startsWith(`${base}/api/`)) return;
  if (url.pathname === `${base}/_app/version.json`) return;

  if (request.mode === 'navigate') {
    event.respondWith(navigate(event));
  } else if (ASSETS.has(url.pathname) || url.pathname.startsWith(`${base}/_app/immutable/`)) {
    event.respondWith(cacheFirst(request, url.pathname));
  }
});

async function navigate(event: FetchEvent): Promise<Response> {
  const shell = await cachedShell();
  if (shell === undefined) return fetch(event.request);
  // Only the navigating window's own page can still run an older build: it is being replaced by this shell.
  event.waitUntil(
    (async () => {
      if ((await sw.clients.matchAll({ type: 'window' })).length <= 1) await deleteOlderCaches();
    })()
  );
  return shell;
}

async function deleteOlderCaches(): Promise<void> {
  for (const key of await caches.keys()) {
    if (key.startsWith(CACHE_PREFIX) && key !== CACHE) await caches.delete(key);
  }
}

// `caches.match` with a cache name, not `caches.open`: opening would make anew a cache that a newer worker
// deleted, and the newest cache must be the newest build's.
async function cachedShell(): Promise<Response | undefined> {
  return caches.match(SHELL, { cacheName: CACHE });
}

async function cacheFirst(request: Request, pathname: string): Promise<Response> {
  // Hashed names never clash between builds: another build's cache may serve it as well.
  const cached = (await caches.match(pathname, { cacheName: CACHE })) ?? (await caches.match(pathname));
  if (cached !== undefined) return cached;
  const response = await fetch(request);
  // Immutable chunks loaded on demand (the import worker's, say) join this build's cache, while it exists.
  if (response.ok && response.type === 'basic' && (await caches.has(CACHE))) {
    await (await caches.open(CACHE)).put(pathname, response.clone());
  }
  return response;
}
