import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';

const ROOT = path.resolve(import.meta.dirname, '..');

export interface ServiceProcess {
  child: ChildProcess;
  apiUrl: string;
  gatewayUrl: string;
  adminInvite: string;
  dataDir: string;
  /** Peak resident set size of the service so far (VmHWM), in bytes. */
  peakRss(): Promise<number>;
  /**
   * Stops the service with SIGTERM and requires a clean exit (code 0) unless `allowUncleanExit`;
   * removes its data dir unless `keepData`.
   */
  stop(opts?: { keepData?: boolean; allowUncleanExit?: boolean }): Promise<void>;
  /** Sends `signal` (e.g. SIGKILL, to test crash recovery) and resolves when the process has exited; keeps the data dir. */
  kill(signal: NodeJS.Signals): Promise<void>;
  /** Calls `listener` with every line the service prints from now on (stdout and stderr). */
  onLine(listener: (line: string) => void): void;
}

/** Starts `firth serve` as its own process on free ports, so its memory can be measured apart. */
export async function startServiceProcess(
  env: Record<string, string> = {},
  opts: { onLine?: (line: string) => void } = {}
): Promise<ServiceProcess> {
  const dataDir = env.FIRTH_DATA_DIR ?? (await fs.mkdtemp(path.join(os.tmpdir(), 'firth-bench-')));
  // Run the bin itself so its shebang's Node flags apply, as with `npx firth serve`.
  const child = spawn(path.join(ROOT, 'bin/firth.js'), ['serve'], {
    cwd: ROOT,
    env: {
      ...process.env,
      FIRTH_DATA_DIR: dataDir,
      FIRTH_PORT: '0',
      FIRTH_GATEWAY_PORT: '0',
      FIRTH_P2P_PORT: '0',
      FIRTH_LOG_LEVEL: 'info',
      // No in-process Filecoin devnet unless a test or bench asks for one (FIRTH_DEVNET: 'on').
      FIRTH_DEVNET: 'off',
      ...env
    },
    stdio: ['ignore', 'pipe', 'pipe']
  });
  let adminInvite = '';
  let gatewayUrl = '';
  // The last lines the service printed, to explain an unexpected exit.
  const tail: string[] = [];
  // Lines printed at start (e.g. the devnet's URLs) reach a listener given here.
  const listeners: Array<(line: string) => void> = opts.onLine != null ? [opts.onLine] : [];
  const remember = (line: string) => {
    for (const listener of listeners) listener(line);
    tail.push(line.length > 300 ? `${line.slice(0, 300)}…` : line);
    if (tail.length > 15) tail.shift();
  };
  const apiUrl = await new Promise<string>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`service exited with ${code}`)));
    // The invite box goes to stderr, JSON logs to stdout; 'ready' says whether a box was shown.
    let ready: { url: string; adminInviteShown: boolean } | undefined;
    const settle = () => {
      if (ready != null && (!ready.adminInviteShown || adminInvite !== '')) resolve(ready.url);
    };
    readline.createInterface({ input: child.stderr! }).on('line', (line) => {
      remember(line);
      const invite = /invite code: (\S+)/.exec(line);
      if (invite != null) adminInvite = invite[1]!;
      settle();
    });
    readline.createInterface({ input: child.stdout! }).on('line', (line) => {
      remember(line);
      if (!line.startsWith('{')) return;
      const entry = JSON.parse(line) as {
        msg?: string;
        url?: string;
        gatewayUrl?: string;
        adminInviteShown?: boolean;
      };
      if (entry.msg === 'ready') {
        ready = { url: entry.url!, adminInviteShown: entry.adminInviteShown === true };
        gatewayUrl = entry.gatewayUrl ?? '';
      }
      settle();
    });
  });
  return {
    child,
    apiUrl,
    gatewayUrl,
    adminInvite,
    dataDir,
    async peakRss() {
      const status = await fs.readFile(`/proc/${child.pid}/status`, 'utf8');
      return Number(/VmHWM:\s+(\d+) kB/.exec(status)![1]) * 1024;
    },
    onLine(listener) {
      listeners.push(listener);
    },
    async kill(signal) {
      if (child.exitCode != null || child.signalCode != null) return;
      const exited = new Promise<void>((r) => child.once('exit', () => r()));
      child.kill(signal);
      await exited;
    },
    async stop(opts = {}) {
      // Already gone (e.g. after kill()): nothing to wait for.
      const gone = child.exitCode != null || child.signalCode != null;
      const exited = gone
        ? Promise.resolve<[number | null, NodeJS.Signals | null]>([child.exitCode, child.signalCode])
        : new Promise<[number | null, NodeJS.Signals | null]>((r) =>
            child.once('exit', (code, signal) => r([code, signal]))
          );
      if (!gone) child.kill('SIGTERM');
      const [code, signal] = await exited;
      // A clean shutdown exits 0; anything else (a native crash on the way down) is a failure.
      if (code !== 0 && opts.allowUncleanExit !== true) {
        throw new Error(
          `the service exited with ${signal ?? `code ${code}`} on SIGTERM; its last lines:\n${tail.join('\n')}`
        );
      }
      if (opts.keepData !== true) await fs.rm(dataDir, { recursive: true, force: true });
    }
  };
}

export function table(rows: Array<Record<string, string | number>>): string {
  const cols = Object.keys(rows[0]!);
  const cell = (v: string | number) => (typeof v === 'number' ? v.toFixed(1) : v);
  const lines = [`| ${cols.join(' | ')} |`, `| ${cols.map(() => '---').join(' | ')} |`];
  for (const r of rows) lines.push(`| ${cols.map((c) => cell(r[c]!)).join(' | ')} |`);
  return lines.join('\n');
}

/** Registers the admin with the invite the service printed; resolves to its session token. */
export async function registerAdmin(svc: ServiceProcess): Promise<string> {
  const reg = await fetch(`${svc.apiUrl}/api/register`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      username: 'bench',
      password: 'correct horse battery staple',
      inviteCode: svc.adminInvite
    })
  });
  if (reg.status !== 200) throw new Error(`register: ${reg.status} ${await reg.text()}`);
  return ((await reg.json()) as { token: string }).token;
}
