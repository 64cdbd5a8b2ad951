import * as dagPb from '@ipld/dag-pb';
import type { PBNode } from '@ipld/dag-pb';
import { UnixFS } from 'ipfs-unixfs';
import type { CID } from 'multiformats/cid';
import * as raw from 'multiformats/codecs/raw';
import toBuffer from 'it-to-buffer';
import type { BlockSource } from '../blocks.ts';
import { contentDisposition, etagMatches } from '../headers.ts';
import { GatewayError, type GatewayRequest, type GatewayResponse } from '../types.ts';
import { OCTET_STREAM, SNIFF_BYTES, contentTypeFromName, isJson, sniffContentType } from './content-type.ts';
import { rangedResponse, requestedRanges } from '../range.ts';

/**
 * How many sibling blocks a file read fetches ahead of the one being sent, per DAG level. Enough to
 * keep bitswap busy; small enough that a slow client holds at most this many blocks per level.
 * @default 8
 */
export const PREFETCH_BLOCKS = 8;

/** A file's root as the exporter gives it: a dag-pb node, or the bytes of a raw/identity block. */
export type FileRoot = PBNode | Uint8Array;

/** The file's content is not what its UnixFS metadata promised. */
export class InvalidFileError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InvalidFileError';
  }
}

/**
 * Streams bytes [start, end) of a UnixFS file. Only the blocks overlapping the range are fetched, a
 * few siblings ahead of the reader and no further: the stream is pulled, so a slow client holds
 * back the reads instead of letting the file pile up in memory. (ipfs-unixfs-exporter 16's
 * `content({ offset, length })` reads every wanted block of a node at once into an unbounded queue,
 * and also fetches the block after a range that ends on a block boundary.)
 */
export async function* readFile(
  root: FileRoot,
  start: number,
  end: number,
  blocks: BlockSource,
  options: { signal?: AbortSignal } = {}
): AsyncGenerator<Uint8Array> {
  if (end <= start) return;
  let sent = 0;
  for await (const chunk of walk(root, 0, start, end, blocks, options)) {
    sent += chunk.byteLength;
    if (sent > end - start) throw new InvalidFileError('the file has more bytes than its UnixFS size says');
    yield chunk;
  }
  if (sent !== end - start) {
    throw new InvalidFileError(`the file ended after ${start + sent} of ${end} bytes`);
  }
}

function clip(bytes: Uint8Array, at: number, start: number, end: number): Uint8Array {
  const from = Math.max(start - at, 0);
  const to = Math.min(end - at, bytes.byteLength);
  return to > from ? bytes.subarray(from, to) : new Uint8Array(0);
}

async function load(cid: CID, blocks: BlockSource, signal: AbortSignal | undefined): Promise<FileRoot> {
  const bytes = await blocks.get(cid, { signal });
  if (cid.code === raw.code) return bytes;
  if (cid.code === dagPb.code) return dagPb.decode(bytes);
  throw new InvalidFileError(`a UnixFS file links to ${cid}, which is neither dag-pb nor raw`);
}

async function* walk(
  node: FileRoot,
  at: number,
  start: number,
  end: number,
  blocks: BlockSource,
  options: { signal?: AbortSignal }
): AsyncGenerator<Uint8Array> {
  if (node instanceof Uint8Array) {
    const part = clip(node, at, start, end);
    if (part.byteLength > 0) yield part;
    return;
  }
  if (node.Data == null) throw new InvalidFileError('a file node has no UnixFS data');
  let unixfs: UnixFS;
  try {
    unixfs = UnixFS.unmarshal(node.Data);
  } catch (err) {
    throw new InvalidFileError(`a file node is not UnixFS: ${(err as Error).message}`);
  }
  let pos = at;
  if (unixfs.data != null && unixfs.data.byteLength > 0) {
    const part = clip(unixfs.data, pos, start, end);
    if (part.byteLength > 0) yield part;
    pos += unixfs.data.byteLength;
  }
  if (node.Links.length !== unixfs.blockSizes.length) {
    throw new InvalidFileError('a file node has a different number of links and block sizes');
  }
  // The children whose bytes overlap [start, end), by the sizes the parent records.
  const wanted: Array<{ cid: CID; at: number }> = [];
  for (let i = 0; i < node.Links.length && pos < end; i++) {
    const size = Number(unixfs.blockSizes[i]);
    if (pos + size > start) wanted.push({ cid: node.Links[i]!.Hash, at: pos });
    pos += size;
  }
  const pending: Array<Promise<FileRoot>> = [];
  let next = 0;
  for (const child of wanted) {
    while (next < wanted.length && pending.length < PREFETCH_BLOCKS) {
      const p = load(wanted[next++]!.cid, blocks, options.signal);
      // Reads abandoned when the client leaves must not become unhandled rejections.
      p.catch(() => {});
      pending.push(p);
    }
    yield* walk(await pending.shift()!, child.at, start, end, blocks, options);
  }
}

export interface ServeFileInit {
  req: GatewayRequest;
  root: FileRoot;
  size: number;
  etag: string;
  /** The name the file was reached by (last path segment, or `index.html`), for its type. */
  name: string | undefined;
  /** Serve only as `application/json`, and 406 when the file is not JSON (`?format=json`). */
  asJson?: boolean;
  /** X-Ipfs-Roots, X-Ipfs-Path, Vary and the like. */
  headers: Record<string, string>;
}

/**
 * A UnixFS (or raw-block) file: Content-Type by name then by sniffing, Content-Disposition from
 * `?filename=`/`?download=true`, ranges, and a streamed body. HEAD reads only what sniffing needs.
 */
export async function serveFile(init: ServeFileInit): Promise<GatewayResponse> {
  const { req, root, size } = init;
  const headers: Record<string, string> = { ...init.headers, etag: init.etag };
  // A matching validator needs no content (the router turns this into a 304).
  if (etagMatches(req.headers['if-none-match'], init.etag)) return { status: 200, headers };

  const filename = req.query.get('filename') ?? undefined;
  const download = req.query.get('download') === 'true';
  const request = requestedRanges(req.method, req.headers, init.etag, size);
  const read = (from: number, to: number) => readFile(root, from, to, req.blocks, { signal: req.signal });

  // The first bytes, when the type has to come from them: read once and sent again as the start of
  // the body. Sniffed only when the response starts at byte 0 (the minimal DAG subset for ranges).
  let sample: Uint8Array | undefined;
  let contentType = contentTypeFromName(filename ?? init.name);
  const startsAtZero = request.type !== 'partial' || request.ranges[0]!.start === 0;
  if (init.asJson === true && contentType !== 'application/json') {
    const bytes = await toBuffer(read(0, Math.min(SNIFF_BYTES, size)));
    sample = bytes;
    if (!isJson(new TextDecoder().decode(bytes), bytes.byteLength === size)) {
      throw new GatewayError(
        406,
        'the file is not JSON: ask for it without ?format=json or the Accept header',
        {
          vary: 'Accept'
        }
      );
    }
    contentType = 'application/json';
  } else if (init.asJson === true) {
    contentType = 'application/json';
  } else if (contentType == null && startsAtZero) {
    const limit = request.type === 'partial' ? request.ranges[0]!.end + 1 : size;
    const bytes = await toBuffer(read(0, Math.min(SNIFF_BYTES, limit)));
    sample = bytes;
    contentType = sniffContentType(bytes, bytes.byteLength === size);
  }
  contentType ??= OCTET_STREAM;

  if (filename != null && filename !== '') {
    headers['content-disposition'] = contentDisposition(download ? 'attachment' : 'inline', filename);
  } else if (download) {
    headers['content-disposition'] = contentDisposition('attachment', init.name);
  }
  headers['x-content-type-options'] = 'nosniff';

  const head = sample;
  const ranged = rangedResponse({
    method: req.method,
    request,
    size,
    contentType,
    read: (from, to) =>
      head != null && from === 0 && to >= head.byteLength
        ? (async function* () {
            if (head.byteLength > 0) yield head;
            yield* read(head.byteLength, to);
          })()
        : read(from, to)
  });
  return { status: ranged.status, headers: { ...headers, ...ranged.headers }, body: ranged.body };
}

/** A UnixFS symlink: its target as the body (boxo does the same; clients resolve it). */
export function serveSymlink(
  req: GatewayRequest,
  target: Uint8Array,
  etag: string,
  base: Record<string, string>
): GatewayResponse {
  const headers: Record<string, string> = {
    ...base,
    etag,
    'content-type': 'inode/symlink',
    'content-length': String(target.byteLength),
    'x-content-type-options': 'nosniff'
  };
  if (etagMatches(req.headers['if-none-match'], etag)) return { status: 200, headers };
  return { status: 200, headers, body: req.method === 'GET' ? target : undefined };
}
