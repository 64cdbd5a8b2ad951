import { errorMessage } from '$lib/api';

/**
 * One user action against the service (submit a form, revoke a key): whether it is running, and its error in
 * words for an `aria-live` region. `run()` resolves to the result, or `undefined` when it failed.
 */
export class Task<A extends unknown[], R> {
  #pending = $state(false);
  #error = $state<string | null>(null);
  readonly #action: (...args: A) => Promise<R>;

  constructor(action: (...args: A) => Promise<R>) {
    this.#action = action;
  }

  get pending(): boolean {
    return this.#pending;
  }

  get error(): string | null {
    return this.#error;
  }

  async run(...args: A): Promise<R | undefined> {
    if (this.#pending) return undefined;
    this.#pending = true;
    this.#error = null;
    try {
      return await this.#action(...args);
    } catch (err) {
      this.#error = errorMessage(err);
      return undefined;
    } finally {
      this.#pending = false;
    }
  }

  clearError(): void {
    this.#error = null;
  }
}
