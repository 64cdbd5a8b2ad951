import { createJsonRequest, type JsonClientInit } from './json-request';
import type { ContentItem } from './types';

/** One row of `GET /api/content/stats` (Estuary's paged content list). */
export interface ContentStat extends ContentItem {
  bwUsed?: number;
  totalRequests?: number;
  offloaded?: boolean;
  aggregatedFiles?: number;
  /** 'deals failing' when the service has stopped making Filecoin deals for it; '' otherwise. */
  dealStatus?: string;
}

/** `GET /api/content/:id`: Estuary's content JSON plus the pin's `requestId` (the Pinning API handle). */
export interface ContentDetail extends ContentItem {
  updatedAt?: string;
  userId?: number;
  dagSize?: number;
  replication?: number;
  pinning?: boolean;
  failed?: boolean;
  dealStatus?: string;
  /** Its blocks were dropped here (Filecoin deals hold it); the gateway retrieves it when read. */
  offloaded?: boolean;
  requestId: string;
}

/** A Filecoin deal as Estuary's `/content/status/:id` lists it; every field may be missing. */
export interface ContentDeal {
  deal?: {
    ID?: number;
    id?: number;
    miner?: string;
    propCid?: string;
    dealUuid?: string;
    dealId?: number;
    failed?: boolean;
    slashed?: boolean;
    verified?: boolean;
    onChainAt?: string;
    sealedAt?: string;
    transferFinished?: string;
  };
  transfer?: { statusMessage?: string } | null;
  onChainState?: { sectorStartEpoch?: number; slashEpoch?: number } | null;
}

export interface ContentStatus {
  content: ContentDetail;
  deals: ContentDeal[] | null;
  failuresCount: number;
}

export interface UserStats {
  totalSize: number;
  numPins: number;
}

export interface PublicInfo {
  /** The public gateway's origin, e.g. `http://localhost:8080`. */
  gatewayUrl: string;
}

export type ContentApiInit = JsonClientInit;

interface Options {
  signal?: AbortSignal;
}

/** The content routes the "My content" pages use. Every method throws `ApiError` when the service refuses. */
export interface ContentApi {
  /** One page of the signed-in user's content, newest first. */
  list(page: { limit: number; offset: number }, options?: Options): Promise<ContentStat[]>;
  get(id: number, options?: Options): Promise<ContentDetail>;
  status(id: number, options?: Options): Promise<ContentStatus>;
  userStats(options?: Options): Promise<UserStats>;
  publicInfo(options?: Options): Promise<PublicInfo>;
  /** Unpins through the Pinning Service API (`DELETE /pinning/pins/:requestid`). */
  removePin(requestId: string, options?: Options): Promise<void>;
}

export function createContentApi(init: ContentApiInit = {}): ContentApi {
  const request = createJsonRequest(init);

  return {
    async list({ limit, offset }, options) {
      const query = new URLSearchParams({ limit: String(limit), offset: String(offset) });
      return (await request<ContentStat[] | null>('GET', `/content/stats?${query}`, options)) ?? [];
    },
    get: (id, options) => request('GET', `/content/${encodeURIComponent(id)}`, options),
    status: (id, options) => request('GET', `/content/status/${encodeURIComponent(id)}`, options),
    userStats: (options) => request('GET', '/user/stats', options),
    publicInfo: (options) => request('GET', '/public/info', options),
    async removePin(requestId, options) {
      await request('DELETE', `/pinning/pins/${encodeURIComponent(requestId)}`, options);
    }
  };
}
