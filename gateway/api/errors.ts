import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { FirthError } from '../../server/errors.ts';

/** The one place domain errors become HTTP statuses. */
const STATUS_BY_NAME: Record<string, number> = {
  InvalidInputError: 400,
  BlockHashMismatchError: 400,
  UnauthorizedError: 401,
  ForbiddenError: 403,
  NotFoundError: 404,
  ConflictError: 409,
  TooLargeError: 413,
  UnsupportedMediaTypeError: 415,
  UnavailableError: 503
};

/** Reasons for errors Fastify and its plugins raise before our handlers run. */
const REASON_BY_STATUS: Record<number, string> = {
  400: 'ERR_INVALID_INPUT',
  404: 'ERR_NOT_FOUND',
  411: 'ERR_CONTENT_LENGTH_REQUIRED',
  413: 'ERR_CONTENT_SIZE_OVER_LIMIT',
  415: 'ERR_UNSUPPORTED_CONTENT_TYPE',
  429: 'ERR_TOO_MANY_REQUESTS'
};

export interface ErrorBody {
  error: { code?: number; reason: string; details: string };
}

export function toErrorBody(err: unknown, pinningApi: boolean): { status: number; body: ErrorBody } {
  let status = 500;
  let reason = 'ERR_INTERNAL_SERVER';
  let details = 'internal error';
  if (err instanceof FirthError) {
    status = STATUS_BY_NAME[err.name] ?? 500;
    reason = err.reason;
    details = err.message;
  } else {
    const fe = err as FastifyError & { part?: unknown };
    const code = fe.statusCode ?? 500;
    if (code >= 400 && code < 500) {
      status = code;
      reason = REASON_BY_STATUS[code] ?? 'ERR_INVALID_INPUT';
      details = fe.message;
    } else if (fe.code === 'FST_REQ_FILE_TOO_LARGE') {
      status = 413;
      reason = 'ERR_CONTENT_SIZE_OVER_LIMIT';
      details = fe.message;
    }
  }
  // The Pinning Service API's Failure has no `code` and uses its own reasons.
  if (pinningApi) {
    const pinReason = {
      400: 'BAD_REQUEST',
      401: 'UNAUTHORIZED',
      403: 'FORBIDDEN',
      404: 'NOT_FOUND',
      500: 'INTERNAL_SERVER_ERROR'
    }[status];
    return { status, body: { error: { reason: pinReason ?? reason, details } } };
  }
  return { status, body: { error: { code: status, reason, details } } };
}

export function errorHandler(err: unknown, req: FastifyRequest, reply: FastifyReply): void {
  const { status, body } = toErrorBody(err, req.url.startsWith('/api/pinning'));
  if (status >= 500) req.log.error({ err }, 'request failed');
  else req.log.info({ status, reason: body.error.reason }, body.error.details);
  // Refused before the body was read (e.g. 413): close the connection rather than read the rest.
  if (!req.raw.complete) void reply.header('connection', 'close');
  void reply.status(status).send(body);
}
