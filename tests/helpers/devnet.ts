// Shared set-up for tests that run the service on the in-process Filecoin devnet and talk to it
// over its API and the devnet's Lotus JSON-RPC.
import { expect } from 'vitest';

const MiB = 1024 * 1024;

/** Where a suite deliberately departs from the usual test devnet. */
export interface DevnetEnvOptions {
  /**
   * Throw the chain away at stop (FIRTH_DEVNET_EPHEMERAL: '1'). Off for a suite that restarts the
   * service on the same data dir and needs the chain to survive. @default true
   */
  ephemeral?: boolean;
  /** Give content from 1 MiB up a piece of its own (FIRTH_DEAL_MIN_BYTES), so tests stay small. @default true */
  smallDeals?: boolean;
}

/**
 * The service env for the in-process devnet with `providers` storage providers and fast (100 ms)
 * epochs, merged with `extra` (which wins).
 */
export function devnetEnv(
  providers: number,
  extra: Record<string, string> = {},
  opts: DevnetEnvOptions = {}
): Record<string, string> {
  return {
    FIRTH_DEVNET: 'on',
    FIRTH_DEVNET_PROVIDERS: String(providers),
    FIRTH_DEVNET_EPOCH_MS: '100',
    ...(opts.ephemeral !== false ? { FIRTH_DEVNET_EPHEMERAL: '1' } : {}),
    ...(opts.smallDeals !== false ? { FIRTH_DEAL_MIN_BYTES: String(MiB) } : {}),
    ...extra
  };
}

/** A fetch of the service API. */
export type ApiFetch = (path: string, init?: RequestInit) => Promise<Response>;

/**
 * A fetch of `${baseUrl}/api${path}` with a bearer token. Getters, because suites assign the
 * service and key in beforeAll (or restart the service) after building this.
 */
export function apiFetch(baseUrl: () => string, token: () => string): ApiFetch {
  return (path, init = {}) =>
    fetch(`${baseUrl()}/api${path}`, {
      ...init,
      headers: { authorization: `Bearer ${token()}`, ...init.headers }
    });
}

/** Uploads `bytes` as file `name` through /content/add, expecting 200. */
export async function uploadContent(
  api: ApiFetch,
  name: string,
  bytes: Uint8Array
): Promise<{ cid: string; estuaryId: number }> {
  const form = new FormData();
  form.append('data', new Blob([new Uint8Array(bytes)]), name);
  const res = await api('/content/add', { method: 'POST', body: form });
  expect(res.status).toBe(200);
  return (await res.json()) as { cid: string; estuaryId: number };
}

/** One Lotus JSON-RPC call (`Filecoin.${method}`) to `url`; throws with the error's message on an error. */
export async function lotusCall<T>(url: string, method: string, params: unknown[]): Promise<T> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: `Filecoin.${method}`, params })
  });
  const body = (await res.json()) as { result?: T; error?: { message: string } };
  if (body.error != null) throw new Error(body.error.message);
  return body.result as T;
}
