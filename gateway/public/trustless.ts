import { createHash } from 'node:crypto';
import { base32 } from 'multiformats/bases/base32';
import type { CID } from 'multiformats/cid';
import { carBlocks, EntityBytesOutsideError, terminusPlan, type Plan } from './car/traverse.ts';
import { encodeCar } from './car/writer.ts';
import { rangedResponse, requestedRanges } from './range.ts';
import { contentDisposition } from './headers.ts';
import type { CarParams } from './negotiate.ts';
import { resolvePath } from './resolve.ts';
import { GatewayError, type GatewayRequest, type GatewayResponse } from './types.ts';

/**
 * Trustless responses (raw blocks and CARs, trustless gateway spec) are answered from the local
 * blockstore only, never through bitswap. The spec's P2P guidance (reference/gateway.md §2.5) is
 * that a gateway acting as a provider SHOULD NOT recurse and SHOULD answer 404 for what it lacks:
 * trustless clients (Helia's block brokers, other gateways) treat us as one provider among many
 * and need a fast 404 to move on, and a recursive CAR would let any anonymous client make the
 * service fetch arbitrary DAGs from the network for it. So a missing root, path block or terminus
 * is a 404 and a missing child block ends the stream at once instead of after the retrieval
 * timeout. Deserialized responses make their own choice.
 */
const OFFLINE = { offline: true } as const;

const RAW = 'application/vnd.ipld.raw';

interface Located {
  roots: CID[];
  pathBlocks: CID[];
  terminus: CID;
  bytes: Uint8Array;
}

async function loadBlock(req: GatewayRequest, cid: CID): Promise<Uint8Array> {
  try {
    return await req.blocks.get(cid, { signal: req.signal, ...OFFLINE });
  } catch (err) {
    req.signal.throwIfAborted();
    if ((err as { name?: string }).name === 'NotFoundError') {
      throw new GatewayError(404, `block ${cid} is not held by this gateway`);
    }
    throw err;
  }
}

/** Resolves the path locally and reads the terminus block: every trustless answer needs both. */
async function locate(req: GatewayRequest): Promise<Located> {
  // The common trustless request, a bare CID, is one block read: no walk, no existence check.
  if (req.segments.length === 0) {
    return {
      roots: [req.root],
      pathBlocks: [req.root],
      terminus: req.root,
      bytes: await loadBlock(req, req.root)
    };
  }
  // Not held: 404, or 410 for content deleted here (the root block read is the existence check).
  await loadBlock(req, req.root);
  const resolved = await resolvePath(req.root, req.segments, req.blocks, { signal: req.signal, ...OFFLINE });
  return { ...resolved, bytes: await loadBlock(req, resolved.terminus) };
}

/**
 * `?format=raw` / `Accept: application/vnd.ipld.raw`: the bytes of the block at the end of the path
 * (a path is allowed, as on path gateways), with single and multiple byte ranges. The empty
 * identity CID `bafkqaaa` is the spec's probe: its block is empty and needs no storage.
 */
export async function handleRaw(req: GatewayRequest): Promise<GatewayResponse> {
  const { roots, terminus, bytes } = await locate(req);
  const size = bytes.byteLength;
  const etag = `"${terminus}.raw"`;
  const headers: Record<string, string> = {
    'content-type': RAW,
    'content-disposition': contentDisposition('attachment', req.query.get('filename') || `${terminus}.bin`),
    etag,
    'x-content-type-options': 'nosniff',
    'x-ipfs-roots': roots.join(','),
    'accept-ranges': 'bytes'
  };
  const ranged = rangedResponse({
    method: req.method,
    request: requestedRanges(req.method, req.headers, etag, size),
    size,
    contentType: RAW,
    // Blocks are small and already in memory: a range is a view of them.
    read: async function* (start, end) {
      yield bytes.subarray(start, end);
    }
  });
  return { status: ranged.status, headers: { ...headers, ...ranged.headers }, body: ranged.body };
}

/**
 * `?format=car` / `Accept: application/vnd.ipld.car`: a CARv1 streamed in DFS order with the path
 * blocks first, then what `dag-scope` / `entity-bytes` select at the terminus (trustless gateway
 * spec; IPIP-0402). The root and the path are checked before the 200 (a 404 otherwise, HEAD too);
 * a child block missing later ends the stream.
 */
export async function handleCar(req: GatewayRequest, params: CarParams): Promise<GatewayResponse> {
  const { roots, pathBlocks, terminus, bytes } = await locate(req);
  let plan: Plan;
  try {
    plan = terminusPlan({ cid: terminus, bytes }, params.scope, params.entityBytes);
  } catch (err) {
    if (err instanceof EntityBytesOutsideError) throw new GatewayError(400, err.message);
    throw err;
  }
  const headers: Record<string, string> = {
    // Whatever order was asked for, the walk is depth-first, so say so (order=unk allows it).
    'content-type': `application/vnd.ipld.car; version=1; order=dfs; dups=${params.dups ? 'y' : 'n'}`,
    'content-disposition': contentDisposition('attachment', req.query.get('filename') || `${terminus}.car`),
    etag: carEtag(req, params),
    'x-content-type-options': 'nosniff',
    'x-ipfs-roots': roots.join(','),
    'accept-ranges': 'none'
  };
  if (req.method === 'HEAD') return { status: 200, headers };
  const blocks = carBlocks({
    pathBlocks,
    terminus: { cid: terminus, bytes },
    plan,
    dups: params.dups,
    load: (cid, options) => req.blocks.get(cid, { ...options, ...OFFLINE }),
    signal: req.signal
  });
  // The header names the terminus: `ipfs dag import` pins roots, and the terminus is the DAG the
  // CAR holds whole (the path blocks above it are only proofs). Clients ignore roots anyway.
  return { status: 200, headers, body: encodeCar([terminus], blocks) };
}

/**
 * Weak (a CAR is not byte-for-byte reproducible across gateways) and different for every path,
 * scope, byte range and dups choice, as the spec requires.
 */
function carEtag(req: GatewayRequest, params: CarParams): string {
  const range =
    params.entityBytes == null ? null : `${params.entityBytes.from}:${params.entityBytes.to ?? '*'}`;
  const key = JSON.stringify([
    req.root.toV1().toString(),
    req.segments,
    params.version,
    'dfs',
    params.dups,
    params.scope,
    range
  ]);
  const digest = createHash('sha256').update(key).digest();
  return `W/"${req.root}.car.${base32.baseEncode(digest.subarray(0, 10))}"`;
}
