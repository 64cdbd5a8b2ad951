/**
 * Domain errors. Each has a `name` and an Estuary-style `reason` code; the HTTP layer maps names to
 * status codes in one place (gateway/api/errors.ts).
 */
export class FirthError extends Error {
  readonly reason: string;
  constructor(reason: string, message: string, options?: ErrorOptions) {
    super(message, options);
    this.reason = reason;
  }
}

/** Input that can never succeed as sent (400). */
export class InvalidInputError extends FirthError {
  override name = 'InvalidInputError';
}
/** No, malformed, expired or revoked credentials (401). */
export class UnauthorizedError extends FirthError {
  override name = 'UnauthorizedError';
}
/** Valid credentials without the right to do this (403). */
export class ForbiddenError extends FirthError {
  override name = 'ForbiddenError';
}
/** Nothing here, or not yours (404): never reveals another user's data. */
export class NotFoundError extends FirthError {
  override name = 'NotFoundError';
}
/** Conflicts with what exists (409). */
export class ConflictError extends FirthError {
  override name = 'ConflictError';
}
/** A service this needs (the chain, a provider) could not be reached or asked (503). */
export class UnavailableError extends FirthError {
  override name = 'UnavailableError';
}
/** Body larger than allowed (413). */
export class TooLargeError extends FirthError {
  override name = 'TooLargeError';
}
/** A body of a type this route does not take (415). */
export class UnsupportedMediaTypeError extends FirthError {
  override name = 'UnsupportedMediaTypeError';
}

/** A port the service was told to listen on is taken; `setting` is the FIRTH_* variable to change. */
export class PortInUseError extends FirthError {
  override name = 'PortInUseError';
  readonly setting: string;
  constructor(setting: string, what: string, port: number, host: string, options?: ErrorOptions) {
    super(
      'ERR_PORT_IN_USE',
      `${what} cannot listen on ${host}:${port}: the port is already in use (another Firth running?). ` +
        `Stop what holds it or choose another port with ${setting}=<port> (0 picks a free one).`,
      options
    );
    this.setting = setting;
  }
}

/** True for a listen failure because the address is taken (Node's error, or libp2p's wrapping of it). */
export function isAddressInUse(err: unknown, depth = 0): boolean {
  if (err == null || typeof err !== 'object' || depth > 5) return false;
  const e = err as { code?: unknown; message?: unknown; cause?: unknown; errors?: unknown };
  if (e.code === 'EADDRINUSE' || /EADDRINUSE|address already in use/i.test(String(e.message))) return true;
  const nested = Array.isArray(e.errors) ? e.errors : [];
  return isAddressInUse(e.cause, depth + 1) || nested.some((n) => isAddressInUse(n, depth + 1));
}
