import { CID } from 'multiformats/cid';
import type { ContentDeal } from '$lib/api/content';

export interface GatewayLinks {
  /** `${gatewayUrl}/ipfs/<cid>`: works with any gateway. */
  path: string;
  /**
   * `http://<cidv1 base32>.ipfs.<gateway host>/`: each CID gets its own origin. Null when the gateway's host is
   * an IP address (no subdomains there) or the CID cannot be parsed.
   */
  subdomain: string | null;
}

/** The public gateway's links for a root CID, in path and subdomain form. */
export function gatewayLinks(gatewayUrl: string, cid: string): GatewayLinks {
  const origin = gatewayUrl.replace(/\/+$/, '');
  const path = `${origin}/ipfs/${encodeURIComponent(cid)}`;
  let subdomain: string | null = null;
  try {
    const url = new URL(origin);
    const isIp = /^\d+\.\d+\.\d+\.\d+$/.test(url.hostname) || url.hostname.startsWith('[');
    // A DNS label holds at most 63 characters; base32 CIDv1 of a sha2-256 root is 59.
    const label = CID.parse(cid).toV1().toString();
    if (!isIp && label.length <= 63) {
      subdomain = `${url.protocol}//${label}.ipfs.${url.host}${url.pathname.replace(/\/+$/, '')}/`;
    }
  } catch {
    subdomain = null;
  }
  return { path, subdomain };
}

/** Where a Filecoin deal stands, in words: "Active", "Published", "Failed", … */
export function dealState(deal: ContentDeal): { label: string; tone: 'ok' | 'bad' | '' } {
  const d = deal.deal ?? {};
  if (d.failed) return { label: 'Failed', tone: 'bad' };
  const slashEpoch = deal.onChainState?.slashEpoch;
  if (d.slashed || (typeof slashEpoch === 'number' && slashEpoch > 0))
    return { label: 'Slashed', tone: 'bad' };
  if ((deal.onChainState?.sectorStartEpoch ?? 0) > 0) return { label: 'Active', tone: 'ok' };
  if ((d.dealId ?? 0) > 0) return { label: 'Published', tone: '' };
  const transfer = deal.transfer?.statusMessage;
  if (transfer) return { label: `Transfer: ${transfer}`, tone: '' };
  return { label: 'Proposed', tone: '' };
}

/** Badge tone for a pin status. */
export function pinTone(status: string): 'ok' | 'bad' | '' {
  if (status === 'pinned') return 'ok';
  if (status === 'failed' || status === 'offline') return 'bad';
  return '';
}
