import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
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
