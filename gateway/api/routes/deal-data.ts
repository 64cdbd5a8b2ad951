import { Readable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import type { DealDataSource } from '../../../filecoin/deals/deal-data.ts';

/**
 * `HEAD|GET /deal-data/:uuid`: where storage providers pull a deal's data (Boost's HTTP transfer:
 * HEAD for the length, then `Range` GETs whose end may run one byte past the chunk or the file).
 * Outside /api: no rate limit or CORS applies to providers, only the per-deal bearer token.
 */
export async function dealDataRoutes(app: FastifyInstance, source: DealDataSource): Promise<void> {
  const handler = async (
    req: { params: unknown; headers: Record<string, string | string[] | undefined>; method: string },
    reply: import('fastify').FastifyReply
  ) => {
    const { uuid } = req.params as { uuid: string };
    const auth = req.headers.authorization;
    const token = typeof auth === 'string' && auth.startsWith('Bearer ') ? auth.slice(7).trim() : undefined;
    const payload = await source.open(uuid, token);
    const size = payload.size;
    void reply.header('accept-ranges', 'bytes').header('content-type', 'application/vnd.ipld.car');
    let start = 0;
    let end = size; // exclusive
    const range = req.headers.range;
    if (typeof range === 'string') {
      const match = /^bytes=(\d*)-(\d*)$/.exec(range.trim());
      if (match == null || (match[1] === '' && match[2] === '')) {
        return reply.status(416).header('content-range', `bytes */${size}`).send();
      }
      if (match[1] === '') {
        start = Math.max(0, size - Number(match[2]));
      } else {
        start = Number(match[1]);
        // HTTP ends are inclusive; clamp ends past the file (Boost asks one byte past each chunk).
        end = match[2] === '' ? size : Math.min(size, Number(match[2]) + 1);
      }
      if (start >= size || start >= end) {
        return reply.status(416).header('content-range', `bytes */${size}`).send();
      }
      void reply.status(206).header('content-range', `bytes ${start}-${end - 1}/${size}`);
    }
    void reply.header('content-length', String(end - start));
    if (req.method === 'HEAD') return reply.send();
    return reply.send(Readable.from(payload.read(start, end)));
  };
  app.head('/deal-data/:uuid', handler);
  app.get('/deal-data/:uuid', handler);
}
