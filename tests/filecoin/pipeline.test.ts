// The whole deal pipeline on the in-process devnet: uploads become pieces (alone or aggregated),
// and each reaches its replication target of active deals with distinct providers, checked on chain.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deterministicBytes } from '../helpers/bytes.ts';
import { apiFetch, devnetEnv, lotusCall, uploadContent } from '../helpers/devnet.ts';
import { registerUser, startTestService, type TestService } from '../helpers/service.ts';

interface StatusBody {
  summary: { target: number; active: number; inFlight: number; failed: number; aggregated: boolean };
  deals: Array<{
    deal: {
      miner: string;
      dealId: number;
      state: string;
      pieceId: number;
      pieceCid?: string;
      propCid?: string;
      timeline: Array<{ step: string; at: string | null }>;
    };
  }>;
  pieces: Array<{ id: number; kind: string; replication: number }>;
  placement: { replication: number; aggregated: boolean; note: string };
}

describe('deal pipeline on the devnet', () => {
  let svc: TestService;
  let apiKey: string;
  const api = apiFetch(
    () => svc.apiUrl,
    () => apiKey
  );
  const lotus = <T>(method: string, params: unknown[]) =>
    lotusCall<T>(svc.node.filecoin.lotusUrl!, method, params);
  const upload = (name: string, bytes: Uint8Array) => uploadContent(api, name, bytes);
  const waitActive = async (id: number, timeoutMs = 90_000): Promise<StatusBody> => {
    const deadline = Date.now() + timeoutMs;
    let last: StatusBody | undefined;
    while (Date.now() < deadline) {
      const res = await api(`/content/status/${id}`);
      last = (await res.json()) as StatusBody;
      if (last.summary.active >= last.summary.target) return last;
      await new Promise((r) => setTimeout(r, 500));
    }
    throw new Error(`content ${id} did not reach its target: ${JSON.stringify(last?.summary)}`);
  };

  beforeAll(async () => {
    svc = await startTestService({
      env: devnetEnv(7, { FIRTH_AGGREGATE_MAX_WAIT: '1' })
    });
    ({ apiKey } = await registerUser(svc.apiUrl, svc.adminInvite, 'dealer'));
  }, 120_000);
  afterAll(() => svc?.stop());

  it('takes one upload to 6 active deals with 6 different providers, each on chain', async () => {
    const { cid, estuaryId } = await upload('big.bin', deterministicBytes('pipeline-big', 3 * 1024 * 1024));
    const status = await waitActive(estuaryId);
    const active = status.deals.filter((d) => d.deal.state === 'active');
    expect(active).toHaveLength(6);
    expect(new Set(active.map((d) => d.deal.miner)).size).toBe(6);
    const wallet = svc.node.filecoinClient!.wallet.address;
    const clientId = await lotus<string>('StateLookupID', [wallet, null]);
    for (const { deal } of active) {
      const onChain = await lotus<{
        Proposal: { Provider: string; Client: string; Label: string; PieceCID: { '/': string } };
        State: { SectorStartEpoch: number };
      }>('StateMarketStorageDeal', [deal.dealId, null]);
      expect(onChain.State.SectorStartEpoch).toBeGreaterThanOrEqual(0);
      expect(onChain.Proposal.Provider).toBe(deal.miner.replace(/^f/, 't'));
      expect(onChain.Proposal.Client).toBe(clientId);
      expect(onChain.Proposal.Label).toBe(cid);
    }
    // Every step of each active deal has its time, in order.
    for (const { deal } of active) {
      expect(deal.timeline.map((s) => s.step)).toEqual([
        'proposed',
        'accepted',
        'transferring',
        'transferred',
        'published',
        'active'
      ]);
      for (const s of deal.timeline) expect(s.at, `${deal.dealId} ${s.step}`).not.toBeNull();
      const times = deal.timeline.map((s) => Date.parse(s.at!));
      expect(times).toEqual(times.toSorted((a, b) => a - b));
    }
  }, 120_000);

  it("honours a small upload's own replication: aggregated only with contents of the same target", async () => {
    const addWith = async (name: string, bytes: Uint8Array, replication?: number) => {
      const form = new FormData();
      form.append('data', new Blob([new Uint8Array(bytes)]), name);
      if (replication != null) form.append('replication', String(replication));
      const res = await api('/content/add', { method: 'POST', body: form });
      expect(res.status).toBe(200);
      return (await res.json()) as {
        estuaryId: number;
        replication: number;
        deals: { replication: number; aggregated: boolean; note: string };
      };
    };
    const [two, six] = await Promise.all([
      addWith('two.txt', deterministicBytes('replication-2', 30_000), 2),
      addWith('six.txt', deterministicBytes('replication-6', 30_000))
    ]);
    expect(two).toMatchObject({ replication: 2, deals: { replication: 2, aggregated: true } });
    expect(two.deals.note).toMatch(/same replication target.*exactly 2 replicas/);
    expect(six).toMatchObject({ replication: 6, deals: { replication: 6, aggregated: true } });

    const [twoStatus, sixStatus] = await Promise.all([waitActive(two.estuaryId), waitActive(six.estuaryId)]);
    expect(twoStatus.summary).toMatchObject({ target: 2, active: 2, aggregated: true });
    expect(twoStatus.placement).toMatchObject({ replication: 2, aggregated: true });
    expect(twoStatus.pieces).toHaveLength(1);
    expect(twoStatus.pieces[0]).toMatchObject({ kind: 'aggregate', replication: 2 });
    // Two replicas made, not six: no other deal for its piece is live.
    const live = twoStatus.deals.filter((d) => d.deal.state !== 'failed' && d.deal.state !== 'slashed');
    expect(live).toHaveLength(2);
    expect(sixStatus.summary).toMatchObject({ target: 6, active: 6 });
    expect(sixStatus.pieces[0]!.id).not.toBe(twoStatus.pieces[0]!.id);
  }, 120_000);

  it('aggregates small uploads into one piece that reaches 6 active deals, with inclusion proofs', async () => {
    const small = await Promise.all(
      [1, 2, 3].map((i) => upload(`small-${i}.txt`, deterministicBytes(`pipeline-small-${i}`, 20_000 * i)))
    );
    const statuses = await Promise.all(small.map((s) => waitActive(s.estuaryId)));
    const pieceOf = (s: StatusBody) => new Set(s.deals.map((d) => d.deal.dealId));
    // All three ride on the same deals.
    expect(pieceOf(statuses[1]!)).toEqual(pieceOf(statuses[0]!));
    expect(pieceOf(statuses[2]!)).toEqual(pieceOf(statuses[0]!));
    const proof = await api(`/content/${small[1]!.estuaryId}/proof`);
    expect(proof.status).toBe(200);
    const body = (await proof.json()) as {
      proofs: Array<{ aggregatePieceCid: string; offset: number; size: number }>;
    };
    expect(body.proofs).toHaveLength(1);
    expect(body.proofs[0]!.size).toBeGreaterThan(40_000);
    // Each provider indexed the aggregate segment by segment: every member is retrievable by its root.
    for (const provider of svc.node.filecoin.devnetProviders) {
      const holds = statuses[0]!.deals.some((d) => d.deal.miner.slice(1) === provider.actorId.slice(1));
      if (!holds) continue;
      const res = await fetch(`${provider.httpUrl}/ipfs/${small[2]!.cid}?format=car`);
      expect(res.status).toBe(200);
      await res.arrayBuffer();
    }
  }, 120_000);
});
