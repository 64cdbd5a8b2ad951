// HTTP front of the chain: Lotus JSON-RPC on POST /rpc/v0 and /rpc/v1 (go-jsonrpc answers errors
// with HTTP 500, invalid requests with 400), and the devnet admin calls a provider process uses to
// join the network from anywhere.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { parseBigIntString } from '../wire/big-int.ts';
import type { Chain } from './index.ts';
import { RpcCode } from './rpc.ts';

const MAX_BODY_BYTES = 16 << 20;

class HttpError extends Error {
  readonly status: number;
  constructor(status: number, message: string) {
    super(message);
    this.status = status;
  }
}

/**
 * node:http handler for `POST /rpc/v0`, `POST /rpc/v1`, `POST /admin/miners`, `POST /admin/fund`,
 * `POST /admin/datacap` and `GET /admin/miners`. Resolves false when the path is not its own.
 */
export function createChainHandler(
  chain: Chain
): (req: IncomingMessage, res: ServerResponse) => Promise<boolean> {
  return async (req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    try {
      if (path === '/rpc/v0' || path === '/rpc/v1') {
        if (req.method !== 'POST') throw new HttpError(405, 'method not allowed');
        await handleRpc(chain, req, res);
        return true;
      }
      if (path === '/admin/miners' && req.method === 'GET') {
        json(res, 200, chain.listMiners());
        return true;
      }
      if (path === '/admin/miners' || path === '/admin/fund' || path === '/admin/datacap') {
        if (req.method !== 'POST') throw new HttpError(405, 'method not allowed');
        const body = await readJsonObject(req);
        json(res, 200, await admin(chain, path, body));
        return true;
      }
      return false;
    } catch (err) {
      const status = err instanceof HttpError ? err.status : 400;
      if (!res.headersSent) json(res, status, { error: err instanceof Error ? err.message : String(err) });
      else res.destroy();
      return true;
    }
  };
}

async function handleRpc(chain: Chain, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const text = (await readBody(req)).toString('utf8');
  let request: unknown;
  try {
    request = JSON.parse(text);
  } catch (err) {
    json(res, 500, {
      jsonrpc: '2.0',
      id: null,
      error: { code: RpcCode.ParseError, message: `unmarshaling request: ${(err as Error).message}` }
    });
    return;
  }
  // The request's lifetime bounds long calls (StateWaitMsg): a client that hangs up cancels them.
  const abort = new AbortController();
  const onClose = (): void => {
    if (!res.writableFinished) abort.abort();
  };
  res.once('close', onClose);
  try {
    const response = await chain.handleRpc(request, { signal: abort.signal });
    if (abort.signal.aborted) return;
    const single = Array.isArray(response) ? undefined : (response as { error?: { code: number } });
    const status = single?.error == null ? 200 : single.error.code === RpcCode.InvalidRequest ? 400 : 500;
    json(res, status, response);
  } finally {
    res.off('close', onClose);
  }
}

async function admin(chain: Chain, path: string, body: Record<string, unknown>): Promise<unknown> {
  if (path === '/admin/miners') {
    const peerId = stringField(body, 'PeerId');
    const worker = stringField(body, 'Worker');
    const multiaddrs = body.Multiaddrs;
    if (!Array.isArray(multiaddrs) || !multiaddrs.every((m) => typeof m === 'string')) {
      throw new HttpError(400, 'Multiaddrs must be an array of strings');
    }
    const sectorSize = body.SectorSize;
    if (typeof sectorSize !== 'number' || !Number.isSafeInteger(sectorSize)) {
      throw new HttpError(400, 'SectorSize must be an integer');
    }
    const owner = body.Owner;
    if (owner != null && typeof owner !== 'string') throw new HttpError(400, 'Owner must be a string');
    const created = await chain.createMiner({
      peerId,
      multiaddrs: multiaddrs as string[],
      workerKey: worker,
      ownerAddress: owner ?? undefined,
      sectorSize
    });
    return { ActorID: created.actorId, Worker: created.workerId };
  }
  const address = stringField(body, 'Address');
  let amount: bigint;
  try {
    amount = parseBigIntString(body.Amount);
  } catch (err) {
    throw new HttpError(400, `Amount: ${(err as Error).message}`);
  }
  if (path === '/admin/fund') await chain.fund(address, amount);
  else await chain.grantDataCap(address, amount);
  return {};
}

function stringField(body: Record<string, unknown>, name: string): string {
  const value = body[name];
  if (typeof value !== 'string' || value === '')
    throw new HttpError(400, `${name} must be a non-empty string`);
  return value;
}

async function readJsonObject(req: IncomingMessage): Promise<Record<string, unknown>> {
  const text = (await readBody(req)).toString('utf8');
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new HttpError(400, `invalid JSON: ${(err as Error).message}`);
  }
  if (value == null || typeof value !== 'object' || Array.isArray(value)) {
    throw new HttpError(400, 'body must be a JSON object');
  }
  return value as Record<string, unknown>;
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    const buf = chunk as Buffer;
    size += buf.length;
    if (size > MAX_BODY_BYTES) throw new HttpError(413, 'request body too large');
    chunks.push(buf);
  }
  return Buffer.concat(chunks);
}

function json(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body) + '\n');
}
