// `npm run bench -- retrieval [--mib 256] [--rounds 2] [--in-process]`: Case B retrieval through
// the gateway — a content offloaded after its 6 active deals on the devnet, read back from a
// provider (verified block by block, re-pinned) — beside a plain HTTP download of the same CAR from
// the same provider in the same run. Goal: Case B throughput ≥ 0.8 × the plain download.
// By default the devnet runs as its own process, reached over Lotus JSON-RPC like a real network
// (providers run elsewhere); `--in-process` runs it inside the service, sharing its thread.
import fs from 'node:fs/promises';
import os from 'node:os';
import { joinDevnet, startDevnetProcess } from './devnet-process.ts';
import { registerAdmin, startServiceProcess, table, type ServiceProcess } from './service-process.ts';

const MiB = 1024 * 1024;

function flag(args: string[], name: string, fallback: number): number {
  const i = args.indexOf(`--${name}`);
  const value = i < 0 ? fallback : Number(args[i + 1]);
  if (!Number.isFinite(value) || value <= 0) throw new Error(`--${name} must be a positive number`);
  return value;
}

/** Deterministic, incompressible bytes without holding them all: a counter-mode stream. */
function contentStream(bytes: number): ReadableStream<Uint8Array> {
  let sent = 0;
  let n = 0;
  return new ReadableStream({
    pull(controller) {
      if (sent >= bytes) return controller.close();
      const size = Math.min(4 * MiB, bytes - sent);
      const chunk = new Uint8Array(size);
      const view = new DataView(chunk.buffer);
      for (let i = 0; i + 4 <= size; i += 4) view.setUint32(i, Math.imul(n++, 2654435761) >>> 0);
      sent += size;
      controller.enqueue(chunk);
    }
  });
}

/** CPU seconds a process has used so far (all its threads), from /proc. */
async function cpuSeconds(pid: number | undefined): Promise<number> {
  if (pid == null) return 0;
  const stat = await fs.readFile(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name (which may hold spaces): utime and stime are the 12th and 13th.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
}
const CLOCK_TICKS = 100;

/** CPU used by each process while `fn` runs, in core-seconds per GB moved. */
async function withCpu<T extends { bytes: number }>(
  pids: { service: number | undefined; devnet: number | undefined },
  fn: () => Promise<T>
): Promise<T & { cpu: { service: number; devnet: number; client: number } }> {
  const before = {
    service: await cpuSeconds(pids.service),
    devnet: await cpuSeconds(pids.devnet),
    client: process.cpuUsage()
  };
  const result = await fn();
  const gb = result.bytes / 1e9;
  const client = process.cpuUsage(before.client);
  return {
    ...result,
    cpu: {
      service: ((await cpuSeconds(pids.service)) - before.service) / gb,
      devnet: ((await cpuSeconds(pids.devnet)) - before.devnet) / gb,
      client: (client.user + client.system) / 1e6 / gb
    }
  };
}

/** Time to the first body byte and throughput of one GET, reading the body to the end. */
async function timedGet(url: string, headers: Record<string, string> = {}) {
  const started = performance.now();
  const res = await fetch(url, { headers });
  if (res.status !== 200 || res.body == null)
    throw new Error(`GET ${url}: ${res.status} ${await res.text()}`);
  let ttfb: number | undefined;
  let bytes = 0;
  for await (const chunk of res.body) {
    ttfb ??= performance.now() - started;
    bytes += chunk.byteLength;
  }
  const seconds = (performance.now() - started) / 1000;
  return { ttfbMs: ttfb ?? seconds * 1000, bytes, seconds, mbps: bytes / seconds / 1e6 };
}

export async function main(args: string[]): Promise<void> {
  const mib = flag(args, 'mib', 256);
  const rounds = flag(args, 'rounds', 2);
  const inProcess = args.includes('--in-process');
  const devnet = inProcess ? undefined : await startDevnetProcess({ providers: 7, epochMs: 200 });
  let svc: ServiceProcess | undefined;
  try {
    svc =
      devnet == null
        ? await startServiceProcess({
            FIRTH_DEVNET: 'on',
            FIRTH_DEVNET_PROVIDERS: '7',
            FIRTH_DEVNET_EPOCH_MS: '100',
            FIRTH_DEVNET_EPHEMERAL: '1',
            FIRTH_DEAL_MIN_BYTES: String(MiB),
            FIRTH_AGGREGATE_MAX_WAIT: '1'
          })
        : await startServiceProcess({
            FIRTH_LOTUS_URL: devnet.lotusUrl,
            FIRTH_INDEXER_URL: devnet.ipniUrl,
            // A real network's defaults are sized for hours; these make it the devnet's pace.
            FIRTH_DEAL_MIN_BYTES: String(MiB),
            FIRTH_AGGREGATE_MAX_WAIT: '1',
            FIRTH_DEAL_POLL_MS: '1000'
          });
    const token = await registerAdmin(svc);
    if (devnet != null) await joinDevnet(svc, devnet, token);
    const apiUrl = svc.apiUrl;
    const api = async <T>(path: string, init: RequestInit = {}): Promise<T> => {
      const res = await fetch(`${apiUrl}/api${path}`, {
        ...init,
        headers: { authorization: `Bearer ${token}`, ...init.headers }
      });
      if (!res.ok) throw new Error(`${init.method ?? 'GET'} ${path}: ${res.status} ${await res.text()}`);
      return (await res.json()) as T;
    };

    process.stderr.write(`uploading ${mib} MiB…\n`);
    const blob = await new Response(contentStream(mib * MiB)).blob();
    const form = new FormData();
    form.append('data', blob, 'bench.bin');
    const { cid, estuaryId } = await api<{ cid: string; estuaryId: number }>('/content/add', {
      method: 'POST',
      body: form
    });

    process.stderr.write('waiting for 6 active deals…\n');
    const dealStart = performance.now();
    for (;;) {
      const s = await api<{ summary: { target: number; active: number; failed: number } }>(
        `/content/status/${estuaryId}`
      );
      if (s.summary.active >= s.summary.target) break;
      if (performance.now() - dealStart > 30 * 60_000)
        throw new Error(`deals stuck: ${JSON.stringify(s.summary)}`);
      await new Promise((r) => setTimeout(r, 1000));
    }
    const dealSeconds = (performance.now() - dealStart) / 1000;

    const rows: Array<Record<string, string | number>> = [];
    let bestRatio = 0;
    for (let round = 1; round <= rounds; round++) {
      // Only this round's retrieval counts below.
      const seen =
        (await api<{ recent: Array<{ id: number }> }>('/admin/retrieval/stats')).recent[0]?.id ?? 0;
      await api(`/admin/cm/offload/${estuaryId}`, { method: 'POST' });
      const pids = { service: svc.child.pid, devnet: devnet?.pid };
      const caseB = await withCpu(pids, () => timedGet(`${svc!.gatewayUrl}/ipfs/${cid}`));
      // Wait for the re-pin to be recorded, then read which provider served it.
      let provider:
        { provider: string; url: string; bytes: number; durationMs: number; ttfbMs: number } | undefined;
      for (let i = 0; i < 600 && provider == null; i++) {
        const stats = await api<{
          recent: Array<{
            id: number;
            contentId: number;
            state: string;
            provider: string;
            url: string;
            bytes: number;
            durationMs: number;
            ttfbMs: number;
          }>;
        }>('/admin/retrieval/stats');
        provider = stats.recent.find((r) => r.id > seen && r.contentId === estuaryId && r.state === 'done');
        if (provider == null) await new Promise((r) => setTimeout(r, 100));
      }
      if (provider == null) throw new Error('the retrieval was not recorded');
      const plain = await withCpu(pids, () =>
        timedGet(`${provider!.url}/ipfs/${cid}?format=car`, { accept: 'application/vnd.ipld.car' })
      );
      const cpuOf = (c: { service: number; devnet: number; client: number }) =>
        `${c.service.toFixed(1)} / ${devnet == null ? '—' : c.devnet.toFixed(1)} / ${c.client.toFixed(1)}`;
      const ratio = caseB.mbps / plain.mbps;
      bestRatio = Math.max(bestRatio, ratio);
      rows.push(
        {
          round: String(round),
          what: `Case B: gateway GET of offloaded content (${provider.provider})`,
          'TTFB ms': caseB.ttfbMs,
          MiB: caseB.bytes / MiB,
          'MB/s': caseB.mbps,
          ratio: `${ratio.toFixed(2)}×`,
          'CPU s/GB service / devnet / client': cpuOf(caseB.cpu)
        },
        {
          round: String(round),
          what: '  of which: the retriever alone (provider → verified → blockstore)',
          'TTFB ms': provider.ttfbMs,
          MiB: provider.bytes / MiB,
          'MB/s': provider.bytes / (provider.durationMs / 1000) / 1e6,
          ratio: `${(provider.bytes / (provider.durationMs / 1000) / 1e6 / plain.mbps).toFixed(2)}×`,
          'CPU s/GB service / devnet / client': ''
        },
        {
          round: String(round),
          what: 'plain: GET /ipfs/{root}?format=car from the same provider',
          'TTFB ms': plain.ttfbMs,
          MiB: plain.bytes / MiB,
          'MB/s': plain.mbps,
          ratio: '1.00×',
          'CPU s/GB service / devnet / client': cpuOf(plain.cpu)
        }
      );
      // The next offload needs the re-pin finished (the retrieval row is written after the blocks).
      for (let i = 0; i < 600; i++) {
        const c = await api<{ offloaded: boolean }>(`/content/${estuaryId}`);
        if (!c.offloaded) break;
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    process.stdout.write(
      `\nretrieval benchmark: ${mib} MiB content, ${os.cpus().length} cores, devnet ${devnet == null ? 'inside the service' : 'as its own process'}; 6 active deals after ${dealSeconds.toFixed(0)} s\n\n` +
        `${table(rows)}\n\nbest ratio ${bestRatio.toFixed(2)}× (goal ≥ 0.80× the plain download): ${bestRatio >= 0.8 ? 'met' : 'NOT met'}\n`
    );
  } finally {
    await svc?.stop({ allowUncleanExit: true });
    await devnet?.stop();
  }
}
