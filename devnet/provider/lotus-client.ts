// A minimal Lotus JSON-RPC v1 client over HTTP. The provider talks to the chain only through this,
// so the same code runs as an outside provider process against any Lotus-compatible endpoint.

export class LotusRpcError extends Error {
  readonly code: number;
  constructor(code: number, message: string) {
    super(message);
    this.name = 'LotusRpcError';
    this.code = code;
  }
}

export interface LotusClient {
  call<T = unknown>(method: string, params: unknown[] | null, options?: { signal?: AbortSignal }): Promise<T>;
}

export interface MsgLookup {
  Message: { '/': string };
  Receipt: { ExitCode: number; Return: string | null; GasUsed: number };
  Height: number;
}

export interface MinerInfo {
  Worker: string;
  PeerId: string | null;
  Multiaddrs: string[] | null;
  SectorSize: number;
}

/** `url` is the `/rpc/v1` endpoint. Methods are given without the `Filecoin.` prefix. */
export function createLotusClient(
  url: string,
  init: { token?: string; timeoutMs?: number } = {}
): LotusClient {
  let nextId = 1;
  return {
    async call<T>(method: string, params: unknown[] | null, options: { signal?: AbortSignal } = {}) {
      const signals = [AbortSignal.timeout(init.timeoutMs ?? 60_000)];
      if (options.signal != null) signals.push(options.signal);
      const response = await fetch(url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          ...(init.token == null ? {} : { authorization: `Bearer ${init.token}` })
        },
        body: JSON.stringify({ jsonrpc: '2.0', id: nextId++, method: `Filecoin.${method}`, params }),
        signal: AbortSignal.any(signals)
      });
      const text = await response.text();
      let body: { result?: T; error?: { code?: number; message?: string } };
      try {
        body = JSON.parse(text) as typeof body;
      } catch {
        throw new LotusRpcError(-32700, `lotus ${method}: HTTP ${response.status}: ${text.slice(0, 200)}`);
      }
      if (body.error != null) {
        throw new LotusRpcError(body.error.code ?? -32603, body.error.message ?? 'unknown error');
      }
      return body.result as T;
    }
  };
}
