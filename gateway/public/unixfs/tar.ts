import { posix } from 'node:path';
import * as dagPb from '@ipld/dag-pb';
import { exporter, type UnixFSEntry } from 'ipfs-unixfs-exporter';
import type { Mtime } from 'ipfs-unixfs';
import { pack, type TarImportCandidate } from 'it-tar';
import type { CID } from 'multiformats/cid';
import * as raw from 'multiformats/codecs/raw';
import { contentDisposition, etagMatches } from '../headers.ts';
import { resolvePath } from '../resolve.ts';
import { GatewayError, type GatewayRequest, type GatewayResponse } from '../types.ts';
import { readFile, type FileRoot } from './file.ts';

/** The identity multicodec: the bytes are in the multihash. */
const IDENTITY_CODEC = 0x00;

/** Without a UnixFS mtime, entries carry the epoch: the same DAG always gives the same archive. */
const NO_MTIME = new Date(0);

type TarItem =
  | { kind: 'directory'; name: string; mode?: number; mtime: Date }
  | { kind: 'file'; name: string; root: FileRoot; size: number; mode?: number; mtime: Date }
  | { kind: 'symlink'; name: string; target: string; mode?: number; mtime: Date };

/**
 * `?format=tar` / `Accept: application/x-tar` (path-gateway spec, TAR): a UnixFS file or directory
 * as a tarball whose entries sit under a folder named by the terminus CID. Every name is checked
 * before the first byte is sent, so a DAG whose link names (`../x`) climb out of that folder is
 * refused with a status instead of a cut-off archive.
 */
export async function handleTar(req: GatewayRequest): Promise<GatewayResponse> {
  const { roots, terminus } = await resolvePath(req.root, req.segments, req.blocks, { signal: req.signal });
  if (terminus.code !== dagPb.code && terminus.code !== raw.code && terminus.code !== IDENTITY_CODEC) {
    throw new GatewayError(
      406,
      `${terminus} is not UnixFS, which is all a TAR can hold: fetch it with ?format=car`,
      {
        vary: 'Accept'
      }
    );
  }
  const etag = `W/"${terminus}.x-tar"`;
  const headers: Record<string, string> = {
    'x-ipfs-roots': roots.map((c) => c.toString()).join(','),
    etag,
    'content-type': 'application/x-tar',
    'content-disposition': contentDisposition(
      'attachment',
      req.query.get('filename') || `${terminus.toString()}.tar`
    ),
    'x-content-type-options': 'nosniff',
    vary: 'Accept'
  };
  // A matching validator needs no archive (the router turns this into a 304).
  if (req.method === 'HEAD' || etagMatches(req.headers['if-none-match'], etag))
    return { status: 200, headers };

  const items: TarItem[] = [];
  const base = terminus.toString();
  await collect(terminus, base, base, req, items);
  return { status: 200, headers, body: archive(items, req) };
}

async function exportUnixfs(cid: CID, req: GatewayRequest): Promise<UnixFSEntry> {
  try {
    return await exporter(cid, req.blocks.storage, { signal: req.signal });
  } catch (err) {
    const name = (err as { name?: string }).name;
    if (name === 'NotUnixFSError' || name === 'NoResolverError') {
      throw new GatewayError(
        406,
        `${cid} is not UnixFS, which is all a TAR can hold: fetch it with ?format=car`
      );
    }
    throw err;
  }
}

function toDate(mtime: Mtime | undefined): Date {
  if (mtime == null) return NO_MTIME;
  return new Date(Number(mtime.secs) * 1000 + Math.floor((mtime.nsecs ?? 0) / 1e6));
}

/** Depth first, parents before children: the order tar extractors expect. */
async function collect(
  cid: CID,
  name: string,
  base: string,
  req: GatewayRequest,
  out: TarItem[]
): Promise<void> {
  const entry = await exportUnixfs(cid, req);
  switch (entry.type) {
    case 'raw':
    case 'identity':
      out.push({ kind: 'file', name, root: entry.node, size: entry.node.byteLength, mtime: NO_MTIME });
      return;
    case 'directory': {
      out.push({ kind: 'directory', name, mode: entry.unixfs.mode, mtime: toDate(entry.unixfs.mtime) });
      for await (const child of entry.entries({ signal: req.signal })) {
        const childName = posix.join(name, child.name);
        if (childName !== base && !childName.startsWith(`${base}/`)) {
          throw new GatewayError(
            400,
            `${cid} links to "${child.name}", a relative path outside the root: it cannot be put in a TAR`
          );
        }
        await collect(child.cid, childName, base, req, out);
      }
      return;
    }
    case 'file': {
      const { unixfs } = entry;
      const meta = { mode: unixfs.mode, mtime: toDate(unixfs.mtime) };
      if (unixfs.type === 'symlink') {
        out.push({
          kind: 'symlink',
          name,
          target: new TextDecoder().decode(unixfs.data ?? new Uint8Array(0)),
          ...meta
        });
      } else if (unixfs.type === 'file' || unixfs.type === 'raw') {
        out.push({ kind: 'file', name, root: entry.node, size: Number(unixfs.fileSize()), ...meta });
      } else {
        throw new GatewayError(501, `${cid} is a UnixFS ${unixfs.type} node, which has no place in a TAR`);
      }
      return;
    }
    default:
      throw new GatewayError(
        406,
        `${cid} is not UnixFS, which is all a TAR can hold: fetch it with ?format=car`
      );
  }
}

/** The archive, streamed: each file's blocks are read as its entry is written. */
function archive(items: TarItem[], req: GatewayRequest): AsyncIterable<Uint8Array> {
  const entries = function* (): Generator<TarImportCandidate> {
    for (const item of items) {
      const header = { name: item.name, mode: item.mode, mtime: item.mtime };
      if (item.kind === 'directory') yield { header: { ...header, type: 'directory' } };
      else if (item.kind === 'symlink')
        yield { header: { ...header, type: 'symlink', linkname: item.target } };
      else {
        yield {
          header: { ...header, type: 'file', size: item.size },
          body: readFile(item.root, 0, item.size, req.blocks, { signal: req.signal })
        };
      }
    }
  };
  return pack()(entries());
}
