// Deleting content (DELETE /pinning/pins/:requestid, what My content's Delete calls) stops the
// public gateway serving it at once — its own block cache included — and GCs the blocks nothing else
// holds, on SQLite and on PostgreSQL.
import { CID } from 'multiformats/cid';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dagBlockCids, randomBytes } from '../helpers/helia-node.ts';
import { createTempPostgres } from '../helpers/postgres.ts';
import { registerUser, startTestService, type TestService } from '../helpers/service.ts';

const FILE_SIZE = 2 * 1024 * 1024 + 999;

async function upload(service: TestService, apiKey: string, bytes: Uint8Array<ArrayBuffer>): Promise<CID> {
  const form = new FormData();
  form.append('data', new Blob([bytes]), 'file.bin');
  const res = await fetch(`${service.apiUrl}/api/content/add`, {
    method: 'POST',
    headers: { authorization: `Bearer ${apiKey}` },
    body: form
  });
  const body = await res.text();
  expect(res.status, body).toBe(200);
  return CID.parse((JSON.parse(body) as { cid: string }).cid);
}

async function requestIdOf(service: TestService, apiKey: string, cid: CID): Promise<string> {
  const res = await fetch(`${service.apiUrl}/api/pinning/pins?cid=${cid}`, {
    headers: { authorization: `Bearer ${apiKey}` }
  });
  const body = (await res.json()) as { results: Array<{ requestid: string }> };
  expect(body.results.length).toBeGreaterThan(0);
  return body.results[0]!.requestid;
}

for (const dialect of ['sqlite', 'postgres'] as const) {
  describe(`deleting content (${dialect})`, () => {
    let service: TestService;
    let apiKey: string;
    let dropPg: (() => Promise<void>) | undefined;

    beforeAll(async () => {
      let databaseUrl: string | undefined;
      if (dialect === 'postgres') {
        const pg = await createTempPostgres();
        databaseUrl = pg.url;
        dropPg = pg.drop;
      }
      service = await startTestService({ databaseUrl });
      ({ apiKey } = await registerUser(service.apiUrl, service.adminInvite, 'deleter'));
    });

    afterAll(async () => {
      await service?.stop();
      await dropPg?.();
    });

    it('stops gateway serving (cache included) and removes unshared blocks', async () => {
      const cid = await upload(service, apiKey, randomBytes(FILE_SIZE));
      const blocks = await dagBlockCids(cid, service.node.blockstore);
      // Warm the gateway's block cache.
      const before = await fetch(`${service.gatewayUrl}/ipfs/${cid}?format=raw`);
      expect(before.status).toBe(200);
      await before.arrayBuffer();

      const requestid = await requestIdOf(service, apiKey, cid);
      const del = await fetch(`${service.apiUrl}/api/pinning/pins/${requestid}`, {
        method: 'DELETE',
        headers: { authorization: `Bearer ${apiKey}` }
      });
      expect(del.status).toBe(202);

      for (const format of ['raw', 'car']) {
        const after = await fetch(`${service.gatewayUrl}/ipfs/${cid}?format=${format}`, {
          signal: AbortSignal.timeout(20_000)
        });
        await after.arrayBuffer();
        expect([404, 410]).toContain(after.status);
      }
      for (const block of blocks) expect(await service.node.blockstore.has(block)).toBe(false);
    });

    it('keeps and serves blocks another content still holds', async () => {
      const bytes = randomBytes(FILE_SIZE);
      const cid = await upload(service, apiKey, bytes);
      expect((await upload(service, apiKey, bytes)).toString()).toBe(cid.toString());
      const requestid = await requestIdOf(service, apiKey, cid);
      const del = await fetch(`${service.apiUrl}/api/pinning/pins/${requestid}`, {
        method: 'DELETE',
        headers: { authorization: `Bearer ${apiKey}` }
      });
      expect(del.status).toBe(202);
      for (const block of await dagBlockCids(cid, service.node.blockstore))
        expect(await service.node.blockstore.has(block)).toBe(true);
      const still = await fetch(`${service.gatewayUrl}/ipfs/${cid}?format=raw`);
      expect(still.status).toBe(200);
      await still.arrayBuffer();
    });
  });
}
