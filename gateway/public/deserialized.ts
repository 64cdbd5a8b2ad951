import * as dagPb from '@ipld/dag-pb';
import { exporter, type UnixFSDirectory, type UnixFSEntry } from 'ipfs-unixfs-exporter';
import type { CID } from 'multiformats/cid';
import * as raw from 'multiformats/codecs/raw';
import { etagMatches } from './headers.ts';
import type { ResponseFormat } from './negotiate.ts';
import { resolvePath, type Resolved } from './resolve.ts';
import { GatewayError, type GatewayRequest, type GatewayResponse } from './types.ts';
import { DOCUMENT_CODECS, serveDocument } from './unixfs/codecs.ts';
import { LISTING_CACHE_CONTROL, listingEtag, renderListing } from './unixfs/dir-listing.ts';
import { serveFile, serveSymlink } from './unixfs/file.ts';
import { applyRedirectsFile } from './unixfs/redirects-file.ts';
import { escapePath, parentGatewayPrefix } from './url.ts';

/** The identity multicodec: a CID whose codec says "the bytes are in the multihash". */
const IDENTITY_CODEC = 0x00;

/** What every deserialized response for one request carries. */
interface Context {
  req: GatewayRequest;
  format: ResponseFormat;
  resolved: Resolved;
  /** The root as requested: `bafy…` or `Qm…`. */
  rootText: string;
  /** The request's path ended with `/` (always true for the root of a subdomain origin). */
  trailingSlash: boolean;
  /** `` on the path gateway, `//{domain}` on a subdomain. */
  gatewayPrefix: string;
  headers: Record<string, string>;
}

/**
 * Deserialized responses (path-gateway spec): UnixFS files, directories (301 to the trailing-slash
 * URL, index.html, or a generated listing) and symlinks, and DAG-JSON/DAG-CBOR/JSON/CBOR documents;
 * `format` is what the request negotiated (`deserialized`, or a codec format).
 */
export async function handleDeserialized(
  req: GatewayRequest,
  format: Exclude<ResponseFormat, 'raw' | 'car' | 'tar'>
): Promise<GatewayResponse> {
  const subdomain = req.linkBase === '';
  let resolved: Resolved;
  try {
    resolved = await resolvePath(req.root, req.segments, req.blocks, { signal: req.signal });
  } catch (err) {
    // `_redirects` needs an origin per root (web-redirects-file spec): subdomains only, never the path gateway.
    if (
      subdomain &&
      req.rewritten !== true &&
      format === 'deserialized' &&
      err instanceof GatewayError &&
      err.status === 404
    ) {
      const redirected = await applyRedirectsFile(req, (rewritten) => handleRewritten(rewritten));
      if (redirected != null) return redirected;
    }
    throw err;
  }
  const rootText = req.contentPath.split('/')[2] ?? req.root.toString();
  const trailingSlash = req.trailingSlash;
  const ctx: Context = {
    req,
    format,
    resolved,
    rootText,
    trailingSlash,
    gatewayPrefix: parentGatewayPrefix(
      (req.headers['x-forwarded-host'] as string | undefined) ?? req.headers.host,
      subdomain
    ),
    headers: {
      'x-ipfs-roots': resolved.roots.map((c) => c.toString()).join(','),
      'x-ipfs-path': req.contentPath,
      // The same URL gives other representations for other Accept headers (raw, CAR, HTML).
      vary: 'Accept'
    }
  };
  const cid = resolved.terminus;

  if (DOCUMENT_CODECS.has(cid.code)) {
    return serveDocument({ req, cid, format, headers: ctx.headers, gatewayPrefix: ctx.gatewayPrefix });
  }
  if (cid.code !== dagPb.code && cid.code !== raw.code && cid.code !== IDENTITY_CODEC) {
    if (format !== 'deserialized') throw notAcceptable(cid, format);
    throw new GatewayError(
      501,
      `${cid} has codec 0x${cid.code.toString(16)}, which this gateway does not deserialize: fetch it with ?format=raw or ?format=car`
    );
  }
  // UnixFS is served as its files' bytes (JSON files as JSON), never re-encoded (IPIP-0524).
  if (format !== 'deserialized' && format !== 'json') throw notAcceptable(cid, format);

  const entry = await exportEntry(cid, req);
  switch (entry.type) {
    case 'directory':
      return serveDirectory(ctx, entry);
    case 'raw':
    case 'identity':
      return serveFile({
        req,
        root: entry.node,
        size: entry.node.byteLength,
        etag: fileEtag(cid, format),
        name: req.segments.at(-1),
        asJson: format === 'json',
        headers: ctx.headers
      });
    case 'file': {
      const type = entry.unixfs.type;
      if (type === 'symlink') {
        if (format === 'json') throw notAcceptable(cid, format);
        return serveSymlink(req, entry.unixfs.data ?? new Uint8Array(0), `"${cid}"`, ctx.headers);
      }
      if (type !== 'file' && type !== 'raw') {
        throw new GatewayError(501, `${cid} is a UnixFS ${type} node, which has no content to serve`);
      }
      return serveFile({
        req,
        root: entry.node,
        size: Number(entry.unixfs.fileSize()),
        etag: fileEtag(cid, format),
        name: req.segments.at(-1),
        asJson: format === 'json',
        headers: ctx.headers
      });
    }
    default:
      throw new GatewayError(501, `${cid} is not UnixFS: fetch it with ?format=raw or ?format=car`);
  }
}

/** A `_redirects` rewrite target, served like a request for it but never redirected again. */
function handleRewritten(req: GatewayRequest): Promise<GatewayResponse> {
  return handleDeserialized({ ...req, rewritten: true }, 'deserialized');
}

function notAcceptable(cid: CID, format: string): GatewayError {
  const what =
    cid.code === dagPb.code ? 'UnixFS (dag-pb)' : cid.code === raw.code ? 'a raw block' : 'this codec';
  return new GatewayError(
    406,
    `${cid} is ${what} and is not converted to ${format} (IPIP-0524): fetch it with ?format=raw, or without a format`,
    { vary: 'Accept' }
  );
}

/** `"<cid>"`; `"<cid>.json"` when a JSON file was asked for as application/json (boxo `getEtag`). */
function fileEtag(cid: CID, format: ResponseFormat): string {
  return format === 'json' ? `"${cid}.json"` : `"${cid}"`;
}

async function exportEntry(cid: CID, req: GatewayRequest): Promise<UnixFSEntry> {
  try {
    return await exporter(cid, req.blocks.storage, { signal: req.signal });
  } catch (err) {
    const name = (err as { name?: string }).name;
    if (name === 'NotUnixFSError' || name === 'NoResolverError') {
      throw new GatewayError(
        501,
        `${cid} is not UnixFS (${(err as Error).message}): fetch it with ?format=raw or ?format=car`
      );
    }
    throw err;
  }
}

/** `index.html` in the directory, by its links or, sharded, through the HAMT. */
async function findIndex(dir: UnixFSDirectory, req: GatewayRequest): Promise<CID | undefined> {
  if (dir.unixfs.type !== 'hamt-sharded-directory') {
    return dir.node.Links.find((l) => l.Name === 'index.html')?.Hash;
  }
  try {
    return (await resolvePath(dir.cid, ['index.html'], req.blocks, { signal: req.signal })).terminus;
  } catch (err) {
    if (err instanceof GatewayError && err.status === 404) return undefined;
    throw err;
  }
}

async function serveDirectory(ctx: Context, dir: UnixFSDirectory): Promise<GatewayResponse> {
  const { req } = ctx;
  if (ctx.format === 'json') throw notAcceptable(dir.cid, 'json');
  if (!ctx.trailingSlash) {
    // Relative links in a directory's pages need the trailing slash (path-gateway §Location).
    const query = req.query.toString();
    return {
      status: 301,
      headers: {
        ...ctx.headers,
        location: `${req.linkBase}${escapePath(req.segments)}/${query === '' ? '' : `?${query}`}`
      }
    };
  }

  const index = await findIndex(dir, req);
  if (index != null) {
    const entry = await exportEntry(index, req);
    if (
      entry.type === 'raw' ||
      entry.type === 'identity' ||
      (entry.type === 'file' && (entry.unixfs.type === 'file' || entry.unixfs.type === 'raw'))
    ) {
      return serveFile({
        req,
        root: entry.node,
        size: entry.type === 'file' ? Number(entry.unixfs.fileSize()) : entry.node.byteLength,
        // The directory's CID: the page is the directory's representation (gateway.md §1.4).
        etag: `"${dir.cid}"`,
        name: 'index.html',
        headers: ctx.headers
      });
    }
  }

  const etag = listingEtag(dir.cid);
  const headers: Record<string, string> = {
    ...ctx.headers,
    etag,
    'content-type': 'text/html; charset=utf-8',
    'cache-control': LISTING_CACHE_CONTROL
  };
  if (req.method === 'HEAD' || etagMatches(req.headers['if-none-match'], etag))
    return { status: 200, headers };
  const dagSize = Number(dir.size) + dir.node.Links.reduce((n, l) => n + (l.Tsize ?? 0), 0);
  return {
    status: 200,
    headers,
    body: renderListing({
      cid: dir.cid,
      dagSize,
      contentPath: `${req.contentPath}/`,
      rootText: ctx.rootText,
      segments: req.segments,
      linkBase: req.linkBase,
      gatewayPrefix: ctx.gatewayPrefix,
      entries: dir.entries({ signal: req.signal })
    })
  };
}
