// `firth serve` as its own process: SIGTERM drains (an upload in flight holds the stop), and a
// second signal while it drains ends the process at once with 128 + the signal's number.
import { afterEach, expect, it } from 'vitest';
import { startServiceProcess, type ServiceProcess } from '../../bench/service-process.ts';
import { registerUser } from '../helpers/service.ts';

let svc: ServiceProcess | undefined;
afterEach(async () => {
  await svc?.kill('SIGKILL');
  await svc?.stop({ allowUncleanExit: true });
});

it('exits at once with 130 on SIGINT while a SIGTERM stop waits for an upload', async () => {
  const lines: string[] = [];
  svc = await startServiceProcess({}, { onLine: (l) => lines.push(l) });
  const { apiKey } = await registerUser(svc.apiUrl, svc.adminInvite, 'signals');
  // An upload whose body never ends while the test runs: the drain waits for it.
  let release: () => void = () => {};
  const held = new Promise<void>((r) => (release = r));
  const body = new ReadableStream<Uint8Array>({
    async start(controller) {
      controller.enqueue(
        new TextEncoder().encode(
          '--b\r\nContent-Disposition: form-data; name="data"; filename="x"\r\n\r\nsome'
        )
      );
      await held;
      controller.close();
    }
  });
  const upload = fetch(`${svc.apiUrl}/api/content/add`, {
    method: 'POST',
    headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'multipart/form-data; boundary=b' },
    body,
    duplex: 'half'
  } as RequestInit).catch(() => undefined);
  const until = async (what: string) => {
    for (let i = 0; i < 200 && !lines.some((l) => l.includes(what)); i++)
      await new Promise((r) => setTimeout(r, 50));
    expect(lines.some((l) => l.includes(what))).toBe(true);
  };
  await until('"url":"/api/content/add"');
  const exited = new Promise<number | null>((r) => svc!.child.once('exit', (code) => r(code)));
  svc.child.kill('SIGTERM');
  await until('shutting down');
  svc.child.kill('SIGINT');
  expect(await exited).toBe(130);
  release();
  await upload;
});
