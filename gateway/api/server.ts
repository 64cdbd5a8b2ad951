import fs from 'node:fs';
import path from 'node:path';
import cors from '@fastify/cors';
import multipart from '@fastify/multipart';
import rateLimit from '@fastify/rate-limit';
import fastifyStatic from '@fastify/static';
import Fastify from 'fastify';
import type { Logger } from '../../server/log.ts';
import { hashToken } from '../../server/accounts/tokens.ts';
import { MAX_FOLDER_FILES } from '../../server/content/upload.ts';
import { attachBenchWsSink } from './bench-ws-sink.ts';
import { errorHandler, toErrorBody } from './errors.ts';
import type { ApiContext } from './context.ts';
import { accountRoutes } from './routes/accounts.ts';
import { contentRoutes } from './routes/content.ts';
import { netRoutes } from './routes/net.ts';
import { pinningRoutes } from './routes/pinning.ts';
import { dealDataRoutes } from './routes/deal-data.ts';
import { adminWalletRoutes } from './admin-wallet.ts';
import { dealsRoutes } from './routes/deals.ts';
import { retrievalRoutes } from './routes/retrieval.ts';
import { metricsRoutes } from './routes/metrics.ts';
import { statsRoutes } from './routes/stats.ts';

/**
 * The app's origin: the JSON API under /api and the built SvelteKit app at / with SPA fallback.
 * User content is never served here (that is the gateway's own listener).
 */
export async function buildApiServer(ctx: ApiContext, log: Logger) {
  const app = Fastify({
    loggerInstance: log,
    // Large uploads are streamed; only JSON bodies are buffered.
    bodyLimit: 1024 * 1024,
    requestTimeout: 0,
    forceCloseConnections: 'idle'
  });
  app.setErrorHandler(errorHandler);
  // Bench-only raw-WebSocket baseline (bench/browser.ts); off unless the env var is set.
  if (process.env.FIRTH_BENCH_WS_SINK === '1') attachBenchWsSink(app.server);
  app.decorateRequest('auth', undefined);
  // Prometheus: GET /metrics (outside /api, no auth, like Estuary's) and per-route request metrics.
  const stats = ctx.stats;
  if (stats != null) {
    // Not encapsulated, so the request hook sees every route, /api included.
    await app.register(
      Object.assign(async (scope: import('fastify').FastifyInstance) => metricsRoutes(scope, stats), {
        [Symbol.for('skip-override')]: true
      })
    );
  }

  await app.register(
    async (api) => {
      // Credentials travel in the Authorization header, never in cookies, so any web app may call
      // the API (Estuary allowed every origin too; Pinning Service API clients run in browsers).
      await api.register(cors, { origin: '*', maxAge: 86_400 });
      await api.register(rateLimit, {
        max: ctx.config.rateLimitPerMinute,
        timeWindow: 60_000,
        // Per API key when one is sent (hashed, so keys never sit in memory as map keys), else per IP.
        keyGenerator: (req) => {
          const h = req.headers.authorization;
          return h != null && h.startsWith('Bearer ')
            ? `key:${hashToken(h.slice(7).trim())}`
            : `ip:${req.ip}`;
        },
        errorResponseBuilder: (req, context) => {
          const { body } = toErrorBody(
            Object.assign(
              new Error(
                `rate limit of ${context.max} requests per minute reached; retry in ${context.after}`
              ),
              {
                statusCode: 429
              }
            ),
            req.url.startsWith('/api/pinning')
          );
          return Object.assign(body, { statusCode: 429 });
        }
      });
      await api.register(multipart, {
        // A folder upload names each file by its path ("album/a.jpg"): keep it whole.
        preservePath: true,
        limits: {
          fileSize: ctx.config.maxUploadBytes,
          files: MAX_FOLDER_FILES,
          fields: 16,
          fieldSize: 64 * 1024,
          parts: MAX_FOLDER_FILES + 20
        },
        throwFileSizeLimit: true
      });
      await netRoutes(api, ctx);
      await accountRoutes(api, ctx);
      await contentRoutes(api, ctx);
      await pinningRoutes(api, ctx);
      await adminWalletRoutes(api, ctx);
      await dealsRoutes(api, ctx);
      await retrievalRoutes(api, ctx);
      await statsRoutes(api, ctx);
      api.setNotFoundHandler((req, reply) => {
        const { status, body } = toErrorBody(
          Object.assign(new Error(`no route ${req.method} ${req.url.split('?')[0]}`), { statusCode: 404 }),
          req.url.startsWith('/api/pinning')
        );
        void reply.status(status).send(body);
      });
    },
    { prefix: '/api' }
  );

  const dealData = ctx.dealData;
  if (dealData != null) await app.register(async (scope) => dealDataRoutes(scope, dealData));

  const appDir = ctx.config.appDir;
  const indexHtml = path.join(appDir, 'index.html');
  if (fs.existsSync(indexHtml)) {
    await app.register(fastifyStatic, { root: appDir, wildcard: false, index: ['index.html'] });
    // Client-side routes: any other GET (or HEAD: uptime checks, link checkers) without a file
    // extension gets the app shell. Node's HTTP server sends no body for HEAD.
    app.setNotFoundHandler((req, reply) => {
      if ((req.method === 'GET' || req.method === 'HEAD') && !path.extname(req.url.split('?')[0]!))
        return reply.sendFile('index.html');
      return reply.status(404).send({ error: { code: 404, reason: 'ERR_NOT_FOUND', details: 'not found' } });
    });
  } else {
    log.warn({ appDir }, 'the app is not built (npm run build:app): serving the API only');
  }
  return app;
}
