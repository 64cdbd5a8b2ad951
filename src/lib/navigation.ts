import type { RouteId } from '$app/types';

/** Routes that show nothing useful without a session; visiting one signed out leads to `/login`. */
const SESSION_ROUTES = ['/keys', '/admin', '/upload'] as const satisfies readonly RouteId[];

export type SessionRoute = (typeof SESSION_ROUTES)[number];

export function requiresSession(routeId: string | null): routeId is SessionRoute {
  return (SESSION_ROUTES as readonly string[]).includes(routeId ?? '');
}

/** Where to go after signing in: a `?next=` naming a known page, else home. Never another origin. */
export function nextRoute(next: string | null): SessionRoute | '/' {
  return requiresSession(next) ? next : '/';
}
