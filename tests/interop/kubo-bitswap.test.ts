// A real Kubo (go-bitswap, go-libp2p) fetches Firth-held content over bitswap, after
// `ipfs swarm connect` to Firth's TCP and, separately, its WebSocket address: files byte for byte, a
// folder, a 100 MiB file, and `ipfs dag export` equal to Firth's own `?format=car`. Kubo dying
// mid-transfer leaves Firth serving the next fetch.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomBytes } from '../helpers/helia-node.ts';
import { registerUser, startTestService, type TestService } from '../helpers/service.ts';
import { startKubo, type KuboNode } from './kubo.ts';
import { hasKubo, KUBO_BINARY, reportSkipped } from './tools.ts';

const missing = hasKubo() ? [] : [`Kubo not found at ${KUBO_BINARY}`];
reportSkipped('tests/interop/kubo-bitswap.test.ts (Kubo fetching from Firth over bitswap)', missing);

const FETCH_MS = 180_000;
const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

interface NetAddrs {
  id: string;
  addresses: string[];
}

/** Firth's loopback address for `transport`, with /p2p/ (what a user would paste into Kubo). */
function firthAddress(addrs: NetAddrs, transport: 'tcp' | 'ws'): string {
  for (const a of addrs.addresses) {
    if (!a.startsWith('/ip4/127.0.0.1/tcp/')) continue;
    const rest = a.split('/').slice(5);
    const isWs = rest[0] === 'ws';
    if (transport === 'tcp' ? rest.length > 0 && rest[0] !== 'p2p' : !isWs) continue;
    return a.includes('/p2p/') ? a : `${a}/p2p/${addrs.id}`;
  }
  throw new Error(`Firth announces no loopback ${transport} address: ${addrs.addresses.join(', ')}`);
}

/** `ipfs dag export` as bytes (KuboNode.ipfs decodes stdout as text). */
function dagExport(kubo: KuboNode, cid: string): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const child = spawn(KUBO_BINARY, ['dag', 'export', cid], {
      env: { ...process.env, IPFS_PATH: kubo.repo }
    });
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => child.kill('SIGKILL'), FETCH_MS);
    child.stdout.on('data', (c: Buffer) => chunks.push(c));
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      if (code === 0) resolve(Buffer.concat(chunks));
      else reject(new Error(`ipfs dag export ${cid} exited ${code}`));
    });
  });
}

async function kuboOk(kubo: KuboNode, args: string[], timeoutMs = FETCH_MS): Promise<string> {
  const r = await kubo.ipfs(args, { timeoutMs });
  expect(r.code, `ipfs ${args.join(' ')}: ${r.stderr}`).toBe(0);
  return r.stdout;
}

describe.skipIf(missing.length > 0)('Kubo fetches from Firth over bitswap', () => {
  let service: TestService;
  let apiKey: string;
  let addrs: NetAddrs;
  let tmp: string;
  const kubos: KuboNode[] = [];

  async function upload(name: string, bytes: Uint8Array): Promise<string> {
    const form = new FormData();
    form.append('data', new Blob([new Uint8Array(bytes)]), name);
    const res = await fetch(`${service.apiUrl}/api/content/add`, {
      method: 'POST',
      headers: { authorization: `Bearer ${apiKey}` },
      body: form
    });
    const body = await res.text();
    expect(res.status, body).toBe(200);
    return (JSON.parse(body) as { cid: string }).cid;
  }

  async function freshKubo(transport: 'tcp' | 'ws'): Promise<KuboNode> {
    const kubo = await startKubo();
    kubos.push(kubo);
    await kuboOk(kubo, ['swarm', 'connect', firthAddress(addrs, transport)], 30_000);
    return kubo;
  }

  /** `ipfs get` into a temp file and read it back (stdout would mangle binary). */
  async function kuboGet(kubo: KuboNode, cid: string): Promise<Uint8Array> {
    const out = path.join(tmp, `${cid}-${kubos.indexOf(kubo)}`);
    await kuboOk(kubo, ['get', cid, '-o', out]);
    return new Uint8Array(await fs.readFile(out));
  }

  beforeAll(async () => {
    tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'firth-kubo-bitswap-'));
    service = await startTestService();
    ({ apiKey } = await registerUser(service.apiUrl, service.adminInvite, 'kubofetcher'));
    const res = await fetch(`${service.apiUrl}/api/public/net/addrs`);
    addrs = (await res.json()) as NetAddrs;
  });

  afterAll(async () => {
    await Promise.allSettled(kubos.map((k) => k.stop()));
    await service?.stop();
    if (tmp != null) await fs.rm(tmp, { recursive: true, force: true });
  });

  for (const transport of ['tcp', 'ws'] as const) {
    it(`small and multi-block files over ${transport} are byte-identical`, async () => {
      const small = randomBytes(1234);
      const multi = randomBytes(3 * 1024 * 1024 + 777);
      const [smallCid, multiCid] = [await upload('small.bin', small), await upload('multi.bin', multi)];
      const kubo = await freshKubo(transport);
      expect(sha256(await kuboGet(kubo, smallCid))).toBe(sha256(small));
      expect(sha256(await kuboGet(kubo, multiCid))).toBe(sha256(multi));
      // Kubo really talked to Firth: it is still among its peers.
      expect(await kuboOk(kubo, ['swarm', 'peers'])).toContain(addrs.id);
    });
  }

  it('a folder: ipfs ls and ipfs get match what Kubo itself built', async () => {
    // Kubo builds the folder, exports it as a CAR for Firth, then forgets it (gc): the fetch that
    // follows can only be served by Firth.
    const kubo = await startKubo();
    kubos.push(kubo);
    const dir = path.join(tmp, 'folder');
    await fs.mkdir(path.join(dir, 'sub'), { recursive: true });
    const files: Record<string, Uint8Array> = {
      'a.txt': new TextEncoder().encode('hello from kubo\n'),
      'sub/b.bin': randomBytes(2 * 1024 * 1024 + 5)
    };
    for (const [name, bytes] of Object.entries(files)) await fs.writeFile(path.join(dir, name), bytes);
    const root = (await kuboOk(kubo, ['add', '-r', '-Q', '--cid-version=1', dir])).trim();
    const carBytes = await dagExport(kubo, root);
    const res = await fetch(`${service.apiUrl}/api/content/add-car?filename=folder`, {
      method: 'POST',
      headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/vnd.ipld.car' },
      body: new Uint8Array(carBytes)
    });
    const body = await res.text();
    expect(res.status, body).toBe(200);
    expect((JSON.parse(body) as { cid: string }).cid).toBe(root);
    await kuboOk(kubo, ['pin', 'rm', root]);
    await kuboOk(kubo, ['repo', 'gc']);
    expect((await kubo.ipfs(['block', 'stat', '--offline', root])).code).not.toBe(0);

    await kuboOk(kubo, ['swarm', 'connect', firthAddress(addrs, 'tcp')], 30_000);
    const ls = await kuboOk(kubo, ['ls', root]);
    expect(ls).toContain('a.txt');
    expect(ls).toContain('sub');
    const out = path.join(tmp, 'folder-back');
    await kuboOk(kubo, ['get', root, '-o', out]);
    for (const [name, bytes] of Object.entries(files)) {
      expect(sha256(await fs.readFile(path.join(out, name))), name).toBe(sha256(bytes));
    }
  });

  it('a 100 MiB file, and ipfs dag export equals Firth’s ?format=car', async () => {
    const big = randomBytes(100 * 1024 * 1024);
    const cid = await upload('big.bin', big);
    const kubo = await freshKubo('tcp');
    expect(sha256(await kuboGet(kubo, cid))).toBe(sha256(big));

    const exported = await dagExport(kubo, cid);
    const car = await fetch(`${service.gatewayUrl}/ipfs/${cid}?format=car`);
    expect(car.status).toBe(200);
    const firthCar = new Uint8Array(await car.arrayBuffer());
    expect(firthCar.byteLength).toBe(exported.byteLength);
    expect(sha256(firthCar)).toBe(sha256(exported));
  });

  it('Kubo killed mid-transfer: Firth stays healthy and serves the next Kubo', async () => {
    const big = randomBytes(64 * 1024 * 1024);
    const cid = await upload('interrupted.bin', big);
    const first = await freshKubo('tcp');
    const pending = first.ipfs(['cat', cid], { timeoutMs: FETCH_MS });
    await new Promise((r) => setTimeout(r, 1500));
    await first.stop();
    await pending;

    const small = randomBytes(500_000);
    const smallCid = await upload('after.bin', small);
    const next = await freshKubo('tcp');
    expect(sha256(await kuboGet(next, smallCid))).toBe(sha256(small));
    expect(sha256(await kuboGet(next, cid))).toBe(sha256(big));
    const health = await fetch(`${service.apiUrl}/api/public/net/addrs`);
    expect(health.status).toBe(200);
  });
});
