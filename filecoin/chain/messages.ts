// Signed chain messages from the service's wallet: nonce, gas estimate, iso-filecoin serialisation,
// signature over the message CID, MpoolPush — and waiting for them to land. Concurrent sends get
// distinct consecutive nonces from a local cursor held under a lock; a rejected push resyncs it from
// the node. Waiting works behind a lotus-gateway, which clamps message lookback to 20 epochs: we
// poll StateSearchMsg from the moment the message is pushed, alongside one long StateWaitMsg.
import { Message } from 'iso-filecoin/message';
import type { LotusClient, MsgLookup } from '../lotus/client.ts';
import { LotusError } from '../lotus/errors.ts';
import type { Wallet } from '../wallet/index.ts';

export interface SendRequest {
  to: string;
  method: number;
  /** attoFIL. @default 0n */
  value?: bigint;
  /** CBOR-encoded params. @default empty */
  params?: Uint8Array;
}

export interface MessageReceipt {
  exitCode: number;
  return: Uint8Array | null;
  height: number;
  /** The CID that executed (differs from the pushed one if the message was replaced). */
  message: string;
}

export interface WaitOptions {
  /** Epochs on top of the inclusion epoch before the receipt counts. @default 1 */
  confidence?: number;
  signal?: AbortSignal;
}

export interface MessageSender {
  readonly address: string;
  send(request: SendRequest, options?: { signal?: AbortSignal }): Promise<{ cid: string; nonce: number }>;
  wait(cid: string, options?: WaitOptions): Promise<MessageReceipt>;
}

export interface MessageSenderInit {
  lotus: LotusClient;
  wallet: Wallet;
  log: { info(obj: object, msg: string): void; warn(obj: object, msg: string): void };
  /** How often `wait` polls StateSearchMsg. @default 1000 */
  pollMs?: number;
  /** Use a long-lived StateWaitMsg alongside polling (off for gateways known to refuse it). @default true */
  useStateWaitMsg?: boolean;
}

/** A chain message ended with a non-zero exit code. */
export class MessageFailedError extends Error {
  override name = 'MessageFailedError';
  readonly exitCode: number;
  readonly cid: string;
  constructor(cid: string, exitCode: number) {
    super(`message ${cid} failed with exit code ${exitCode}`);
    this.cid = cid;
    this.exitCode = exitCode;
  }
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason as Error);
      return;
    }
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason as Error);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

export function createMessageSender(init: MessageSenderInit): MessageSender {
  const { lotus, wallet, log } = init;
  const pollMs = init.pollMs ?? 1000;
  let cursor: number | undefined;
  let lock: Promise<unknown> = Promise.resolve();

  /** Runs `fn` after every earlier call has finished. */
  function serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = lock.then(fn, fn);
    lock = run.catch(() => undefined);
    return run;
  }

  async function send(request: SendRequest, options: { signal?: AbortSignal } = {}) {
    const { signal } = options;
    return serial(async () => {
      signal?.throwIfAborted();
      // The node's view can be ahead of ours (a message sent by another tool) or behind it (a
      // load-balanced gateway whose mpool has not seen our last push yet): take the larger.
      const fromNode = await lotus.mpoolGetNonce(wallet.address, { signal });
      const nonce = Math.max(cursor ?? 0, fromNode);
      const base = {
        version: 0 as const,
        to: request.to,
        from: wallet.address,
        nonce,
        value: (request.value ?? 0n).toString(),
        method: request.method,
        params: Buffer.from(request.params ?? new Uint8Array()).toString('base64'),
        gasLimit: 0,
        gasFeeCap: '0',
        gasPremium: '0'
      };
      const gas = await lotus.gasEstimateMessageGas(new Message(base).toLotus(), { signal });
      const message = new Message({
        ...base,
        gasLimit: gas.gasLimit,
        gasFeeCap: gas.gasFeeCap.toString(),
        gasPremium: gas.gasPremium.toString()
      });
      const signed = wallet.signMessage(message);
      let cid: string;
      try {
        cid = await lotus.mpoolPush(signed.lotus, { signal });
      } catch (err) {
        // Rejected (nonce gap, funds, …) or unknown outcome: resync from the node next time.
        cursor = undefined;
        if (err instanceof LotusError) {
          log.warn(
            { to: request.to, method: request.method, nonce, err: err.message },
            'message push rejected'
          );
        }
        throw err;
      }
      cursor = nonce + 1;
      if (cid !== signed.signedCid) {
        log.warn({ cid, expected: signed.signedCid }, 'MpoolPush returned a different CID than computed');
      }
      log.info(
        { cid, to: request.to, method: request.method, value: (request.value ?? 0n).toString(), nonce },
        'message pushed'
      );
      return { cid, nonce };
    });
  }

  async function wait(cid: string, options: WaitOptions = {}): Promise<MessageReceipt> {
    const confidence = options.confidence ?? 1;
    const done = new AbortController();
    const signal = options.signal != null ? AbortSignal.any([options.signal, done.signal]) : done.signal;
    const toReceipt = (l: MsgLookup): MessageReceipt => ({
      exitCode: l.receipt.exitCode,
      return: l.receipt.return,
      height: l.height,
      message: l.message
    });

    const polling = (async (): Promise<MessageReceipt> => {
      for (;;) {
        try {
          const found = await lotus.stateSearchMsg(cid, { signal, lookbackLimit: -1, allowReplaced: true });
          if (found != null) {
            const head = await lotus.chainHead({ signal });
            if (head.height - found.height >= confidence) return toReceipt(found);
          }
        } catch (err) {
          if (signal.aborted) throw err;
          // transient: keep polling
        }
        await sleep(pollMs, signal);
      }
    })();

    const waiting =
      init.useStateWaitMsg === false
        ? new Promise<never>(() => {})
        : lotus
            .stateWaitMsg(cid, {
              signal,
              confidence,
              lookbackLimit: -1,
              allowReplaced: true,
              timeoutMs: false
            })
            .then(toReceipt, () => new Promise<never>(() => {})); // a gateway refusing it: polling carries on

    try {
      return await Promise.race([polling, waiting]);
    } finally {
      done.abort();
      polling.catch(() => undefined);
    }
  }

  return { address: wallet.address, send, wait };
}
