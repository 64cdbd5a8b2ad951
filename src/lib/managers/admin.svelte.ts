import type { AdminUser, CreateInviteRequest, FirthApi, Invite } from '$lib/api';
import { Loadable } from '$lib/utils/loadable.svelte';
import { Task } from '$lib/utils/task.svelte';

/** The admin page: invites (list and create) and users. */
export class AdminManager {
  readonly invites: Loadable<Invite[]>;
  readonly users: Loadable<AdminUser[]>;
  readonly creatingInvite: Task<[CreateInviteRequest], string>;
  #createdCode = $state<string | null>(null);
  readonly #api: FirthApi;

  constructor(api: FirthApi) {
    this.#api = api;
    this.invites = new Loadable((signal) => this.#api.listInvites({ signal }));
    this.users = new Loadable((signal) => this.#api.listUsers({ signal }));
    this.creatingInvite = new Task(async (request: CreateInviteRequest) => {
      const { code } = await this.#api.createInvite(request);
      const created = code || request.code;
      this.#createdCode = created;
      await this.invites.load();
      return created;
    });
  }

  /** The invite code created last in this visit. */
  get createdCode(): string | null {
    return this.#createdCode;
  }

  load(): Promise<void> {
    return Promise.all([this.invites.load(), this.users.load()]).then(() => undefined);
  }

  abort(): void {
    this.invites.abort();
    this.users.abort();
  }
}
