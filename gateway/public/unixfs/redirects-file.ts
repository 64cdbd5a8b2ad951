import { exporter } from 'ipfs-unixfs-exporter';
import toBuffer from 'it-to-buffer';
import { IMMUTABLE } from '../headers.ts';
import { resolvePath } from '../resolve.ts';
import { GatewayError, type GatewayRequest, type GatewayResponse } from '../types.ts';
import { escapePath } from '../url.ts';
import { readFile } from './file.ts';
import { MAX_REDIRECTS_BYTES, matchRedirect, parseRedirects, type RedirectRule } from './redirects-rules.ts';

/**
 * `_redirects` at the root of a CID served on its own origin (subdomain gateway), consulted only
 * when the requested path does not exist ("no forced redirects"). Returns the response the first
 * matching rule gives (a redirect, a 200 rewrite, or a custom 404/410/451 page), or `undefined`
 * when there is no file or no rule matches and the original 404 stands. A file that cannot be read
 * as rules is a 500, as the spec says, so a site owner sees why their rules do nothing.
 */
export async function applyRedirectsFile(
  req: GatewayRequest,
  serve: (rewritten: GatewayRequest) => Promise<GatewayResponse>
): Promise<GatewayResponse | undefined> {
  const rules = await readRules(req);
  if (rules == null) return undefined;
  const match = matchRedirect(rules, req.rawPath);
  if (match == null) return undefined;
  const { to, status } = match;

  if (status >= 300 && status < 400) {
    return { status, headers: { location: withUserQuery(to, req.query) } };
  }
  const target = new URL(to, 'http://origin.invalid');
  let segments: string[];
  try {
    segments = target.pathname
      .split('/')
      .filter((s) => s !== '')
      .map((s) => decodeURIComponent(s));
  } catch {
    throw new GatewayError(500, `could not parse _redirects: "${to}" has invalid percent-encoding`);
  }
  const rootText = req.contentPath.split('/')[2] ?? req.root.toString();
  const errorPage = status !== 200;
  const rewritten: GatewayRequest = {
    ...req,
    segments,
    trailingSlash: target.pathname.endsWith('/'),
    contentPath: `/ipfs/${rootText}${escapePath(segments)}${target.pathname.endsWith('/') ? '/' : ''}`,
    // A custom error page is sent whole: no ranges, no 304 under a 4xx status.
    headers: errorPage ? { ...req.headers, range: undefined, 'if-none-match': undefined } : req.headers
  };
  const response = await serve(rewritten);
  if (!errorPage || response.status !== 200) return response;
  // The page is immutable content of this root, cached like any other.
  return { ...response, status, headers: { ...response.headers, 'cache-control': IMMUTABLE } };
}

async function readRules(req: GatewayRequest): Promise<RedirectRule[] | undefined> {
  let cid;
  try {
    cid = (await resolvePath(req.root, ['_redirects'], req.blocks, { signal: req.signal })).terminus;
  } catch (err) {
    if (err instanceof GatewayError && err.status === 404) return undefined;
    throw err;
  }
  const entry = await exporter(cid, req.blocks.storage, { signal: req.signal });
  let size: number;
  if (entry.type === 'raw' || entry.type === 'identity') size = entry.node.byteLength;
  else if (entry.type === 'file' && (entry.unixfs.type === 'file' || entry.unixfs.type === 'raw')) {
    size = Number(entry.unixfs.fileSize());
  } else return undefined;
  if (size > MAX_REDIRECTS_BYTES) {
    throw new GatewayError(
      500,
      `could not parse _redirects: redirects file size cannot exceed ${MAX_REDIRECTS_BYTES} bytes (it has ${size})`
    );
  }
  const bytes = await toBuffer(readFile(entry.node, 0, size, req.blocks, { signal: req.signal }));
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw new GatewayError(500, 'could not parse _redirects: the file is not UTF-8 text');
  }
  try {
    return parseRedirects(text);
  } catch (err) {
    throw new GatewayError(500, `could not parse _redirects: ${(err as Error).message}`);
  }
}

/** The visitor's query parameters carried into the Location, overriding the rule's own. */
function withUserQuery(to: string, query: URLSearchParams): string {
  if (query.size === 0) return to;
  const absolute = /^[a-z][a-z0-9+.-]*:\/\//i.test(to);
  const url = new URL(to, 'http://origin.invalid');
  for (const [key, value] of query) url.searchParams.set(key, value);
  return absolute ? url.toString() : `${url.pathname}${url.search}${url.hash}`;
}
