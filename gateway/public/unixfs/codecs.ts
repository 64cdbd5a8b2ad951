import * as dagCbor from '@ipld/dag-cbor';
import * as dagJson from '@ipld/dag-json';
import { base64 } from 'multiformats/bases/base64';
import { CID } from 'multiformats/cid';
import * as json from 'multiformats/codecs/json';
import { createHash } from 'node:crypto';
import { contentDisposition, etagMatches } from '../headers.ts';
import type { ResponseFormat } from '../negotiate.ts';
import { GatewayError, type GatewayRequest, type GatewayResponse } from '../types.ts';
import { LISTING_CACHE_CONTROL } from './dir-listing.ts';
import { rangedResponse, requestedRanges } from '../range.ts';
import { escapeHtml } from '../url.ts';

/** Multicodec of plain CBOR (`cbor`, 0x51). */
export const CBOR_CODE = 0x51;

/** The codecs served as documents rather than UnixFS. */
export const DOCUMENT_CODECS: ReadonlySet<number> = new Set([
  dagJson.code,
  dagCbor.code,
  json.code,
  CBOR_CODE
]);

const CODEC_NAME: Record<number, string> = {
  [dagJson.code]: 'dag-json',
  [dagCbor.code]: 'dag-cbor',
  [json.code]: 'json',
  [CBOR_CODE]: 'cbor'
};

const MEDIA_TYPE: Record<string, string> = {
  'dag-json': 'application/vnd.ipld.dag-json',
  'dag-cbor': 'application/vnd.ipld.dag-cbor',
  json: 'application/json',
  cbor: 'application/cbor'
};

/**
 * Which response formats serve a block of each codec as-is (boxo `renderCodec`). IPIP-0524: codecs
 * are never converted (DAG-CBOR is not re-encoded as DAG-JSON or the reverse); a format that does
 * not fit the block's codec is a 406. `json`/`cbor` accept the DAG variants, whose bytes are valid
 * JSON/CBOR.
 */
const SERVES: Record<string, ReadonlySet<number>> = {
  'dag-json': new Set([dagJson.code]),
  'dag-cbor': new Set([dagCbor.code]),
  json: new Set([json.code, dagJson.code]),
  cbor: new Set([CBOR_CODE, dagCbor.code])
};

/** The response's media type for a document block, or a 406 when the format does not fit. */
function responseFormat(cid: CID, format: ResponseFormat): string {
  const codec = CODEC_NAME[cid.code]!;
  if (format === 'deserialized') return codec;
  if (SERVES[format]?.has(cid.code) === true) return format;
  throw new GatewayError(
    406,
    `${cid} is ${codec} and is not converted to ${format} (IPIP-0524): fetch it as ${codec} or ?format=raw`,
    { vary: 'Accept' }
  );
}

export interface CodecInit {
  req: GatewayRequest;
  cid: CID;
  format: ResponseFormat;
  headers: Record<string, string>;
  /** `` on the path gateway, `//{domain}` on a subdomain (links to other roots). */
  gatewayPrefix: string;
}

/**
 * A DAG-JSON, DAG-CBOR, JSON or CBOR block (path-gateway §Accept, conformance `path_gateway_dag`):
 * the block's own bytes with the codec's media type (or the plain `application/json|cbor` one when
 * that was asked for), `Etag: "<cid>.<format>"`, JSON inline and CBOR as an attachment, ranges; an
 * HTML view for browsers asking for text/html without an explicit format.
 */
export async function serveDocument(init: CodecInit): Promise<GatewayResponse> {
  const { req, cid } = init;
  const type = responseFormat(cid, init.format);
  const isDag = cid.code === dagJson.code || cid.code === dagCbor.code;
  const download = req.query.get('download') === 'true';
  if (init.format === 'deserialized' && isDag && !download && acceptsHtml(req.headers.accept)) {
    return servePreview(init);
  }

  const etag = `"${cid}.${type}"`;
  const headers: Record<string, string> = {
    ...init.headers,
    etag,
    'x-content-type-options': 'nosniff'
  };
  if (etagMatches(req.headers['if-none-match'], etag)) return { status: 200, headers };

  const ext = type.endsWith('json') ? 'json' : 'cbor';
  const filename = req.query.get('filename') || `${cid}.${ext}`;
  headers['content-disposition'] = contentDisposition(
    download || ext === 'cbor' ? 'attachment' : 'inline',
    filename
  );
  const bytes = await req.blocks.get(cid, { signal: req.signal });
  const ranged = rangedResponse({
    method: req.method,
    request: requestedRanges(req.method, req.headers, etag, bytes.byteLength),
    size: bytes.byteLength,
    contentType: MEDIA_TYPE[type]!,
    read: async function* (from, to) {
      yield bytes.subarray(from, to);
    }
  });
  return { status: ranged.status, headers: { ...headers, ...ranged.headers }, body: ranged.body };
}

function acceptsHtml(accept: string | undefined): boolean {
  return accept != null && /(^|,)\s*text\/html\s*(;|,|$)/i.test(accept);
}

const PREVIEW_STYLE = `body{font-family:system-ui,sans-serif;margin:2em auto;max-width:1000px;padding:0 1em;color:#34373f}
pre{background:#f4f5f7;padding:1em;border-radius:4px;overflow:auto;line-height:1.4}
a{color:#117eb3}.ipfs-hash{font-family:ui-monospace,Menlo,Consolas,monospace;color:#7f8491;word-break:break-all}`;

/** `Etag` of the HTML view: its markup's version and the block. */
const PREVIEW_VERSION = createHash('sha256')
  .update(PREVIEW_STYLE)
  .update(String(servePreview))
  .digest('hex')
  .slice(0, 12)
  .toUpperCase();

/** Renders a decoded IPLD value as indented DAG-JSON, with CIDs as links into the gateway. */
function render(value: unknown, indent: string, prefix: string): string {
  const next = indent + '  ';
  const cid = CID.asCID(value);
  if (cid != null) {
    const href = `${prefix}/ipfs/${cid}/`;
    return `{"/": "<a class="ipfs-hash" translate="no" href="${escapeHtml(href)}">${cid}</a>"}`;
  }
  if (value instanceof Uint8Array) {
    return `{"/": {"bytes": "${base64.baseEncode(value)}"}}`;
  }
  if (Array.isArray(value)) {
    if (value.length === 0) return '[]';
    return `[\n${value.map((v) => next + render(v, next, prefix)).join(',\n')}\n${indent}]`;
  }
  if (value != null && typeof value === 'object') {
    const keys = Object.keys(value).sort();
    if (keys.length === 0) return '{}';
    const fields = keys.map(
      (k) =>
        `${next}${escapeHtml(JSON.stringify(k))}: ${render((value as Record<string, unknown>)[k], next, prefix)}`
    );
    return `{\n${fields.join(',\n')}\n${indent}}`;
  }
  if (typeof value === 'bigint') return value.toString();
  return escapeHtml(JSON.stringify(value) ?? 'null');
}

/** The HTML view of a DAG-JSON/DAG-CBOR block (boxo `dag.html`; conformance TestNativeDag). */
async function servePreview(init: CodecInit): Promise<GatewayResponse> {
  const { req, cid } = init;
  const etag = `"DagIndex-${PREVIEW_VERSION}_CID-${cid}"`;
  const headers: Record<string, string> = {
    ...init.headers,
    etag,
    'content-type': 'text/html; charset=utf-8',
    'cache-control': LISTING_CACHE_CONTROL
  };
  if (etagMatches(req.headers['if-none-match'], etag) || req.method === 'HEAD') {
    return { status: 200, headers };
  }
  const bytes = await req.blocks.get(cid, { signal: req.signal });
  const codec = CODEC_NAME[cid.code]!;
  let body: string;
  try {
    const value: unknown = cid.code === dagJson.code ? dagJson.decode(bytes) : dagCbor.decode(bytes);
    body = render(value, '', init.gatewayPrefix);
  } catch (err) {
    body = escapeHtml(`this block does not decode as ${codec}: ${(err as Error).message}`);
  }
  const self = `${init.gatewayPrefix}/ipfs/${cid}`;
  const html = `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<title>${escapeHtml(req.contentPath)}</title>
<style>${PREVIEW_STYLE}</style>
</head>
<body>
<main>
<h1>${codec === 'dag-json' ? 'DAG-JSON' : 'DAG-CBOR'} document</h1>
<p>CID <span class="ipfs-hash" translate="no">${cid}</span> (${cid.code === dagJson.code ? '0x0129' : '0x71'}, ${bytes.byteLength} bytes).
Download as <a href="${escapeHtml(`${self}?format=${codec}`)}">${codec}</a>,
<a href="${escapeHtml(`${self}?format=raw`)}">raw block</a> or <a href="${escapeHtml(`${self}?format=car`)}">CAR</a>.</p>
<pre>${body}</pre>
</main>
</body>
</html>
`;
  return { status: 200, headers, body: new TextEncoder().encode(html) };
}
