import { ApiError, ERR_BAD_RESPONSE, ERR_NETWORK, toApiError } from './errors';
import { reportReachability } from './reachability';
import type {
  AdminUser,
  ApiKey,
  ContentItem,
  CreateApiKeyRequest,
  CreateInviteRequest,
  Invite,
  LoginRequest,
  RegisterRequest,
  TokenResponse,
  Viewer
} from './types';

export interface RequestOptions {
  signal?: AbortSignal;
  /** Send this bearer token instead of the current one (to end a session that was just signed out). */
  token?: string;
}

export interface ApiClientInit {
  /**
   * Where the API lives; paths such as `/viewer` are appended.
   *
   * @default '/api'
   */
  baseUrl?: string;
  /** The bearer token to send, read at each request. */
  getToken?: () => string | null | undefined;
  /** Called when a request carrying the current token is refused with 401 (expired or revoked session). */
  onUnauthorized?: (err: ApiError) => void;
  /** @default globalThis.fetch */
  fetch?: typeof globalThis.fetch;
}

/** The service's JSON API, typed. Every method throws `ApiError` when the service refuses or is unreachable. */
export interface FirthApi {
  login(body: LoginRequest, options?: RequestOptions): Promise<TokenResponse>;
  register(body: RegisterRequest, options?: RequestOptions): Promise<TokenResponse>;
  viewer(options?: RequestOptions): Promise<Viewer>;
  listContent(options?: RequestOptions): Promise<ContentItem[]>;
  listApiKeys(options?: RequestOptions): Promise<ApiKey[]>;
  createApiKey(request: CreateApiKeyRequest, options?: RequestOptions): Promise<ApiKey>;
  revokeApiKey(tokenHash: string, options?: RequestOptions): Promise<void>;
  listInvites(options?: RequestOptions): Promise<Invite[]>;
  createInvite(request: CreateInviteRequest, options?: RequestOptions): Promise<{ code: string }>;
  listUsers(options?: RequestOptions): Promise<AdminUser[]>;
}

type Method = 'GET' | 'POST' | 'DELETE';

interface Call extends RequestOptions {
  query?: Record<string, string>;
  body?: unknown;
  /** Send the bearer token. @default true */
  auth?: boolean;
}

class ApiClient implements FirthApi {
  readonly #baseUrl: string;
  readonly #getToken: () => string | null | undefined;
  readonly #onUnauthorized: ((err: ApiError) => void) | undefined;
  readonly #fetch: typeof globalThis.fetch;

  constructor(init: ApiClientInit) {
    this.#baseUrl = (init.baseUrl ?? '/api').replace(/\/+$/, '');
    this.#getToken = init.getToken ?? (() => null);
    this.#onUnauthorized = init.onUnauthorized;
    this.#fetch = init.fetch ?? ((input, requestInit) => globalThis.fetch(input, requestInit));
  }

  login(body: LoginRequest, options?: RequestOptions): Promise<TokenResponse> {
    return this.#request('POST', '/login', { ...options, body, auth: false });
  }

  register(body: RegisterRequest, options?: RequestOptions): Promise<TokenResponse> {
    return this.#request('POST', '/register', { ...options, body, auth: false });
  }

  viewer(options?: RequestOptions): Promise<Viewer> {
    return this.#request('GET', '/viewer', { ...options });
  }

  listContent(options?: RequestOptions): Promise<ContentItem[]> {
    return this.#request<ContentItem[] | null>('GET', '/content/list', { ...options }).then((l) => l ?? []);
  }

  listApiKeys(options?: RequestOptions): Promise<ApiKey[]> {
    return this.#request<ApiKey[] | null>('GET', '/user/api-keys', { ...options }).then((l) => l ?? []);
  }

  createApiKey(request: CreateApiKeyRequest, options?: RequestOptions): Promise<ApiKey> {
    const query = { label: request.label, expiry: request.expiry, perms: request.perms };
    return this.#request('POST', '/user/api-keys', { ...options, query });
  }

  async revokeApiKey(tokenHash: string, options?: RequestOptions): Promise<void> {
    await this.#request('DELETE', `/user/api-keys/${encodeURIComponent(tokenHash)}`, { ...options });
  }

  listInvites(options?: RequestOptions): Promise<Invite[]> {
    return this.#request<Invite[] | null>('GET', '/admin/invites', { ...options }).then((l) => l ?? []);
  }

  createInvite(request: CreateInviteRequest, options?: RequestOptions): Promise<{ code: string }> {
    return this.#request('POST', `/admin/invite/${encodeURIComponent(request.code)}`, {
      ...options,
      body: { admin: request.admin }
    });
  }

  listUsers(options?: RequestOptions): Promise<AdminUser[]> {
    return this.#request<AdminUser[] | null>('GET', '/admin/users', { ...options }).then((l) => l ?? []);
  }

  async #request<T>(method: Method, path: string, call: Call): Promise<T> {
    let url = this.#baseUrl + path;
    if (call.query !== undefined) url += '?' + new URLSearchParams(call.query).toString();

    const headers = new Headers({ accept: 'application/json' });
    const token = call.auth === false ? null : (call.token ?? this.#getToken());
    if (token) headers.set('authorization', `Bearer ${token}`);
    let body: string | undefined;
    if (call.body !== undefined) {
      headers.set('content-type', 'application/json');
      body = JSON.stringify(call.body);
    }

    let response: Response;
    try {
      response = await this.#fetch(url, { method, headers, body, signal: call.signal });
    } catch (err) {
      // An abort is the caller's decision, not a failure to report; a timeout is the service not answering.
      if (call.signal?.aborted && !isTimeout(call.signal.reason)) throw err;
      reportReachability(0);
      throw new ApiError(0, ERR_NETWORK, '', { cause: err });
    }
    reportReachability(response.status);

    const text = await response.text();
    if (!response.ok) {
      const err = toApiError(response, text);
      // Only the token in use counts: a late answer for an older token must not end a newer session.
      if (response.status === 401 && token && token === this.#getToken()) this.#onUnauthorized?.(err);
      throw err;
    }
    if (text.trim() === '') return undefined as T;
    try {
      return JSON.parse(text) as T;
    } catch (err) {
      throw new ApiError(response.status, ERR_BAD_RESPONSE, '', { cause: err });
    }
  }
}

function isTimeout(reason: unknown): boolean {
  return reason instanceof DOMException && reason.name === 'TimeoutError';
}

export function createApiClient(init: ApiClientInit = {}): FirthApi {
  return new ApiClient(init);
}
