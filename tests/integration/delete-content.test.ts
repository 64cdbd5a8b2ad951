// Deleting content (DELETE /pinning/pins/:requestid, what My content's Delete calls) stops the
// public gateway serving it at once — its own block cache included — and GCs the blocks nothing else
// holds, on SQLite and on PostgreSQL.
import fs from 'node:fs/promises';
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
    let restart: () => Promise<void>;

    beforeAll(async () => {
      let databaseUrl: string | undefined;
      if (dialect === 'postgres') {
        const pg = await createTempPostgres();
        databaseUrl = pg.url;
        dropPg = pg.drop;
      }
      service = await startTestService({ databaseUrl, keepDataDir: true });
      restart = async () => {
        await service.stop();
        service = await startTestService({ databaseUrl, dataDir: service.dataDir, keepDataDir: true });
      };
      ({ apiKey } = await registerUser(service.apiUrl, service.adminInvite, 'deleter'));
    });

    afterAll(async () => {
      await service?.stop();
      if (service != null) await fs.rm(service.dataDir, { recursive: true, force: true });
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
        expect(after.status).toBe(410);
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

    it("replacing a pin with another CID removes the old DAG's unshared blocks", async () => {
      const old = await upload(service, apiKey, randomBytes(FILE_SIZE));
      const next = await upload(service, apiKey, randomBytes(1000));
      const oldBlocks = await dagBlockCids(old, service.node.blockstore);
      const requestid = await requestIdOf(service, apiKey, old);
      const res = await fetch(`${service.apiUrl}/api/pinning/pins/${requestid}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' },
        body: JSON.stringify({ cid: next.toString() })
      });
      expect(res.status, await res.text()).toBe(202);
      for (const block of oldBlocks) expect(await service.node.blockstore.has(block)).toBe(false);
      expect(await service.node.blockstore.has(next)).toBe(true);
    });

    it('finishes at the next start a deletion a crash interrupted after it was recorded', async () => {
      const cid = await upload(service, apiKey, randomBytes(FILE_SIZE));
      const blocks = await dagBlockCids(cid, service.node.blockstore);
      // What a crash right after the DELETE's database update leaves: removed, every block on disk.
      await service.node.database.db
        .updateTable('contents')
        .set({ pin_status: 'removed' })
        .where('cid', '=', cid.toString())
        .execute();
      expect(await service.node.blockstore.has(cid)).toBe(true);
      await restart();
      const deadline = Date.now() + 30_000;
      while ((await service.node.blockstore.has(cid)) && Date.now() < deadline)
        await new Promise((r) => setTimeout(r, 100));
      for (const block of blocks) expect(await service.node.blockstore.has(block)).toBe(false);
    });
  });
}
