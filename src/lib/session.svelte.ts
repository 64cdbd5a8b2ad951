import {
  createApiClient,
  errorMessage,
  hashToken,
  isApiError,
  onServiceBack,
  PERM_ADMIN,
  type FirthApi,
  type Viewer
} from '$lib/api';

/** localStorage key holding the bearer token. */
export const TOKEN_KEY = 'firth.token';
/** localStorage key holding the last viewer loaded with that token, for opening offline. */
export const VIEWER_KEY = 'firth.viewer';

/**
 * How long opening the app waits for `GET /api/viewer` before it opens as this device last knew the account:
 * a service that accepts connections but never answers (a hung process, a half-open link, a captive portal)
 * must not leave a blank page.
 */
export const VIEWER_TIMEOUT_MS = 8_000;

/** The viewer as last loaded, kept with the hash of the token it was loaded with. */
interface CachedViewer {
  tokenHash: string;
  viewer: Viewer;
}

export type SessionStatus = 'loading' | 'signed-in' | 'signed-out' | 'unavailable';

/** How the last session ended: the user signed out here, the service refused the token, or another tab. */
export type SessionEnd = 'signed-out' | 'expired' | 'elsewhere';

/** Minimal storage interface, so the session also runs where there is no localStorage. */
type TokenStorage = Pick<Storage, 'getItem' | 'setItem' | 'removeItem'>;

function browserStorage(): TokenStorage | undefined {
  try {
    return globalThis.localStorage ?? undefined;
  } catch {
    // Storage can be disabled by the browser (privacy settings); the session then lasts for the tab.
    return undefined;
  }
}

/**
 * Who is signed in: the token (kept in localStorage under `firth.token`), the viewer from `GET /api/viewer`,
 * and what they may do. One instance for the app: `session`.
 */
export class Session {
  #token = $state<string | null>(null);
  #tokenHash = $state<string | null>(null);
  #viewer = $state.raw<Viewer | null>(null);
  #status = $state<SessionStatus>('loading');
  #notice = $state<string | null>(null);
  #error = $state<string | null>(null);
  #ended = $state<SessionEnd | null>(null);
  #offline = $state(false);
  #init: Promise<void> | null = null;
  readonly #api: FirthApi;
  readonly #storage: () => TokenStorage | undefined;

  constructor(api: FirthApi, storage: () => TokenStorage | undefined = browserStorage) {
    this.#api = api;
    this.#storage = storage;
  }

  get token(): string | null {
    return this.#token;
  }

  /** The service's hash of the current token, to pick this session out of the key list. */
  get tokenHash(): string | null {
    return this.#tokenHash;
  }

  get viewer(): Viewer | null {
    return this.#viewer;
  }

  get status(): SessionStatus {
    return this.#status;
  }

  get signedIn(): boolean {
    return this.#status === 'signed-in';
  }

  get isAdmin(): boolean {
    return this.#viewer !== null && this.#viewer.perms >= PERM_ADMIN;
  }

  /** A message about how the last session ended ("Your session has ended…"), shown while signed out. */
  get notice(): string | null {
    return this.#notice;
  }

  /** How the last session ended, while signed out; null before any session ended. */
  get ended(): SessionEnd | null {
    return this.#ended;
  }

  /** Why the viewer could not be loaded while a token is held (service unreachable, …). */
  get error(): string | null {
    return this.#error;
  }

  /**
   * Signed in from what this device remembers (the viewer last loaded with this token), because the service
   * cannot be reached; the session is checked with the service again as soon as it answers.
   */
  get offline(): boolean {
    return this.#offline;
  }

  /** Reads the stored token and loads the viewer, once; later calls wait for the same work. */
  init(): Promise<void> {
    this.#init ??= this.#start();
    return this.#init;
  }

  async #start(): Promise<void> {
    if (typeof window !== 'undefined') {
      // Signing in or out in another tab changes this one too.
      window.addEventListener('storage', (event) => {
        if (event.key !== TOKEN_KEY || event.newValue === this.#token) return;
        if (event.newValue === null) this.#clear('elsewhere', 'You signed out in another tab.');
        else void this.#adopt(event.newValue);
      });
    }
    // Whatever failed while the service was unreachable is tried again when it answers.
    onServiceBack(() => void this.refresh());
    const token = this.#storage()?.getItem(TOKEN_KEY) ?? null;
    if (token === null) {
      this.#status = 'signed-out';
      return;
    }
    await this.#adopt(token);
  }

  /** Reloads the viewer with the current token (after an `unavailable` or offline start, say). */
  async refresh(): Promise<void> {
    if (this.#token !== null && this.#error !== null) await this.#adopt(this.#token);
  }

  /** Keeps a fresh token from `/api/login` or `/api/register` and loads the viewer; throws if that fails. */
  async signIn(token: string): Promise<Viewer> {
    this.#token = token;
    this.#notice = null;
    this.#ended = null;
    try {
      const [viewer, hash] = await Promise.all([this.#api.viewer(), hashToken(token)]);
      this.#storage()?.setItem(TOKEN_KEY, token);
      this.#set(viewer, hash);
      return viewer;
    } catch (err) {
      this.#clear('signed-out', null);
      throw err;
    }
  }

  /**
   * Signs out at once on this device, then asks the service to end the session so the token stops working
   * everywhere. If the service cannot be told, `notice` says so.
   */
  async signOut(): Promise<void> {
    const token = this.#token;
    const hash = this.#tokenHash;
    this.#clear('signed-out', null);
    if (token === null || hash === null) return;
    try {
      await this.#api.revokeApiKey(hash, { token });
    } catch (err) {
      // 401: the session had already ended, which is what was wanted.
      if (isApiError(err) && err.status === 401) return;
      if (this.#token === null) {
        this.#notice = `You are signed out on this device, but Firth could not end the session: ${errorMessage(err)}`;
      }
    }
  }

  /** Called by the API client when the service refuses the token (expired, revoked). */
  expire(): void {
    if (this.#token === null) return;
    this.#clear('expired', 'Your session has ended. Sign in again.');
  }

  async #adopt(token: string): Promise<void> {
    this.#token = token;
    try {
      const [viewer, hash] = await Promise.all([
        this.#api.viewer({ signal: AbortSignal.timeout(VIEWER_TIMEOUT_MS) }),
        hashToken(token)
      ]);
      if (this.#token !== token) return;
      this.#set(viewer, hash);
    } catch (err) {
      if (this.#token !== token) return;
      // A refused token has already been cleared by `expire()`; anything else keeps it for a retry.
      if (this.#status === 'signed-out') return;
      this.#error = errorMessage(err);
      // Unreachable: stay signed in as this device last knew it, so the queue and the pages work offline.
      const unreachable = isApiError(err) && (err.status === 0 || err.status >= 500);
      const cached = unreachable ? await this.#cachedViewer(token) : null;
      if (this.#token !== token) return;
      if (cached !== null) {
        this.#viewer = cached.viewer;
        this.#tokenHash = cached.tokenHash;
        this.#offline = true;
        this.#status = 'signed-in';
      } else if (this.#status !== 'signed-in') {
        this.#status = 'unavailable';
      }
    }
  }

  async #cachedViewer(token: string): Promise<CachedViewer | null> {
    try {
      const raw = this.#storage()?.getItem(VIEWER_KEY);
      if (raw == null) return null;
      const cached = JSON.parse(raw) as CachedViewer;
      const hash = await hashToken(token);
      return cached.tokenHash === hash && typeof cached.viewer?.id === 'number' ? cached : null;
    } catch {
      return null;
    }
  }

  #set(viewer: Viewer, tokenHash: string | null): void {
    if (tokenHash !== null) {
      const cached: CachedViewer = { tokenHash, viewer };
      try {
        this.#storage()?.setItem(VIEWER_KEY, JSON.stringify(cached));
      } catch {
        // Storage full or disabled: only opening offline loses the account.
      }
    }
    this.#offline = false;
    this.#viewer = viewer;
    this.#tokenHash = tokenHash;
    this.#ended = null;
    this.#status = 'signed-in';
    this.#error = null;
  }

  #clear(ended: SessionEnd, notice: string | null): void {
    this.#storage()?.removeItem(TOKEN_KEY);
    this.#storage()?.removeItem(VIEWER_KEY);
    this.#offline = false;
    this.#token = null;
    this.#tokenHash = null;
    this.#viewer = null;
    this.#status = 'signed-out';
    this.#error = null;
    this.#ended = ended;
    this.#notice = notice;
  }
}

export const api: FirthApi = createApiClient({
  getToken: () => session.token,
  onUnauthorized: () => session.expire()
});

export const session = new Session(api);
