/**
 * The service answers errors with Estuary's envelope: `{"error":{"code":401,"reason":"ERR_…","details":"…"}}`.
 * `ApiError` carries those fields; `errorMessage()` turns any thrown value into words for the page.
 */

/** Reasons the client itself reports, besides the service's own `ERR_…` catalogue. */
export const ERR_NETWORK = 'ERR_NETWORK';
export const ERR_BAD_RESPONSE = 'ERR_BAD_RESPONSE';

export class ApiError extends Error {
  override name = 'ApiError';
  /** HTTP status; 0 when the service could not be reached. */
  readonly status: number;
  /** Machine-readable reason, e.g. `ERR_INVITE_ALREADY_USED`. */
  readonly reason: string;
  /** Human-readable explanation from the service (may be empty). */
  readonly details: string;

  constructor(status: number, reason: string, details = '', options?: ErrorOptions) {
    super(details || describeReason(reason), options);
    this.status = status;
    this.reason = reason;
    this.details = details;
  }
}

export function isApiError(err: unknown): err is ApiError {
  return err instanceof ApiError;
}

const KNOWN_REASONS: Record<string, string> = {
  ERR_AUTH_MISSING: 'You need to sign in.',
  ERR_INVALID_TOKEN: 'Your session or API key is not valid.',
  ERR_TOKEN_EXPIRED: 'Your session or API key has expired.',
  ERR_NOT_AUTHORIZED: 'You are not allowed to do that.',
  ERR_INVALID_INVITE: 'That invite code is not valid.',
  ERR_INVITE_ALREADY_USED: 'That invite code has already been used.',
  ERR_USERNAME_TAKEN: 'That username is taken.',
  ERR_INVALID_INPUT: 'The service did not accept that input.',
  [ERR_NETWORK]: 'Could not reach the Firth service.',
  [ERR_BAD_RESPONSE]: 'The Firth service sent an answer this page cannot read.'
};

/** `ERR_INVITE_ALREADY_USED` → "That invite code has already been used." (or "Invite already used"). */
export function describeReason(reason: string): string {
  const known = KNOWN_REASONS[reason];
  if (known !== undefined) return known;
  const words = reason.replace(/^ERR_/, '').toLowerCase().replace(/_+/g, ' ').trim();
  return words ? words.charAt(0).toUpperCase() + words.slice(1) + '.' : 'Something went wrong.';
}

/** Words to show for anything thrown: the service's details, else its reason, else the error's message. */
export function errorMessage(err: unknown): string {
  if (err instanceof ApiError) return err.details ? sentence(err.details) : describeReason(err.reason);
  if (err instanceof Error) return sentence(err.message || err.name);
  return sentence(String(err));
}

/** "no such invite code" → "No such invite code." */
function sentence(text: string): string {
  const trimmed = text.trim();
  if (trimmed === '') return 'Something went wrong.';
  const capitalised = trimmed.charAt(0).toUpperCase() + trimmed.slice(1);
  return /[.!?…]$/.test(capitalised) ? capitalised : `${capitalised}.`;
}

/** Reads Estuary's error envelope; falls back to the status line when the body is something else. */
export function toApiError(response: Response, text: string): ApiError {
  try {
    const parsed: unknown = JSON.parse(text);
    if (typeof parsed === 'object' && parsed !== null && 'error' in parsed) {
      const error = (parsed as { error: unknown }).error;
      if (typeof error === 'object' && error !== null) {
        const { code, reason, details } = error as { code?: unknown; reason?: unknown; details?: unknown };
        return new ApiError(
          typeof code === 'number' ? code : response.status,
          typeof reason === 'string' && reason ? reason : `ERR_HTTP_${response.status}`,
          typeof details === 'string' ? details : ''
        );
      }
      if (typeof error === 'string')
        return new ApiError(response.status, `ERR_HTTP_${response.status}`, error);
    }
  } catch {
    // Not JSON: a proxy's error page, say. Described from the status line below.
  }
  const status = `${response.status} ${response.statusText}`.trim();
  return new ApiError(response.status, `ERR_HTTP_${response.status}`, `The service answered ${status}.`);
}
