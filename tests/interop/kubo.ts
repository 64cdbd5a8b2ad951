// A real Kubo daemon for the interop tests: its own temporary repo, loopback only, free ports, no
// bootstrap peers, no routing, no MDNS, no AutoConf (nothing leaves the machine). `ipfs()` runs the
// CLI against it, as a user would.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { KUBO_BINARY } from './tools.ts';

export interface KuboResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface KuboNode {
  /** The IPFS_PATH of this node. */
  repo: string;
  peerId: string;
  /** The RPC API, e.g. http://127.0.0.1:PORT. */
  api: string;
  /** Kubo's own HTTP gateway. */
  gateway: string;
  /** Its TCP swarm addresses, each ending in /p2p/<peerId>. */
  swarm: string[];
  /** Its WebSocket swarm addresses (…/tcp/N/ws/p2p/<peerId>). */
  swarmWs: string[];
  /** Runs `ipfs <args>` against this node; never throws for a non-zero exit. */
  ipfs(args: string[], opts?: { input?: Uint8Array | string; timeoutMs?: number }): Promise<KuboResult>;
  stop(): Promise<void>;
}

const START_TIMEOUT_MS = 60_000;
const COMMAND_TIMEOUT_MS = 120_000;

/** Runs the Kubo CLI with IPFS_PATH=repo; a command over its timeout is killed (code -1). */
export function runKubo(
  repo: string,
  args: string[],
  opts: { input?: Uint8Array | string; timeoutMs?: number } = {}
): Promise<KuboResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(KUBO_BINARY, args, {
      env: { ...process.env, IPFS_PATH: repo },
      stdio: ['pipe', 'pipe', 'pipe']
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (c: Buffer) => out.push(c));
    child.stderr.on('data', (c: Buffer) => err.push(c));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? COMMAND_TIMEOUT_MS);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({
        code: code ?? -1,
        stdout: Buffer.concat(out).toString(),
        stderr: Buffer.concat(err).toString()
      });
    });
    child.stdin.on('error', () => {});
    child.stdin.end(opts.input ?? '');
  });
}

async function must(repo: string, args: string[]): Promise<string> {
  const r = await runKubo(repo, args);
  if (r.code !== 0) throw new Error(`ipfs ${args.join(' ')} failed (${r.code}): ${r.stderr}`);
  return r.stdout;
}

/** Creates a repo and starts `ipfs daemon` on it; resolves once the daemon says it is ready. */
export async function startKubo(
  options: {
    offline?: boolean;
    /** Extra `ipfs config --json` settings. */
    config?: Array<[string, string]>;
    /** Config profiles applied at init besides `test`, e.g. `unixfs-v1-2025`. */
    profiles?: string[];
  } = {}
): Promise<KuboNode> {
  const repo = await fs.mkdtemp(path.join(os.tmpdir(), 'firth-kubo-'));
  // The `test` profile: loopback API/gateway/swarm on port 0, no bootstrap peers, no MDNS.
  await must(repo, ['init', `--profile=${['test', ...(options.profiles ?? [])].join(',')}`, '--empty-repo']);
  const settings: Array<[string, string]> = [
    ['Routing.Type', '"none"'],
    ['AutoConf.Enabled', 'false'],
    ['Addresses.Swarm', '["/ip4/127.0.0.1/tcp/0", "/ip4/127.0.0.1/tcp/0/ws"]'],
    ['Swarm.DisableNatPortMap', 'true'],
    ['Discovery.MDNS.Enabled', 'false'],
    ...(options.config ?? [])
  ];
  for (const [key, value] of settings) {
    await must(repo, ['config', '--json', key, value]);
  }

  const args = ['daemon', ...(options.offline === true ? ['--offline'] : [])];
  const daemon: ChildProcess = spawn(KUBO_BINARY, args, {
    env: { ...process.env, IPFS_PATH: repo },
    stdio: ['ignore', 'pipe', 'pipe']
  });
  let log = '';
  const exited = new Promise<void>((resolve) => daemon.once('exit', () => resolve()));
  const ready = await new Promise<{ api: string; gateway: string }>((resolve, reject) => {
    let api = '';
    let gateway = '';
    const timer = setTimeout(
      () => reject(new Error(`Kubo did not start in time:\n${log}`)),
      START_TIMEOUT_MS
    );
    const onData = (chunk: Buffer) => {
      log += chunk.toString();
      api ||= /RPC API server listening on \/ip4\/([\d.]+)\/tcp\/(\d+)/.exec(log)?.slice(1).join(':') ?? '';
      gateway ||=
        /Gateway server listening on \/ip4\/([\d.]+)\/tcp\/(\d+)/.exec(log)?.slice(1).join(':') ?? '';
      if (log.includes('Daemon is ready') && api !== '') {
        clearTimeout(timer);
        resolve({ api: `http://${api}`, gateway: gateway === '' ? '' : `http://${gateway}` });
      }
    };
    daemon.stdout!.on('data', onData);
    daemon.stderr!.on('data', onData);
    daemon.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`Kubo exited (${code}) before it was ready:\n${log}`));
    });
  });

  const id = JSON.parse(await must(repo, ['id'])) as { ID: string; Addresses: string[] | null };
  const tcp = (id.Addresses ?? []).filter((a) => a.includes('/tcp/'));
  const swarm = tcp.filter((a) => !a.includes('/ws/'));
  const swarmWs = tcp.filter((a) => a.includes('/ws/'));

  let stopped = false;
  return {
    repo,
    peerId: id.ID,
    api: ready.api,
    gateway: ready.gateway,
    swarm,
    swarmWs,
    ipfs: (a, opts) => runKubo(repo, a, opts),
    async stop() {
      if (stopped) return;
      stopped = true;
      if (daemon.exitCode == null && daemon.signalCode == null) {
        daemon.kill('SIGTERM');
        const timer = setTimeout(() => daemon.kill('SIGKILL'), 10_000);
        await exited;
        clearTimeout(timer);
      }
      await fs.rm(repo, { recursive: true, force: true });
    }
  };
}
