import type { IncomingHttpHeaders } from 'node:http';
import type { CID } from 'multiformats/cid';
import type { BlockSource } from './blocks.ts';

/** One parsed `/ipfs/{cid}/{path}` request, whether it came by path or by subdomain. */
export interface GatewayRequest {
  method: 'GET' | 'HEAD';
  root: CID;
  /** Decoded path segments after the root CID (no empty segments). */
  segments: string[];
  /** The content path as requested, percent-encoded, trailing slash kept: `X-Ipfs-Path`. */
  contentPath: string;
  /** Whether the URL path ended with `/` (directories without it get a 301); a subdomain's `/` counts. */
  trailingSlash: boolean;
  /** The URL path as sent (still percent-encoded), for redirects. */
  rawPath: string;
  query: URLSearchParams;
  headers: IncomingHttpHeaders;
  /** Aborts when the client goes away or the retrieval timeout runs out. */
  signal: AbortSignal;
  /**
   * How generated links address this root: `/ipfs/<cid>` on the path gateway, `` on a subdomain
   * gateway (the root is the origin).
   */
  linkBase: string;
  blocks: BlockSource;
  /** Set on the request a `_redirects` rule rewrote to: rules are applied once, never in a loop. */
  rewritten?: boolean;
}

export type Body = Uint8Array | AsyncIterable<Uint8Array>;

export interface GatewayResponse {
  status: number;
  headers: Record<string, string>;
  /** Omitted for HEAD, 304 and redirects. */
  body?: Body;
}

/** Errors the router maps to statuses; `details` goes in the plain-text body. */
export class GatewayError extends Error {
  readonly status: number;
  readonly headers: Record<string, string>;
  constructor(status: number, message: string, headers: Record<string, string> = {}) {
    super(message);
    this.name = 'GatewayError';
    this.status = status;
    this.headers = headers;
  }
}
