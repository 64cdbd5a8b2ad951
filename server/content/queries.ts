import type { Kysely } from 'kysely';
import type { Content, Database } from '../db/schema.ts';
import { InvalidInputError, NotFoundError } from '../errors.ts';
import { contentJson, type ContentJson } from './records.ts';
import { parseCid } from './upload.ts';

/** Both spellings a root may have been stored under: CIDv0 and its CIDv1 (base32) form. */
export function cidForms(text: string): string[] {
  const cid = parseCid(text);
  const forms = new Set([text.trim(), cid.toString(), cid.toV1().toString()]);
  if (cid.code === 0x70 && cid.multihash.code === 0x12) forms.add(cid.toV0().toString());
  return [...forms];
}

function contentId(text: string): number {
  const id = Number(text);
  if (!Number.isSafeInteger(id) || id < 1)
    throw new InvalidInputError('ERR_INVALID_INPUT', `"${text}" is not a content id`);
  return id;
}

export function createContentQueries(db: Kysely<Database>) {
  const active = () => db.selectFrom('contents').where('pin_status', '!=', 'removed');

  async function own(userId: number, idText: string): Promise<Content> {
    const c = await active()
      .selectAll()
      .where('id', '=', contentId(idText))
      .where('user_id', '=', userId)
      .executeTakeFirst();
    // Someone else's content answers exactly like content that does not exist.
    if (c == null) throw new NotFoundError('ERR_CONTENT_NOT_FOUND', `no content with id ${idText}`);
    return c;
  }

  return {
    async list(userId: number): Promise<ContentJson[]> {
      const rows = await active().selectAll().where('user_id', '=', userId).orderBy('id', 'desc').execute();
      return rows.map(contentJson);
    },

    async stats(userId: number, limit: number, offset: number) {
      const rows = await active()
        .selectAll()
        .where('user_id', '=', userId)
        .orderBy('id', 'desc')
        .limit(limit)
        .offset(offset)
        .execute();
      // Contents in a piece no more deals are made for (see filecoin/deals/worker.ts).
      const failing = new Set<number>();
      if (rows.length > 0) {
        const failed = await db
          .selectFrom('piece_members')
          .innerJoin('pieces', 'pieces.id', 'piece_members.piece_id')
          .select('piece_members.content_id')
          .where(
            'piece_members.content_id',
            'in',
            rows.map((c) => c.id)
          )
          .where('pieces.state', '=', 'failed')
          .execute();
        for (const r of failed) failing.add(Number(r.content_id));
      }
      return rows.map((c) => ({
        id: Number(c.id),
        cid: c.cid,
        name: c.name,
        size: c.size,
        createdAt: new Date(c.created_at).toISOString(),
        bwUsed: 0,
        totalRequests: 0,
        offloaded: c.offloaded_at != null,
        aggregatedFiles: 0,
        pinningStatus: c.pin_status,
        /** '' or 'deals failing': the Filecoin side has stopped making deals for it. */
        dealStatus: failing.has(Number(c.id)) ? 'deals failing' : ''
      }));
    },

    async get(userId: number, idText: string): Promise<ContentJson> {
      return contentJson(await own(userId, idText));
    },

    /** Estuary's `/content/status/:id`; deals arrive with the Filecoin issue. */
    async status(userId: number, idText: string) {
      const c = await own(userId, idText);
      return { content: contentJson(c), deals: [] as unknown[], failuresCount: 0 };
    },

    /**
     * The user's earliest other live content with the same root as `contentId`, or null: an upload
     * that is already stored (its Filecoin deals are shared, see filecoin/pieces/planner.ts).
     */
    async sameRoot(userId: number, cid: string, contentId: number): Promise<number | null> {
      const row = await active()
        .select('id')
        .where('user_id', '=', userId)
        .where('cid', '=', cid)
        .where('id', '!=', contentId)
        .orderBy('id')
        .limit(1)
        .executeTakeFirst();
      return row == null ? null : Number(row.id);
    },

    async byCid(userId: number, cidText: string) {
      const rows = await active()
        .selectAll()
        .where('user_id', '=', userId)
        .where('cid', 'in', cidForms(cidText))
        .execute();
      return rows.map((c) => ({ content: contentJson(c), deals: [] as unknown[] }));
    },

    /** Public: whether and how a CID is held, without names or owners. */
    async publicByCid(cidText: string) {
      const rows = await active()
        .select(['id', 'cid', 'size', 'type', 'created_at', 'pin_status', 'replication'])
        .where('cid', 'in', cidForms(cidText))
        .where('pin_status', '=', 'pinned')
        .execute();
      return rows.map((c) => ({
        content: {
          id: Number(c.id),
          cid: c.cid,
          size: c.size,
          type: c.type,
          createdAt: new Date(c.created_at).toISOString(),
          pinningStatus: c.pin_status,
          replication: c.replication
        },
        deals: [] as unknown[]
      }));
    },

    async userStats(userId: number): Promise<{ totalSize: number; numPins: number }> {
      const row = await active()
        .select((eb) => [
          eb.fn.coalesce(eb.fn.sum<number>('size'), eb.lit(0)).as('total'),
          eb.fn.countAll<number>().as('n')
        ])
        .where('user_id', '=', userId)
        .where('pin_status', '=', 'pinned')
        .executeTakeFirstOrThrow();
      return { totalSize: Number(row.total), numPins: Number(row.n) };
    }
  };
}

export type ContentQueries = ReturnType<typeof createContentQueries>;
