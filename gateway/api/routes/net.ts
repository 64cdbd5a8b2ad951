import type { FastifyInstance } from 'fastify';
import type { ApiContext } from '../context.ts';

/** Liveness and the peer's addresses, for browsers and other nodes to dial. */
export async function netRoutes(app: FastifyInstance, ctx: ApiContext): Promise<void> {
  app.get('/health', async () => ({ status: 'ok' }));

  app.get('/public/net/addrs', async () => ({
    id: ctx.peer.libp2p.peerId.toString(),
    addresses: ctx.addresses()
  }));

  // Where the public gateway lives (its own origin), so the app can link `<gateway>/ipfs/<cid>`.
  app.get('/public/info', async () => ({ gatewayUrl: ctx.gatewayUrl() }));

  app.get('/public/net/peers', async () =>
    ctx.peer.libp2p.getConnections().map((c) => ({
      id: c.remotePeer.toString(),
      address: c.remoteAddr.toString(),
      direction: c.direction,
      limited: c.limits != null
    }))
  );
}
