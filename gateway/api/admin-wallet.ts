// Estuary's wallet routes for admins: the Filecoin address, balances, and moving FIL into market
// escrow. Amounts in responses are decimal attoFIL strings (Estuary printed Lotus's "1.5 FIL" text;
// exact integers are what a client can compute with). With no Filecoin network they answer 503.
import type { FastifyInstance, FastifyReply } from 'fastify';
import { PERM_ADMIN } from '../../server/db/schema.ts';
import { InvalidInputError } from '../../server/errors.ts';
import type { FilecoinClient } from '../../filecoin/index.ts';
import { requireAuth } from './auth.ts';
import type { ApiContext } from './context.ts';

const ATTO = 18;

/** Parses a FIL amount as Estuary's `types.ParseFIL` did: `1.5`, `1.5 FIL`, `1500 attofil`. */
export function parseFil(raw: string): bigint {
  const m = /^\s*(\d+)(?:\.(\d+))?\s*(fil|attofil|afil)?\s*$/i.exec(raw);
  if (m == null) throw new InvalidInputError('ERR_INVALID_INPUT', `"${raw}" is not an amount of FIL`);
  const [, whole, fraction = '', unit = 'fil'] = m;
  const atto = unit.toLowerCase() !== 'fil';
  if (atto && fraction !== '')
    throw new InvalidInputError('ERR_INVALID_INPUT', 'attoFIL amounts are whole numbers');
  if (fraction.length > ATTO) throw new InvalidInputError('ERR_INVALID_INPUT', 'FIL has at most 18 decimals');
  const value = atto
    ? BigInt(whole!)
    : BigInt(whole!) * 10n ** BigInt(ATTO) + BigInt(fraction.padEnd(ATTO, '0') || '0');
  if (value <= 0n) throw new InvalidInputError('ERR_INVALID_INPUT', 'the amount must be more than zero');
  return value;
}

function notConfigured(reply: FastifyReply) {
  return reply.status(503).send({
    error: { code: 503, reason: 'ERR_FILECOIN_NOT_CONFIGURED', details: 'Filecoin is not configured' }
  });
}

export async function adminWalletRoutes(
  app: FastifyInstance,
  ctx: Pick<ApiContext, 'accounts'> & { filecoin?: FilecoinClient; deals?: ApiContext['deals'] }
): Promise<void> {
  const admin = { preHandler: requireAuth(ctx.accounts, PERM_ADMIN) };
  const filecoin = ctx.filecoin;

  app.get('/admin/fil-address', admin, async (_req, reply) => {
    if (filecoin == null) return notConfigured(reply);
    // Estuary answers a bare JSON string.
    return reply.type('application/json').send(JSON.stringify(filecoin.wallet.address));
  });

  app.get('/admin/balance', admin, async (_req, reply) => {
    if (filecoin == null) return notConfigured(reply);
    const b = await filecoin.escrow.balance();
    const alert = filecoin.escrow.alert();
    return {
      account: b.account,
      balance: b.balance.toString(),
      marketEscrow: b.marketEscrow.toString(),
      marketLocked: b.marketLocked.toString(),
      marketAvailable: b.marketAvailable.toString(),
      verifiedClientBalance: b.verifiedClientBalance?.toString() ?? null,
      // Firth's addition: why deals may be stalled (the wallet cannot fund escrow), or null.
      alert:
        alert == null
          ? null
          : {
              kind: alert.kind,
              needed: alert.needed.toString(),
              balance: alert.balance.toString(),
              at: alert.at
            }
    };
  });

  // Firth's addition: what an operator must fix, for the admin page. The wallet that cannot fund
  // escrow (the alert /admin/balance carries), and pieces no more deals are made for — every
  // provider failed them alike, or they could not be prepared — with the reason.
  app.get('/admin/alerts', admin, async () => {
    const alerts: Array<Record<string, unknown>> = [];
    const wallet = filecoin?.escrow.alert();
    if (wallet != null) {
      alerts.push({
        kind: wallet.kind,
        message: `The wallet holds ${wallet.balance} attoFIL, short of the ${wallet.needed} attoFIL escrow top-up deals need: fund it`,
        needed: wallet.needed.toString(),
        balance: wallet.balance.toString(),
        at: wallet.at.toISOString()
      });
    }
    for (const p of (await ctx.deals?.queries.failingPieces()) ?? []) {
      alerts.push({
        kind: 'deals-failing',
        message: `No more deals are made for piece ${p.pieceId} (${p.contents} ${p.contents === 1 ? 'content' : 'contents'}): ${p.reason}`,
        pieceId: p.pieceId,
        pieceKind: p.kind,
        pieceCid: p.pieceCid,
        contents: p.contents,
        at: new Date(p.at).toISOString()
      });
    }
    return { alerts };
  });

  app.post<{ Params: { amt: string } }>('/admin/add-escrow/:amt', admin, async (req, reply) => {
    if (filecoin == null) return notConfigured(reply);
    const amount = parseFil(req.params.amt);
    const b = await filecoin.escrow.balance();
    if (b.balance < amount) {
      throw new InvalidInputError(
        'ERR_INSUFFICIENT_FUNDS',
        `the wallet holds ${b.balance} attoFIL, less than the ${amount} attoFIL asked for`
      );
    }
    const { msgCid } = await filecoin.escrow.addEscrow(amount);
    // Estuary's LockFundsResp: a CID in Lotus's JSON form.
    return { MsgCid: { '/': msgCid } };
  });
}
