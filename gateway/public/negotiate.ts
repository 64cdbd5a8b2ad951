import type { IncomingHttpHeaders } from 'node:http';
import { GatewayError } from './types.ts';

export type ResponseFormat =
  'deserialized' | 'raw' | 'car' | 'tar' | 'dag-json' | 'dag-cbor' | 'json' | 'cbor';

export interface CarParams {
  version: 1;
  order: 'dfs' | 'unk';
  dups: boolean;
  scope: 'all' | 'entity' | 'block';
  /** Inclusive byte range of the entity; `to` undefined = `*` (end); negative = from the end. */
  entityBytes?: { from: number; to: number | undefined };
}

export interface Negotiated {
  format: ResponseFormat;
  /** True when the format came from Accept only (the response then carries Content-Location). */
  fromAccept: boolean;
  car?: CarParams;
}

const MEDIA: Record<string, ResponseFormat> = {
  'application/vnd.ipld.raw': 'raw',
  'application/vnd.ipld.car': 'car',
  'application/x-tar': 'tar',
  'application/vnd.ipld.dag-json': 'dag-json',
  'application/vnd.ipld.dag-cbor': 'dag-cbor',
  'application/json': 'json',
  'application/cbor': 'cbor'
};

const FORMATS = new Set<string>(['raw', 'car', 'tar', 'dag-json', 'dag-cbor', 'json', 'cbor']);

interface AcceptItem {
  type: string;
  params: Map<string, string>;
  q: number;
}

function parseAccept(header: string | undefined): AcceptItem[] {
  if (header == null || header === '') return [];
  return header
    .split(',')
    .map((part) => {
      const [type, ...rest] = part.split(';').map((s) => s.trim());
      const params = new Map<string, string>();
      for (const p of rest) {
        const i = p.indexOf('=');
        if (i > 0)
          params.set(
            p.slice(0, i).trim().toLowerCase(),
            p
              .slice(i + 1)
              .trim()
              .replace(/^"|"$/g, '')
          );
      }
      const q = params.has('q') ? Number(params.get('q')) : 1;
      return { type: (type ?? '').toLowerCase(), params, q: Number.isFinite(q) ? q : 0 };
    })
    .filter((a) => a.type !== '' && a.q > 0)
    .sort((a, b) => b.q - a.q);
}

/**
 * Picks the response format: `?format=` wins over `Accept` (IPIP-0523); CAR parameters come from
 * the URL (`car-version`, `car-order`, `car-dups`, `dag-scope`, `entity-bytes`) or the Accept
 * parameters, the URL winning.
 */
export function negotiate(query: URLSearchParams, headers: IncomingHttpHeaders): Negotiated {
  const formatParam = query.get('format');
  let format: ResponseFormat = 'deserialized';
  let fromAccept = false;
  let acceptParams = new Map<string, string>();
  if (formatParam != null && formatParam !== '') {
    if (formatParam === 'ipns-record') {
      throw new GatewayError(400, `?format=${formatParam} is not supported by this gateway`);
    }
    if (!FORMATS.has(formatParam)) throw new GatewayError(400, `unknown ?format=${formatParam}`);
    format = formatParam as ResponseFormat;
    const matching = parseAccept(headers.accept).find((a) => MEDIA[a.type] === format);
    if (matching != null) acceptParams = matching.params;
  } else {
    for (const item of parseAccept(headers.accept)) {
      const f = MEDIA[item.type];
      if (f != null) {
        format = f;
        fromAccept = true;
        acceptParams = item.params;
        break;
      }
      if (item.type === 'application/vnd.ipfs.ipns-record') {
        throw new GatewayError(400, `${item.type} is not supported by this gateway`);
      }
      // text/html, */* and the like: a deserialized response.
      if (item.type === 'text/html' || item.type === '*/*' || item.type.endsWith('/*')) break;
    }
  }
  if (format !== 'car') {
    // dag-scope and entity-bytes only shape CARs.
    return { format, fromAccept };
  }

  const version = query.get('car-version') ?? acceptParams.get('version') ?? '1';
  if (version !== '1') throw new GatewayError(400, `unsupported CAR version ${version}: only version=1`);
  const order = query.get('car-order') ?? acceptParams.get('order') ?? 'dfs';
  if (order !== 'dfs' && order !== 'unk')
    throw new GatewayError(400, `unsupported CAR order "${order}": dfs or unk`);
  const dups = query.get('car-dups') ?? acceptParams.get('dups') ?? 'n';
  if (dups !== 'y' && dups !== 'n') throw new GatewayError(400, `unsupported CAR dups "${dups}": y or n`);
  const scope = query.get('dag-scope') ?? 'all';
  if (scope !== 'all' && scope !== 'entity' && scope !== 'block') {
    throw new GatewayError(400, `invalid dag-scope "${scope}": all, entity or block`);
  }
  const car: CarParams = { version: 1, order: 'dfs', dups: dups === 'y', scope };
  const range = query.get('entity-bytes');
  if (range != null) {
    const m = /^(-?\d+):(\*|-?\d+)$/.exec(range);
    if (m == null)
      throw new GatewayError(400, `invalid entity-bytes "${range}": from:to, e.g. 0:1023, -1024:*`);
    const from = Number(m[1]);
    const to = m[2] === '*' ? undefined : Number(m[2]);
    if (from >= 0 && to != null && to >= 0 && to < from) {
      throw new GatewayError(400, `invalid entity-bytes "${range}": to is before from`);
    }
    car.entityBytes = { from, to };
    car.scope = 'entity';
  }
  return { format, fromAccept, car };
}
