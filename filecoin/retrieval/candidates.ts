// Where a content can be retrieved from, best first: providers holding one of our active deals for
// it (a member of an aggregate by /piece/ Range over its bytes, a piece of its own by trustless CAR),
// then whatever else the IPNI find API (`GET {indexer}/cid/{root}`) lists with an HTTP address;
// last, the same providers over bitswap (for providers that serve no HTTP, or whose HTTP failed).
import type { Kysely } from 'kysely';
import type { CID } from 'multiformats/cid';
import type { Database } from '../../server/db/schema.ts';

export type Transport = 'http-car' | 'http-piece' | 'bitswap';

export interface Candidate {
  /** Miner actor number, when known (our deals; IPNI results are keyed by peer ID only). */
  actor: number | undefined;
  peerId: string | undefined;
  /** Retrieval HTTP base, no trailing slash (bitswap: the first multiaddr, for the record). */
  url: string;
  /** bitswap: the provider's libp2p addresses. */
  multiaddrs?: string[];
  transport: Transport;
  /** http-piece: the aggregate's piece CID and the member's bytes in it. */
  pieceCid?: string;
  offset?: number;
  size?: number;
  source: 'deal' | 'ipni';
}

export interface CandidateInit {
  db: Kysely<Database>;
  /** IPNI find API base (cid.contact or the devnet's). */
  indexerUrl: string | undefined;
  /** Known retrieval URLs by actor number (the devnet's providers), tried before IPNI's addresses. */
  httpUrls?: () => Map<number, string>;
}

interface IpniProvider {
  peerId: string;
  urls: string[];
  /** Its other (libp2p) addresses: where bitswap reaches it. */
  p2p: string[];
}

/** `/ip4/127.0.0.1/tcp/8080/http` (or `/dns/…/tcp/443/https`, `/tls/http`) → an http(s) URL. */
export function multiaddrToHttpUrl(addr: string): string | undefined {
  const m = /^\/(ip4|ip6|dns|dns4|dns6)\/([^/]+)\/tcp\/(\d+)(\/tls)?\/(https?)(?:\/.*)?$/.exec(addr);
  if (m == null) return undefined;
  const host = m[1] === 'ip6' ? `[${m[2]}]` : m[2];
  const secure = m[4] != null || m[5] === 'https';
  return `${secure ? 'https' : 'http'}://${host}:${m[3]}`;
}

export async function lookupIpni(
  indexerUrl: string,
  root: CID,
  signal?: AbortSignal
): Promise<IpniProvider[]> {
  const res = await fetch(`${indexerUrl}/cid/${root.toString()}`, {
    headers: { accept: 'application/json' },
    signal: signal ?? AbortSignal.timeout(10_000)
  });
  if (res.status === 404) {
    await res.body?.cancel();
    return [];
  }
  if (!res.ok) throw new Error(`IPNI ${indexerUrl} answered ${res.status}`);
  const body = (await res.json()) as {
    MultihashResults?: Array<{ ProviderResults?: Array<{ Provider?: { ID?: string; Addrs?: string[] } }> }>;
  };
  const out = new Map<string, IpniProvider>();
  for (const mh of body.MultihashResults ?? []) {
    for (const r of mh.ProviderResults ?? []) {
      const id = r.Provider?.ID;
      if (typeof id !== 'string') continue;
      const entry = out.get(id) ?? { peerId: id, urls: [], p2p: [] };
      for (const a of r.Provider?.Addrs ?? []) {
        if (typeof a !== 'string') continue;
        const url = multiaddrToHttpUrl(a);
        if (url != null) {
          if (!entry.urls.includes(url)) entry.urls.push(url);
        } else if (!entry.p2p.includes(a)) entry.p2p.push(a);
      }
      out.set(id, entry);
    }
  }
  return [...out.values()];
}

/**
 * Candidates for one content, our deals first. `penalty(actorOrPeer)` orders providers that failed
 * recently after the others (stable otherwise: by actor).
 */
export async function findCandidates(
  init: CandidateInit,
  contentId: number,
  root: CID,
  penalty: (who: string) => number,
  log?: { warn(obj: object, msg: string): void }
): Promise<Candidate[]> {
  const rows = await init.db
    .selectFrom('piece_members')
    .innerJoin('pieces', 'pieces.id', 'piece_members.piece_id')
    .innerJoin('deals', 'deals.piece_id', 'pieces.id')
    .leftJoin('providers', 'providers.actor_id', 'deals.provider_actor')
    .select([
      'deals.provider_actor',
      'providers.peer_id',
      'providers.multiaddrs',
      'pieces.kind',
      'pieces.piece_cid',
      'piece_members.byte_offset',
      'piece_members.size'
    ])
    .where('piece_members.content_id', '=', contentId)
    .where('deals.state', '=', 'active')
    .orderBy('deals.provider_actor')
    .execute();

  let ipni: IpniProvider[] = [];
  if (init.indexerUrl != null) {
    try {
      ipni = await lookupIpni(init.indexerUrl, root);
    } catch (err) {
      log?.warn({ err, indexer: init.indexerUrl }, 'IPNI lookup failed; using our deal records only');
    }
  }
  const ipniUrl = new Map(ipni.map((p) => [p.peerId, p.urls[0]]));
  const known = init.httpUrls?.() ?? new Map<number, string>();

  const own: Candidate[] = [];
  const bitswap: Candidate[] = [];
  const seenPeers = new Set<string>();
  const ipniP2p = new Map(ipni.map((p) => [p.peerId, p.p2p]));
  for (const r of rows) {
    const actor = Number(r.provider_actor);
    const peerId = r.peer_id ?? undefined;
    let addrs: string[] = [];
    try {
      addrs = r.multiaddrs == null ? [] : (JSON.parse(r.multiaddrs) as string[]);
    } catch {
      // not JSON: no address from here
    }
    if (peerId != null && !seenPeers.has(peerId)) {
      seenPeers.add(peerId);
      const p2p = [...addrs, ...(ipniP2p.get(peerId) ?? [])].filter((a) => multiaddrToHttpUrl(a) == null);
      if (p2p.length > 0)
        bitswap.push({
          actor,
          peerId,
          url: p2p[0]!,
          multiaddrs: p2p,
          transport: 'bitswap',
          source: 'deal'
        });
    }
    const url =
      known.get(actor) ??
      (peerId == null ? undefined : ipniUrl.get(peerId)) ??
      addrs.map(multiaddrToHttpUrl).find((u) => u != null);
    if (url == null) continue;
    const base = { actor, peerId, url: url.replace(/\/+$/, ''), source: 'deal' as const };
    const size = Number(r.size);
    if (r.kind === 'aggregate' && r.piece_cid != null && size > 0) {
      // The member's own CAR sits at its offset in the aggregate: fetch exactly those bytes.
      own.push({
        ...base,
        transport: 'http-piece',
        pieceCid: r.piece_cid,
        offset: Number(r.byte_offset),
        size
      });
    } else {
      own.push({ ...base, transport: 'http-car' });
    }
  }
  const who = (c: Candidate) => (c.actor != null ? `f0${c.actor}` : (c.peerId ?? c.url));
  const byPenalty = (a: Candidate, b: Candidate) => penalty(who(a)) - penalty(who(b));
  const others: Candidate[] = [];
  const otherBitswap: Candidate[] = [];
  for (const p of ipni) {
    if (seenPeers.has(p.peerId)) continue;
    if (p.urls[0] != null)
      others.push({
        actor: undefined,
        peerId: p.peerId,
        url: p.urls[0],
        transport: 'http-car',
        source: 'ipni'
      });
    if (p.p2p[0] != null)
      otherBitswap.push({
        actor: undefined,
        peerId: p.peerId,
        url: p.p2p[0],
        multiaddrs: p.p2p,
        transport: 'bitswap',
        source: 'ipni'
      });
  }
  return [
    ...own.sort(byPenalty),
    ...others.sort(byPenalty),
    ...bitswap.sort(byPenalty),
    ...otherBitswap.sort(byPenalty)
  ];
}
