import { posix } from 'node:path';
import { GatewayError, type GatewayResponse } from './types.ts';

/**
 * The URI router for `navigator.registerProtocolHandler` (subdomain-gateway spec): a browser
 * registered to send `ipfs://{cid}/path` to `/ipfs/?uri=%s` gets a 301 to the content path
 * `/ipfs/{cid}/path` (its query kept), on whichever gateway form then serves it.
 */
export function protocolHandlerRedirect(uri: string): GatewayResponse {
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    throw new GatewayError(400, `the uri query parameter "${uri.slice(0, 200)}" is not a URI`);
  }
  const scheme = url.protocol.slice(0, -1);
  if (scheme !== 'ipfs' && scheme !== 'ipns') {
    throw new GatewayError(400, `the uri query parameter must be an ipfs:// or ipns:// URI, not ${scheme}:`);
  }
  if (url.host === '')
    throw new GatewayError(400, `the uri query parameter "${uri.slice(0, 200)}" names no CID`);
  // posix.join drops `..` and doubled slashes: the redirect stays under /{scheme}/{host}.
  const location = posix.join('/', scheme, url.host, url.pathname || '/') + url.search;
  return { status: 301, headers: { location } };
}
