// The deal state machine. Every change of `deals.state` goes through `canMove`, so a deal never
// jumps backwards or leaves a final state.
import type { DealsTable, DealState } from '../../server/db/schema.ts';

export const IN_FLIGHT: readonly DealState[] = [
  'proposing',
  'accepted',
  'transferring',
  'transferred',
  'published'
];
export const FINAL: readonly DealState[] = ['failed', 'slashed', 'expired'];
/** States the deal worker looks at (active deals are checked on chain now and then). */
export const WORKED: readonly DealState[] = [...IN_FLIGHT, 'active'];

const ORDER: Record<DealState, number> = {
  proposing: 0,
  accepted: 1,
  transferring: 2,
  transferred: 3,
  published: 4,
  active: 5,
  failed: 9,
  slashed: 9,
  expired: 9
};

/** A live step: the state, the column holding when the deal reached it, and the event recorded then. */
export interface LiveStep {
  state: DealState;
  column: keyof DealsTable & `${string}_at`;
  kind: string;
  phase: string;
}

/** The steps of a deal that goes well, in order: each is reached once and gets a time and an event. */
export const LIVE_STEPS: readonly LiveStep[] = [
  { state: 'accepted', column: 'accepted_at', kind: 'accepted', phase: 'propose' },
  { state: 'transferring', column: 'transfer_started_at', kind: 'transfer-started', phase: 'transfer' },
  { state: 'transferred', column: 'transferred_at', kind: 'transferred', phase: 'transfer' },
  { state: 'published', column: 'published_at', kind: 'published', phase: 'publish' },
  { state: 'active', column: 'activated_at', kind: 'activated', phase: 'seal' }
];

/**
 * The live steps a move from `from` to `to` passes, in order, `to` included: a poll can see a deal
 * jump several states at once (accepted straight to published), and each step in between happened.
 */
export function stepsPassed(from: DealState, to: DealState): LiveStep[] {
  if (FINAL.includes(to) || !canMove(from, to)) return [];
  return LIVE_STEPS.filter((s) => ORDER[s.state] > ORDER[from] && ORDER[s.state] <= ORDER[to]);
}

export function canMove(from: DealState, to: DealState): boolean {
  if (FINAL.includes(from)) return false;
  if (to === 'failed') return from !== 'active';
  // A deal can be activated and terminated between two looks: slashed is reachable from any live state.
  if (to === 'slashed') return true;
  if (to === 'expired') return from === 'active' || from === 'published';
  return ORDER[to] > ORDER[from];
}

/** Boost's checkpoints (`dealcheckpoints`) as our states; `Complete` needs the error field to decide. */
export function stateForCheckpoint(checkpoint: string, transferring: boolean): DealState | undefined {
  switch (checkpoint) {
    case 'Accepted':
      return transferring ? 'transferring' : 'accepted';
    case 'Transferred':
      return 'transferred';
    case 'Published':
    case 'PublishConfirmed':
    case 'AddedPiece':
    case 'IndexedAndAnnounced':
    case 'Complete':
      return 'published';
    default:
      return undefined;
  }
}
