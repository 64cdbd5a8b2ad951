// Drives each deal through its state machine (states.ts). Every deal row is a leased work item:
// the worker claims due deals, does one step for each (propose, poll the provider, check the
// chain), records the outcome and when to look again. The UUID and the signed proposal are saved
// before anything is sent, so a crash between "sent" and "recorded" is resolved by asking the
// provider about that same UUID — never by proposing a second deal.
import { randomBytes } from 'node:crypto';
import type { Kysely, Transaction } from 'kysely';
import type { Database, Deal, DealState } from '../../server/db/schema.ts';
import type { Leases } from '../store/leases.ts';
import { hashTransferToken } from './deal-data.ts';
import type { DealNetwork, ProposalTerms } from './network.ts';
import { canMove, LIVE_STEPS, stateForCheckpoint, stepsPassed, WORKED } from './states.ts';

export interface DealPolicy {
  /** Deal length in epochs. @default 1_555_200 (540 days) */
  durationEpochs: number;
  /** Epochs between now and StartEpoch (room for sealing; Boost wants ≥ 2880). @default 5760 */
  startDelayEpochs: number;
  /** Prefer verified (FIL+) deals when the wallet has DataCap. @default true */
  verified: boolean;
  /** Where providers pull from: `${dealDataUrl}/deal-data/<uuid>`. */
  dealDataUrl: string;
  /** How often in-flight deals are polled. @default 30_000 */
  pollMs: number;
  /** How often active deals are checked on chain. @default 10 min */
  activeCheckMs: number;
  /** Attempts to reach a provider for a proposal before giving up on it. @default 3 */
  proposeAttempts: number;
}

export interface DealWorkerInit {
  db: Kysely<Database>;
  leases: Leases;
  network: DealNetwork;
  policy: DealPolicy;
  /**
   * When this many distinct providers fail a piece with the same message, the piece is at fault,
   * not them: it is no longer offered (the piece is marked failed, an admin alert), and those
   * failures are moved to phase 'client' so they do not count against the providers. @default 3
   */
  sameFailureProviders?: number;
  log: { info(obj: object, msg: string): void; warn(obj: object, msg: string): void };
}

export interface DealWorker {
  /** One step for up to `limit` due deals, concurrently; returns how many it stepped. */
  runOnce(limit?: number, options?: { signal?: AbortSignal }): Promise<number>;
}

interface Step {
  state?: DealState;
  set?: Partial<Omit<Deal, 'id'>>;
  event?: { kind: string; ok: boolean; phase?: string; message?: string };
  /** ms until the next look. */
  nextInMs: number;
  /** The piece should recount its replicas now. */
  pokePiece?: boolean;
  /** The failure is the provider's own report (a rejection or a failed status), not ours. */
  reported?: boolean;
}

/** failed_phase of deals that failed because of the piece we offered (see sameFailureProviders). */
export const CLIENT_FAULT_PHASE = 'client';

const GiB = 2n ** 30n;

export function createDealWorker(init: DealWorkerInit): DealWorker {
  const { db, leases, network, policy } = init;
  const sameFailureProviders = init.sameFailureProviders ?? 3;

  let escrowQueue: Promise<unknown> = Promise.resolve();
  function escrowTurn(work: () => Promise<void>): Promise<void> {
    const turn = escrowQueue.then(work);
    escrowQueue = turn.catch(() => undefined);
    return turn;
  }

  /** What our deals that are proposed but not on chain yet will lock when they are published. */
  async function committedEscrow(except: number): Promise<bigint> {
    const rows = await db
      .selectFrom('deals')
      .select(['price_per_epoch', 'start_epoch', 'end_epoch'])
      .where('state', 'in', ['proposing', 'accepted', 'transferring', 'transferred', 'published'])
      .where('proposal', 'is not', null)
      .where('chain_deal_id', 'is', null)
      .where('id', '!=', except)
      .execute();
    let sum = 0n;
    for (const r of rows) {
      if (r.start_epoch == null || r.end_epoch == null) continue;
      sum += BigInt(r.price_per_epoch) * BigInt(r.end_epoch - r.start_epoch);
    }
    return sum;
  }

  async function propose(deal: Deal): Promise<Step> {
    const piece = await db
      .selectFrom('pieces')
      .selectAll()
      .where('id', '=', deal.piece_id)
      .executeTakeFirstOrThrow();
    if (deal.proposal != null) {
      // We may have sent it before a crash: the provider's view of this UUID decides.
      try {
        const status = await network.status(deal.provider_actor, deal.uuid);
        if (status.error === '' || !/no storage deal found/i.test(status.error))
          return fromStatus(deal, status);
      } catch {
        // unreachable: fall through and resend the same signed proposal
      }
    }
    const head = await network.head();
    const ask = await network.ask(deal.provider_actor);
    const pieceSize = Number(piece.piece_size);
    let verified = deal.verified === 1 && policy.verified;
    if (verified) {
      const cap = await network.dataCap();
      if (cap == null || cap < BigInt(pieceSize)) verified = false;
    }
    const pricePerGiB = verified ? ask.verifiedPrice : ask.price;
    const pricePerEpoch = (pricePerGiB * BigInt(pieceSize) + GiB - 1n) / GiB;
    const bounds = await network.collateralBounds(pieceSize, verified);
    // Boost accepts [min, 2·min]; Lotus's min is already 110 % of the actor's. Boost's CLI offers 6/5.
    const providerCollateral = (bounds.min * 6n) / 5n;
    const startEpoch = head + policy.startDelayEpochs;
    const terms: ProposalTerms = {
      pieceCid: piece.piece_cid!,
      pieceSize,
      verified,
      provider: deal.provider_actor,
      label: piece.kind === 'aggregate' ? piece.piece_cid! : piece.root_cid!,
      startEpoch,
      endEpoch: startEpoch + policy.durationEpochs,
      pricePerEpoch,
      providerCollateral
    };
    const signed = await network.sign(terms);
    const token = randomBytes(32).toString('base64url');
    // Escrow for this deal on top of what our other proposed-but-unpublished deals will lock (the
    // chain only counts published ones); one deal at a time, so concurrent proposals see each other.
    await escrowTurn(async () => {
      await network.ensureEscrow(
        pricePerEpoch * BigInt(policy.durationEpochs),
        await committedEscrow(deal.id)
      );
      // Saved before sending: a crash after this point resends or resumes, never duplicates.
      await db
        .updateTable('deals')
        .set({
          verified: verified ? 1 : 0,
          label: terms.label,
          start_epoch: terms.startEpoch,
          end_epoch: terms.endEpoch,
          price_per_epoch: pricePerEpoch.toString(),
          provider_collateral: providerCollateral.toString(),
          proposal: signed.hex,
          proposal_cid: signed.proposalCid,
          signed_proposal_cid: signed.signedProposalCid,
          transfer_token_hash: hashTransferToken(token),
          transfer_size: Number(piece.payload_size),
          updated_at: Date.now()
        })
        .where('id', '=', deal.id)
        .execute();
    });
    const response = await network.propose(deal.provider_actor, {
      uuid: deal.uuid,
      signed,
      dealDataRoot: piece.root_cid!,
      transfer: {
        url: `${policy.dealDataUrl}/deal-data/${deal.uuid}`,
        headers: { Authorization: `Bearer ${token}` },
        size: Number(piece.payload_size)
      }
    });
    if (!response.accepted) {
      return {
        state: 'failed',
        set: { failed_phase: 'propose', message: response.message },
        event: { kind: 'rejected', ok: false, phase: 'propose', message: response.message },
        nextInMs: 0,
        pokePiece: true,
        reported: true
      };
    }
    return { state: 'accepted', set: { message: '' }, nextInMs: Math.min(policy.pollMs, 2000) };
  }

  function fromStatus(deal: Deal, status: Awaited<ReturnType<DealNetwork['status']>>): Step {
    const set: Partial<Omit<Deal, 'id'>> = {
      bytes_received: status.bytesReceived,
      transfer_size: status.transferSize || deal.transfer_size
    };
    if (status.chainDealId != null && status.chainDealId > 0) set.chain_deal_id = status.chainDealId;
    if (status.publishCid != null) set.publish_cid = status.publishCid;
    if (status.error !== '') {
      if ((status.chainDealId ?? 0) > 0 && /slash|terminat/i.test(status.error)) {
        // Activated and terminated before we saw it active.
        return {
          state: 'slashed',
          set: { ...set, ended_at: Date.now(), message: status.error },
          event: { kind: 'slashed', ok: false, phase: 'active', message: status.error },
          nextInMs: 0,
          pokePiece: true
        };
      }
      const phase = failedPhase(deal, status);
      return {
        state: 'failed',
        set: { ...set, failed_phase: phase, message: status.error },
        event: { kind: 'failed', ok: false, phase, message: status.error },
        nextInMs: 0,
        pokePiece: true,
        reported: true
      };
    }
    const state = stateForCheckpoint(status.checkpoint, status.bytesReceived > 0);
    return { state, set, nextInMs: policy.pollMs };
  }

  /**
   * Where a deal the provider reports failed went wrong. Boost moves a failed deal to `Complete`, so
   * the checkpoint alone says little: what reached the chain and the error text decide.
   */
  function failedPhase(deal: Deal, status: Awaited<ReturnType<DealNetwork['status']>>): string {
    if (status.checkpoint === 'Accepted') return 'transfer';
    if (status.checkpoint === 'Transferred') return 'publish';
    if (status.checkpoint !== 'Complete') return 'seal';
    if ((status.chainDealId ?? 0) > 0 || deal.chain_deal_id != null) return 'seal';
    // A CommP mismatch comes after every byte arrived, but it is the transfer that was bad.
    if (/comm ?p|transfer|download|http/i.test(status.error)) return 'transfer';
    const size = status.transferSize || deal.transfer_size;
    const received = size > 0 && status.bytesReceived >= size;
    return received || deal.transferred_at != null || status.publishCid != null ? 'publish' : 'transfer';
  }

  /**
   * A deal we saw published is gone from the chain. Before its start epoch it cannot have timed out,
   * so it was activated and then terminated (slashed) — we may simply not have looked in between.
   */
  async function vanished(deal: Deal, dealId: number, head: number): Promise<Step> {
    let providerSays = '';
    try {
      providerSays = (await network.status(deal.provider_actor, deal.uuid)).error;
    } catch {
      // unreachable: the chain's view alone decides
    }
    if ((deal.start_epoch != null && head <= deal.start_epoch) || /slash|terminat/i.test(providerSays)) {
      const message = providerSays || `deal ${dealId} was terminated on chain before its start epoch`;
      return {
        state: 'slashed',
        set: { chain_deal_id: dealId, ended_at: Date.now(), message },
        event: { kind: 'slashed', ok: false, phase: 'active', message },
        nextInMs: 0,
        pokePiece: true
      };
    }
    return failed(
      'activation',
      `deal ${dealId} is not on chain (not activated before its start epoch, or terminated)`
    );
  }

  async function poll(deal: Deal): Promise<Step> {
    const head = await network.head();
    let step: Step = { nextInMs: policy.pollMs };
    if (deal.chain_deal_id == null) {
      try {
        step = fromStatus(deal, await network.status(deal.provider_actor, deal.uuid));
      } catch (err) {
        step = {
          nextInMs: policy.pollMs,
          set: { message: `provider unreachable: ${(err as Error).message}` }
        };
      }
      if (step.state === 'failed') return step;
    }
    const dealId = step.set?.chain_deal_id ?? deal.chain_deal_id;
    if (dealId != null) {
      const onChain = await network.chainDeal(dealId);
      if (onChain == null) return vanished(deal, dealId, head);
      if (onChain.sectorStartEpoch >= 0) {
        return {
          state: 'active',
          set: {
            ...step.set,
            chain_deal_id: dealId,
            sector_start_epoch: onChain.sectorStartEpoch,
            message: ''
          },
          nextInMs: policy.activeCheckMs,
          pokePiece: true
        };
      }
      // On chain is published, whatever earlier checkpoint the provider reports.
      step = {
        ...step,
        state: step.state === 'slashed' ? step.state : 'published',
        set: { ...step.set, chain_deal_id: dealId }
      };
    }
    // Boost's rule: not active by the start epoch means it never will be.
    if (deal.start_epoch != null && head > deal.start_epoch) {
      return failed('activation', `not activated by start epoch ${deal.start_epoch} (head ${head})`);
    }
    return step;
  }

  async function checkActive(deal: Deal): Promise<Step> {
    const head = await network.head();
    const onChain = await network.chainDeal(deal.chain_deal_id!);
    if (onChain == null || onChain.slashEpoch >= 0) {
      if (deal.end_epoch != null && head >= deal.end_epoch) {
        return {
          state: 'expired',
          set: { ended_at: Date.now() },
          event: { kind: 'expired', ok: true },
          nextInMs: 0,
          pokePiece: true
        };
      }
      return {
        state: 'slashed',
        set: { ended_at: Date.now(), message: 'terminated on chain before its end epoch' },
        event: { kind: 'slashed', ok: false, phase: 'active', message: 'terminated before its end epoch' },
        nextInMs: 0,
        pokePiece: true
      };
    }
    // Close to its end: let the replicator line up a replacement (it counts expiring deals as gone).
    return { nextInMs: policy.activeCheckMs, pokePiece: onChain.endEpoch - head < 60_480 };
  }

  function failed(phase: string, message: string): Step {
    return {
      state: 'failed',
      set: { failed_phase: phase, message },
      event: { kind: 'failed', ok: false, phase, message },
      nextInMs: 0,
      pokePiece: true
    };
  }

  /**
   * After a provider reported `message` for a deal of the piece: when `sameFailureProviders`
   * distinct providers failed it with exactly that message, the piece is what is wrong (a payload
   * that does not hash to its CommP, terms nobody accepts). Stops offering it, and moves those
   * failures to the client's account. Idempotent: later identical failures are moved too.
   */
  async function haltIfEveryoneFails(
    tx: Transaction<Database>,
    pieceId: number,
    message: string,
    now: number
  ): Promise<{ providers: number } | null> {
    // Failures of one piece's deals commit one after another: a no-op write locks the piece's row
    // (PostgreSQL; SQLite has one writer anyway), so a failure committing while another halts the
    // piece is counted after it, and moved too, rather than left counting against its provider.
    await tx
      .updateTable('pieces')
      .set((eb) => ({ updated_at: eb.ref('updated_at') }))
      .where('id', '=', pieceId)
      .execute();
    const same = await tx
      .selectFrom('deals')
      .select('provider_actor')
      .distinct()
      .where('piece_id', '=', pieceId)
      .where('state', '=', 'failed')
      .where('message', '=', message)
      .execute();
    if (same.length < sameFailureProviders) return null;
    await tx
      .updateTable('deals')
      .set({ failed_phase: CLIENT_FAULT_PHASE })
      .where('piece_id', '=', pieceId)
      .where('state', '=', 'failed')
      .where('message', '=', message)
      .execute();
    const stopped = await tx
      .updateTable('pieces')
      .set({
        state: 'failed',
        last_error: `${same.length} providers failed this piece's deals with the same error: ${message}`,
        lease_owner: null,
        lease_expires_at: null,
        updated_at: now
      })
      .where('id', '=', pieceId)
      .where('state', '=', 'ready')
      .executeTakeFirst();
    return Number(stopped.numUpdatedRows) === 1 ? { providers: same.length } : null;
  }

  async function step(deal: Deal): Promise<Step> {
    try {
      if (deal.state === 'proposing') return await propose(deal);
      if (deal.state === 'active') return await checkActive(deal);
      return await poll(deal);
    } catch (err) {
      const message = (err as Error).message;
      if (deal.state === 'proposing') {
        const attempts = deal.attempts + 1;
        await db.updateTable('deals').set({ attempts }).where('id', '=', deal.id).execute();
        if (attempts >= policy.proposeAttempts) return failed('propose', message);
        return { set: { message }, nextInMs: 5000 * 2 ** attempts };
      }
      init.log.warn({ dealId: deal.id, err: message }, 'deal step failed; will retry');
      return { set: { message }, nextInMs: policy.pollMs };
    }
  }

  async function apply(deal: Deal, result: Step): Promise<void> {
    const now = Date.now();
    let halted = null as { providers: number } | null;
    const to =
      result.state != null && result.state !== deal.state && canMove(deal.state, result.state)
        ? result.state
        : undefined;
    // Every live step the move passes gets its time (once) and its event, even when a poll saw the
    // deal jump several states at once; a step's time is never later than a later step's.
    const passed = to == null ? [] : stepsPassed(deal.state, to);
    const set: Partial<Omit<Deal, 'id'>> = { ...result.set };
    let bound = now;
    for (const s of passed.toReversed()) {
      const known = set[s.column] ?? deal[s.column];
      if (known != null) bound = Math.min(bound, known);
      else set[s.column] = bound;
    }
    const events = passed.map((s) => ({
      kind: s.kind,
      ok: true,
      phase: s.phase,
      message: '',
      at: set[s.column] ?? deal[s.column] ?? now
    }));
    const stepKinds = new Set(LIVE_STEPS.map((s) => s.kind));
    if (result.event != null && to != null && !stepKinds.has(result.event.kind)) {
      events.push({
        kind: result.event.kind,
        ok: result.event.ok,
        phase: result.event.phase ?? '',
        message: result.event.message ?? '',
        at: now
      });
    }
    await db.transaction().execute(async (tx) => {
      const updated = await tx
        .updateTable('deals')
        .set({
          ...set,
          ...(to != null ? { state: to } : {}),
          next_run_at: now + result.nextInMs,
          lease_owner: null,
          lease_expires_at: null,
          updated_at: now
        })
        .where('id', '=', deal.id)
        .where('lease_owner', '=', leases.owner)
        .executeTakeFirst();
      if (Number(updated.numUpdatedRows) !== 1) return; // lost the lease: someone else owns it now
      if (events.length > 0) {
        await tx
          .insertInto('deal_events')
          .values(
            events.map((e) => ({
              deal_id: deal.id,
              provider_actor: deal.provider_actor,
              kind: e.kind,
              ok: e.ok ? 1 : 0,
              phase: e.phase,
              message: e.message,
              at: e.at
            }))
          )
          .execute();
      }
      if (to === 'failed' && result.reported === true && (result.set?.message ?? '') !== '') {
        halted = await haltIfEveryoneFails(tx, deal.piece_id, result.set!.message!, now);
      }
      if (result.pokePiece) {
        await tx
          .updateTable('pieces')
          .set({ next_run_at: now })
          .where('id', '=', deal.piece_id)
          .where('state', '=', 'ready')
          .execute();
      }
    });
    if (halted != null) {
      init.log.warn(
        { pieceId: deal.piece_id, providers: halted.providers, message: result.set?.message },
        'every provider fails this piece the same way: the piece is at fault; no more deals for it'
      );
    }
    if (to === 'failed' || to === 'slashed') {
      init.log.warn(
        { dealId: deal.id, provider: deal.provider_actor, state: to, message: result.set?.message },
        'deal ended badly'
      );
    } else if (to != null) {
      init.log.info({ dealId: deal.id, provider: deal.provider_actor, state: to }, 'deal moved');
    }
  }

  return {
    async runOnce(limit = 16) {
      const ids = await leases.claim('deals', WORKED, limit);
      if (ids.length === 0) return 0;
      const deals = await db.selectFrom('deals').selectAll().where('id', 'in', ids).execute();
      await Promise.all(deals.map(async (deal) => apply(deal, await step(deal))));
      return deals.length;
    }
  };
}
