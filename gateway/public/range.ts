import { randomBytes } from 'node:crypto';
import { GatewayError, type Body } from './types.ts';

/** An inclusive byte range, as HTTP writes them. */
export interface ByteRange {
  start: number;
  end: number;
}

export type RangeRequest =
  { type: 'full' } | { type: 'unsatisfiable' } | { type: 'partial'; ranges: ByteRange[] };

/** More ranges than this in one request are ignored (the whole representation is sent instead). */
export const MAX_RANGES = 16;

/**
 * Parses a `Range` header (RFC 9110 §14.2) against a representation of `size` bytes. Other units
 * are ignored; a malformed `bytes=` set is a 400 (gateway.md §1.7); ranges past the end are dropped
 * and none left is `unsatisfiable` (416). Like Go's `http.ServeContent`, a set of ranges adding up to
 * more than the whole (or more than {@link MAX_RANGES}) is answered with the whole, so a request
 * cannot multiply the bytes sent.
 */
export function parseRange(header: string | undefined, size: number): RangeRequest {
  if (header == null || header.trim() === '') return { type: 'full' };
  const m = /^\s*bytes\s*=(.*)$/i.exec(header);
  if (m == null) return { type: 'full' };
  const specs = m[1]!
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  if (specs.length === 0) throw new GatewayError(400, `malformed Range header "${header.slice(0, 100)}"`);
  const ranges: ByteRange[] = [];
  for (const spec of specs) {
    const r = /^(\d*)\s*-\s*(\d*)$/.exec(spec);
    if (r == null || (r[1] === '' && r[2] === '')) {
      throw new GatewayError(400, `malformed Range header "${header.slice(0, 100)}"`);
    }
    if (r[1] === '') {
      // A suffix: the last N bytes.
      const n = Number(r[2]);
      if (n > 0 && size > 0) ranges.push({ start: Math.max(0, size - n), end: size - 1 });
      continue;
    }
    const start = Number(r[1]);
    const last = r[2] === '' ? undefined : Number(r[2]);
    if (last != null && last < start) {
      throw new GatewayError(
        400,
        `malformed Range header "${header.slice(0, 100)}": ${spec} ends before it starts`
      );
    }
    if (start >= size) continue;
    ranges.push({ start, end: Math.min(last ?? size - 1, size - 1) });
  }
  if (ranges.length === 0) return { type: 'unsatisfiable' };
  const total = ranges.reduce((n, r) => n + r.end - r.start + 1, 0);
  if (ranges.length > MAX_RANGES || (ranges.length > 1 && total > size)) return { type: 'full' };
  return { type: 'partial', ranges };
}

/**
 * `If-Range` (RFC 9110 §13.1.5): ranges apply only while the client's validator still matches. The
 * comparison is strong, and dates never match (these responses carry no Last-Modified).
 */
export function ifRangeAllows(ifRange: string | undefined, etag: string): boolean {
  if (ifRange == null || ifRange.trim() === '') return true;
  const tag = ifRange.trim();
  return !tag.startsWith('W/') && !etag.startsWith('W/') && tag === etag;
}

/** The ranges a request asks for: none for HEAD (RFC 9110 §14.2) or when `If-Range` fails. */
export function requestedRanges(
  method: 'GET' | 'HEAD',
  headers: { range?: string | undefined; 'if-range'?: string | undefined },
  etag: string,
  size: number
): RangeRequest {
  if (method !== 'GET' || !ifRangeAllows(headers['if-range'], etag)) return { type: 'full' };
  return parseRange(headers.range, size);
}

export interface RangedInit {
  method: 'GET' | 'HEAD';
  request: RangeRequest;
  size: number;
  contentType: string;
  /** Streams bytes [start, end) of the representation. */
  read(start: number, end: number): AsyncIterable<Uint8Array>;
}

export interface Ranged {
  status: 200 | 206;
  headers: Record<string, string>;
  body?: Body;
}

/**
 * A 200, 206 or (thrown) 416 response for a byte-addressable representation: one range gets
 * `Content-Range`, several get `multipart/byteranges` with a part per range. The 416 is thrown as a
 * GatewayError carrying `Content-Range: bytes *\/size`.
 */
export function rangedResponse(init: RangedInit): Ranged {
  const request = init.request;
  const headers: Record<string, string> = { 'accept-ranges': 'bytes' };
  if (request.type === 'unsatisfiable') {
    throw new GatewayError(416, `no requested range starts before the end of the ${init.size} bytes`, {
      'content-range': `bytes */${init.size}`,
      'accept-ranges': 'bytes'
    });
  }
  if (request.type === 'full') {
    headers['content-type'] = init.contentType;
    headers['content-length'] = String(init.size);
    return { status: 200, headers, body: init.method === 'GET' ? init.read(0, init.size) : undefined };
  }
  const [first] = request.ranges;
  if (request.ranges.length === 1 && first != null) {
    headers['content-type'] = init.contentType;
    headers['content-range'] = `bytes ${first.start}-${first.end}/${init.size}`;
    headers['content-length'] = String(first.end - first.start + 1);
    return { status: 206, headers, body: init.read(first.start, first.end + 1) };
  }
  const boundary = randomBytes(16).toString('hex');
  const encoder = new TextEncoder();
  const parts = request.ranges.map((r, i) => ({
    range: r,
    head: encoder.encode(
      `${i === 0 ? '' : '\r\n'}--${boundary}\r\nContent-Type: ${init.contentType}\r\n` +
        `Content-Range: bytes ${r.start}-${r.end}/${init.size}\r\n\r\n`
    )
  }));
  const tail = encoder.encode(`\r\n--${boundary}--\r\n`);
  const length =
    parts.reduce((n, p) => n + p.head.byteLength + p.range.end - p.range.start + 1, 0) + tail.byteLength;
  headers['content-type'] = `multipart/byteranges; boundary=${boundary}`;
  headers['content-length'] = String(length);
  const read = init.read;
  return {
    status: 206,
    headers,
    body: (async function* () {
      for (const p of parts) {
        yield p.head;
        yield* read(p.range.start, p.range.end + 1);
      }
      yield tail;
    })()
  };
}
