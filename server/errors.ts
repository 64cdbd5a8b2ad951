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
