// Provider performance on the devnet with injected faults: one provider rejects every proposal,
// another cuts every transfer short. Once uploads reach their 6 active deals with the other
// providers, the per-provider stats show the rejections (with the reason) and the transfer failures,
// the failure log lists them, and the ranking the chooser uses puts both faulty providers last.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseActorId } from '../../filecoin/providers/actor.ts';
import { providerRecords, rankProviders } from '../../filecoin/providers/scoring.ts';
import { deterministicBytes } from '../helpers/bytes.ts';
import { apiFetch, devnetEnv } from '../helpers/devnet.ts';
import { registerUser, startTestService, type TestService } from '../helpers/service.ts';

const REJECT_REASON = 'not taking deals today (test fault)';

interface MinerStats {
  miner: string;
  dealCount: number;
  errorCount: number;
  score: number;
  deals: {
    proposed: number;
    accepted: number;
    rejected: number;
    active: number;
    failed: number;
    failedByPhase: Record<string, number>;
    rejectReasons: Array<{ message: string; count: number }>;
  };
  timing: { msToPublish: number | null; msToActive: number | null; transferBytes: number };
}

describe('provider stats with injected faults', () => {
  let svc: TestService;
  let apiKey: string;
  let rejecter: string;
  let truncater: string;
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
  const upload = async (name: string, bytes: Uint8Array) => {
    const form = new FormData();
    form.append('data', new Blob([new Uint8Array(bytes)]), name);
    return json<{ cid: string; estuaryId: number }>(api('/content/add', { method: 'POST', body: form }));
  };
  const waitActive = async (id: number) => {
    const deadline = Date.now() + 90_000;
    let last: unknown;
    while (Date.now() < deadline) {
      const s = await json<{ summary: { active: number; target: number } }>(api(`/content/status/${id}`));
      last = s.summary;
      if (s.summary.active >= s.summary.target) return;
      await new Promise((r) => setTimeout(r, 500));
    }
    throw new Error(`content ${id} did not reach its target: ${JSON.stringify(last)}`);
  };
  const stats = (miner: string) => json<MinerStats>(fetch(`${svc.apiUrl}/api/public/miners/stats/${miner}`));

  beforeAll(async () => {
    svc = await startTestService({
      env: devnetEnv(8, {
        FIRTH_AGGREGATE_MAX_WAIT: '1',
        FIRTH_DEVNET_FAULTS: JSON.stringify({
          sp7: { rejectProposals: REJECT_REASON },
          sp8: { truncateTransfer: true }
        })
      })
    });
    ({ apiKey } = await registerUser(svc.apiUrl, svc.adminInvite, 'prov-stats'));
    const providers = svc.node.filecoin.devnetProviders;
    rejecter = providers.find((p) => p.name === 'sp7')!.actorId;
    truncater = providers.find((p) => p.name === 'sp8')!.actorId;
  }, 120_000);
  afterAll(() => svc?.stop());

  it('shows rejections with reasons and transfer failures per provider, and ranks faulty providers last', async () => {
    // Uploads until each faulty provider has been tried at least once (the chooser explores new
    // providers, but which ones a given piece gets is random).
    for (let i = 0; i < 6; i++) {
      const { estuaryId } = await upload(
        `p-${i}.bin`,
        deterministicBytes(`provider-stats-${i}`, 1536 * 1024)
      );
      await waitActive(estuaryId);
      const [r, t] = await Promise.all([stats(rejecter), stats(truncater)]);
      if (r.deals.rejected > 0 && (t.deals.failedByPhase.transfer ?? 0) > 0) break;
    }

    const r = await stats(rejecter);
    expect(r.deals.rejected).toBeGreaterThan(0);
    expect(r.deals.rejected).toBe(r.deals.proposed);
    expect(r.deals.active).toBe(0);
    expect(r.deals.failedByPhase.propose).toBe(r.deals.rejected);
    expect(r.deals.rejectReasons[0]!.message).toContain(REJECT_REASON);
    expect(r.deals.rejectReasons[0]!.count).toBe(r.deals.rejected);

    const t = await stats(truncater);
    expect(t.deals.failedByPhase.transfer ?? 0).toBeGreaterThan(0);
    expect(t.deals.accepted).toBe(t.deals.proposed);
    expect(t.deals.rejected).toBe(0);
    expect(t.deals.active).toBe(0);
    expect(t.errorCount).toBe(t.deals.failed);

    // Estuary's failure records for the provider match the counts.
    const failures = await json<Array<{ miner: string; phase: string; message: string }>>(
      fetch(`${svc.apiUrl}/api/public/miners/failures/${rejecter}`)
    );
    expect(failures.length).toBe(r.deals.rejected);
    expect(failures.every((f) => f.phase === 'propose' && f.message.includes(REJECT_REASON))).toBe(true);
    const tFailures = await json<Array<{ phase: string }>>(
      fetch(`${svc.apiUrl}/api/public/miners/failures/${truncater}`)
    );
    expect(tFailures.filter((f) => f.phase === 'transfer').length).toBe(t.deals.failedByPhase.transfer);

    // A good provider: active deals, timings, its log of successes and the bytes it pulled.
    await svc.node.tracking.meter.flush();
    const good = svc.node.filecoin.devnetProviders.find((p) => p.name === 'sp1')!.actorId;
    const g = await stats(good);
    expect(g.deals.active).toBeGreaterThan(0);
    expect(g.timing.msToActive).toBeGreaterThan(0);
    expect(g.timing.msToPublish).toBeGreaterThan(0);
    expect(g.timing.transferBytes).toBeGreaterThanOrEqual(1536 * 1024);
    const events = await json<Array<{ kind: string; ok: boolean }>>(
      fetch(`${svc.apiUrl}/api/public/miners/events/${good}?limit=50`)
    );
    expect(events.some((e) => e.kind === 'activated' && e.ok)).toBe(true);
    const series = await json<{ series: { attempted: number[]; active: number[] } }>(
      fetch(`${svc.apiUrl}/api/public/miners/series/${good}?step=hour&from=${Date.now() - 3 * 3600_000}`)
    );
    expect(series.series.active.reduce((a, b) => a + b, 0)).toBe(g.deals.active);

    // The ranking reads the same figures: the faulty providers come last, below every good one.
    expect(r.score).toBeLessThan(g.score);
    expect(t.score).toBeLessThan(g.score);
    const actors = svc.node.filecoin.devnetProviders.map((p) => parseActorId(p.actorId));
    const ranked = rankProviders(actors, await providerRecords(svc.node.database.db), {
      jitter: 0,
      newDeals: 0
    });
    const last2 = ranked.slice(-2).map((p) => p.actorId);
    expect(new Set(last2)).toEqual(new Set([parseActorId(rejecter), parseActorId(truncater)]));
    const table = await json<{
      providers: Array<{ addr: string; score: number; activationsPerDay: number[] }>;
    }>(fetch(`${svc.apiUrl}/api/public/stats/providers`));
    const scores = [...table.providers].sort((a, b) => a.score - b.score).map((p) => p.addr);
    expect(new Set(scores.slice(0, 2).map((a) => parseActorId(a)))).toEqual(new Set(last2));
    expect(
      table.providers.find((p) => parseActorId(p.addr) === parseActorId(good))!.activationsPerDay.at(-1)
    ).toBe(g.deals.active);
  }, 600_000);

  it('answers 400 for malformed provider IDs and 404 for unknown ones', async () => {
    for (const path of ['stats', 'failures', 'events', 'series']) {
      expect((await fetch(`${svc.apiUrl}/api/public/miners/${path}/not-a-miner`)).status).toBe(400);
      expect((await fetch(`${svc.apiUrl}/api/public/miners/${path}/f0999999999`)).status).toBe(404);
    }
    expect((await fetch(`${svc.apiUrl}/api/public/miners/stats/${rejecter}?days=100000`)).status).toBe(400);
    expect((await fetch(`${svc.apiUrl}/api/public/miners/series/${rejecter}?from=10&to=5`)).status).toBe(400);
  });
});
