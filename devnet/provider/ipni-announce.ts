// Announcing a deal's blocks to the devnet's IPNI-style indexer, the way Boost advertises a deal:
// ContextID = the deal's SignedProposalCid bytes, metadata sorted by transport code. Boost puts
// bitswap and HTTP under "extended providers" with their own addrs; the devnet's ingest takes one
// record per deal, so the record carries every transport and every address: the libp2p addrs
// (bitswap, graphsync) and the retrieval server as `/ip4/…/tcp/PORT/http` — the multiaddr form
// Lassie and other cid.contact clients turn into an HTTP candidate (filecoin.md §8.1–8.2).
import { base58btc } from 'multiformats/bases/base58';
import type { CID } from 'multiformats/cid';
import {
  encodeMetadata,
  TRANSPORT_BITSWAP,
  TRANSPORT_FILECOIN_PIECE_HTTP,
  TRANSPORT_GRAPHSYNC_FILECOINV1,
  TRANSPORT_IPFS_GATEWAY_HTTP
} from '../ipni/metadata.ts';

export interface Announcement {
  signedProposalCid: CID;
  pieceCid: CID;
  verifiedDeal: boolean;
  peerId: string;
  addrs: string[];
  blocks: CID[];
}

const b64 = (bytes: Uint8Array): string => Buffer.from(bytes).toString('base64');

/** The multiaddr of an http(s) base URL: `http://127.0.0.1:8080` → `/ip4/127.0.0.1/tcp/8080/http`. */
export function httpUrlToMultiaddr(url: string): string {
  const u = new URL(url);
  const host = u.hostname.replace(/^\[|\]$/g, '');
  const proto = /^\d+\.\d+\.\d+\.\d+$/.test(host) ? 'ip4' : host.includes(':') ? 'ip6' : 'dns';
  const port = u.port === '' ? (u.protocol === 'https:' ? '443' : '80') : u.port;
  return `/${proto}/${host}/tcp/${port}/${u.protocol === 'https:' ? 'https' : 'http'}`;
}

export function announcementBody(a: Announcement): Record<string, unknown> {
  const metadata = encodeMetadata([
    { code: TRANSPORT_BITSWAP },
    {
      code: TRANSPORT_GRAPHSYNC_FILECOINV1,
      pieceCid: a.pieceCid,
      verifiedDeal: a.verifiedDeal,
      fastRetrieval: true
    },
    { code: TRANSPORT_IPFS_GATEWAY_HTTP },
    { code: TRANSPORT_FILECOIN_PIECE_HTTP }
  ]);
  return {
    ContextID: b64(a.signedProposalCid.bytes),
    Metadata: b64(metadata),
    Provider: { ID: a.peerId, Addrs: a.addrs },
    Multihashes: [...new Set(a.blocks.map((cid) => base58btc.baseEncode(cid.multihash.bytes)))]
  };
}

async function post(url: string, body: unknown, signal?: AbortSignal): Promise<void> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
    signal: AbortSignal.any([AbortSignal.timeout(30_000), ...(signal == null ? [] : [signal])])
  });
  const text = await response.text();
  if (!response.ok)
    throw new Error(`IPNI ${new URL(url).pathname}: HTTP ${response.status}: ${text.slice(0, 200)}`);
}

export async function announce(ipniUrl: string, a: Announcement, options: { signal?: AbortSignal } = {}) {
  await post(`${ipniUrl}/ingest/announce`, announcementBody(a), options.signal);
}

export async function removeAnnouncement(
  ipniUrl: string,
  signedProposalCid: CID,
  peerId: string,
  options: { signal?: AbortSignal } = {}
): Promise<void> {
  await post(
    `${ipniUrl}/ingest/remove`,
    { ContextID: b64(signedProposalCid.bytes), ProviderID: peerId },
    options.signal
  );
}
