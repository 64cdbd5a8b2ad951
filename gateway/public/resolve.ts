import * as dagCbor from '@ipld/dag-cbor';
import * as dagJson from '@ipld/dag-json';
import { walkPath, BadPathError, NotFoundError as ExporterNotFound } from 'ipfs-unixfs-exporter';
import type { CID } from 'multiformats/cid';
import type { BlockSource } from './blocks.ts';
import { GatewayError } from './types.ts';

export interface Resolved {
  /** The CID of each logical path segment, root first, terminus last: `X-Ipfs-Roots`. */
  roots: CID[];
  /**
   * Every block read to resolve the path, in traversal order, ending with the terminus block
   * (HAMT inner shards on the route included): the path blocks a CAR starts with.
   */
  pathBlocks: CID[];
  terminus: CID;
}

/**
 * Resolves `root/segments…` through UnixFS directories (HAMT shards too) and DAG-CBOR/DAG-JSON
 * links. A missing segment is a 404 that names it; a path into DAG-CBOR/JSON that is not a link is a
 * 501, as the path gateway spec says.
 */
export async function resolvePath(
  root: CID,
  segments: string[],
  blocks: BlockSource,
  options: { signal?: AbortSignal; offline?: boolean } = {}
): Promise<Resolved> {
  const pathBlocks: CID[] = [];
  const seen = new Set<string>();
  // Record each block the walk reads, in order: that is the route through the DAG.
  const recording = {
    async *get(cid: CID, o?: { signal?: AbortSignal; offline?: boolean }): AsyncGenerator<Uint8Array> {
      const key = cid.toString();
      if (!seen.has(key)) {
        seen.add(key);
        pathBlocks.push(cid);
      }
      yield* blocks.storage.get(cid, { ...o, ...options });
    }
  };
  let roots: CID[] = [root];
  let remainder: string[] = segments;
  const escaped = segments.map((s) => s.replaceAll('/', '\\/'));
  try {
    for await (const entry of walkPath(
      `${root}${escaped.length > 0 ? '/' + escaped.join('/') : ''}`,
      recording,
      {
        signal: options.signal
      }
    )) {
      roots = entry.roots;
      remainder = entry.remainder;
    }
  } catch (err) {
    if (err instanceof GatewayError) throw err;
    // blockstore-fs reports an aborted read as NotFound: a timeout is not a missing path.
    options.signal?.throwIfAborted();
    const terminus = roots.at(-1)!;
    if (err instanceof BadPathError) {
      throw new GatewayError(404, `${terminus} has no field "${remainder.join('/')}": ${err.message}`);
    }
    if ((terminus.code === dagCbor.code || terminus.code === dagJson.code) && remainder.length > 0) {
      throw new GatewayError(501, `cannot traverse /${remainder.join('/')} in ${terminus}: it is not a link`);
    }
    if (err instanceof ExporterNotFound || (err as { name?: string }).name === 'NotFoundError') {
      const at = segments.slice(0, segments.length - remainder.length).join('/');
      throw new GatewayError(
        404,
        `no link named "${remainder[0] ?? ''}" under ${root}${at === '' ? '' : '/' + at}`
      );
    }
    throw err;
  }
  const terminus = roots.at(-1)!;
  // The walk stopped inside a DAG-CBOR/JSON document without reaching a link: the spec's 501.
  if (remainder.length > 0) {
    throw new GatewayError(
      501,
      `cannot serve /${remainder.join('/')} inside ${terminus}: only paths through links are supported`
    );
  }
  // The terminus block itself ends the path blocks even when the walk did not need to read it.
  if (!seen.has(terminus.toString())) pathBlocks.push(terminus);
  return { roots, pathBlocks, terminus };
}
