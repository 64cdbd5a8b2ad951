// Chain messages as a real provider sends them through Lotus: MpoolGetNonce, GasEstimateMessageGas,
// sign the message CID bytes with the worker key, MpoolPush, then StateWaitMsg. Sends from one
// worker are serialised so nonces never race; waiting is concurrent.
import { Message } from 'iso-filecoin/message';
import { sign } from 'iso-filecoin/wallet';
import { CID } from 'multiformats/cid';
import { LotusRpcError, type LotusClient, type MsgLookup } from './lotus-client.ts';
import type { WorkerKey } from './identity.ts';

export interface OutgoingMessage {
  to: string;
  method: number;
  params?: Uint8Array;
  value?: bigint;
}

/** A signed message and the CID MpoolPush answers for it (a BLS message's CID is its own). */
export interface PreparedMessage {
  cid: string;
  /** Lotus JSON SignedMessage. */
  signed: { Message: unknown; Signature: unknown };
}

export interface MessageSender {
  /**
   * Pushes the message and returns its CID string. `beforePush` sees the signed message first, so a
   * caller can record it and, after a crash, `resubmit` it instead of sending a second one.
   */
  push(
    message: OutgoingMessage,
    options?: { signal?: AbortSignal; beforePush?: (prepared: PreparedMessage) => Promise<void> }
  ): Promise<string>;
  /**
   * Makes sure a recorded message reached the chain's pool: nothing if the node knows it already,
   * else pushed again. Throws MessageLostError when it was lost and its nonce has since been used.
   */
  resubmit(prepared: PreparedMessage, options?: { signal?: AbortSignal }): Promise<void>;
  /** Waits until the message is on chain; throws when the receipt's exit code isn't 0. */
  wait(cid: string, options?: { signal?: AbortSignal }): Promise<MsgLookup>;
  /** push + wait. */
  send(message: OutgoingMessage, options?: { signal?: AbortSignal }): Promise<MsgLookup>;
}

export class MessageFailedError extends Error {
  readonly exitCode: number;
  constructor(cid: string, exitCode: number) {
    super(`message ${cid} failed with exit code ${exitCode}`);
    this.exitCode = exitCode;
  }
}

/** A recorded message never reached the chain and cannot now (its nonce was used): send anew. */
export class MessageLostError extends Error {
  override name = 'MessageLostError';
}

export function createMessageSender(lotus: LotusClient, key: WorkerKey): MessageSender {
  let queue: Promise<unknown> = Promise.resolve();

  async function pushNow(
    message: OutgoingMessage,
    signal?: AbortSignal,
    beforePush?: (prepared: PreparedMessage) => Promise<void>
  ): Promise<string> {
    const nonce = await lotus.call<number>('MpoolGetNonce', [key.address], { signal });
    const draft = new Message({
      to: message.to,
      from: key.address,
      nonce,
      value: (message.value ?? 0n).toString(),
      method: message.method,
      params: Buffer.from(message.params ?? new Uint8Array(0)).toString('base64'),
      gasLimit: 0,
      gasFeeCap: '0',
      gasPremium: '0'
    });
    const estimated = await lotus.call<{ GasLimit: number; GasFeeCap: string; GasPremium: string }>(
      'GasEstimateMessageGas',
      [draft.toLotus(), { MaxFee: '0' }, null],
      { signal }
    );
    const final = new Message({
      ...draft,
      nonce,
      gasLimit: estimated.GasLimit,
      gasFeeCap: estimated.GasFeeCap,
      gasPremium: estimated.GasPremium
    });
    const signature = sign(key.privateKey, 'BLS', final.cidBytes());
    const prepared: PreparedMessage = {
      cid: CID.decode(final.cidBytes()).toString(),
      signed: { Message: final.toLotus(), Signature: signature.toLotus() }
    };
    await beforePush?.(prepared);
    const cid = await lotus.call<{ '/': string }>('MpoolPush', [prepared.signed], { signal });
    // What was recorded must name what the node holds, or a resubmit would not recognise it.
    if (cid['/'] !== prepared.cid)
      throw new Error(`MpoolPush answered ${cid['/']} for a BLS message whose CID is ${prepared.cid}`);
    return cid['/'];
  }

  async function resubmitNow(prepared: PreparedMessage, signal?: AbortSignal): Promise<void> {
    const known = await lotus
      .call('ChainGetMessage', [{ '/': prepared.cid }], { signal })
      .then(() => true)
      .catch((err: unknown) => {
        if (err instanceof LotusRpcError) return false;
        throw err;
      });
    if (known) return;
    try {
      await lotus.call('MpoolPush', [prepared.signed], { signal });
    } catch (err) {
      if (err instanceof LotusRpcError && /nonce too low|replace by fee/i.test(err.message))
        throw new MessageLostError(`message ${prepared.cid} was lost and its nonce reused`);
      throw err;
    }
  }

  const sender: MessageSender = {
    push(message, options = {}) {
      const result = queue.then(() => pushNow(message, options.signal, options.beforePush));
      queue = result.catch(() => undefined);
      return result;
    },
    resubmit(prepared, options = {}) {
      const result = queue.then(() => resubmitNow(prepared, options.signal));
      queue = result.catch(() => undefined);
      return result;
    },
    async wait(cid, options = {}) {
      for (;;) {
        options.signal?.throwIfAborted();
        try {
          const lookup = await lotus.call<MsgLookup | null>('StateWaitMsg', [{ '/': cid }, 1, -1, true], {
            signal: options.signal
          });
          if (lookup != null) {
            if (lookup.Receipt.ExitCode !== 0) throw new MessageFailedError(cid, lookup.Receipt.ExitCode);
            return lookup;
          }
        } catch (err) {
          // A long poll that timed out is retried; anything the chain said is final.
          if (!(err instanceof Error && err.name === 'TimeoutError')) throw err;
        }
      }
    },
    async send(message, options = {}) {
      return sender.wait(await sender.push(message, options), options);
    }
  };
  return sender;
}
