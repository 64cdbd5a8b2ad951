import { ApiError, ERR_BAD_RESPONSE, ERR_NETWORK, toApiError } from './errors';
import { reportReachability } from './reachability';

/** What the app's small API clients (content, deals, stats) are built from. */
export interface JsonClientInit {
  /** Where the API lives. @default '/api' */
  baseUrl?: string;
  getToken?: () => string | null | undefined;
  /** Called when the current token is refused with 401. */
  onUnauthorized?: () => void;
  /** @default globalThis.fetch */
  fetch?: typeof globalThis.fetch;
}

export interface JsonRequestOptions {
  signal?: AbortSignal;
  /** Sent as JSON. */
  body?: unknown;
  /** Query parameters; null and undefined values are left out. */
  query?: object;
}

export type JsonRequest = <T>(
  method: 'GET' | 'POST' | 'PUT' | 'DELETE',
  path: string,
  options?: JsonRequestOptions
) => Promise<T>;

/**
 * One JSON request against the API with the current bearer token: an empty body resolves to
 * undefined; a refusal throws `ApiError` in words (and reports a 401 of the current token); an
 * unreachable service throws `ApiError` with `ERR_NETWORK`.
 */
export function createJsonRequest(init: JsonClientInit): JsonRequest {
  const base = (init.baseUrl ?? '/api').replace(/\/+$/, '');
  const doFetch = init.fetch ?? ((input, requestInit) => globalThis.fetch(input, requestInit));

  return async function request<T>(
    method: 'GET' | 'POST' | 'PUT' | 'DELETE',
    path: string,
    options: JsonRequestOptions = {}
  ): Promise<T> {
    const headers = new Headers({ accept: 'application/json' });
    const token = init.getToken?.();
    if (token) headers.set('authorization', `Bearer ${token}`);
    let body: string | undefined;
    if (options.body !== undefined) {
      headers.set('content-type', 'application/json');
      body = JSON.stringify(options.body);
    }
    const params = new URLSearchParams();
    for (const [k, v] of Object.entries(options.query ?? {})) if (v != null) params.set(k, String(v));
    const qs = params.size > 0 ? `?${params}` : '';
    let response: Response;
    try {
      response = await doFetch(base + path + qs, { method, headers, body, signal: options.signal });
    } catch (err) {
      if (options.signal?.aborted) throw err;
      reportReachability(0);
      throw new ApiError(0, ERR_NETWORK, '', { cause: err });
    }
    reportReachability(response.status);
    const text = await response.text();
    if (!response.ok) {
      if (response.status === 401 && token && token === init.getToken?.()) init.onUnauthorized?.();
      throw toApiError(response, text);
    }
    if (text.trim() === '') return undefined as T;
    try {
      return JSON.parse(text) as T;
    } catch (err) {
      throw new ApiError(response.status, ERR_BAD_RESPONSE, '', { cause: err });
    }
  };
}
