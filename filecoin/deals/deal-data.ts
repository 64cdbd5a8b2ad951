// The deal-data endpoint's logic: providers pull a deal's piece payload over HTTP (HEAD, then
// Range GETs, as Boost does) with the per-deal bearer token sent in the proposal. Only the token's
// hash is stored; a wrong or missing token gets nothing, not even whether the deal exists.
import { createHash, timingSafeEqual } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { Database } from '../../server/db/schema.ts';
import { NotFoundError, UnauthorizedError } from '../../server/errors.ts';
import type { LoadBlock } from '../pieces/car.ts';
import { openPiecePayload } from '../pieces/open-payload.ts';
import type { PiecePayload } from '../pieces/payload.ts';
import { FINAL } from './states.ts';

export function hashTransferToken(token: string): string {
  return createHash('sha256').update(token).digest('base64url');
}

export interface DealDataSource {
  /** The payload of the deal's piece, if `token` is this deal's; throws 401/404 errors otherwise. */
  open(uuid: string, token: string | undefined): Promise<PiecePayload>;
}

export function createDealDataSource(init: { db: Kysely<Database>; load: LoadBlock }): DealDataSource {
  return {
    async open(uuid, token) {
      const deal = await init.db
        .selectFrom('deals')
        .select(['piece_id', 'state', 'transfer_token_hash'])
        .where('uuid', '=', uuid)
        .executeTakeFirst();
      const expected = deal?.transfer_token_hash;
      const given = token == null ? undefined : hashTransferToken(token);
      if (
        expected == null ||
        given == null ||
        !timingSafeEqual(
          Buffer.from(expected),
          Buffer.from(given.padEnd(expected.length).slice(0, expected.length))
        )
      ) {
        throw new UnauthorizedError('ERR_INVALID_TOKEN', 'missing or wrong transfer token');
      }
      if (FINAL.includes(deal!.state))
        throw new NotFoundError('ERR_NOT_FOUND', 'this deal no longer takes transfers');
      return openPiecePayload(init.db, Number(deal!.piece_id), init.load);
    }
  };
}
