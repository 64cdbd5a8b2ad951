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
 * - Built and static files: cache first, from this build's cache or an older build's still kept (a page
 *   opened before an update keeps loading its own lazy chunks); on demand from the network otherwise.
 * - `/api/*`: never touched (the browser handles it as if there were no worker).
 * - Updates: a new build installs in the background and waits; on the next full navigation from the only
 *   open window it takes over. Older builds' caches are deleted once no page can still be running them.
 */
import { base, build, files, version } from '$service-worker';

const sw = globalThis as unknown as ServiceWorkerGlobalScope;

const CACHE_PREFIX = 'firth-shell-';
const CACHE = `${CACHE_PREFIX}${version}`;
/** The SPA's fallback page: the same index.html answers every client-side route. */
const SHELL = `${base}/`;
const PRECACHE = [...new Set([...build, ...files, SHELL])];
const ASSETS = new Set([...build, ...files]);
/** Message a page or an older worker sends to make a waiting worker take over. */
const SKIP_WAITING = 'firth:sw:skip-waiting';

sw.addEventListener('install', (event) => {
  event.waitUntil(
    (async () => {
      const cache = await caches.open(CACHE);
      // `reload` skips the HTTP cache so that a new build never precaches an older build's shell.
      await cache.addAll(PRECACHE.map((url) => new Request(url, { cache: 'reload' })));
    })()
  );
});

/**
 * Whether this worker took over from an older one at a navigation (`SKIP_WAITING`): the page being opened
 * then runs the older build, whose cache must stay until a later navigation. Otherwise a waiting worker
 * activates only once no page runs the older build.
 */
let handedOver = false;

sw.addEventListener('activate', (event) => {
  event.waitUntil(
    (async () => {
      if (!handedOver) await deleteOlderCaches();
      await sw.clients.claim();
    })()
  );
});

sw.addEventListener('message', (event) => {
  if ((event.data as { type?: unknown } | null)?.type !== SKIP_WAITING) return;
  handedOver = true;
  event.waitUntil(sw.skipWaiting());
});

sw.addEventListener('fetch', (event) => {
  const { request } = event;
  if (request.method !== 'GET' || request.headers.has('range')) return;
  const url = new URL(request.url);
  if (url.origin !== sw.location.origin) return;
  // The API and SvelteKit's version check always go to the network, uncached.
  if (url.pathname === `${base}/api` || url.pathname.startsWith(`${base}/api/`)) return;
  if (url.pathname === `${base}/_app/version.json`) return;

  if (request.mode === 'navigate') {
    event.respondWith(navigate(request));
  } else if (ASSETS.has(url.pathname) || url.pathname.startsWith(`${base}/_app/immutable/`)) {
    event.respondWith(cacheFirst(request, url.pathname));
  }
});

async function navigate(request: Request): Promise<Response> {
  await handOverToWaitingWorker();
  const shell = await cachedShell();
  if (shell !== undefined) return shell;
  return fetch(request);
}

/** A waiting (newer) worker takes over on a full navigation, unless another window still runs this build. */
async function handOverToWaitingWorker(): Promise<void> {
  const waiting = sw.registration.waiting;
  const windows = await sw.clients.matchAll({ type: 'window' });
  if (waiting === null) {
    // This build is the newest: after this navigation the only window runs it, so older caches can go.
    if (sw.registration.installing === null && windows.length <= 1) await deleteOlderCaches();
    return;
  }
  if (windows.length <= 1) waiting.postMessage({ type: SKIP_WAITING });
}

async function deleteOlderCaches(): Promise<void> {
  for (const key of await caches.keys()) {
    if (key.startsWith(CACHE_PREFIX) && key !== CACHE) await caches.delete(key);
  }
}

async function cachedShell(): Promise<Response | undefined> {
  const cache = await caches.open(CACHE);
  return cache.match(SHELL);
}

async function cacheFirst(request: Request, pathname: string): Promise<Response> {
  const cache = await caches.open(CACHE);
  // Hashed names never clash between builds: an older build's cache serves a page still running it.
  const cached = (await cache.match(pathname)) ?? (await caches.match(pathname));
  if (cached !== undefined) return cached;
  const response = await fetch(request);
  // Immutable chunks loaded on demand (the import worker's, say) join this build's cache.
  if (response.ok && response.type === 'basic') await cache.put(pathname, response.clone());
  return response;
}
