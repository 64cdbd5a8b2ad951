// The provider's retrieval HTTP server, like booster-http: a trustless gateway (`/ipfs/{cid}`,
// CAR or raw block, frisbii's semantics) and FRC-0066 piece retrieval (`/piece/{pieceCid}` with
// Range). Pieces are served as the CAR bytes received, without the zero fill up to the unpadded
// piece size that booster-http appends (commP over the response still verifies after client-side
// padding to PieceSize). Faults: refuse (403), corrupt (flip bytes), unreachable (drop sockets), slow (delay).
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import * as dagCbor from '@ipld/dag-cbor';
import * as dagPb from '@ipld/dag-pb';
import { UnixFS } from 'ipfs-unixfs';
import { CID } from 'multiformats/cid';
import { varint } from 'multiformats';
import type { Logger } from 'pino';
import { blockLinks, type CarIndex } from './car-index.ts';

export interface PieceSource {
  file: string;
  pieceCid: string;
}

export interface RetrievalServerInit {
  host: string;
  index: CarIndex;
  findPiece: (pieceCid: string) => PieceSource | undefined;
  faults: () => { refuse: boolean; corrupt: boolean; unreachable: boolean; slowMs?: number };
  logger: Logger;
}

export interface RetrievalServer {
  url: string;
  close(): Promise<void>;
}

const CAR_TYPE = 'application/vnd.ipld.car';
const RAW_TYPE = 'application/vnd.ipld.raw';

export async function startRetrievalServer(init: RetrievalServerInit): Promise<RetrievalServer> {
  const server: Server = createServer((req, res) => {
    handle(init, req, res).catch((err: unknown) => {
      init.logger.warn({ err }, 'retrieval request failed');
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' }).end('internal error');
      else res.destroy();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, init.host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://${init.host}:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      })
  };
}

function text(res: ServerResponse, status: number, body: string): void {
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8' }).end(body + '\n');
}

async function handle(init: RetrievalServerInit, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const faults = init.faults();
  if (faults.unreachable) {
    req.socket.destroy();
    return;
  }
  if (faults.slowMs != null && faults.slowMs > 0) {
    await new Promise((resolve) => setTimeout(resolve, faults.slowMs));
    if (req.socket.destroyed) return;
  }
  const url = new URL(req.url ?? '/', 'http://provider');
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.setHeader('allow', 'GET, HEAD');
    return text(res, 405, 'method not allowed');
  }
  const isPiece = url.pathname.startsWith('/piece/');
  const isIpfs = url.pathname.startsWith('/ipfs/');
  if (!isPiece && !isIpfs) return text(res, 404, 'not found');
  if (faults.refuse) return text(res, 403, 'retrieval refused by provider policy');
  if (isPiece)
    return servePiece(
      init,
      req,
      res,
      decodeURIComponent(url.pathname.slice('/piece/'.length)),
      faults.corrupt
    );
  return serveIpfs(init, req, res, url, faults.corrupt);
}

async function servePiece(
  init: RetrievalServerInit,
  req: IncomingMessage,
  res: ServerResponse,
  pieceCid: string,
  corrupt: boolean
): Promise<void> {
  try {
    CID.parse(pieceCid);
  } catch {
    return text(res, 400, `invalid piece CID: ${pieceCid}`);
  }
  const piece = init.findPiece(pieceCid);
  if (piece == null) return text(res, 404, `piece ${pieceCid} not found`);
  const size = (await stat(piece.file)).size;
  let start = 0;
  let end = size - 1;
  let status = 200;
  const range = req.headers.range;
  if (range != null) {
    const parsed = parseRange(range, size);
    if (parsed === 'unsatisfiable') {
      res.writeHead(416, { 'content-range': `bytes */${size}` }).end();
      return;
    }
    if (parsed != null) {
      [start, end] = parsed;
      status = 206;
    }
  }
  const headers: Record<string, string | number> = {
    'content-type': 'application/piece',
    'accept-ranges': 'bytes',
    etag: `"${pieceCid}"`,
    'cache-control': 'public, max-age=29030400, immutable',
    'content-length': end - start + 1
  };
  if (status === 206) headers['content-range'] = `bytes ${start}-${end}/${size}`;
  res.writeHead(status, headers);
  if (req.method === 'HEAD' || size === 0) return void res.end();
  let position = start;
  for await (const chunk of createReadStream(piece.file, { start, end })) {
    const bytes = new Uint8Array(chunk as Buffer);
    if (corrupt) {
      for (let i = 0; i < bytes.length; i++)
        if ((position + i) % 16 === 0 || position + i === start) bytes[i]! ^= 0xff;
    }
    position += bytes.length;
    if (!res.write(bytes)) await new Promise((resolve) => res.once('drain', resolve));
  }
  res.end();
}

/** One `bytes=` range (RFC 9110); null = ignore the header, 'unsatisfiable' = 416. */
export function parseRange(header: string, size: number): [number, number] | null | 'unsatisfiable' {
  const match = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (match == null || (match[1] === '' && match[2] === '')) return null;
  if (match[1] === '') {
    const suffix = Number(match[2]);
    if (suffix === 0) return 'unsatisfiable';
    return [Math.max(0, size - suffix), size - 1];
  }
  const start = Number(match[1]);
  const end = match[2] === '' ? size - 1 : Math.min(Number(match[2]), size - 1);
  if (start >= size || end < start) return 'unsatisfiable';
  return [start, end];
}

async function serveIpfs(
  init: RetrievalServerInit,
  req: IncomingMessage,
  res: ServerResponse,
  url: URL,
  corrupt: boolean
): Promise<void> {
  const rest = url.pathname.slice('/ipfs/'.length);
  if (
    rest.includes('/') &&
    rest
      .split('/')
      .slice(1)
      .some((s) => s !== '')
  ) {
    return text(res, 400, 'paths below the root CID are not supported by this provider');
  }
  let root: CID;
  try {
    root = CID.parse(rest.replace(/\/$/, ''));
  } catch {
    return text(res, 400, `invalid CID: ${rest}`);
  }
  const accept = req.headers.accept ?? '';
  const format = url.searchParams.get('format');
  const wantsRaw = format === 'raw' || (format == null && accept.includes(RAW_TYPE));
  const wantsCar = format === 'car' || (format == null && accept.includes(CAR_TYPE));
  if (!wantsRaw && !wantsCar) {
    return text(res, 400, `only ${CAR_TYPE} and ${RAW_TYPE} responses are supported (use ?format=car)`);
  }
  if (!init.index.has(root)) return text(res, 404, `no block for ${root}`);

  if (wantsRaw) {
    const bytes = await init.index.read(root);
    if (bytes == null) return text(res, 404, `no block for ${root}`);
    if (corrupt && bytes.length > 0) bytes[0]! ^= 0xff;
    res.writeHead(200, {
      'content-type': RAW_TYPE,
      'content-length': bytes.length,
      'x-content-type-options': 'nosniff',
      etag: `"${root}.raw"`,
      vary: 'Accept'
    });
    res.end(req.method === 'HEAD' ? undefined : bytes);
    return;
  }

  const scope = url.searchParams.get('dag-scope') ?? 'all';
  if (scope !== 'all' && scope !== 'entity' && scope !== 'block')
    return text(res, 400, `invalid dag-scope ${scope}`);
  res.writeHead(200, {
    'content-type': `${CAR_TYPE}; version=1; order=dfs; dups=n`,
    'x-ipfs-roots': root.toString(),
    'x-content-type-options': 'nosniff',
    etag: `"${root}.car.${scope}"`,
    vary: 'Accept'
  });
  if (req.method === 'HEAD') return void res.end();
  const header = dagCbor.encode({ roots: [root], version: 1 });
  res.write(
    Buffer.concat([
      varint.encodeTo(header.length, new Uint8Array(varint.encodingLength(header.length))),
      header
    ])
  );
  // Depth-first, each block once; a block the provider doesn't hold ends that branch.
  const seen = new Set<string>();
  const stack: Array<{ cid: CID; depth: number }> = [{ cid: root, depth: 0 }];
  while (stack.length > 0) {
    const { cid, depth } = stack.pop()!;
    const key = cid.toString();
    if (seen.has(key)) continue;
    seen.add(key);
    const bytes = await init.index.read(cid);
    if (bytes == null) continue;
    const links = descend(scope, cid, bytes, depth) ? blockLinks(cid, bytes) : [];
    const data = corrupt ? flipFirst(bytes) : bytes;
    const length = cid.bytes.length + data.length;
    const section = Buffer.concat([
      varint.encodeTo(length, new Uint8Array(varint.encodingLength(length))),
      cid.bytes,
      data
    ]);
    if (!res.write(section)) await new Promise((resolve) => res.once('drain', resolve));
    for (let i = links.length - 1; i >= 0; i--) stack.push({ cid: links[i]!, depth: depth + 1 });
  }
  res.end();
}

function flipFirst(bytes: Uint8Array): Uint8Array {
  const copy = bytes.slice();
  if (copy.length > 0) copy[0]! ^= 0xff;
  return copy;
}

/**
 * `all` follows every link; `block` none; `entity` follows links only inside a UnixFS file (the
 * chunks that make up the entity), not into a directory's children.
 */
function descend(scope: string, cid: CID, bytes: Uint8Array, depth: number): boolean {
  if (scope === 'all') return true;
  if (scope === 'block') return false;
  if (cid.code !== dagPb.code) return depth === 0;
  try {
    const node = dagPb.decode(bytes);
    if (node.Data == null) return false;
    const type = UnixFS.unmarshal(node.Data).type;
    return type === 'file' || type === 'raw';
  } catch {
    return false;
  }
}
