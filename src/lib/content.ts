import { createContentApi, type PublicInfo } from '$lib/api/content';
import { session } from '$lib/session.svelte';

/** The content routes, with the session's token (a refused token ends the session, as with `api`). */
export const contentApi = createContentApi({
  getToken: () => session.token,
  onUnauthorized: () => session.expire()
});

let info: Promise<PublicInfo> | null = null;

/** `GET /api/public/info`, fetched once per page load (a failure is retried on the next call). */
export function publicInfo(): Promise<PublicInfo> {
  info ??= contentApi.publicInfo().catch((err: unknown) => {
    info = null;
    throw err;
  });
  return info;
}
