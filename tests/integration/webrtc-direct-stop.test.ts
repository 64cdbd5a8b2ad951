// A stopped WebRTC-direct listener must survive the STUN binding requests that browsers still send
// it (redialling a service that is shutting down). Before relay/webrtc-native.ts this aborted the
// process natively on nearly every stop. Runs the real peer in a process of its own, so an abort
// is seen as an exit status.
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { expect, it } from 'vitest';

const run = promisify(execFile);
const CHILD = path.join(import.meta.dirname, 'fixtures/stun-after-stop.ts');

it('survives STUN binding requests to the WebRTC-direct port after the peer stopped', async () => {
  const result = await run(process.execPath, [CHILD, '3'], { timeout: 60_000 }).then(
    ({ stdout, stderr }) => ({ code: 0, signal: null, stdout, stderr }),
    (err: { code?: number; signal?: string; stdout?: string; stderr?: string }) => ({
      code: err.code,
      signal: err.signal ?? null,
      stdout: err.stdout ?? '',
      stderr: err.stderr ?? ''
    })
  );
  expect({
    code: result.code,
    signal: result.signal,
    native: result.stderr.split('\n').filter((l) => /terminate called|Assertion|Aborted/.test(l))
  }).toEqual({ code: 0, signal: null, native: [] });
  expect(result.stdout).toBe('survived\n');
});
