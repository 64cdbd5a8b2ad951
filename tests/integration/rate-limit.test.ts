import { afterAll, beforeAll, expect, it } from 'vitest';
import { registerUser, startTestService, type TestService } from '../helpers/service.ts';

let svc: TestService;
let key: string;

beforeAll(async () => {
  svc = await startTestService({ env: { FIRTH_RATE_LIMIT: '30' } });
  key = (await registerUser(svc.apiUrl, svc.adminInvite, 'limited')).apiKey;
});
afterAll(async () => {
  await svc?.stop();
});

it('limits requests per key and per IP with 429 and the error envelope', async () => {
  const statuses: number[] = [];
  for (let i = 0; i < 40; i++) {
    statuses.push(
      (await fetch(`${svc.apiUrl}/api/viewer`, { headers: { authorization: `Bearer ${key}` } })).status
    );
  }
  expect(statuses.filter((s) => s === 200).length).toBeLessThanOrEqual(30);
  const limited = await fetch(`${svc.apiUrl}/api/viewer`, { headers: { authorization: `Bearer ${key}` } });
  expect(limited.status).toBe(429);
  expect((await limited.json()).error).toMatchObject({ code: 429, reason: 'ERR_TOO_MANY_REQUESTS' });
  expect(limited.headers.get('retry-after')).not.toBeNull();

  // Requests without a key are counted per IP, apart from the key's budget.
  const anonymous = await fetch(`${svc.apiUrl}/api/health`);
  expect(anonymous.status).toBe(200);
  // Pinning Service API errors keep that API's Failure shape.
  const pin = await fetch(`${svc.apiUrl}/api/pinning/pins`, { headers: { authorization: `Bearer ${key}` } });
  expect(pin.status).toBe(429);
  expect((await pin.json()).error.code).toBeUndefined();
});
