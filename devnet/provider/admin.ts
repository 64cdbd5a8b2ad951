// The devnet's fault-injection admin API for providers (mounted on the devnet's admin listener):
//   GET /admin/providers                      → [{name, actorId, peerId, multiaddrs, httpUrl, faults}]
//   GET|PUT /admin/providers/:actorId/faults  → ProviderFaults (PUT replaces them)
//   GET /admin/providers/:actorId/deals       → DealSummary[]
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Provider, ProviderFaults } from './index.ts';

const FAULT_KEYS: Record<keyof ProviderFaults, 'boolean' | 'number' | 'boolean|string'> = {
  rejectProposals: 'boolean|string',
  unreachable: 'boolean',
  stallTransfer: 'boolean',
  truncateTransfer: 'boolean',
  sealDelayMs: 'number',
  neverSeal: 'boolean',
  slashAfterActivation: 'boolean',
  slashActiveDeals: 'boolean',
  refuseRetrievals: 'boolean',
  refuseHttpRetrievals: 'boolean',
  corruptRetrievals: 'boolean',
  slowRetrievalsMs: 'number'
};

export function parseFaults(value: unknown): ProviderFaults {
  if (value == null || typeof value !== 'object' || Array.isArray(value)) {
    throw new TypeError('faults must be a JSON object');
  }
  const out: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(value)) {
    const kind = FAULT_KEYS[key as keyof ProviderFaults];
    if (kind == null) throw new TypeError(`unknown fault ${key}`);
    const ok =
      v == null ||
      (kind === 'number' ? typeof v === 'number' && Number.isFinite(v) && v >= 0 : typeof v === 'boolean') ||
      (kind === 'boolean|string' && typeof v === 'string');
    if (!ok) throw new TypeError(`fault ${key} must be a ${kind}`);
    if (v != null) out[key] = v;
  }
  return out as ProviderFaults;
}

function json(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body) + '\n');
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > 64 * 1024) throw new TypeError('body too large');
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

export function createProviderAdminHandler(
  providers: Provider[]
): (req: IncomingMessage, res: ServerResponse) => Promise<boolean> {
  return async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://devnet');
    if (url.pathname !== '/admin/providers' && !url.pathname.startsWith('/admin/providers/')) return false;
    try {
      if (url.pathname === '/admin/providers' || url.pathname === '/admin/providers/') {
        if (req.method !== 'GET') return (json(res, 405, { error: 'method not allowed' }), true);
        json(
          res,
          200,
          providers.map((p) => ({
            name: p.name,
            actorId: p.actorId,
            peerId: p.peerId,
            multiaddrs: p.multiaddrs,
            httpUrl: p.httpUrl,
            workerAddress: p.workerAddress,
            faults: p.faults()
          }))
        );
        return true;
      }
      const [, , , id, what] = url.pathname.split('/');
      const provider = providers.find((p) => p.actorId === id || p.name === id);
      if (provider == null) return (json(res, 404, { error: `no provider ${id}` }), true);
      if (what === 'faults') {
        if (req.method === 'GET') return (json(res, 200, provider.faults()), true);
        if (req.method === 'PUT') {
          let faults: ProviderFaults;
          try {
            faults = parseFaults(JSON.parse(await readBody(req)));
          } catch (err) {
            return (json(res, 400, { error: (err as Error).message }), true);
          }
          provider.setFaults(faults);
          return (json(res, 200, provider.faults()), true);
        }
        return (json(res, 405, { error: 'method not allowed' }), true);
      }
      if (what === 'deals' && req.method === 'GET') return (json(res, 200, provider.deals()), true);
      return (json(res, 404, { error: 'not found' }), true);
    } catch (err) {
      if (!res.headersSent) json(res, 500, { error: (err as Error).message });
      return true;
    }
  };
}
