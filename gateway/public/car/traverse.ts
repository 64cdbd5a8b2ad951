import * as dagCbor from '@ipld/dag-cbor';
import * as dagJson from '@ipld/dag-json';
import * as dagPb from '@ipld/dag-pb';
import { UnixFS } from 'ipfs-unixfs';
import { CID } from 'multiformats/cid';
import * as raw from 'multiformats/codecs/raw';
import { identity } from 'multiformats/hashes/identity';
import { overlappingChildren, resolveRange, type ByteRange, type RequestedRange } from './entity-bytes.ts';
import type { Block } from './writer.ts';

/**
 * What to send below a block (trustless gateway spec §dag-scope, IPIP-0402):
 * - `block`: nothing, the block alone;
 * - `all`: every block reachable through its links, whatever the codec;
 * - `file`: a UnixFS file's DAG, or only the nodes and leaves overlapping `range`;
 * - `hamt`: a HAMT directory's shard nodes, not the entries they point to.
 */
export type Plan =
  { kind: 'block' } | { kind: 'all' } | { kind: 'file'; range?: ByteRange } | { kind: 'hamt' };

export type Scope = 'block' | 'entity' | 'all';

const BLOCK: Plan = { kind: 'block' };
const ALL: Plan = { kind: 'all' };
const FILE: Plan = { kind: 'file' };
const HAMT: Plan = { kind: 'hamt' };

/** `entity-bytes` starts past the end of the entity; known before streaming, so a 400. */
export class EntityBytesOutsideError extends Error {
  override name = 'EntityBytesOutsideError';
  readonly size: number;
  constructor(size: number) {
    super(`entity-bytes starts past the end of the entity (${size} bytes)`);
    this.size = size;
  }
}

export type LoadBlock = (cid: CID, options: { signal?: AbortSignal }) => Promise<Uint8Array>;

interface DecodedPb {
  links: dagPb.PBLink[];
  unixfs?: UnixFS;
}

function decodePb(bytes: Uint8Array): DecodedPb {
  const node = dagPb.decode(bytes);
  let unixfs: UnixFS | undefined;
  try {
    if (node.Data != null) unixfs = UnixFS.unmarshal(node.Data);
  } catch {
    // dag-pb that is not UnixFS: it has links but no file or directory meaning.
  }
  return { links: node.Links, unixfs };
}

const isFile = (u: UnixFS | undefined): u is UnixFS => u?.type === 'file' || u?.type === 'raw';

/**
 * The plan at the end of the path. `entity` depends on what the terminus is: a UnixFS file means
 * its DAG (or the part `entityBytes` asks for), a HAMT its shards, anything else just the block.
 */
export function terminusPlan(block: Block, scope: Scope, entityBytes?: RequestedRange): Plan {
  if (scope === 'block') return BLOCK;
  if (scope === 'all') return ALL;
  if (block.cid.code === raw.code) {
    // A raw block is a byte array too; only the out-of-range check applies to it.
    if (entityBytes != null && resolveRange(entityBytes, block.bytes.byteLength).kind === 'outside') {
      throw new EntityBytesOutsideError(block.bytes.byteLength);
    }
    return BLOCK;
  }
  if (block.cid.code !== dagPb.code) return BLOCK;
  const { unixfs } = decodePb(block.bytes);
  if (unixfs?.type === 'hamt-sharded-directory') return HAMT;
  if (!isFile(unixfs)) return BLOCK;
  if (entityBytes == null) return FILE;
  const size = Number(unixfs.fileSize());
  const resolved = resolveRange(entityBytes, size);
  if (resolved.kind === 'outside') throw new EntityBytesOutsideError(size);
  if (resolved.kind === 'empty') return BLOCK;
  const { from, to } = resolved.range;
  return from === 0 && to === size - 1 ? FILE : { kind: 'file', range: resolved.range };
}

/** CIDs anywhere in a decoded DAG-CBOR/DAG-JSON value, in document order (the DFS order). */
function* cidsIn(value: unknown): Generator<CID> {
  const cid = CID.asCID(value);
  if (cid != null) {
    yield cid;
    return;
  }
  if (value == null || typeof value !== 'object' || value instanceof Uint8Array) return;
  for (const v of Array.isArray(value) ? value : Object.values(value)) yield* cidsIn(v);
}

function allLinks(block: Block): CID[] {
  switch (block.cid.code) {
    case dagPb.code:
      return dagPb.decode(block.bytes).Links.map((l) => l.Hash);
    case dagCbor.code:
      return [...cidsIn(dagCbor.decode(block.bytes))];
    case dagJson.code:
      return [...cidsIn(dagJson.decode(block.bytes))];
    default:
      // raw, plain json/cbor and codecs we cannot read have no links we could follow.
      return [];
  }
}

interface Child {
  cid: CID;
  plan: Plan;
}

function children(block: Block, plan: Plan): Child[] {
  if (plan.kind === 'block') return [];
  if (plan.kind === 'all') return allLinks(block).map((cid) => ({ cid, plan: ALL }));
  if (block.cid.code !== dagPb.code) return [];
  const { links, unixfs } = decodePb(block.bytes);
  if (plan.kind === 'hamt') {
    if (unixfs?.type !== 'hamt-sharded-directory') return [];
    // Shard links are named by their bucket alone (2 hex digits for fanout 256); entries are
    // bucket + name.
    const padLength = (Number(unixfs.fanout ?? 256n) - 1).toString(16).length;
    return links.filter((l) => (l.Name ?? '').length === padLength).map((l) => ({ cid: l.Hash, plan: HAMT }));
  }
  if (!isFile(unixfs)) return [];
  const range = plan.range;
  const blockSizes = unixfs.blockSizes.map(Number);
  // Without a range, or when the sizes do not line up with the links (a malformed node), send all.
  if (range == null || blockSizes.length !== links.length) {
    return links.map((l) => ({ cid: l.Hash, plan: FILE }));
  }
  return overlappingChildren(unixfs.data?.byteLength ?? 0, blockSizes, range).map((s) => ({
    cid: links[s.index]!.Hash,
    plan: s.whole ? FILE : { kind: 'file', range: s.range }
  }));
}

/** Whether a plan covers a block's whole subtree (so with dups=n, meeting it again adds nothing). */
const isWhole = (plan: Plan): boolean => plan.kind !== 'file' || plan.range == null;

/**
 * Loads children in order with a few reads in flight, so a DAG walk is not one disk (or network)
 * round trip per block. Failures surface only when that child's turn comes, keeping DFS order.
 */
function lookahead(cids: CID[], load: (cid: CID) => Promise<Uint8Array>, window: number) {
  const pending = new Map<number, Promise<Uint8Array>>();
  let started = 0;
  return (index: number): Promise<Uint8Array> => {
    while (started < Math.min(cids.length, index + window)) {
      const p = load(cids[started]!);
      p.catch(() => {}); // handled when awaited; unawaited ones (skipped children) must not crash
      pending.set(started, p);
      started++;
    }
    const p = pending.get(index) ?? load(cids[index]!);
    pending.delete(index);
    return p;
  };
}

export interface CarBlocksInit {
  /** Blocks read to resolve the path, root first; the terminus may end it (it is sent once). */
  pathBlocks: CID[];
  terminus: Block;
  plan: Plan;
  /** `dups=y`: send a block every time the walk meets it. */
  dups: boolean;
  load: LoadBlock;
  signal?: AbortSignal;
  /**
   * Child blocks read ahead per DAG level.
   * @default 4
   */
  lookahead?: number;
}

/**
 * The blocks of a trustless CAR in DFS order: the path blocks, the terminus, then what the plan
 * asks for below it. Identity-hash CIDs are walked through but never sent (their bytes are in the
 * CID). With `dups=n` each block is sent once, and a subtree already sent whole is not walked again;
 * a subtree sent only in part (an `entity-bytes` slice) is walked again, since another slice of the
 * same node may need other leaves. A block that cannot be loaded throws, ending the stream.
 */
export async function* carBlocks(init: CarBlocksInit): AsyncGenerator<Block> {
  const window = init.lookahead ?? 4;
  const sent = new Set<string>();
  const whole = new Set<string>();
  const load = (cid: CID) => init.load(cid, { signal: init.signal });
  const shouldSend = (cid: CID): boolean => {
    if (cid.multihash.code === identity.code) return false;
    if (init.dups) return true;
    const key = cid.toString();
    if (sent.has(key)) return false;
    sent.add(key);
    return true;
  };
  const done = (cid: CID) => !init.dups && whole.has(cid.toString());

  async function* visit(block: Block, plan: Plan): AsyncGenerator<Block> {
    if (shouldSend(block.cid)) yield block;
    const kids = children(block, plan);
    const next = lookahead(
      kids.map((k) => k.cid),
      load,
      window
    );
    for (let i = 0; i < kids.length; i++) {
      const kid = kids[i]!;
      // A sibling's subtree may have sent this one whole already.
      if (done(kid.cid)) continue;
      yield* visit({ cid: kid.cid, bytes: await next(i) }, kid.plan);
    }
    if (!init.dups && isWhole(plan)) whole.add(block.cid.toString());
  }

  for (const cid of init.pathBlocks) {
    if (cid.equals(init.terminus.cid)) continue;
    const bytes = await load(cid);
    if (shouldSend(cid)) yield { cid, bytes };
  }
  yield* visit(init.terminus, init.plan);
}
