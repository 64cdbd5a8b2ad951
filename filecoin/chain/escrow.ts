// Storage-market escrow for the service's wallet (filecoin.md §5): balances as Estuary's
// /admin/balance reports them, AddBalance messages, and an automatic top-up so deal making never
// stalls on escrow: `ensureAvailable(needed)` keeps market available ≥ needed + a reserve for the next
// N deals, with at most one top-up in flight. When the wallet itself cannot pay, that is raised as a
// visible alert (and a typed error when the deal cannot go ahead), never a silent stop.
import * as dagCbor from '@ipld/dag-cbor';
import { fromString as addressFromString } from 'iso-filecoin/address';
import type { LotusClient } from '../lotus/client.ts';
import type { Wallet } from '../wallet/index.ts';
import { MessageFailedError, type MessageSender } from './messages.ts';

export const FIL = 10n ** 18n;

/** Market actor method numbers (go-state-types builtin/methods.go MethodsMarket). */
export const MARKET_METHOD_ADD_BALANCE = 2;

export interface EscrowBalance {
  /** The wallet address. */
  account: string;
  /** Wallet balance, attoFIL. */
  balance: bigint;
  marketEscrow: bigint;
  marketLocked: bigint;
  /** escrow − locked */
  marketAvailable: bigint;
  /** DataCap in bytes; null when the wallet is not a verified client. */
  verifiedClientBalance: bigint | null;
}

export interface WalletShortAlert {
  kind: 'wallet-short';
  /** attoFIL the top-up needed. */
  needed: bigint;
  /** The wallet's balance when it was found short. */
  balance: bigint;
  at: Date;
}

/** The wallet cannot fund the escrow a deal needs. */
export class WalletShortError extends Error {
  override name = 'WalletShortError';
  readonly needed: bigint;
  readonly balance: bigint;
  constructor(needed: bigint, balance: bigint, address: string) {
    super(
      `wallet ${address} holds ${balance} attoFIL, short of the ${needed} attoFIL market escrow top-up deals need: fund it`
    );
    this.needed = needed;
    this.balance = balance;
  }
}

export interface EscrowInit {
  lotus: LotusClient;
  sender: MessageSender;
  wallet: Wallet;
  log: { info(obj: object, msg: string): void; warn(obj: object, msg: string): void };
  /** Keep enough available for this many more deals of the size being asked for. @default 10 */
  reserveDeals?: number;
  /** attoFIL kept in the wallet for gas, never moved to escrow. @default 0.01 FIL */
  gasReserve?: bigint;
  /** Give up on a top-up that has not landed after this long (the next deal starts another). @default 30 min */
  topUpTimeoutMs?: number;
  /** Confidence for waiting on a top-up. @default 1 */
  confidence?: number;
}

export interface Escrow {
  balance(options?: { signal?: AbortSignal }): Promise<EscrowBalance>;
  /** Sends AddBalance for `amount` attoFIL (does not wait for it to land). */
  addEscrow(amount: bigint, options?: { signal?: AbortSignal }): Promise<{ msgCid: string }>;
  /**
   * Resolves once market available ≥ `needed` (topping up, and waiting for the top-up, when it is
   * not); tops up in the background when available is above `needed` but under the reserve.
   * Throws WalletShortError when the wallet cannot cover what `needed` requires. `committed` is what
   * deals already proposed but not yet published will lock (the chain does not count it yet).
   */
  ensureAvailable(needed: bigint, options?: { signal?: AbortSignal; committed?: bigint }): Promise<void>;
  /** The current problem an operator must fix, if any. */
  alert(): WalletShortAlert | null;
}

/** AddBalance params: the CBOR byte string of the beneficiary's address bytes. */
export function addBalanceParams(address: string): Uint8Array {
  return dagCbor.encode(addressFromString(address).toBytes());
}

/** f05 on mainnet, t05 elsewhere (same bytes). */
export function marketActor(walletAddress: string): string {
  return `${walletAddress.startsWith('f') ? 'f' : 't'}05`;
}

function untilAborted<T>(work: Promise<T>, signal?: AbortSignal): Promise<T> {
  if (signal == null) return work;
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason as Error);
    signal.addEventListener('abort', onAbort, { once: true });
    work.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

export function createEscrow(init: EscrowInit): Escrow {
  const { lotus, sender, wallet, log } = init;
  const reserveDeals = BigInt(init.reserveDeals ?? 10);
  const gasReserve = init.gasReserve ?? FIL / 100n;
  let current: WalletShortAlert | null = null;
  let inflight: Promise<void> | null = null;

  async function balance(options: { signal?: AbortSignal } = {}): Promise<EscrowBalance> {
    const [walletBalance, market, dataCap] = await Promise.all([
      lotus.walletBalance(wallet.address, options),
      lotus.stateMarketBalance(wallet.address, options),
      lotus.stateVerifiedClientStatus(wallet.address, options)
    ]);
    return {
      account: wallet.address,
      balance: walletBalance,
      marketEscrow: market.escrow,
      marketLocked: market.locked,
      marketAvailable: market.escrow - market.locked,
      verifiedClientBalance: dataCap
    };
  }

  async function addEscrow(amount: bigint, options: { signal?: AbortSignal } = {}) {
    if (amount <= 0n) throw new RangeError('escrow amount must be positive');
    const { cid } = await sender.send(
      {
        to: marketActor(wallet.address),
        method: MARKET_METHOD_ADD_BALANCE,
        value: amount,
        params: addBalanceParams(wallet.address)
      },
      options
    );
    log.info({ msgCid: cid, amount: amount.toString() }, 'market escrow top-up sent');
    return { msgCid: cid };
  }

  function raise(needed: bigint, walletBalance: bigint): void {
    if (current == null || current.needed !== needed || current.balance !== walletBalance) {
      log.warn(
        { address: wallet.address, needed: needed.toString(), balance: walletBalance.toString() },
        'wallet is short of FIL for market escrow: deals will stop until it is funded'
      );
    }
    current = { kind: 'wallet-short', needed, balance: walletBalance, at: new Date() };
  }

  /** One top-up towards `target` available; resolves when it has landed. */
  async function topUp(needed: bigint, target: bigint): Promise<void> {
    const signal = AbortSignal.timeout(init.topUpTimeoutMs ?? 30 * 60_000);
    const now = await balance({ signal });
    if (now.marketAvailable >= target) return;
    const want = target - now.marketAvailable;
    const must = needed > now.marketAvailable ? needed - now.marketAvailable : 0n;
    const spendable = now.balance > gasReserve ? now.balance - gasReserve : 0n;
    let amount = want;
    if (spendable < want) {
      raise(want, now.balance);
      if (spendable < must || spendable === 0n) throw new WalletShortError(must, now.balance, wallet.address);
      amount = spendable;
    } else {
      current = null;
    }
    const { msgCid } = await addEscrow(amount, { signal });
    const receipt = await sender.wait(msgCid, { confidence: init.confidence ?? 1, signal });
    if (receipt.exitCode !== 0) throw new MessageFailedError(msgCid, receipt.exitCode);
    log.info({ msgCid, amount: amount.toString(), height: receipt.height }, 'market escrow top-up landed');
  }

  /** Shared by every caller, so it runs to the end whoever stops waiting for it. */
  function startTopUp(needed: bigint, target: bigint): Promise<void> {
    inflight ??= topUp(needed, target).finally(() => {
      inflight = null;
    });
    return inflight;
  }

  async function ensureAvailable(
    ownNeed: bigint,
    options: { signal?: AbortSignal; committed?: bigint } = {}
  ): Promise<void> {
    if (ownNeed <= 0n) return;
    const { signal } = options;
    const committed = options.committed ?? 0n;
    const needed = ownNeed + committed;
    const target = needed + ownNeed * reserveDeals;
    for (let attempt = 0; ; attempt++) {
      signal?.throwIfAborted();
      const market = await lotus.stateMarketBalance(wallet.address, { signal });
      const available = market.escrow - market.locked;
      if (available >= target) {
        current = null;
        return;
      }
      if (available >= needed) {
        // Enough for this deal: refill towards the reserve without holding the deal up.
        startTopUp(needed, target).catch((err: unknown) => {
          if (!(err instanceof WalletShortError)) {
            log.warn({ err: (err as Error).message }, 'background escrow top-up failed');
          }
        });
        return;
      }
      if (attempt >= 3) {
        throw new Error(`market escrow still below ${needed} attoFIL after ${attempt} top-ups`);
      }
      // One top-up at a time: wait for the one in flight (ours or another deal's), then look again.
      await untilAborted(inflight ?? startTopUp(needed, target), signal);
    }
  }

  return { balance, addEscrow, ensureAvailable, alert: () => current };
}
