import type { ApiKey, CreateApiKeyRequest, FirthApi } from '$lib/api';
import { Loadable } from '$lib/utils/loadable.svelte';
import { Task } from '$lib/utils/task.svelte';

/**
 * The API keys page: the user's keys and sessions, creating a key (whose token is shown once) and revoking.
 * Made per page visit, so a new token is forgotten when the user leaves the page.
 */
export class ApiKeysManager {
  readonly keys: Loadable<ApiKey[]>;
  readonly creating: Task<[CreateApiKeyRequest], ApiKey>;
  readonly revoking: Task<[ApiKey], void>;
  #created = $state.raw<ApiKey | null>(null);
  readonly #api: FirthApi;

  constructor(api: FirthApi) {
    this.#api = api;
    this.keys = new Loadable((signal) => this.#api.listApiKeys({ signal }));
    this.creating = new Task(async (request: CreateApiKeyRequest) => {
      const key = await this.#api.createApiKey(request);
      this.#created = key;
      await this.keys.load();
      return key;
    });
    this.revoking = new Task(async (key: ApiKey) => {
      await this.#api.revokeApiKey(key.tokenHash);
      if (this.#created?.tokenHash === key.tokenHash) this.#created = null;
      await this.keys.load();
    });
  }

  /** The key just created, with its token: shown once, never stored. */
  get created(): ApiKey | null {
    return this.#created;
  }

  dismissCreated(): void {
    this.#created = null;
  }
}
