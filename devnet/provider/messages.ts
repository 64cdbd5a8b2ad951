// Chain messages as a real provider sends them through Lotus: MpoolGetNonce, GasEstimateMessageGas,
// sign the message CID bytes with the worker key, MpoolPush, then StateWaitMsg. Sends from one
// worker are serialised so nonces never race; waiting is concurrent.
import { Message } from 'iso-filecoin/message';
import { sign } from 'iso-filecoin/wallet';
import type { LotusClient, MsgLookup } from './lotus-client.ts';
import type { WorkerKey } from './identity.ts';

export interface OutgoingMessage {
  to: string;
  method: number;
  params?: Uint8Array;
  value?: bigint;
}

export interface MessageSender {
  /** Pushes the message and returns its CID string. */
  push(message: OutgoingMessage, options?: { signal?: AbortSignal }): Promise<string>;
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

export function createMessageSender(lotus: LotusClient, key: WorkerKey): MessageSender {
  let queue: Promise<unknown> = Promise.resolve();

  async function pushNow(message: OutgoingMessage, signal?: AbortSignal): Promise<string> {
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
    const cid = await lotus.call<{ '/': string }>(
      'MpoolPush',
      [{ Message: final.toLotus(), Signature: signature.toLotus() }],
      { signal }
    );
    return cid['/'];
  }

  const sender: MessageSender = {
    push(message, options = {}) {
      const result = queue.then(() => pushNow(message, options.signal));
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
