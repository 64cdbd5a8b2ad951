import type { FastifyInstance } from 'fastify';
import { PERM_USER } from '../../../server/db/schema.ts';
import { parsePinFilter, parsePinRequest } from '../../../server/pinning/pins.ts';
import { requireAuth, userOf } from '../auth.ts';
import type { ApiContext } from '../context.ts';

/** The IPFS Pinning Service API (v1.0.0), mounted at /api/pinning. */
export async function pinningRoutes(app: FastifyInstance, ctx: ApiContext): Promise<void> {
  const user = requireAuth(ctx.accounts, PERM_USER);

  app.get('/pinning/pins', { preHandler: user }, async (req) =>
    ctx.pins.list(userOf(req).user.id, parsePinFilter(req.query as Record<string, unknown>))
  );

  app.post('/pinning/pins', { preHandler: user }, async (req, reply) => {
    const status = await ctx.pins.add(userOf(req).user.id, parsePinRequest(req.body));
    return reply.status(202).send(status);
  });

  app.get('/pinning/pins/:requestid', { preHandler: user }, async (req) =>
    ctx.pins.get(userOf(req).user.id, (req.params as { requestid: string }).requestid)
  );

  app.post('/pinning/pins/:requestid', { preHandler: user }, async (req, reply) => {
    const status = await ctx.pins.replace(
      userOf(req).user.id,
      (req.params as { requestid: string }).requestid,
      parsePinRequest(req.body)
    );
    return reply.status(202).send(status);
  });

  app.delete('/pinning/pins/:requestid', { preHandler: user }, async (req, reply) => {
    await ctx.pins.remove(userOf(req).user.id, (req.params as { requestid: string }).requestid);
    return reply.status(202).send();
  });
}
