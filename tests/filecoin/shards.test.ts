// Content larger than the largest piece on the devnet: it is split into shard pieces, each its own
// CAR that providers download, check against its CommP and index, and each reaches 6 active deals.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deterministicBytes } from '../helpers/bytes.ts';
import { apiFetch, devnetEnv, uploadContent } from '../helpers/devnet.ts';
import { registerUser, startTestService, type TestService } from '../helpers/service.ts';

interface StatusBody {
  summary: { target: number; active: number; inFlight: number; failed: number; pieces: number };
  deals: Array<{ deal: { miner: string; dealId: number; state: string; pieceCid?: string } }>;
}

interface Manifest {
  root: string;
  shards: Array<{
    index: number;
    pieceCid: string;
    pieceSize: number;
    payloadSize: number;
    firstBlock: number;
    blocks: number;
    carRoot: string;
  }>;
}

const MiB = 1024 * 1024;

describe('sharded content on the devnet', () => {
  let svc: TestService;
  let apiKey: string;
  const api = apiFetch(
    () => svc.apiUrl,
    () => apiKey
  );

  beforeAll(async () => {
    svc = await startTestService({
      env: devnetEnv(7, { FIRTH_MAX_PIECE_PAYLOAD_BYTES: String(3 * MiB) })
    });
    ({ apiKey } = await registerUser(svc.apiUrl, svc.adminInvite, 'sharder'));
  }, 120_000);
  afterAll(() => svc?.stop());

  it('splits a 7 MiB upload into shards that each reach 6 active deals', async () => {
    const { cid, estuaryId } = await uploadContent(
      api,
      'big.bin',
      deterministicBytes('shards-devnet', 7 * MiB)
    );

    const deadline = Date.now() + 240_000;
    let status: StatusBody | undefined;
    while (Date.now() < deadline) {
      status = (await (await api(`/content/status/${estuaryId}`)).json()) as StatusBody;
      if (status.summary.pieces >= 3 && status.summary.active >= status.summary.target) break;
      await new Promise((r) => setTimeout(r, 1000));
    }
    expect(status?.summary.target).toBe(6);
    expect(status?.summary.active).toBe(6);

    const res = await api(`/content/${estuaryId}/shards`);
    expect(res.status).toBe(200);
    const manifest = (await res.json()) as Manifest;
    expect(manifest.root).toBe(cid);
    expect(manifest.shards.length).toBeGreaterThanOrEqual(3);
    expect(manifest.shards.map((s) => s.index)).toEqual(manifest.shards.map((_, i) => i));
    expect(manifest.shards[0]!.carRoot).toBe(cid);
    let next = 0;
    for (const shard of manifest.shards) {
      expect(shard.firstBlock).toBe(next);
      next += shard.blocks;
      expect(shard.payloadSize).toBeLessThanOrEqual(3 * MiB);
      const active = status!.deals.filter(
        (d) => d.deal.state === 'active' && d.deal.pieceCid === shard.pieceCid
      );
      expect(new Set(active.map((d) => d.deal.miner)).size).toBe(6);
    }
    expect(next).toBe(8); // 7 leaves of 1 MiB and the root node

    // A content that fits one piece has no shards.
    const small = new FormData();
    small.append('data', new Blob([new Uint8Array(deterministicBytes('shards-small', 2 * MiB))]), 's.bin');
    const smallAdded = (await (await api('/content/add', { method: 'POST', body: small })).json()) as {
      estuaryId: number;
    };
    expect((await api(`/content/${smallAdded.estuaryId}/shards`)).status).toBe(404);
  }, 300_000);
});
