import { Inclusion } from '@web3-storage/data-segment';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { parseEstimateRequest } from '../../../filecoin/deals/estimate.ts';
import type { DealsApi } from '../../../filecoin/deals/api.ts';
import type { ChainDeal } from '../../../filecoin/deals/network.ts';
import {
  DEFAULT_PAGE,
  MAX_PAGE,
  parseBefore,
  type DealRecord,
  type FailureRecord,
  type InclusionRecord,
  type PieceRecord
} from '../../../filecoin/deals/queries.ts';
import { formatActorId, parseActorId } from '../../../filecoin/providers/actor.ts';
import { scoreOf } from '../../../filecoin/providers/scoring.ts';
import type { StoredAsk } from '../../../filecoin/providers/chooser.ts';
import { PERM_ADMIN, PERM_USER, type Provider } from '../../../server/db/schema.ts';
import { InvalidInputError, NotFoundError } from '../../../server/errors.ts';
import { requireAuth, userOf } from '../auth.ts';
import { pageParam, readBody } from '../body.ts';
import type { ApiContext } from '../context.ts';

const FILECOIN_OFF = {
  error: { code: 503, reason: 'ERR_FILECOIN_OFF', details: 'Filecoin is not configured on this node' }
};

const iso = (ms: number | null): string | null => (ms == null ? null : new Date(ms).toISOString());

function idParam(text: string, what: string): number {
  const id = Number(text);
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(id) || id < 1)
    throw new InvalidInputError('ERR_INVALID_INPUT', `"${text}" is not a ${what}`);
  return id;
}

/** `?ids=3,7,9`: only these contents (at most MAX_PAGE); undefined when not given. */
function contentIdsParam(text: string | undefined): number[] | undefined {
  if (text === undefined) return undefined;
  const ids = text === '' ? [] : [...new Set(text.split(',').map((t) => idParam(t.trim(), 'content id')))];
  if (ids.length > MAX_PAGE) throw new InvalidInputError('ERR_INVALID_INPUT', `at most ${MAX_PAGE} ids`);
  return ids;
}

/**
 * The steps a deal went through, in order, each with when it reached it. The deal worker gives every
 * step it passes a time, so `at` is null only for a deal recorded before it did (reached, time unknown).
 */
export function dealTimeline(d: DealRecord): Array<{ step: string; at: string | null }> {
  const steps: Array<{ step: string; at: string | null }> = [{ step: 'proposed', at: iso(d.createdAt) }];
  const order = ['proposing', 'accepted', 'transferring', 'transferred', 'published', 'active'];
  const times: Array<[string, number | null]> = [
    ['accepted', d.acceptedAt],
    ['transferring', d.transferStartedAt],
    ['transferred', d.transferredAt],
    ['published', d.publishedAt],
    ['active', d.activatedAt]
  ];
  // A step is reached when it has a time, when the deal is at or past it, or when a later one is.
  const last = Math.max(
    order.indexOf(d.state),
    ...times.map(([step, at]) => (at != null ? order.indexOf(step) : -1))
  );
  for (const [step, at] of times) {
    if (order.indexOf(step) <= last) steps.push({ step, at: iso(at) });
  }
  if (d.state === 'failed' || d.state === 'slashed' || d.state === 'expired')
    steps.push({ step: d.state, at: iso(d.endedAt ?? d.updatedAt) });
  return steps;
}

/** A deal as Estuary's ContentDeal (`ID`, `miner`, `dealId`, `propCid`, …) plus Firth's state fields. */
export function dealJson(d: DealRecord, prefix: 'f' | 't', content: number | null) {
  const ended = d.state === 'failed' || d.state === 'slashed' || d.state === 'expired';
  return {
    ID: d.id,
    CreatedAt: iso(d.createdAt),
    UpdatedAt: iso(d.updatedAt),
    content,
    miner: formatActorId(d.provider, prefix),
    propCid: d.proposalCid ?? '',
    signedPropCid: d.signedProposalCid ?? '',
    dealUuid: d.uuid,
    dealId: d.chainDealId ?? 0,
    failed: d.state === 'failed',
    verified: d.verified,
    slashed: d.state === 'slashed',
    failedAt: ended ? iso(d.endedAt ?? d.updatedAt) : null,
    transferStarted: iso(d.transferStartedAt),
    transferFinished: iso(d.transferredAt),
    onChainAt: iso(d.publishedAt),
    sealedAt: iso(d.activatedAt),
    deal_protocol_version: '/fil/storage/mk/1.2.0',
    state: d.state,
    failedPhase: d.failedPhase,
    message: d.message,
    pieceId: d.pieceId,
    pieceCid: d.piece.pieceCid,
    pieceSize: d.piece.pieceSize,
    pieceKind: d.piece.kind,
    startEpoch: d.startEpoch,
    endEpoch: d.endEpoch,
    pricePerEpoch: d.pricePerEpoch,
    publishCid: d.publishCid,
    timeline: dealTimeline(d)
  };
}

function transferJson(d: DealRecord) {
  if (
    d.acceptedAt == null &&
    d.transferStartedAt == null &&
    d.state !== 'transferring' &&
    d.state !== 'accepted'
  )
    return null;
  const statusMessage =
    d.transferredAt != null
      ? 'Completed'
      : d.state === 'failed'
        ? 'Failed'
        : d.state === 'transferring'
          ? 'Transferring'
          : 'Waiting for the provider';
  return { statusMessage, received: d.bytesReceived, size: d.transferSize };
}

function storedOnChainState(d: DealRecord) {
  if (d.chainDealId == null) return null;
  return {
    sectorStartEpoch: d.sectorStartEpoch ?? 0,
    lastUpdatedEpoch: 0,
    slashEpoch: d.state === 'slashed' ? 1 : -1,
    source: 'stored' as const
  };
}

function failureJson(f: FailureRecord, prefix: 'f' | 't', withUser: boolean) {
  return {
    ID: f.id,
    CreatedAt: iso(f.at),
    miner: formatActorId(f.provider, prefix),
    phase: f.phase,
    kind: f.kind,
    message: f.message,
    dealId: f.dealId,
    deal_uuid: f.dealUuid ?? '',
    deal_protocol_version: '/fil/storage/mk/1.2.0',
    ...(withUser ? { content: f.contents[0] ?? 0, contents: f.contents } : {})
  };
}

function pieceJson(p: PieceRecord) {
  return {
    id: p.id,
    kind: p.kind,
    state: p.state,
    pieceCid: p.pieceCid,
    pieceSize: p.pieceSize,
    payloadSize: p.payloadSize,
    shardIndex: p.shardIndex,
    replication: p.replication,
    items: p.items,
    lastError: p.lastError
  };
}

const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString('hex');

/** The CBOR proof decoded into Lotus's InclusionProof JSON shape (ProofSubtree, ProofIndex). */
function proofJson(proofHex: string) {
  try {
    const [tree, index] = Inclusion.decode(Buffer.from(proofHex, 'hex'));
    const part = ([offset, path]: readonly [bigint | number, readonly Uint8Array[]]) => ({
      index: String(offset),
      path: path.map(hex)
    });
    return { subtree: part(tree), index: part(index) };
  } catch {
    return null;
  }
}

function inclusionJson(r: InclusionRecord) {
  return {
    position: r.position,
    pieceCid: r.segmentPieceCid,
    aggregatePieceCid: r.aggregate.pieceCid,
    aggregatePieceSize: r.aggregate.pieceSize,
    aggregateItems: r.aggregate.items,
    aggregateState: r.aggregate.state,
    offset: r.byteOffset,
    size: r.size,
    proofHex: r.proofHex,
    proof: r.proofHex == null ? null : proofJson(r.proofHex)
  };
}

function chainDealJson(dealId: number, d: ChainDeal, head: number | null, prefix: 'f' | 't') {
  const state =
    d.slashEpoch > 0
      ? 'slashed'
      : head != null && d.endEpoch <= head
        ? 'expired'
        : d.sectorStartEpoch > 0
          ? 'active'
          : 'published';
  return {
    dealId,
    state,
    head,
    Proposal: {
      PieceCID: { '/': d.pieceCid },
      Provider: formatActorId(d.provider, prefix),
      StartEpoch: d.startEpoch,
      EndEpoch: d.endEpoch
    },
    State: { SectorStartEpoch: d.sectorStartEpoch, LastUpdatedEpoch: -1, SlashEpoch: d.slashEpoch }
  };
}

/**
 * Estuary's deal routes (content deals, one deal, chain lookup, failure logs, metrics, estimate)
 * and its admin-managed provider list. With no Filecoin network (`ctx.deals` unset) they answer 503
 * ERR_FILECOIN_OFF, except the content status (no deals) and the public lists (empty).
 */
export async function dealsRoutes(app: FastifyInstance, ctx: ApiContext): Promise<void> {
  const user = requireAuth(ctx.accounts, PERM_USER);
  const admin = requireAuth(ctx.accounts, PERM_ADMIN);
  const on = async (_req: FastifyRequest, reply: FastifyReply) => {
    if (ctx.deals == null) return reply.status(503).send(FILECOIN_OFF);
  };
  const deals = (): DealsApi => ctx.deals!;
  const isAdmin = (req: FastifyRequest) => userOf(req).user.perm >= PERM_ADMIN;
  const q = (req: FastifyRequest) => req.query as Record<string, string | undefined>;
  const limitOf = (req: FastifyRequest) =>
    Math.max(1, pageParam(q(req).limit, 'limit', DEFAULT_PAGE, MAX_PAGE));

  // Estuary's content status: the content and every deal for its pieces, with their states.
  app.get('/content/status/:id', { preHandler: user }, async (req) => {
    const u = userOf(req).user;
    const content = await ctx.content.get(u.id, (req.params as { id: string }).id);
    const api = ctx.deals;
    if (api == null) {
      return {
        content,
        deals: [],
        failuresCount: 0,
        filecoin: false,
        summary: {
          target: content.replication,
          active: 0,
          inFlight: 0,
          failed: 0,
          slashed: 0,
          expired: 0,
          total: 0,
          pieces: 0,
          aggregated: false,
          failing: null
        },
        pieces: []
      };
    }
    const { pieces, deals: rows, summary } = await api.queries.contentDeals(content.id, content.replication);
    return {
      // Estuary's dealStatus field, filled when no more deals are being made for the content.
      content: summary.failing == null ? content : { ...content, dealStatus: 'deals failing' },
      deals: rows.map((d) => ({
        deal: dealJson(d, api.addressPrefix, content.id),
        transfer: transferJson(d),
        onChainState: storedOnChainState(d)
      })),
      failuresCount: summary.failed + summary.slashed,
      filecoin: true,
      summary,
      placement: api.placement(content.dagSize, content.replication),
      pieces: pieces.map(pieceJson)
    };
  });

  app.get('/content/deals', { preHandler: [user, on] }, async (req) => {
    const rows = await deals().queries.contentsWithDeals(userOf(req).user.id, {
      limit: limitOf(req),
      offset: pageParam(q(req).offset, 'offset', 0, 1e12),
      ids: contentIdsParam(q(req).ids)
    });
    return rows.map((c) => ({
      id: c.id,
      cid: c.cid,
      name: c.name,
      size: c.size,
      createdAt: iso(c.createdAt),
      replication: c.replication,
      aggregatedFiles: 0,
      summary: c.summary
    }));
  });

  // Each child of an aggregate keeps its FRC-0058 inclusion proof.
  app.get('/content/:id/proof', { preHandler: [user, on] }, async (req) => {
    const content = await ctx.content.get(userOf(req).user.id, (req.params as { id: string }).id);
    const proofs = await deals().queries.inclusion(content.id);
    if (proofs.length === 0) {
      throw new NotFoundError(
        'ERR_PROOF_NOT_FOUND',
        `content ${content.id} is not in an aggregate: it is dealt as a piece of its own`
      );
    }
    return { contentId: content.id, cid: content.cid, proofs: proofs.map(inclusionJson) };
  });

  // The manifest of a content dealt as shards (too large for one piece): each shard's piece and the
  // run of the content's CAR blocks (depth-first order) it carries; their blocks in order are the DAG.
  app.get('/content/:id/shards', { preHandler: [user, on] }, async (req) => {
    const content = await ctx.content.get(userOf(req).user.id, (req.params as { id: string }).id);
    const { pieces } = await deals().queries.contentDeals(content.id, content.replication);
    const shards = pieces
      .filter((p) => p.kind === 'shard')
      .sort((x, y) => (x.shardIndex ?? 0) - (y.shardIndex ?? 0));
    if (shards.length === 0) {
      throw new NotFoundError(
        'ERR_SHARDS_NOT_FOUND',
        `content ${content.id} is not split into shards: it fits in one piece`
      );
    }
    return {
      contentId: content.id,
      root: content.cid,
      shards: shards.map((p) => ({
        index: p.shardIndex,
        state: p.state,
        carRoot: p.rootCid,
        pieceCid: p.pieceCid,
        pieceSize: p.pieceSize,
        payloadSize: p.payloadSize,
        firstBlock: p.firstBlock,
        blocks: p.blockCount
      }))
    };
  });

  app.get('/deals/status/:id', { preHandler: [user, on] }, async (req) => {
    const api = deals();
    const u = userOf(req).user;
    const d = await api.queries.deal(
      idParam((req.params as { id: string }).id, 'deal id'),
      u.id,
      isAdmin(req)
    );
    const contents = await api.queries.dealContents(d.pieceId, u.id, isAdmin(req));
    let onChainState: Record<string, unknown> | null = storedOnChainState(d);
    if (d.chainDealId != null) {
      // Live when the chain answers in time; otherwise what the deal worker last saw.
      try {
        const live = await Promise.race([
          api.chainDeal(d.chainDealId),
          new Promise<never>((_, reject) => setTimeout(() => reject(new Error('timeout')), 5000).unref())
        ]);
        if (live != null) {
          onChainState = {
            sectorStartEpoch: live.sectorStartEpoch,
            lastUpdatedEpoch: -1,
            slashEpoch: live.slashEpoch,
            source: 'chain'
          };
        }
      } catch (err) {
        req.log.info({ err: (err as Error).message }, 'live chain lookup failed; showing stored state');
      }
    }
    return {
      deal: dealJson(d, api.addressPrefix, contents[0] ?? null),
      contents,
      transfer: transferJson(d),
      onChainState
    };
  });

  // Estuary's "deal lookup by ID": the market actor's view of any deal, live.
  app.get('/deals/info/:dealid', { preHandler: [user, on] }, async (req) => {
    const api = deals();
    const text = (req.params as { dealid: string }).dealid;
    const dealId = Number(text);
    if (!/^\d+$/.test(text) || !Number.isSafeInteger(dealId))
      throw new InvalidInputError('ERR_INVALID_INPUT', `"${text}" is not a chain deal ID`);
    const [found, head] = await Promise.all([api.chainDeal(dealId), api.head().catch(() => null)]);
    if (found == null) throw new NotFoundError('ERR_DEAL_NOT_FOUND', `deal ${dealId} is not on chain`);
    return chainDealJson(dealId, found, head, api.addressPrefix);
  });

  app.get('/deals/failures', { preHandler: [user, on] }, async (req) => {
    const api = deals();
    const rows = await api.queries.failures(userOf(req).user.id, {
      limit: limitOf(req),
      before: parseBefore(q(req).before)
    });
    return rows.map((f) => failureJson(f, api.addressPrefix, true));
  });

  app.post('/deals/estimate', { preHandler: [user, on] }, async (req) => {
    const api = deals();
    return api.estimate(parseEstimateRequest(req.body, api.defaultDurationEpochs));
  });

  app.get('/public/deals/failures', async (req) => {
    const limit = limitOf(req);
    const before = parseBefore(q(req).before);
    const api = ctx.deals;
    if (api == null) return [];
    const rows = await api.queries.publicFailures({ limit, before });
    return rows.map((f) => failureJson(f, api.addressPrefix, false));
  });

  app.get('/public/metrics/deals-on-chain', async (req) => {
    const days = pageParam(q(req).days, 'days', 30, 365);
    const api = ctx.deals;
    const metrics =
      api == null
        ? {
            byState: {},
            onChainDeals: 0,
            onChainBytes: 0,
            activeDeals: 0,
            activeBytes: 0,
            days: []
          }
        : await api.metrics(Math.max(1, days));
    return {
      ...metrics,
      days: metrics.days.map((d) => ({
        time: iso(d.day),
        dealsOnChain: d.dealsOnChain,
        dealsOnChainBytes: d.dealsOnChainBytes,
        dealsAttempted: d.dealsAttempted,
        dealsSealed: d.dealsSealed,
        dealsSealedBytes: d.dealsSealedBytes,
        dealsFailed: d.dealsFailed
      }))
    };
  });

  // ---- Providers: Estuary's admin-managed list ----

  async function minersJson(api: DealsApi, rows: Provider[]) {
    const records = await api.providerRecords();
    return rows.map((p) => {
      const record = records.get(Number(p.actor_id));
      let ask: StoredAsk | null;
      try {
        ask = p.ask == null ? null : (JSON.parse(p.ask) as StoredAsk);
      } catch {
        ask = null;
      }
      return {
        addr: formatActorId(Number(p.actor_id), api.addressPrefix),
        name: '',
        suspended: p.state === 'suspended',
        suspendedReason: p.suspend_reason,
        version: '',
        chain_info: {
          peerId: p.peer_id,
          addresses: JSON.parse(p.multiaddrs) as string[],
          owner: '',
          worker: ''
        },
        source: p.source,
        score: scoreOf(record),
        deals: record ?? null,
        ask,
        askFetchedAt: iso(p.ask_fetched_at == null ? null : Number(p.ask_fetched_at)),
        askError: p.ask_error
      };
    });
  }

  app.get('/public/miners', async () => {
    const api = ctx.deals;
    if (api == null) return [];
    return minersJson(api, await api.registry.list());
  });

  app.get('/admin/miners', { preHandler: [admin, on] }, async () =>
    minersJson(deals(), await deals().registry.list())
  );

  app.get('/public/miners/deals/:miner', async (req) => {
    const provider = parseActorId((req.params as { miner: string }).miner);
    const limit = limitOf(req);
    const offset = pageParam(q(req).offset, 'offset', 0, 1e12);
    const api = ctx.deals;
    if (api == null) return [];
    await api.registry.get(provider);
    const rows = await api.queries.providerDeals(provider, {
      limit,
      offset,
      ignoreFailed: q(req)['ignore-failed'] === 'true'
    });
    // Public: the deal and its piece, never whose content it holds.
    return rows.map((d) => {
      const { content: _content, ...rest } = dealJson(d, api.addressPrefix, null);
      return rest;
    });
  });

  const minerParam = (req: FastifyRequest) => parseActorId((req.params as { miner: string }).miner);

  app.post('/admin/miners/add/:miner', { preHandler: [admin, on] }, async (req) => {
    const api = deals();
    const added = await api.registry.add(minerParam(req), 'admin');
    const [json] = await minersJson(api, [added]);
    return json;
  });

  app.post('/admin/miners/rm/:miner', { preHandler: [admin, on] }, async (req) => {
    await deals().registry.remove(minerParam(req));
    return {};
  });

  app.post('/admin/miners/suspend/:miner', { preHandler: [admin, on] }, async (req) => {
    const miner = minerParam(req);
    const body =
      req.body == null || req.body === '' ? { reason: undefined } : readBody(req.body, { reason: 'string?' });
    const reason = (body.reason ?? '').trim();
    if (reason.length > 1000)
      throw new InvalidInputError('ERR_INVALID_INPUT', '"reason" must be at most 1000 characters');
    await deals().registry.suspend(miner, reason);
    return {};
  });

  app.put('/admin/miners/unsuspend/:miner', { preHandler: [admin, on] }, async (req) => {
    await deals().registry.unsuspend(minerParam(req));
    return {};
  });
}
