export { createApiClient } from './client';
export type { ApiClientInit, FirthApi, RequestOptions } from './client';
export { ApiError, ERR_BAD_RESPONSE, ERR_NETWORK, describeReason, errorMessage, isApiError } from './errors';
export { hashToken } from './token-hash';
export * from './types';
export { onServiceBack, reportReachability, serviceReachable } from './reachability';
