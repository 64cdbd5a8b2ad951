// Prometheus metrics (prom-client) on a registry of our own, so two services in one process (tests)
// never share counters. Counters are bumped on the hot path; database figures (deals by state, queue
// depths) are read at scrape time, at most once per `cacheMs`.
import { sql, type Kysely } from 'kysely';
import client from 'prom-client';
import type { Database } from '../db/schema.ts';
import type { BandwidthSample } from './bandwidth.ts';

export interface ServiceMetrics {
  registry: client.Registry;
  /** Feed of every bandwidth sample (wire to the meter's onSample). */
  onBandwidth(sample: BandwidthSample): void;
  httpRequest(route: string, method: string, status: number, seconds: number): void;
  gatewayResponse(status: number, bytes: number): void;
  bitswapBlock(direction: 'in' | 'out', blocks: number): void;
  retrieval(transport: string, outcome: 'ok' | 'failed'): void;
}

export function createServiceMetrics(init: { db: Kysely<Database>; cacheMs?: number }): ServiceMetrics {
  const registry = new client.Registry();
  client.collectDefaultMetrics({ register: registry, prefix: 'firth_' });
  const cacheMs = init.cacheMs ?? 5000;

  const http = new client.Counter({
    name: 'firth_http_requests_total',
    help: 'API requests by route, method and status',
    labelNames: ['route', 'method', 'status'] as const,
    registers: [registry]
  });
  const httpSeconds = new client.Histogram({
    name: 'firth_http_request_duration_seconds',
    help: 'API request duration',
    labelNames: ['route', 'method'] as const,
    buckets: [0.005, 0.02, 0.1, 0.5, 2, 10, 60],
    registers: [registry]
  });
  const gateway = new client.Counter({
    name: 'firth_gateway_responses_total',
    help: 'Gateway responses by status class',
    labelNames: ['status'] as const,
    registers: [registry]
  });
  const gatewayBytes = new client.Counter({
    name: 'firth_gateway_bytes_total',
    help: 'Body bytes the gateway sent',
    registers: [registry]
  });
  const bitswapBlocks = new client.Counter({
    name: 'firth_bitswap_blocks_total',
    help: 'Blocks received and sent over bitswap',
    labelNames: ['direction'] as const,
    registers: [registry]
  });
  const bandwidth = new client.Counter({
    name: 'firth_bandwidth_bytes_total',
    help: 'Bytes moved, by channel (http-upload, bitswap-in/out, gateway-out, deal-transfer-out, retrieval-in)',
    labelNames: ['channel'] as const,
    registers: [registry]
  });
  const retrievals = new client.Counter({
    name: 'firth_retrievals_total',
    help: 'Retrievals from storage providers by transport and outcome',
    labelNames: ['transport', 'outcome'] as const,
    registers: [registry]
  });

  let cached: { at: number; value: Promise<Snapshot> } | undefined;
  interface Snapshot {
    deals: Array<{ state: string; n: number }>;
    jobs: Array<{ kind: string; state: string; n: number }>;
    pieces: Array<{ state: string; n: number }>;
    retrievals: Array<{ transport: string; state: string; n: number }>;
  }
  const snapshot = (): Promise<Snapshot> => {
    if (cached != null && Date.now() - cached.at < cacheMs) return cached.value;
    // Grouped counts over the state columns' indexes; jobs only in the states that are queue depth.
    const value = Promise.all([
      init.db
        .selectFrom('deals')
        .select((eb) => ['state', eb.fn.countAll<number>().as('n')])
        .groupBy('state')
        .execute(),
      init.db
        .selectFrom('jobs')
        .select((eb) => ['kind', 'state', eb.fn.countAll<number>().as('n')])
        .where('state', 'in', ['ready', 'running'])
        .groupBy(['kind', 'state'])
        .execute(),
      init.db
        .selectFrom('pieces')
        .select((eb) => ['state', eb.fn.countAll<number>().as('n')])
        .where('state', 'in', ['open', 'preparing'])
        .groupBy('state')
        .execute(),
      // The retrievals table (filecoin/retrieval) over the last day, on its started_at index.
      sql<{ transport: string; state: string; n: number }>`select transport, state, count(*) as n
        from retrievals where started_at >= ${Date.now() - 86_400_000} group by transport, state`
        .execute(init.db)
        .then((r) => r.rows)
        .catch(() => [])
    ]).then(([deals, jobs, pieces, retrievals]) => ({
      deals: deals.map((d) => ({ state: d.state, n: Number(d.n) })),
      jobs: jobs.map((j) => ({ kind: j.kind, state: j.state, n: Number(j.n) })),
      pieces: pieces.map((p) => ({ state: p.state, n: Number(p.n) })),
      retrievals: retrievals.map((r) => ({ transport: r.transport, state: r.state, n: Number(r.n) }))
    }));
    value.catch(() => (cached = undefined));
    cached = { at: Date.now(), value };
    return value;
  };

  new client.Gauge({
    name: 'firth_deals',
    help: 'Storage deals by state',
    labelNames: ['state'] as const,
    registers: [registry],
    async collect() {
      this.reset();
      for (const d of (await snapshot()).deals) this.set({ state: d.state }, d.n);
    }
  });
  new client.Gauge({
    name: 'firth_queue_depth',
    help: 'Work waiting or running: jobs by kind and state, pieces being filled or prepared',
    labelNames: ['queue', 'state'] as const,
    registers: [registry],
    async collect() {
      this.reset();
      const s = await snapshot();
      for (const j of s.jobs) this.set({ queue: j.kind, state: j.state }, j.n);
      for (const p of s.pieces) this.set({ queue: 'pieces', state: p.state }, p.n);
    }
  });

  new client.Gauge({
    name: 'firth_retrievals_last_day',
    help: 'Retrievals from storage providers started in the last 24 hours, by transport and state',
    labelNames: ['transport', 'state'] as const,
    registers: [registry],
    async collect() {
      this.reset();
      for (const r of (await snapshot()).retrievals)
        this.set({ transport: r.transport, state: r.state }, r.n);
    }
  });

  return {
    registry,
    onBandwidth(sample) {
      bandwidth.inc({ channel: sample.channel }, sample.bytes);
    },
    httpRequest(route, method, status, seconds) {
      http.inc({ route, method, status: String(status) });
      httpSeconds.observe({ route, method }, seconds);
    },
    gatewayResponse(status, bytes) {
      gateway.inc({ status: `${Math.floor(status / 100)}xx` });
      gatewayBytes.inc(bytes);
    },
    bitswapBlock(direction, blocks) {
      bitswapBlocks.inc({ direction }, blocks);
    },
    retrieval(transport, outcome) {
      // Bytes arrive through the bandwidth meter (channel retrieval-in); this counts outcomes.
      retrievals.inc({ transport, outcome });
    }
  };
}
