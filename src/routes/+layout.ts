import { redirect } from '@sveltejs/kit';
import { resolve } from '$app/paths';
import { requiresSession } from '$lib/navigation';
import { session } from '$lib/session.svelte';
import type { LayoutLoad } from './$types';

// A pure single-page app: the service serves build/ with index.html as the fallback.
export const ssr = false;
export const prerender = false;

export const load: LayoutLoad = async ({ route }) => {
  await session.init();
  // With a token but an unreachable service ('unavailable'), stay: the page shows the error and a retry.
  if (session.status === 'signed-out' && requiresSession(route.id)) {
    redirect(307, resolve(`/login?next=${route.id}`));
  }
};
