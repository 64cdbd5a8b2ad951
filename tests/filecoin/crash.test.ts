// Crash recovery of the deal pipeline: the service (with its in-process devnet, persisted in the
// data dir) is SIGKILLed while providers are pulling deal data, restarted on the same data dir and
// port, and every upload still reaches 6 active deals — with no duplicate deals and no lost records.
import { DatabaseSync } from 'node:sqlite';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { startServiceProcess, type ServiceProcess } from '../../bench/service-process.ts';
import { deterministicBytes } from '../helpers/bytes.ts';
import { apiFetch, devnetEnv, lotusCall, uploadContent } from '../helpers/devnet.ts';
import { registerUser } from '../helpers/service.ts';

const FINAL = ['failed', 'slashed', 'expired'];

interface StatusBody {
  summary: { target: number; active: number; inFlight: number; failed: number };
  deals: Array<{ deal: { miner: string; dealId: number; state: string } }>;
}

// Not ephemeral: the devnet's chain lives in the data dir and must survive the restarts.
const env = devnetEnv(8, { FIRTH_AGGREGATE_MAX_WAIT: '1' }, { ephemeral: false });

describe('deal pipeline crash recovery', () => {
  let svc: ServiceProcess | undefined;
  afterAll(async () => {
    await svc?.kill('SIGKILL');
    await svc?.stop({ allowUncleanExit: true });
  });

  it('resumes after SIGKILL during transfers: every upload reaches 6 active, no duplicates', async () => {
    let lotusUrl = '';
    const watch = (line: string) => {
      const m = /"lotusUrl":"([^"]+)"/.exec(line);
      if (m != null) lotusUrl = m[1]!;
    };
    // Three providers stall every transfer, so deals sit in "transferring" when the kill comes.
    svc = await startServiceProcess(
      {
        ...env,
        FIRTH_DEVNET_FAULTS: JSON.stringify({
          sp1: { stallTransfer: true },
          sp2: { stallTransfer: true },
          sp3: { stallTransfer: true }
        })
      },
      { onLine: watch }
    );
    const { dataDir } = svc;
    const port = new URL(svc.apiUrl).port;
    const { apiKey } = await registerUser(svc.apiUrl, svc.adminInvite, 'crashy');
    // The getter follows svc across restarts.
    const api = apiFetch(
      () => svc!.apiUrl,
      () => apiKey
    );
    const upload = (name: string, bytes: Uint8Array) => uploadContent(api, name, bytes);
    const status = async (id: number) => (await (await api(`/content/status/${id}`)).json()) as StatusBody;

    const uploads = await Promise.all([
      upload('big-1.bin', deterministicBytes('crash-big-1', 2 * 1024 * 1024)),
      upload('big-2.bin', deterministicBytes('crash-big-2', 1536 * 1024)),
      ...[1, 2, 3].map((i) => upload(`small-${i}.txt`, deterministicBytes(`crash-small-${i}`, 5000 * i)))
    ]);
    const ids = uploads.map((u) => u.estuaryId);

    // Wait until deals are being pulled by providers, then kill without warning.
    const deadline = Date.now() + 120_000;
    let transferring = 0;
    while (Date.now() < deadline) {
      const all = await Promise.all(ids.map(status));
      transferring = all
        .flatMap((s) => s.deals)
        .filter((d) => d.deal.state === 'transferring' || d.deal.state === 'accepted').length;
      if (transferring >= 3) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    expect(transferring).toBeGreaterThanOrEqual(3);
    await svc.kill('SIGKILL');

    // Restart on the same data dir and port (the deal-data URLs providers pull from stay valid),
    // with healthy providers: the stalled transfers resume or are replaced.
    svc = await startServiceProcess({ ...env, FIRTH_DATA_DIR: dataDir, FIRTH_PORT: port }, { onLine: watch });
    // A second crash soon after the restart, while the resumed work is in progress.
    await new Promise((r) => setTimeout(r, 1500));
    await svc.kill('SIGKILL');
    svc = await startServiceProcess({ ...env, FIRTH_DATA_DIR: dataDir, FIRTH_PORT: port }, { onLine: watch });

    const until = Date.now() + 240_000;
    let summaries: StatusBody[] = [];
    while (Date.now() < until) {
      summaries = await Promise.all(ids.map(status));
      if (summaries.every((s) => s.summary.active >= s.summary.target)) break;
      await new Promise((r) => setTimeout(r, 500));
    }
    for (const s of summaries) expect(s.summary.active).toBe(6);
    expect(lotusUrl).not.toBe('');
    const lotus = <T>(method: string, params: unknown[]) => lotusCall<T>(lotusUrl, method, params);
    const walletRes = await fetch(`${svc.apiUrl}/api/admin/fil-address`, {
      headers: { authorization: `Bearer ${apiKey}` }
    });
    expect(walletRes.status).toBe(200);
    const client = await lotus<string>('StateLookupID', [(await walletRes.json()) as string, null]);

    // Every chain deal of ours, found by walking deal IDs past the highest we know of.
    await svc.stop({ keepData: true });
    const sqlite = new DatabaseSync(path.join(dataDir, 'firth.sqlite'), { readOnly: true });
    const deals = sqlite
      .prepare('select id, piece_id, provider_actor, state, uuid, chain_deal_id from deals')
      .all() as Array<{
      id: number;
      piece_id: number;
      provider_actor: number;
      state: string;
      uuid: string;
      chain_deal_id: number | null;
    }>;
    const pieces = sqlite.prepare('select id, piece_cid, replication from pieces').all() as Array<{
      id: number;
      piece_cid: string | null;
      replication: number;
    }>;
    sqlite.close();

    // No duplicates in our records: per piece, one live (or active) deal per provider, and never
    // more live deals than the target.
    for (const piece of pieces) {
      const live = deals.filter((d) => d.piece_id === piece.id && !FINAL.includes(d.state));
      expect(new Set(live.map((d) => d.provider_actor)).size).toBe(live.length);
      expect(live.length).toBeLessThanOrEqual(piece.replication);
      expect(live.filter((d) => d.state === 'active').length).toBe(piece.replication);
    }
    expect(new Set(deals.map((d) => d.uuid)).size).toBe(deals.length);

    // The devnet is down now (it ran inside the service): start it once more to read the chain.
    svc = await startServiceProcess(
      { ...env, FIRTH_DATA_DIR: dataDir, FIRTH_PORT: port, FIRTH_DEALS: 'off' },
      { onLine: watch }
    );
    const maxKnown = Math.max(...deals.map((d) => d.chain_deal_id ?? 0));
    const onChain: Array<{ id: number; provider: number; pieceCid: string }> = [];
    for (let id = 0; id <= maxKnown + 30; id++) {
      try {
        const d = await lotus<{ Proposal: { Provider: string; Client: string; PieceCID: { '/': string } } }>(
          'StateMarketStorageDeal',
          [id, null]
        );
        if (d.Proposal.Client !== client) continue;
        onChain.push({
          id,
          provider: Number(d.Proposal.Provider.slice(2)),
          pieceCid: d.Proposal.PieceCID['/']
        });
      } catch {
        // no such deal (never made, or timed out and removed)
      }
    }
    // No provider holds two chain deals for one piece.
    const pairs = onChain.map((d) => `${d.provider}/${d.pieceCid}`);
    expect(new Set(pairs).size).toBe(pairs.length);
    // No lost records: every chain deal of ours is a deal row with that ID, provider and piece.
    for (const c of onChain) {
      const row = deals.find((d) => d.chain_deal_id === c.id);
      expect(row, `chain deal ${c.id} has no record`).toBeDefined();
      expect(row!.provider_actor).toBe(c.provider);
      expect(pieces.find((p) => p.id === row!.piece_id)?.piece_cid).toBe(c.pieceCid);
    }
    // And every active record is on chain.
    for (const d of deals.filter((x) => x.state === 'active')) {
      expect(onChain.some((c) => c.id === d.chain_deal_id)).toBe(true);
    }
  }, 600_000);
});
