import { ApiError, ERR_BAD_RESPONSE, ERR_NETWORK, reportReachability } from '$lib/api';

/** The service's answer about one pin (IPFS Pinning Service API `PinStatus`). */
export interface PinStatus {
  requestid: string;
  status: 'queued' | 'pinning' | 'pinned' | 'failed';
  created: string;
  pin: { cid: string; name?: string; origins: string[] };
  delegates: string[];
  /** `dag_size`: bytes the service holds so far; `blocks`: blocks it holds; `status_details` on failure. */
  info: Record<string, string>;
}

export interface PinningClient {
  add(
    pin: { cid: string; name?: string; origins: string[] },
    options?: { signal?: AbortSignal }
  ): Promise<PinStatus>;
  get(requestid: string, options?: { signal?: AbortSignal }): Promise<PinStatus>;
  /** Lists pins of up to 10 CIDs in any status (`GET /pins?cid=…&status=…`). */
  list(cids: string[], options?: { signal?: AbortSignal }): Promise<PinStatus[]>;
  /** Replaces a pin (`POST /pins/:requestid`): a new request for the same content, with fresh origins. */
  replace(
    requestid: string,
    pin: { cid: string; name?: string; origins: string[] },
    options?: { signal?: AbortSignal }
  ): Promise<PinStatus>;
}

export interface PinningClientInit {
  getToken(): string | null;
  /** Called when the service refuses the token. */
  onUnauthorized?(): void;
  /** @default '/api/pinning' */
  baseUrl?: string;
}

/**
 * The Pinning Service API as the page uses it. Errors come in the spec's own shape
 * (`{"error":{"reason","details"}}`) and are thrown as `ApiError` so the page shows them in words.
 */
export function createPinningClient(init: PinningClientInit): PinningClient {
  const base = init.baseUrl ?? '/api/pinning';

  async function call<T = PinStatus>(
    method: 'GET' | 'POST',
    path: string,
    body: unknown,
    signal?: AbortSignal
  ): Promise<T> {
    const headers = new Headers({ accept: 'application/json' });
    const token = init.getToken();
    if (token) headers.set('authorization', `Bearer ${token}`);
    if (body !== undefined) headers.set('content-type', 'application/json');
    let response: Response;
    try {
      response = await fetch(base + path, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        signal
      });
    } catch (err) {
      if (signal?.aborted) throw err;
      reportReachability(0);
      throw new ApiError(0, ERR_NETWORK, '', { cause: err });
    }
    reportReachability(response.status);
    const text = await response.text();
    let parsed: unknown;
    try {
      parsed = text === '' ? undefined : JSON.parse(text);
    } catch (err) {
      throw new ApiError(response.status, ERR_BAD_RESPONSE, '', { cause: err });
    }
    if (!response.ok) {
      if (response.status === 401) init.onUnauthorized?.();
      const error = (parsed as { error?: { reason?: unknown; details?: unknown } } | undefined)?.error;
      const reason = typeof error?.reason === 'string' ? error.reason : `ERR_HTTP_${response.status}`;
      const details = typeof error?.details === 'string' ? error.details : '';
      throw new ApiError(response.status, reason, details);
    }
    return parsed as T;
  }

  return {
    add: (pin, options = {}) => call('POST', '/pins', pin, options.signal),
    get: (requestid, options = {}) =>
      call('GET', `/pins/${encodeURIComponent(requestid)}`, undefined, options.signal),
    list: async (cids, options = {}) => {
      const query = new URLSearchParams({
        cid: cids.join(','),
        status: 'queued,pinning,pinned,failed',
        limit: '1000'
      });
      const page = await call<{ results: PinStatus[] }>('GET', `/pins?${query}`, undefined, options.signal);
      return page.results;
    },
    replace: (requestid, pin, options = {}) =>
      call('POST', `/pins/${encodeURIComponent(requestid)}`, pin, options.signal)
  };
}
