import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startServiceProcess, type ServiceProcess } from '../../bench/service-process.ts';

const run = promisify(execFile);
const BIN = path.resolve(import.meta.dirname, '../../bin/firth.js');

let svc: ServiceProcess;

beforeAll(async () => {
  svc = await startServiceProcess();
});
afterAll(async () => {
  if (svc.child.exitCode == null) await svc.stop();
});

it('serves, prints the first admin invite once, and makes invites from the CLI', async () => {
  expect(svc.adminInvite).toMatch(/^firth-invite-[0-9a-f-]{36}$/);
  expect(await (await fetch(`${svc.apiUrl}/api/health`)).json()).toEqual({ status: 'ok' });
  const addrs = await (await fetch(`${svc.apiUrl}/api/public/net/addrs`)).json();
  expect(addrs.addresses.some((a: string) => a.includes('/tcp/') && !a.includes('/ws'))).toBe(true);
  expect(addrs.addresses.some((a: string) => a.includes('/ws/'))).toBe(true);
  expect(addrs.addresses.some((a: string) => a.includes('/webrtc-direct/certhash/'))).toBe(true);

  // `firth invite create` against the same data dir prints the code as its last line.
  const { stdout } = await run(BIN, ['invite', 'create', '--admin'], {
    env: { ...process.env, FIRTH_DATA_DIR: svc.dataDir }
  });
  const code = stdout.trim().split('\n').at(-1)!;
  const reg = await fetch(`${svc.apiUrl}/api/register`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username: 'cli-admin', password: 'password-123', inviteCode: code })
  });
  expect(reg.status).toBe(200);
  const { token } = await reg.json();
  expect(
    (
      await (
        await fetch(`${svc.apiUrl}/api/viewer`, { headers: { authorization: `Bearer ${token}` } })
      ).json()
    ).perms
  ).toBe(10);
});

it('keeps its peer identity across restarts and stops cleanly on SIGTERM', async () => {
  const first = await (await fetch(`${svc.apiUrl}/api/public/net/addrs`)).json();
  const keyFile = path.join(svc.dataDir, 'peer.key');
  expect((await fs.stat(keyFile)).mode & 0o777).toBe(0o600);

  const exited = new Promise<number | null>((r) => svc.child.once('exit', (code) => r(code)));
  svc.child.kill('SIGTERM');
  expect(await exited).toBe(0);

  const again = await startServiceProcess({ FIRTH_DATA_DIR: svc.dataDir });
  try {
    expect(again.adminInvite).toBe(''); // printed once only
    const second = await (await fetch(`${again.apiUrl}/api/public/net/addrs`)).json();
    expect(second.id).toBe(first.id);
  } finally {
    await again.stop();
  }
});

it('answers unknown commands with usage and a non-zero exit', async () => {
  await expect(
    run(BIN, ['frobnicate'], { env: { ...process.env, FIRTH_DATA_DIR: os.tmpdir() } })
  ).rejects.toMatchObject({ code: 2 });
});

// One port held by another process's listener, per setting; the service names the setting to change.
for (const setting of ['FIRTH_PORT', 'FIRTH_GATEWAY_PORT', 'FIRTH_P2P_PORT'] as const) {
  it(`exits non-zero with a clear message, not a stack trace, when ${setting}'s port is in use`, async () => {
    const holder = net.createServer();
    await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve));
    const port = (holder.address() as net.AddressInfo).port;
    const dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'firth-port-'));
    try {
      const failed = await run(BIN, ['serve'], {
        env: {
          ...process.env,
          FIRTH_DATA_DIR: dataDir,
          FIRTH_PORT: '0',
          FIRTH_GATEWAY_PORT: '0',
          FIRTH_P2P_PORT: '0',
          FIRTH_DEVNET: 'off',
          FIRTH_LOG_LEVEL: 'warn',
          [setting]: String(port)
        },
        timeout: 60_000
      }).then(
        () => undefined,
        (err: { code?: number; stderr?: string; stdout?: string }) => err
      );
      expect(failed).toBeDefined();
      expect(failed!.code).toBe(1);
      const out = `${failed!.stderr}\n${failed!.stdout}`;
      expect(out).toContain(`${setting}=`);
      expect(out).toContain(`${port}`);
      expect(out).toContain('already in use');
      expect(out).not.toMatch(/\n\s+at .+:\d+:\d+/); // no stack trace
      expect(out).not.toContain('Uncaught');
    } finally {
      holder.close();
      await fs.rm(dataDir, { recursive: true, force: true });
    }
  });
}
