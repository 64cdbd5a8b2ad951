import type { FastifyInstance } from 'fastify';
import type { Tracking } from '../../../server/metrics/index.ts';

/**
 * `GET /metrics`: Prometheus text format (prom-client), outside /api so the rate limit never hides
 * a scrape; no auth, like Estuary's `/debug/metrics/prometheus`. Also counts every request by its
 * route pattern (never the raw URL, which would make a label per CID).
 */
export async function metricsRoutes(app: FastifyInstance, tracking: Tracking): Promise<void> {
  const { metrics } = tracking;
  app.addHook('onResponse', async (req, reply) => {
    const route = req.routeOptions.url ?? 'unmatched';
    if (route === '/metrics') return;
    metrics.httpRequest(route, req.method, reply.statusCode, reply.elapsedTime / 1000);
  });
  app.get('/metrics', async (_req, reply) => {
    const body = await metrics.registry.metrics();
    return reply.header('content-type', metrics.registry.contentType).send(body);
  });
}
