// `npm run bench -- deals [--uploads N] [--clients C]`: N small distinct uploads through
// /api/content/add to a service process with the in-process devnet; reports the time until every
// upload has 6 active deals, the deals made, and the service's CPU time per deal. The baseline, in the
// same run: the same N uploads to a service with no Filecoin side (time until all pinned, its CPU),
// so the table shows what the deal pipeline adds.
import fs from 'node:fs/promises';
import path from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { joinDevnet, startDevnetProcess } from './devnet-process.ts';
import { registerAdmin, startServiceProcess, table, type ServiceProcess } from './service-process.ts';

const DEVNET_ENV = {
  FIRTH_DEVNET: 'on',
  FIRTH_DEVNET_PROVIDERS: '8',
  FIRTH_DEVNET_EPOCH_MS: '100',
  FIRTH_DEVNET_EPHEMERAL: '1',
  FIRTH_AGGREGATE_MAX_WAIT: '2'
};

const IDLE_MS = 5000;

function flag(args: string[], name: string, fallback: number): number {
  const i = args.indexOf(`--${name}`);
  if (i < 0) return fallback;
  const value = Number(args[i + 1]);
  if (!Number.isInteger(value) || value <= 0) throw new Error(`--${name} takes a positive integer`);
  return value;
}

/** User + system CPU seconds the process has used (/proc/<pid>/stat, clock ticks of 1/100 s). */
async function cpuSeconds(pid: number): Promise<number> {
  const stat = await fs.readFile(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name (which may hold spaces) start at state (field 3).
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

async function registerKey(svc: ServiceProcess): Promise<string> {
  const token = await registerAdmin(svc);
  const key = await fetch(`${svc.apiUrl}/api/user/api-keys?label=bench`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}` }
  });
  if (key.status !== 200) throw new Error(`api key: ${key.status} ${await key.text()}`);
  return ((await key.json()) as { token: string }).token;
}

/** Uploads `n` small distinct files with `clients` concurrent clients; returns their content ids. */
async function uploadAll(svc: ServiceProcess, apiKey: string, n: number, clients: number): Promise<number[]> {
  const ids: number[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: clients }, async () => {
      for (let i = next++; i < n; i = next++) {
        const body = new FormData();
        const text = `firth deals bench upload ${i} ${'x'.repeat(i % 997)}\n`;
        body.append('data', new Blob([text]), `bench-${i}.txt`);
        const res = await fetch(`${svc.apiUrl}/api/content/add`, {
          method: 'POST',
          headers: { authorization: `Bearer ${apiKey}` },
          body
        });
        if (res.status !== 200) throw new Error(`upload ${i}: ${res.status} ${await res.text()}`);
        ids.push(((await res.json()) as { estuaryId: number }).estuaryId);
      }
    })
  );
  return ids;
}

/** Counts, from the service's SQLite file (read-only, beside the running service), uploads done. */
function progress(dataDir: string) {
  const db = new DatabaseSync(path.join(dataDir, 'firth.sqlite'), { readOnly: true });
  const pinned = db.prepare(`select count(*) as n from contents where pin_status = 'pinned'`);
  const dealt = db.prepare(`
    select count(*) as n from contents c where exists (
      select 1 from piece_members m join pieces p on p.id = m.piece_id
      where m.content_id = c.id
        and (select count(*) from deals d where d.piece_id = p.id and d.state = 'active') >= p.replication)`);
  const deals = db.prepare(`
    select count(*) as made,
      coalesce(sum(case when state = 'active' then 1 else 0 end), 0) as active,
      coalesce(sum(case when state = 'failed' then 1 else 0 end), 0) as failed,
      (select count(*) from pieces) as pieces
    from deals`);
  return {
    pinned: () => Number((pinned.get() as { n: number }).n),
    dealt: () => Number((dealt.get() as { n: number }).n),
    deals: () => deals.get() as { made: number; active: number; failed: number; pieces: number },
    close: () => db.close()
  };
}

async function until(check: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

async function dealRun(
  svc: ServiceProcess,
  apiKey: string,
  n: number,
  clients: number,
  baselineCpu: number,
  label: string,
  devnetPid?: number
): Promise<Record<string, string | number>> {
  // The devnet's chain and providers tick even with nothing to do: measure that idle rate first,
  // to take it out of the per-deal figure.
  const cpuOf = async () =>
    (await cpuSeconds(svc.child.pid!)) + (devnetPid == null ? 0 : await cpuSeconds(devnetPid));
  const idle0 = await cpuOf();
  await new Promise((r) => setTimeout(r, IDLE_MS));
  const idleRate = ((await cpuOf()) - idle0) / (IDLE_MS / 1000);
  const svc0 = await cpuSeconds(svc.child.pid!);
  const dev0 = devnetPid == null ? 0 : await cpuSeconds(devnetPid);
  const start = performance.now();
  await uploadAll(svc, apiKey, n, clients);
  const uploaded = (performance.now() - start) / 1000;
  const p = progress(svc.dataDir);
  await until(() => p.dealt() >= n, 1_800_000, 'all uploads at 6 active deals');
  const seconds = (performance.now() - start) / 1000;
  const serviceCpu = (await cpuSeconds(svc.child.pid!)) - svc0;
  const devnetCpu = devnetPid == null ? 0 : (await cpuSeconds(devnetPid)) - dev0;
  const d = p.deals();
  p.close();
  const made = Math.max(1, Number(d.made));
  // Per deal made: what the service spent beyond pinning the same uploads (and, in-process, beyond
  // the idle devnet ticking).
  const serviceBusy = serviceCpu - (devnetPid == null ? idleRate * seconds : 0) - baselineCpu;
  return {
    run: `${label} (uploads took ${uploaded.toFixed(1)} s)`,
    uploads: String(n),
    'seconds to done': seconds,
    pieces: String(d.pieces),
    'deals made': String(d.made),
    'active deals': String(d.active),
    'failed deals': String(d.failed),
    'service CPU s': serviceCpu,
    'devnet CPU s': devnetPid == null ? 'in service' : devnetCpu,
    'idle devnet CPU s': idleRate * seconds,
    'service CPU ms per deal': (Math.max(0, serviceBusy) * 1000) / made
  };
}

export async function main(args: string[]): Promise<void> {
  const n = flag(args, 'uploads', 1000);
  const clients = flag(args, 'clients', 8);
  const rows: Array<Record<string, string | number>> = [];

  // Baseline: pinning only, no Filecoin side.
  {
    const svc = await startServiceProcess({ FIRTH_DEVNET: 'off' });
    try {
      const apiKey = await registerKey(svc);
      const cpu0 = await cpuSeconds(svc.child.pid!);
      const start = performance.now();
      await uploadAll(svc, apiKey, n, clients);
      const p = progress(svc.dataDir);
      await until(() => p.pinned() >= n, 600_000, 'all pinned');
      p.close();
      const seconds = (performance.now() - start) / 1000;
      const cpu = (await cpuSeconds(svc.child.pid!)) - cpu0;
      rows.push({
        run: 'baseline: pin only (no Filecoin)',
        uploads: String(n),
        'seconds to done': seconds,
        pieces: '-',
        'deals made': '-',
        'active deals': '-',
        'failed deals': '-',
        'service CPU s': cpu,
        'devnet CPU s': '-',
        'idle devnet CPU s': '-',
        'service CPU ms per deal': '-'
      });
    } finally {
      await svc.stop();
    }
  }

  const baselineCpu = Number(rows[0]!['service CPU s']);

  // The deal pipeline with the devnet inside the service (as `npm start` runs it): its chain and
  // providers share the process, so the CPU figure holds both sides of every deal.
  {
    const svc = await startServiceProcess(DEVNET_ENV);
    try {
      rows.push(await dealRun(svc, await registerKey(svc), n, clients, baselineCpu, 'devnet in the service'));
    } finally {
      await svc.stop();
    }
  }

  // The same with the devnet as its own process, reached over Lotus JSON-RPC like a real network:
  // the service's CPU is then the client side alone.
  {
    const devnet = await startDevnetProcess({ providers: 8, epochMs: 100 });
    let svc: ServiceProcess | undefined;
    try {
      svc = await startServiceProcess({
        FIRTH_LOTUS_URL: devnet.lotusUrl,
        FIRTH_INDEXER_URL: devnet.ipniUrl,
        // A real network's defaults are sized for hours; these make it the devnet's pace.
        FIRTH_DEAL_MIN_BYTES: String(4 * 1024 * 1024),
        FIRTH_AGGREGATE_TARGET_BYTES: String(4 * 1024 * 1024),
        FIRTH_AGGREGATE_MAX_WAIT: '2',
        FIRTH_DEAL_POLL_MS: '1000'
      });
      const apiKey = await registerKey(svc);
      await joinDevnet(svc, devnet, apiKey);
      rows.push(await dealRun(svc, apiKey, n, clients, baselineCpu, 'devnet as its own process', devnet.pid));
    } finally {
      await svc?.stop();
      await devnet.stop();
    }
  }

  process.stdout.write(
    `\n${n} uploads, ${clients} concurrent clients, 8 devnet providers, target 6 deals each\n\n`
  );
  process.stdout.write(`${table(rows)}\n`);
}
