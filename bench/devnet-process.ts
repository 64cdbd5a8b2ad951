// The devnet as its own process for benches (`devnet/cli.ts` on free ports, ephemeral), and a
// service process joining it as an operator would: wallet funded, providers added.
import { spawn } from 'node:child_process';
import path from 'node:path';
import readline from 'node:readline';
import type { ServiceProcess } from './service-process.ts';

export interface DevnetProcess {
  pid: number;
  lotusUrl: string;
  ipniUrl: string;
  adminUrl: string;
  providers: Array<{ actorId: string; httpUrl: string }>;
  stop(): Promise<void>;
}

/** Starts the devnet; resolves with the summary it prints as its first line of JSON. */
export async function startDevnetProcess(opts: {
  providers: number;
  epochMs: number;
}): Promise<DevnetProcess> {
  const child = spawn(
    process.execPath,
    [
      path.join(import.meta.dirname, '..', 'devnet', 'cli.ts'),
      '--ephemeral',
      '--port',
      '0',
      '--ipni-port',
      '0',
      '--providers',
      String(opts.providers),
      '--epoch-ms',
      String(opts.epochMs),
      '--log-level',
      'warn'
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] }
  );
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const stop = async () => {
    if (child.exitCode == null && child.signalCode == null) child.kill('SIGTERM');
    await exited;
  };
  try {
    const summary = await new Promise<Omit<DevnetProcess, 'pid' | 'stop'>>((resolve, reject) => {
      child.once('exit', (code) => reject(new Error(`devnet exited with ${code}`)));
      const lines = readline.createInterface({ input: child.stdout! });
      lines.once('line', (line) => {
        try {
          resolve(JSON.parse(line) as Omit<DevnetProcess, 'pid' | 'stop'>);
        } catch (err) {
          reject(new Error(`devnet's first line is not JSON: ${line} (${(err as Error).message})`));
        }
      });
    });
    // Keep draining stdout (its summary in words) so the devnet never blocks on a full pipe.
    child.stdout!.resume();
    return { ...summary, pid: child.pid!, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

/** Funds the service's wallet (FIL and DataCap) from the devnet and adds its providers. */
export async function joinDevnet(
  svc: ServiceProcess,
  devnet: DevnetProcess,
  adminKey: string
): Promise<void> {
  const auth = { authorization: `Bearer ${adminKey}` };
  const addr = await fetch(`${svc.apiUrl}/api/admin/fil-address`, { headers: auth });
  if (addr.status !== 200) throw new Error(`fil-address: ${addr.status} ${await addr.text()}`);
  const address = (await addr.json()) as string;
  for (const [route, amount] of [
    ['fund', (10n ** 18n * 1000n).toString()],
    ['datacap', (2n ** 40n).toString()]
  ] as const) {
    const res = await fetch(`${devnet.adminUrl}/admin/${route}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ Address: address, Amount: amount })
    });
    if (res.status !== 200) throw new Error(`devnet ${route}: ${res.status} ${await res.text()}`);
  }
  for (const p of devnet.providers) {
    const res = await fetch(`${svc.apiUrl}/api/admin/miners/add/${p.actorId.replace(/^t/, 'f')}`, {
      method: 'POST',
      headers: auth
    });
    if (res.status !== 200) throw new Error(`add provider ${p.actorId}: ${res.status} ${await res.text()}`);
  }
}
