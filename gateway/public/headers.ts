/** Header values and helpers shared by every gateway response. */

export const IMMUTABLE = 'public, max-age=29030400, immutable';

/** What the gateway-conformance suite expects, and boxo sends. */
export const CORS: Record<string, string> = {
  'access-control-allow-origin': '*',
  'access-control-allow-methods': 'GET, HEAD, OPTIONS',
  'access-control-allow-headers': 'Content-Type, Range, User-Agent, X-Requested-With',
  'access-control-expose-headers':
    'Content-Range, Content-Length, X-Ipfs-Path, X-Ipfs-Roots, X-Chunked-Output, X-Stream-Output, Server-Timing'
};

/**
 * RFC 9110 weak comparison of an ETag against an If-None-Match list (`*`, lists, `W/` tags).
 */
export function etagMatches(ifNoneMatch: string | undefined, etag: string | undefined): boolean {
  if (ifNoneMatch == null || etag == null) return false;
  const strip = (t: string) => t.trim().replace(/^W\//, '');
  const ours = strip(etag);
  return ifNoneMatch.split(',').some((t) => t.trim() === '*' || strip(t) === ours);
}

/** `Content-Disposition` with an ASCII fallback and the RFC 8187 UTF-8 form for other names. */
export function contentDisposition(kind: 'inline' | 'attachment', filename: string | undefined): string {
  if (filename == null || filename === '') return kind;
  const ascii = filename.replace(/[^\x20-\x7e]/g, '_').replace(/["\\]/g, '_');
  if (ascii === filename) return `${kind}; filename="${ascii}"`;
  const utf8 = encodeURIComponent(filename).replace(
    /['()*]/g,
    (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`
  );
  return `${kind}; filename="${ascii}"; filename*=UTF-8''${utf8}`;
}
