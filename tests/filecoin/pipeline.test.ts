// The whole deal pipeline on the in-process devnet: uploads become pieces (alone or aggregated),
// and each reaches its replication target of active deals with distinct providers, checked on chain.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deterministicBytes } from '../helpers/bytes.ts';
import { apiFetch, devnetEnv, lotusCall, uploadContent } from '../helpers/devnet.ts';
import { registerUser, startTestService, type TestService } from '../helpers/service.ts';

interface StatusBody {
  summary: { target: number; active: number; inFlight: number; failed: number };
  deals: Array<{
    deal: { miner: string; dealId: number; state: string; pieceCid?: string; propCid?: string };
  }>;
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
