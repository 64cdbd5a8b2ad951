import type http from 'node:http';
import type { Duplex } from 'node:stream';

/**
 * The gateway used as an HTTP proxy (gateway-conformance `proxy-gateway`, Kubo's behaviour): a
 * browser or tool configured with it as proxy sends absolute-form targets
 * (`GET http://{cid}.ipfs.{domain}/path`), where the target's authority names the host (RFC 9112
 * §3.2.2). Returns that host and the origin-form path, or `undefined` for an ordinary target.
 */
export function absoluteTarget(rawUrl: string): { host: string; path: string } | undefined {
  const m = /^https?:\/\/([^/?#]+)([^#]*)/i.exec(rawUrl);
  if (m == null) return undefined;
  const rest = m[2]!;
  return { host: m[1]!, path: rest === '' || rest.startsWith('?') ? `/${rest}` : rest };
}

/**
 * `CONNECT` tunnels, which some proxy setups open first: the tunnel is answered by this same
 * gateway, whatever authority it names; nothing is ever dialled, so this is not an open proxy.
 */
export function acceptTunnels(server: http.Server): void {
  server.on('connect', (_req: http.IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on('error', () => socket.destroy());
    socket.write('HTTP/1.1 200 Connection Established\r\n\r\n', () => {
      if (head.byteLength > 0) socket.unshift(head);
      server.emit('connection', socket);
    });
  });
}
