// The deal state machine. Every change of `deals.state` goes through `canMove`, so a deal never
// jumps backwards or leaves a final state.
import type { DealState } from '../../server/db/schema.ts';

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
