import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import { CID } from 'multiformats/cid';
import { base32 } from 'multiformats/bases/base32';
import type { Logger } from '../../server/log.ts';
import type { BlockSource } from './blocks.ts';
import { handleDeserialized } from './deserialized.ts';
import { CORS, IMMUTABLE, etagMatches } from './headers.ts';
import { negotiate, type Negotiated } from './negotiate.ts';
import { handleCar, handleRaw } from './trustless.ts';
import { GatewayError, type Body, type GatewayRequest, type GatewayResponse } from './types.ts';
import { protocolHandlerRedirect } from './protocol-handler.ts';
import { absoluteTarget, acceptTunnels } from './proxy.ts';
import { handleTar } from './unixfs/tar.ts';
import { escapePath } from './url.ts';

export interface GatewayInit {
  blocks: BlockSource;
  /** Host under which `{cid}.ipfs.{domain}` subdomains are served; path requests to it redirect there. */
  domain: string;
  /** How long a request may wait for blocks before 504. */
  timeoutMs: number;
  log: Logger;
  /** Metering seam: bytes of body sent for a root CID (called once per response). */
  onServed?(root: CID, bytes: number, request: { method: string; status: number }): void;
}

export interface Gateway {
  server: http.Server;
  handle(req: IncomingMessage, res: ServerResponse): Promise<void>;
}

const MAX_URL = 8192;

/**
 * The public IPFS gateway: path (`/ipfs/{cid}/…`) and subdomain (`{cid}.ipfs.{domain}`) forms, on
 * its own listener and origin so user content never runs where the app keeps API keys.
 */
export function createGateway(init: GatewayInit): Gateway {
  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const started = performance.now();
    let root: CID | undefined;
    let sent = 0;
    let status = 500;
    try {
      const response = await route(req, res, init, (cid) => (root = cid), started);
      status = response.status;
      sent = await send(req, res, response);
    } catch (err) {
      status = errorStatus(err, res);
      sendError(res, err, status, init.log);
    } finally {
      if (root != null) init.onServed?.(root, sent, { method: req.method ?? 'GET', status });
    }
  };
  const server = http.createServer((req, res) => {
    void handle(req, res);
  });
  acceptTunnels(server);
  return { server, handle };
}

function errorStatus(err: unknown, res: ServerResponse): number {
  if (err instanceof GatewayError) return err.status;
  if (res.destroyed) return 499;
  return 500;
}

function sendError(res: ServerResponse, err: unknown, status: number, log: Logger): void {
  if (res.headersSent) {
    // Mid-stream: the only honest signal left is to cut the response short.
    res.destroy(err instanceof Error ? err : undefined);
    return;
  }
  if (res.destroyed) return;
  const message = err instanceof GatewayError ? err.message : 'internal error';
  if (!(err instanceof GatewayError)) log.error({ err }, 'gateway request failed');
  const headers: Record<string, string> = {
    ...CORS,
    'content-type': 'text/plain; charset=utf-8',
    ...(err instanceof GatewayError ? err.headers : {})
  };
  res.writeHead(status, headers);
  res.end(`${status} ${http.STATUS_CODES[status] ?? ''}: ${message}\n`);
}

/** Writes the response, streaming the body with backpressure; returns body bytes sent. */
async function send(req: IncomingMessage, res: ServerResponse, r: GatewayResponse): Promise<number> {
  const headers = { ...CORS, ...r.headers };
  const body = req.method === 'HEAD' || r.status === 304 ? undefined : r.body;
  if (body instanceof Uint8Array) {
    headers['content-length'] ??= String(body.byteLength);
    res.writeHead(r.status, headers);
    res.end(body);
    return body.byteLength;
  }
  res.writeHead(r.status, headers);
  if (body == null) {
    res.end();
    return 0;
  }
  let sent = 0;
  for await (const chunk of body) {
    if (res.destroyed) break;
    sent += chunk.byteLength;
    if (!res.write(chunk)) {
      await new Promise<void>((resolve) => {
        const done = () => {
          res.off('drain', done);
          res.off('close', done);
          resolve();
        };
        res.on('drain', done);
        res.on('close', done);
      });
    }
  }
  res.end();
  return sent;
}

interface Target {
  root: CID;
  rootText: string;
  /** Percent-encoded path after the root, starting with `/` or empty. */
  rest: string;
  subdomain: boolean;
}

function parseCid(text: string): CID {
  try {
    return CID.parse(text);
  } catch {
    try {
      // Subdomain labels and other multibase strings (base36 and friends) need their prefix.
      return CID.parse(text.toLowerCase(), base32);
    } catch {
      throw new GatewayError(400, `invalid path "/ipfs/${text.slice(0, 100)}": not a valid CID`);
    }
  }
}

function hostOf(req: IncomingMessage, absoluteHost: string | undefined): { name: string; port: string } {
  const host =
    (req.headers['x-forwarded-host'] as string | undefined) ?? absoluteHost ?? req.headers.host ?? '';
  const m = /^(\[[^\]]+\]|[^:]+)(?::(\d+))?$/.exec(host);
  return { name: (m?.[1] ?? '').toLowerCase(), port: m?.[2] ?? '' };
}

/** Kubo's wording, which the conformance suite looks for: a subdomain cannot hold this CID. */
function tooLongForDns(label: string): GatewayError {
  return new GatewayError(
    400,
    `CID incompatible with DNS label length limit of 63: ${label} has ${label.length} characters`
  );
}

async function route(
  req: IncomingMessage,
  res: ServerResponse,
  init: GatewayInit,
  onRoot: (cid: CID) => void,
  started: number
): Promise<GatewayResponse> {
  const method = req.method ?? 'GET';
  if (method === 'OPTIONS') return { status: 200, headers: { 'content-length': '0' } };
  if (method !== 'GET' && method !== 'HEAD') {
    throw new GatewayError(405, `${method} is not allowed: the gateway serves GET, HEAD and OPTIONS`, {
      allow: 'GET, HEAD, OPTIONS'
    });
  }
  if ((req.url ?? '').length > MAX_URL)
    throw new GatewayError(414, `the URL is longer than ${MAX_URL} characters`);
  const absolute = absoluteTarget(req.url ?? '/');
  const rawUrl = absolute?.path ?? req.url ?? '/';
  const qIndex = rawUrl.indexOf('?');
  const rawPath = qIndex < 0 ? rawUrl : rawUrl.slice(0, qIndex);
  const query = new URLSearchParams(qIndex < 0 ? '' : rawUrl.slice(qIndex + 1));
  const host = hostOf(req, absolute?.host);
  const domain = init.domain.toLowerCase();

  let target: Target;
  const sub = host.name.endsWith(`.ipfs.${domain}`)
    ? host.name.slice(0, -`.ipfs.${domain}`.length)
    : undefined;
  if (sub != null && sub !== '' && !sub.includes('.')) {
    if (sub.length > 63) throw tooLongForDns(sub);
    const root = parseCid(sub);
    target = { root, rootText: sub, rest: rawPath === '/' ? '' : rawPath, subdomain: true };
  } else if (host.name.endsWith(`.ipns.${domain}`)) {
    throw new GatewayError(501, 'IPNS and DNSLink are not served by this gateway yet');
  } else {
    const m = /^\/(ipfs|ipns)\/([^/?#]*)(\/.*)?$/.exec(rawPath);
    if (m == null) {
      if (rawPath === '/ipfs' || rawPath === '/ipfs/')
        throw new GatewayError(400, 'missing CID: use /ipfs/{cid}');
      throw new GatewayError(404, 'not found: the gateway serves /ipfs/{cid}[/path]');
    }
    const uri = query.get('uri');
    if (m[2] === '' && m[3] == null && uri != null) return protocolHandlerRedirect(uri);
    if (m[1] === 'ipns') throw new GatewayError(501, 'IPNS and DNSLink are not served by this gateway yet');
    const rootText = decodeURIComponent(m[2]!);
    const root = parseCid(rootText);
    target = { root, rootText, rest: m[3] ?? '', subdomain: false };
    // A path request to the configured subdomain host moves to the root's own origin.
    if (host.name === domain) {
      const label = root.toV1().toString(base32);
      if (label.length > 63) throw tooLongForDns(label);
      const proto = req.headers['x-forwarded-proto'] === 'https' ? 'https' : 'http';
      const location = `${proto}://${label}.ipfs.${domain}${host.port ? ':' + host.port : ''}${target.rest || '/'}${qIndex < 0 ? '' : rawUrl.slice(qIndex)}`;
      return { status: 301, headers: { location } };
    }
  }
  // On a subdomain, a CID not in canonical form (v0, other bases) redirects to the base32 CIDv1 label.
  if (target.subdomain) {
    const label = target.root.toV1().toString(base32);
    if (label !== target.rootText) {
      const proto = req.headers['x-forwarded-proto'] === 'https' ? 'https' : 'http';
      return {
        status: 301,
        headers: {
          location: `${proto}://${label}.ipfs.${domain}${host.port ? ':' + host.port : ''}${rawPath}${qIndex < 0 ? '' : rawUrl.slice(qIndex)}`
        }
      };
    }
  }
  onRoot(target.root);

  let segments: string[];
  try {
    segments = target.rest
      .split('/')
      .filter((s) => s !== '')
      .map((s) => decodeURIComponent(s));
  } catch {
    throw new GatewayError(400, 'the path has invalid percent-encoding');
  }
  if (segments.some((s) => s === '.' || s === '..')) {
    throw new GatewayError(400, 'the path may not contain "." or ".." segments');
  }
  if (req.headers['service-worker'] === 'script' && segments.length === 0 && !target.rest.endsWith('/')) {
    throw new GatewayError(400, 'a service worker may only be registered under /ipfs/{cid}/');
  }

  const negotiated = negotiate(query, req.headers);
  // On a subdomain the origin is the root, so its `/` is the root directory's trailing slash.
  const trailingSlash = target.subdomain ? rawPath.endsWith('/') : target.rest.endsWith('/');
  // Percent-encoded (header values cannot carry decoded UTF-8), trailing slash kept.
  const contentPath = `/ipfs/${target.rootText}${escapePath(segments)}${trailingSlash ? '/' : ''}`;

  // Per request: retrieval gives up when no block has arrived for `timeoutMs` (an idle timer, reset
  // by every block and every body chunk, so long downloads are fine), or when the client goes away.
  const retrieval = new AbortController();
  const idle = setTimeout(
    () => retrieval.abort(new DOMException(`no block within ${init.timeoutMs} ms`, 'TimeoutError')),
    init.timeoutMs
  );
  idle.unref();
  res.once('close', () => {
    clearTimeout(idle);
    retrieval.abort(new Error('response closed'));
  });
  const signal = retrieval.signal;
  const timedOut = () => signal.aborted && (signal.reason as Error | undefined)?.name === 'TimeoutError';
  let firstBlockMs: number | undefined;
  const blocks: BlockSource = {
    async get(cid, o) {
      // The root lets a block source retrieve offloaded content as a whole (Case B).
      const bytes = await init.blocks.get(cid, { ...o, root: target.root });
      firstBlockMs ??= performance.now() - started;
      idle.refresh();
      return bytes;
    },
    has: (cid) => init.blocks.has(cid),
    evict: (cids) => init.blocks.evict(cids),
    storage: {
      get: async function* (cid, o) {
        yield await blocks.get(cid, o ?? {});
      }
    }
  };

  const cacheControl = req.headers['cache-control'] ?? '';
  if (/\bonly-if-cached\b/.test(cacheControl) && !(await init.blocks.has(target.root))) {
    return { status: 412, headers: {} };
  }

  const request: GatewayRequest = {
    method: method as 'GET' | 'HEAD',
    root: target.root,
    segments,
    contentPath,
    trailingSlash,
    rawPath,
    query,
    headers: req.headers,
    signal,
    linkBase: target.subdomain ? '' : `/ipfs/${target.rootText}`,
    blocks
  };

  let response: GatewayResponse;
  try {
    if (negotiated.format === 'raw') response = await handleRaw(request);
    else if (negotiated.format === 'car') response = await handleCar(request, negotiated.car!);
    else if (negotiated.format === 'tar') response = await handleTar(request);
    else response = await handleDeserialized(request, negotiated.format);
  } catch (err) {
    if (timedOut() && !(err instanceof GatewayError)) {
      throw new GatewayError(
        504,
        `no block arrived within ${Math.round(init.timeoutMs / 1000)} s: try again later`,
        {
          'retry-after': '60'
        }
      );
    }
    throw err;
  }

  const headers = response.headers;
  headers['x-ipfs-path'] ??= contentPath;
  if (response.status === 200 || response.status === 206) headers['cache-control'] ??= IMMUTABLE;
  // The same URL answers differently by Accept: caches must key on it.
  headers.vary ??= 'Accept';
  if (negotiated.fromAccept && response.status < 300) {
    headers['content-location'] ??= withFormat(rawPath, query, negotiated);
  }
  if (firstBlockMs != null)
    headers['server-timing'] = `ttfb;desc="time to first block";dur=${firstBlockMs.toFixed(1)}`;
  if (
    (response.status === 200 || response.status === 206) &&
    etagMatches(req.headers['if-none-match'], headers.etag)
  ) {
    return {
      status: 304,
      headers: pick(headers, ['etag', 'cache-control', 'x-ipfs-path', 'x-ipfs-roots', 'vary'])
    };
  }
  return wrapBody(response, signal, () => idle.refresh());
}

/** The URL that names this response without Accept: `?format=` plus, for CARs, its parameters. */
function withFormat(rawPath: string, query: URLSearchParams, negotiated: Negotiated): string {
  const q = new URLSearchParams(query);
  q.set('format', negotiated.format);
  if (negotiated.car != null) {
    q.set('car-version', String(negotiated.car.version));
    q.set('car-order', negotiated.car.order);
    q.set('car-dups', negotiated.car.dups ? 'y' : 'n');
  }
  return `${rawPath}?${q.toString()}`;
}

function pick(h: Record<string, string>, keys: string[]): Record<string, string> {
  return Object.fromEntries(keys.filter((k) => h[k] != null).map((k) => [k, h[k]!]));
}

/** Streams stop when the client goes away or no data comes for the timeout; each chunk resets it. */
function wrapBody(r: GatewayResponse, signal: AbortSignal, onChunk: () => void): GatewayResponse {
  const body = r.body;
  if (body == null || body instanceof Uint8Array) return r;
  return {
    ...r,
    body: (async function* (): AsyncGenerator<Uint8Array> {
      for await (const chunk of body as AsyncIterable<Uint8Array>) {
        signal.throwIfAborted();
        onChunk();
        yield chunk;
      }
    })() as Body
  };
}
