// The same content stored twice, on the in-process devnet, on SQLite and PostgreSQL: identical
// uploads in one aggregation window still reach active deals (the aggregate holds their piece once),
// a content stored twice shares one set of deals and is reported as a duplicate, and a failure every
// provider reports alike stops the piece's deals, spares the providers' scores, raises an admin
// alert and shows "deals failing" on the content.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deterministicBytes } from '../helpers/bytes.ts';
import { DATABASES, serviceDatabase } from '../helpers/databases.ts';
import { apiFetch, devnetEnv } from '../helpers/devnet.ts';
import { registerUser, startTestService, type TestService } from '../helpers/service.ts';

const REFUSAL = 'deal rejected: this piece is refused by every provider (test fault)';

interface AddBody {
  cid: string;
  estuaryId: number;
  duplicate: boolean;
  duplicateOf: number | null;
}

interface StatusBody {
  content: { dealStatus: string };
  summary: { target: number; active: number; total: number; failing: string | null };
  deals: Array<{ deal: { ID: number; miner: string; state: string; pieceId: number } }>;
}

describe.each(DATABASES)('content stored twice, on the devnet, on %s', (kind) => {
  let svc: TestService;
  let database: Awaited<ReturnType<typeof serviceDatabase>>;
  let apiKey: string;
  const api = apiFetch(
    () => svc.apiUrl,
    () => apiKey
  );
  const json = async <T>(res: Response | Promise<Response>): Promise<T> => {
    const r = await res;
    const text = await r.text();
    expect(r.status, text).toBe(200);
    return JSON.parse(text) as T;
  };
  const upload = (name: string, bytes: Uint8Array) => {
    const form = new FormData();
    form.append('data', new Blob([new Uint8Array(bytes)]), name);
    return json<AddBody>(api('/content/add', { method: 'POST', body: form }));
  };
  const status = (id: number) => json<StatusBody>(api(`/content/status/${id}`));
  /** Polls the content's status until `done` holds (bounded). */
  const waitFor = async (id: number, done: (s: StatusBody) => boolean, what: string): Promise<StatusBody> => {
    const deadline = Date.now() + 90_000;
    let last: StatusBody | undefined;
    while (Date.now() < deadline) {
      last = await status(id);
      if (done(last)) return last;
      await new Promise((r) => setTimeout(r, 500));
    }
    throw new Error(`content ${id}: ${what} never happened: ${JSON.stringify(last?.summary)}`);
  };
  const active = (id: number) => waitFor(id, (s) => s.summary.active >= s.summary.target, 'active deals');
  const dealIds = (s: StatusBody) => s.deals.map((d) => d.deal.ID).sort((a, b) => a - b);

  beforeAll(async () => {
    database = await serviceDatabase(kind);
    svc = await startTestService({
      databaseUrl: database.databaseUrl,
      env: devnetEnv(7, { FIRTH_AGGREGATE_MAX_WAIT: '2' })
    });
    ({ apiKey } = await registerUser(svc.apiUrl, svc.adminInvite, 'twice'));
  }, 120_000);
  afterAll(async () => {
    await svc?.stop();
    await database?.drop();
  });

  it('takes the same bytes twice and another file in one aggregation window to active deals', async () => {
    const same = deterministicBytes('duplicate-small', 30_000);
    const first = await upload('a.txt', same);
    const other = await upload('b.txt', deterministicBytes('duplicate-other', 50_000));
    const again = await upload('a-again.txt', same);
    expect(first.duplicate).toBe(false);
    expect(other.duplicate).toBe(false);
    expect(again).toMatchObject({ cid: first.cid, duplicate: true, duplicateOf: first.estuaryId });

    const statuses = await Promise.all([first, other, again].map((c) => active(c.estuaryId)));
    // One aggregate, one set of 6 deals, for all three.
    for (const s of statuses) {
      expect(dealIds(s)).toEqual(dealIds(statuses[0]!));
      expect(s.summary.total).toBe(6);
    }
    const proofs = await Promise.all(
      [first, other, again].map((c) =>
        json<{ proofs: Array<{ offset: number; proofHex: string; aggregatePieceCid: string }> }>(
          api(`/content/${c.estuaryId}/proof`)
        )
      )
    );
    const [p1, p2, p3] = proofs.map((p) => p.proofs[0]!);
    expect(p3!.offset).toBe(p1!.offset);
    expect(p3!.proofHex).toBe(p1!.proofHex);
    expect(p2!.offset).not.toBe(p1!.offset);
    expect(new Set([p1, p2, p3].map((p) => p!.aggregatePieceCid)).size).toBe(1);
  }, 150_000);

  it('deals a content stored twice once: the second shares the first one’s piece and deals', async () => {
    const big = deterministicBytes('duplicate-big', 1536 * 1024);
    const first = await upload('big.bin', big);
    const again = await upload('big-again.bin', big);
    expect(again).toMatchObject({ cid: first.cid, duplicate: true, duplicateOf: first.estuaryId });
    const [s1, s2] = await Promise.all([active(first.estuaryId), active(again.estuaryId)]);
    expect(dealIds(s2!)).toEqual(dealIds(s1!));
    expect(s1!.summary.total).toBe(6);
    expect(new Set(s1!.deals.map((d) => d.deal.miner)).size).toBe(6);
  }, 150_000);

  it('stops a piece every provider fails alike, without blaming them, and says so', async () => {
    for (const provider of svc.node.filecoin.devnetProviders) {
      const res = await fetch(
        `${svc.node.filecoin.devnetAdminUrl}/admin/providers/${provider.actorId}/faults`,
        {
          method: 'PUT',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ rejectProposals: REFUSAL })
        }
      );
      expect(res.status).toBe(200);
    }
    const refused = await upload('refused.txt', deterministicBytes('refused-everywhere', 40_000));
    const failing = await waitFor(refused.estuaryId, (s) => s.summary.failing != null, 'deals failing');
    expect(failing.summary.failing).toContain(REFUSAL);
    expect(failing.content.dealStatus).toBe('deals failing');
    const pieceId = failing.deals[0]!.deal.pieceId;

    // No more deals for that piece: what was proposed before it stopped, no more than one round.
    const settled = await waitFor(
      refused.estuaryId,
      (s) => s.deals.every((d) => d.deal.state === 'failed'),
      'every deal ended'
    );
    expect(settled.summary.total).toBeGreaterThanOrEqual(3);
    expect(settled.summary.total).toBeLessThanOrEqual(svc.node.filecoin.devnetProviders.length);
    await new Promise((r) => setTimeout(r, 2000));
    expect((await status(refused.estuaryId)).summary.total).toBe(settled.summary.total);

    // The providers are not blamed: the failures are the client's, and count in no score.
    for (const { deal } of settled.deals) {
      const stats = await json<{
        errorCount: number;
        deals: { rejected: number; failedByPhase: Record<string, number> };
      }>(fetch(`${svc.apiUrl}/api/public/miners/stats/${deal.miner}`));
      expect(stats.deals.rejected).toBe(0);
      expect(stats.errorCount).toBe(0);
      expect(stats.deals.failedByPhase.client).toBeGreaterThanOrEqual(1);
    }

    // The operator is told; the content list says it too.
    const { alerts } = await json<{ alerts: Array<{ kind: string; pieceId?: number; message: string }> }>(
      api('/admin/alerts')
    );
    expect(alerts).toContainEqual(expect.objectContaining({ kind: 'deals-failing', pieceId }));
    const list = await json<Array<{ id: number; dealStatus: string }>>(api('/content/stats'));
    expect(list.find((c) => c.id === refused.estuaryId)?.dealStatus).toBe('deals failing');
    expect(list.find((c) => c.id !== refused.estuaryId)?.dealStatus).toBe('');
  }, 150_000);
});
