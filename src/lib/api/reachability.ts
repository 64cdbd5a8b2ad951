/**
 * Whether the service can be reached, as every API request finds out: a request that cannot reach it marks it
 * unreachable, and from then on a light probe (`GET /api/public/info`, with backoff, and at once when the
 * browser comes back online) watches for its return. Whatever failed meanwhile (the session, an estimate, an
 * upload's sync) registers with `onServiceBack` and tries again then, instead of keeping a stale error.
 */

const PROBE_URL = '/api/public/info';
const PROBE_MIN_MS = 1_000;
const PROBE_MAX_MS = 10_000;

let reachable = true;
let attempt = 0;
let timer: ReturnType<typeof setTimeout> | undefined;
let probing = false;
const listeners = new Set<() => void>();

/** Statuses a proxy in front of a stopped service answers with. */
export function isUnreachableStatus(status: number): boolean {
  return status === 0 || status === 502 || status === 504;
}

/** Whether the last request reached the service. */
export function serviceReachable(): boolean {
  return reachable;
}

/** Calls `listener` each time the service answers again after being unreachable; returns the unsubscribe. */
export function onServiceBack(listener: () => void): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

/** What a request found: the service answered with `status` (0: it could not be reached). */
export function reportReachability(status: number): void {
  if (isUnreachableStatus(status)) {
    if (!reachable) return;
    reachable = false;
    attempt = 0;
    globalThis.addEventListener?.('online', probeNow);
    schedule();
  } else if (!reachable) {
    reachable = true;
    clearTimeout(timer);
    timer = undefined;
    globalThis.removeEventListener?.('online', probeNow);
    for (const listener of [...listeners]) {
      try {
        listener();
      } catch {
        // One listener's failure is its own business.
      }
    }
  }
}

function schedule(): void {
  if (reachable || timer !== undefined) return;
  const delay = Math.min(PROBE_MAX_MS, PROBE_MIN_MS * 2 ** attempt);
  attempt++;
  timer = setTimeout(() => {
    timer = undefined;
    void probe();
  }, delay);
}

function probeNow(): void {
  clearTimeout(timer);
  timer = undefined;
  attempt = 0;
  void probe();
}

async function probe(): Promise<void> {
  if (reachable || probing) return;
  probing = true;
  let status: number;
  try {
    const response = await fetch(PROBE_URL, {
      headers: { accept: 'application/json' },
      cache: 'no-store',
      signal: AbortSignal.timeout(10_000)
    });
    await response.body?.cancel();
    status = response.status;
  } catch {
    status = 0;
  } finally {
    probing = false;
  }
  reportReachability(status);
  schedule();
}
