import { SvelteMap } from 'svelte/reactivity';
import { isApiError } from '$lib/api';
import { createDealsApi, ERR_FILECOIN_OFF, type DealSummary } from '$lib/api/deals';
import { session } from '$lib/session.svelte';

const dealsApi = createDealsApi({ getToken: () => session.token, onUnauthorized: () => session.expire() });

/**
 * How the Filecoin deals of a few contents stand ("4 of 6 active"), loaded in one request for a page of the
 * content list or the pinned uploads. A service without Filecoin leaves it empty (`off`); a failed load keeps
 * what was known.
 */
export class DealSummaries {
  readonly #byId = new SvelteMap<number, DealSummary>();
  #off = $state(false);

  /** The summary of content `id`, once loaded. */
  get(id: number): DealSummary | undefined {
    return this.#byId.get(id);
  }

  /** The service makes no Filecoin deals. */
  get off(): boolean {
    return this.#off;
  }

  async load(ids: number[], signal?: AbortSignal): Promise<void> {
    if (this.#off || ids.length === 0) return;
    try {
      const rows = await dealsApi.dealSummaries(ids, { signal });
      if (signal?.aborted) return;
      for (const row of rows) this.#byId.set(row.id, row.summary);
    } catch (err) {
      if (isApiError(err) && (err.status === 503 || err.reason === ERR_FILECOIN_OFF)) this.#off = true;
      // Anything else (unreachable, say): the figures stay as they were; the next load tries again.
    }
  }
}
