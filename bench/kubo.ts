// `npm run bench -- kubo [MiB]`: Firth against Kubo over bitswap (TCP, loopback), both directions,
// with the Kubo↔Kubo baseline in the same run:
//   out: a fresh Kubo fetches (`ipfs pin add`) a file held by Firth, beside a fresh Kubo fetching
//        the same DAG from a second Kubo;
//   in:  Firth pins the file from a Kubo origin (Pinning Service API), beside Kubo pinning it from Kubo.
// Needs Kubo (`npm run interop:tools`). Each figure is the best of `runs` (default 2).
import { openAsBlob } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createCipheriv, randomBytes } from 'node:crypto';
import { startKubo, type KuboNode } from '../tests/interop/kubo.ts';
import { hasKubo, KUBO_BINARY } from '../tests/interop/tools.ts';
import { registerAdmin, startServiceProcess, table, type ServiceProcess } from './service-process.ts';

const MiB = 1024 * 1024;

async function writeRandomFile(file: string, bytes: number): Promise<void> {
  const cipher = createCipheriv('chacha20', randomBytes(32), Buffer.alloc(16));
  const out = await fs.open(file, 'w');
  for (let done = 0; done < bytes; done += 16 * MiB)
    await out.write(cipher.update(Buffer.alloc(Math.min(16 * MiB, bytes - done))));
  await out.close();
}

async function must(kubo: KuboNode, args: string[], timeoutMs = 600_000): Promise<string> {
  const r = await kubo.ipfs(args, { timeoutMs });
  if (r.code !== 0) throw new Error(`ipfs ${args.join(' ')} (${r.code}): ${r.stderr}`);
  return r.stdout;
}

/** Firth's loopback TCP address with /p2p/. */
async function firthTcp(svc: ServiceProcess): Promise<{ id: string; addr: string }> {
  const { id, addresses } = (await (await fetch(`${svc.apiUrl}/api/public/net/addrs`)).json()) as {
    id: string;
    addresses: string[];
  };
  const tcp = addresses.find((a) => /^\/ip4\/127\.0\.0\.1\/tcp\/\d+(\/p2p\/.*)?$/.test(a));
  if (tcp == null) throw new Error(`no loopback TCP address in ${addresses.join(', ')}`);
  return { id, addr: tcp.includes('/p2p/') ? tcp : `${tcp}/p2p/${id}` };
}

/** A fresh Kubo connected to `peer` fetches the whole DAG; seconds. */
async function kuboFetch(peer: string, cid: string): Promise<number> {
  const kubo = await startKubo();
  try {
    await must(kubo, ['swarm', 'connect', peer], 30_000);
    const start = performance.now();
    await must(kubo, ['pin', 'add', '--progress=false', cid]);
    return (performance.now() - start) / 1000;
  } finally {
    await kubo.stop();
  }
}

/** A fresh Firth pins `cid` with `origins` through the Pinning Service API; seconds to pinned. */
async function firthPin(cid: string, origins: string[]): Promise<number> {
  const svc = await startServiceProcess();
  try {
    const token = await registerAdmin(svc);
    const auth = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
    const start = performance.now();
    const res = await fetch(`${svc.apiUrl}/api/pinning/pins`, {
      method: 'POST',
      headers: auth,
      body: JSON.stringify({ cid, origins })
    });
    if (res.status !== 202) throw new Error(`pin: ${res.status} ${await res.text()}`);
    const { requestid } = (await res.json()) as { requestid: string };
    const deadline = Date.now() + 600_000;
    while (Date.now() < deadline) {
      const s = (await (
        await fetch(`${svc.apiUrl}/api/pinning/pins/${requestid}`, { headers: auth })
      ).json()) as { status: string; info: Record<string, string> };
      if (s.status === 'pinned') return (performance.now() - start) / 1000;
      if (s.status === 'failed') throw new Error(`Firth's pin failed: ${s.info.status_details}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error('Firth did not pin within 10 min');
  } finally {
    await svc.stop();
  }
}

const best = async (runs: number, fn: () => Promise<number>): Promise<number> => {
  let b = Infinity;
  for (let i = 0; i < runs; i++) b = Math.min(b, await fn());
  return b;
};

export async function main(args: string[]): Promise<void> {
  if (!hasKubo()) throw new Error(`Kubo not found at ${KUBO_BINARY}: run npm run interop:tools`);
  const mib = Number(args[0] ?? 256);
  const runs = Number(args[1] ?? 2);
  const tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'firth-bench-kubo-'));
  const file = path.join(tmp, 'file.bin');
  const say = (m: string) => process.stderr.write(`bench kubo: ${m}\n`);
  say(`writing ${mib} MiB of random bytes`);
  await writeRandomFile(file, mib * MiB);

  // The source Kubo imports with its unixfs-v1-2025 profile (1 MiB raw leaves, 1024 links), the
  // DAG Firth's uploads make: both sides serve the very same blocks.
  const source = await startKubo({ profiles: ['unixfs-v1-2025'] });
  const firth = await startServiceProcess();
  try {
    say('adding it to the source Kubo and uploading it to Firth');
    const cid = (await must(source, ['add', '-Q', file])).trim();
    const token = await registerAdmin(firth);
    const form = new FormData();
    form.append('data', await openAsBlob(file), 'file.bin');
    const up = await fetch(`${firth.apiUrl}/api/content/add`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}` },
      body: form
    });
    if (!up.ok) throw new Error(`upload to Firth: ${up.status} ${await up.text()}`);
    const uploaded = (await up.json()) as { cid: string };
    if (uploaded.cid !== cid) throw new Error(`Firth made ${uploaded.cid}, Kubo ${cid}: not the same DAG`);

    const firthAddr = (await firthTcp(firth)).addr;
    const sourceAddr = source.swarm[0]!;
    say(`Kubo fetching from Firth, then from Kubo (best of ${runs} each)`);
    const outFirth = await best(runs, () => kuboFetch(firthAddr, cid));
    const outKubo = await best(runs, () => kuboFetch(sourceAddr, cid));
    say(`Firth pinning from the Kubo origin, then Kubo from Kubo again (best of ${runs} each)`);
    const inFirth = await best(runs, () => firthPin(cid, source.swarm));
    // Kubo pinning from Kubo is the same transfer as the out baseline, measured again next to
    // Firth's pins so each direction has its baseline beside it.
    const inKubo = await best(runs, () => kuboFetch(sourceAddr, cid));
    const mbps = (s: number) => (mib * MiB) / 1e6 / s;
    const rows = [
      {
        direction: `Kubo fetches ${mib} MiB from Firth`,
        seconds: outFirth,
        'MB/s': mbps(outFirth),
        'Kubo↔Kubo s': outKubo,
        'Kubo↔Kubo MB/s': mbps(outKubo),
        'ratio (goal ≥ 0.8)': outKubo / outFirth
      },
      {
        direction: `Firth pins ${mib} MiB from a Kubo origin`,
        seconds: inFirth,
        'MB/s': mbps(inFirth),
        'Kubo↔Kubo s': inKubo,
        'Kubo↔Kubo MB/s': mbps(inKubo),
        'ratio (goal ≥ 0.8)': inKubo / inFirth
      }
    ];
    console.log(`\nKubo ${KUBO_BINARY}, best of ${runs}, loopback TCP, ${os.cpus().length} cores\n`);
    console.log(table(rows));
  } finally {
    await firth.stop();
    await source.stop();
    await fs.rm(tmp, { recursive: true, force: true });
  }
}
