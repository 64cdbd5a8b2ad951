// Admin routes for Case B retrieval and offloading:
//   GET  /api/admin/retrieval/stats              attempts, per-provider figures, latest, running
//   POST /api/admin/retrieval/retrieve/:content  "retrieve now" (waits up to ?wait= seconds, default 30)
//   POST /api/admin/cm/offload/:content          Estuary's route: drop the local blocks
import type { FastifyInstance, FastifyReply } from 'fastify';
import { PERM_ADMIN } from '../../../server/db/schema.ts';
import { InvalidInputError } from '../../../server/errors.ts';
import { requireAuth } from '../auth.ts';
import type { ApiContext } from '../context.ts';

const OFF = {
  error: { code: 503, reason: 'ERR_FILECOIN_OFF', details: 'Filecoin is not configured on this node' }
};

function contentParam(text: string): number {
  const id = Number(text);
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(id) || id < 1)
    throw new InvalidInputError('ERR_INVALID_INPUT', `"${text}" is not a content ID`);
  return id;
}

export async function retrievalRoutes(app: FastifyInstance, ctx: ApiContext): Promise<void> {
  const admin = requireAuth(ctx.accounts, PERM_ADMIN);
  const on = async (_req: unknown, reply: FastifyReply) => {
    if (ctx.retrieval == null) return reply.status(503).send(OFF);
  };

  app.get('/admin/retrieval/stats', { preHandler: [admin, on] }, async () => {
    const r = ctx.retrieval!;
    return { ...(await r.stats()), inFlight: r.retriever.running() };
  });

  app.post<{ Params: { content: string }; Querystring: { wait?: string } }>(
    '/admin/retrieval/retrieve/:content',
    { preHandler: [admin, on] },
    async (req, reply) => {
      const id = contentParam(req.params.content);
      const wait = req.query.wait == null ? 30 : Number(req.query.wait);
      if (!Number.isFinite(wait) || wait < 0 || wait > 3600)
        throw new InvalidInputError('ERR_INVALID_INPUT', 'wait must be a number of seconds from 0 to 3600');
      const r = ctx.retrieval!;
      const job = r.retriever.retrieve(id);
      job.catch(() => undefined);
      let timer: ReturnType<typeof setTimeout> | undefined;
      const outcome = await Promise.race([
        job.then(
          (result) => ({ result }),
          (err: unknown) => ({ error: err as Error })
        ),
        new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), wait * 1000)))
      ]);
      clearTimeout(timer);
      if (outcome == null) return reply.status(202).send({ state: 'running', content: id });
      if ('error' in outcome) {
        if (/^content \d+ not found$/.test(outcome.error.message))
          return reply
            .status(404)
            .send({ error: { code: 404, reason: 'ERR_CONTENT_NOT_FOUND', details: outcome.error.message } });
        return reply
          .status(502)
          .send({ error: { code: 502, reason: 'ERR_RETRIEVAL_FAILED', details: outcome.error.message } });
      }
      return { state: 'done', ...outcome.result };
    }
  );

  app.post<{ Params: { content: string } }>(
    '/admin/cm/offload/:content',
    { preHandler: [admin, on] },
    async (req) => {
      const result = await ctx.retrieval!.offloader.offload(contentParam(req.params.content));
      return { offloaded: true, ...result };
    }
  );
}
