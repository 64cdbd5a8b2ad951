// Picks providers for a piece: active (not suspended), with a fresh ask that takes this piece size
// at a price within our caps, not already holding or making a deal for this piece, best first.
import type { Kysely } from 'kysely';
import type { Database } from '../../server/db/schema.ts';
import { providerRecords, rankProviders } from './scoring.ts';

/** The ask as stored on the provider row (amounts as decimal attoFIL strings). */
export interface StoredAsk {
  price: string;
  verifiedPrice: string;
  minPieceSize: number;
  maxPieceSize: number;
}

export interface ChooserInit {
  db: Kysely<Database>;
  /** attoFIL per GiB per epoch we accept for unverified / verified deals. */
  maxPrice: bigint;
  maxVerifiedPrice: bigint;
  /** Asks older than this are not trusted for choosing. @default 1 hour */
  askMaxAgeMs?: number;
}

export interface ChooseRequest {
  pieceSize: number;
  verified: boolean;
  count: number;
  exclude: ReadonlySet<number>;
}

export interface Chooser {
  choose(request: ChooseRequest): Promise<number[]>;
}

export function askFits(
  ask: StoredAsk,
  pieceSize: number,
  verified: boolean,
  caps: { maxPrice: bigint; maxVerifiedPrice: bigint }
): boolean {
  if (pieceSize < ask.minPieceSize || pieceSize > ask.maxPieceSize) return false;
  return verified ? BigInt(ask.verifiedPrice) <= caps.maxVerifiedPrice : BigInt(ask.price) <= caps.maxPrice;
}

export function createChooser(init: ChooserInit): Chooser {
  const maxAge = init.askMaxAgeMs ?? 3600_000;
  return {
    async choose(request) {
      if (request.count <= 0) return [];
      const rows = await init.db
        .selectFrom('providers')
        .select(['actor_id', 'ask', 'ask_fetched_at'])
        .where('state', '=', 'active')
        .where('ask', 'is not', null)
        // The last ask failed (unreachable, or it stopped answering): not chosen until it answers again.
        .where('ask_error', '=', '')
        .where('ask_fetched_at', '>=', Date.now() - maxAge)
        .execute();
      const eligible = rows
        .filter((row) => !request.exclude.has(Number(row.actor_id)))
        .filter((row) =>
          askFits(JSON.parse(row.ask!) as StoredAsk, request.pieceSize, request.verified, init)
        )
        .map((row) => Number(row.actor_id));
      if (eligible.length === 0) return [];
      const ranked = rankProviders(eligible, await providerRecords(init.db));
      return ranked.slice(0, request.count).map((p) => p.actorId);
    }
  };
}
