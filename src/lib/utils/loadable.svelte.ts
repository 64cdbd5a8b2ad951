import { errorMessage } from '$lib/api';

/**
 * Data fetched from the service for a page: its value, whether it is loading, and the error in words.
 * A new `load()` aborts the one in flight.
 */
export class Loadable<T> {
  #value = $state.raw<T | undefined>(undefined);
  #loading = $state(false);
  #error = $state<string | null>(null);
  #controller: AbortController | null = null;
  readonly #loader: (signal: AbortSignal) => Promise<T>;

  constructor(loader: (signal: AbortSignal) => Promise<T>) {
    this.#loader = loader;
  }

  get value(): T | undefined {
    return this.#value;
  }

  get loading(): boolean {
    return this.#loading;
  }

  get error(): string | null {
    return this.#error;
  }

  /** True once a value has arrived. */
  get loaded(): boolean {
    return this.#value !== undefined;
  }

  async load(): Promise<void> {
    this.#controller?.abort();
    const controller = new AbortController();
    this.#controller = controller;
    this.#loading = true;
    this.#error = null;
    try {
      const value = await this.#loader(controller.signal);
      if (controller.signal.aborted) return;
      this.#value = value;
    } catch (err) {
      if (controller.signal.aborted) return;
      this.#error = errorMessage(err);
    } finally {
      if (this.#controller === controller) {
        this.#controller = null;
        this.#loading = false;
      }
    }
  }

  /** Stops a load in flight (when the page goes away). */
  abort(): void {
    this.#controller?.abort();
    this.#controller = null;
    this.#loading = false;
  }
}
