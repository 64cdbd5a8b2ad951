/** URL and HTML escaping shared by redirects, directory listings and the DAG preview. */

const encoder = new TextEncoder();

/**
 * Bytes a path segment may carry literally, as Go's `url.PathEscape` keeps them (unreserved
 * characters and the sub-delimiters RFC 3986 allows in a segment), so Locations and listing links
 * match what Kubo/boxo send: `Portugal%2C+España=…` → `Portugal%252C+Espa%C3%B1a=…`.
 */
function literal(byte: number): boolean {
  return (
    (byte >= 0x30 && byte <= 0x39) || // 0-9
    (byte >= 0x41 && byte <= 0x5a) || // A-Z
    (byte >= 0x61 && byte <= 0x7a) || // a-z
    byte === 0x2d || // -
    byte === 0x2e || // .
    byte === 0x5f || // _
    byte === 0x7e || // ~
    byte === 0x24 || // $
    byte === 0x26 || // &
    byte === 0x2b || // +
    byte === 0x3a || // :
    byte === 0x3d || // =
    byte === 0x40 // @
  );
}

/** Percent-encodes one decoded path segment (a `/` inside a name becomes `%2F`). */
export function escapeSegment(segment: string): string {
  let out = '';
  for (const byte of encoder.encode(segment)) {
    out += literal(byte) ? String.fromCharCode(byte) : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

/** `/a/b` from decoded segments, each percent-encoded; `` for none. */
export function escapePath(segments: readonly string[]): string {
  return segments.map((s) => `/${escapeSegment(s)}`).join('');
}

/** Text and attribute values in generated HTML. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/**
 * The gateway's own origin as a scheme-relative prefix (`//example.net:8080`) when the request came
 * to a `{cid}.ipfs.{domain}` subdomain, so generated pages can link other roots on the path gateway
 * of the parent domain; `` on the path gateway itself, where `/ipfs/{cid}` is already on it.
 */
export function parentGatewayPrefix(host: string | undefined, subdomain: boolean): string {
  if (!subdomain || host == null) return '';
  const m = /^[^.]+\.ipfs\.(.+)$/i.exec(host.trim());
  return m == null ? '' : `//${m[1]!.toLowerCase()}`;
}
