// The message pool: MpoolPush's checks (lotus chain/messagepool: size/gas/value validity, signature,
// nonce, funds) with Lotus's error texts, pending messages per sender in nonce order (gaps wait),
// replace-by-fee, and selection of the next executable messages for an epoch.
import { signatureFromBytes, verifySignature } from '../wire/signature.ts';
import type { ChainCore } from './index.ts';
import {
  encodeMessage,
  messageCid,
  messageFromLotus,
  signatureFromLotus,
  signedMessageCid
} from './message.ts';
import type { ChainMessage, MessageRecord } from './state.ts';
import { BASE_FEE, balanceOf, lookupId, TOTAL_FILECOIN } from './vm.ts';

export const BLOCK_GAS_LIMIT = 10_000_000_000;
const MAX_MESSAGE_SIZE = 64 << 10;
const MAX_MESSAGES_PER_EPOCH = 2_000;
/** Lotus's pricelist: storing a message on chain costs OnChainMessageBase + per-byte gas. */
const ON_CHAIN_MESSAGE_BASE = 38_863;
const ON_CHAIN_MESSAGE_PER_BYTE = 1_300;

/** An error MpoolPush reports to the caller (JSON-RPC error code 1, as Lotus). */
export class PushError extends Error {}

export interface Mempool {
  /** Validates and adds a SignedMessage (Lotus JSON); returns the CID MpoolPush reports. */
  push(signedJson: unknown): string;
  /** Next nonce for an address, counting consecutive pending messages. */
  nextNonce(address: string): number;
  /** Executable messages for this epoch in nonce order per sender. */
  select(): MessageRecord[];
  /** Called after a selected message has been applied. */
  applied(record: MessageRecord): void;
  find(cid: string): MessageRecord | undefined;
  /** The sender's pending messages from its state nonce on, in nonce order (gas estimation runs on top). */
  pendingFrom(address: string): MessageRecord[];
}

export function createMempool(core: ChainCore): Mempool {
  const { state } = core;
  /** sender ID → nonce → pending record */
  const pending = new Map<number, Map<number, MessageRecord>>();
  /** unsigned message CID → push CID, so lookups by either CID work. */
  const byMessageCid = new Map<string, string>();

  const track = (record: MessageRecord): void => {
    byMessageCid.set(record.messageCid, record.cid);
    if (record.height != null) return;
    const from = lookupId(state, record.message.from);
    if (from == null) return;
    let set = pending.get(from);
    if (set == null) pending.set(from, (set = new Map()));
    set.set(record.message.nonce, record);
  };
  for (const record of state.messages.values()) track(record);

  const keyAddressOf = (address: string): string | undefined => {
    if (address[1] === '1' || address[1] === '3') return address;
    const id = lookupId(state, address);
    return id == null ? undefined : state.actors.get(id)?.key;
  };

  const stateNonce = (id: number | undefined): number =>
    id == null ? 0 : (state.actors.get(id)?.nonce ?? 0);

  return {
    push(signedJson) {
      if (signedJson == null || typeof signedJson !== 'object') {
        throw new TypeError('json: cannot unmarshal non-object into Go value of type types.SignedMessage');
      }
      const { Message, Signature } = signedJson as { Message?: unknown; Signature?: unknown };
      const message = messageFromLotus(Message);
      const signature = signatureFromLotus(Signature);
      checkMessage(message);

      const cid = signedMessageCid(message, signature).toString();
      const unsignedCid = messageCid(message);
      // Pushing a message that is still pending again is harmless; an applied one fails the nonce check.
      if (state.messages.get(cid)?.height === undefined && state.messages.has(cid)) return cid;

      const key = keyAddressOf(message.from);
      let signatureOk: boolean;
      try {
        signatureOk = key != null && verifySignature(signatureFromBytes(signature), unsignedCid.bytes, key);
      } catch {
        signatureOk = false;
      }
      if (!signatureOk) {
        throw new PushError(
          `signature verification failed: message ${cid} has invalid signature (type ${signature[0]}): ` +
            (key == null ? `cannot resolve ${message.from} to a key address` : 'signature did not match')
        );
      }
      const fromId = lookupId(state, message.from);
      const nonce = stateNonce(fromId);
      if (message.nonce < nonce) {
        throw new PushError(`minimum expected nonce is ${nonce}: message nonce too low`);
      }
      const balance = fromId == null ? 0n : balanceOf(state, fromId);
      const required = message.value + message.gasFeeCap * BigInt(message.gasLimit);
      if (balance < required) {
        throw new PushError(
          `not enough funds (required: ${formatFil(required)}, balance: ${formatFil(balance)}): not enough funds to execute transaction`
        );
      }
      if (fromId == null) throw new PushError(`resolution lookup failed (${message.from}): actor not found`);
      const set = pending.get(fromId);
      const previous = set?.get(message.nonce);
      if (previous != null) {
        // Replace-by-fee: Lotus wants the premium raised by at least 25%.
        const minimum = previous.message.gasPremium + previous.message.gasPremium / 4n + 1n;
        if (message.gasPremium < minimum) {
          throw new PushError(
            `failed to RBF: replace by fee has too low GasPremium (${message.gasPremium} < ${minimum}): validation failure`
          );
        }
        state.messages.delete(previous.cid);
        byMessageCid.delete(previous.messageCid);
      }
      const record: MessageRecord = { cid, messageCid: unsignedCid.toString(), message, signature };
      state.messages.set(cid, record);
      track(record);
      core.markDirty();
      core.logger.debug(
        { cid, from: message.from, nonce: message.nonce, method: message.method },
        'mpool: added'
      );
      return cid;
    },

    nextNonce(address) {
      const id = lookupId(state, address);
      let nonce = stateNonce(id);
      const set = id == null ? undefined : pending.get(id);
      while (set?.has(nonce) === true) nonce += 1;
      return nonce;
    },

    select() {
      const out: MessageRecord[] = [];
      for (const [id, set] of pending) {
        const actor = state.actors.get(id);
        if (actor == null) continue;
        // Messages made stale (nonce already used) leave the pool.
        for (const [nonce, record] of set) {
          if (nonce < actor.nonce) {
            set.delete(nonce);
            state.messages.delete(record.cid);
          }
        }
        let nonce = actor.nonce;
        let balance = actor.balance;
        for (;;) {
          const record = set.get(nonce);
          if (record == null || out.length >= MAX_MESSAGES_PER_EPOCH) break;
          const gas = record.message.gasFeeCap * BigInt(record.message.gasLimit);
          if (balance < gas) break; // Can't pay for gas yet: waits, as Lotus would not include it.
          balance -= gas;
          out.push(record);
          nonce += 1;
        }
        if (set.size === 0) pending.delete(id);
      }
      return out;
    },

    applied(record) {
      const id = lookupId(state, record.message.from);
      const set = id == null ? undefined : pending.get(id);
      set?.delete(record.message.nonce);
      if (id != null && set?.size === 0) pending.delete(id);
    },

    pendingFrom(address) {
      const id = lookupId(state, address);
      const set = id == null ? undefined : pending.get(id);
      const out: MessageRecord[] = [];
      for (let nonce = stateNonce(id); set?.has(nonce) === true; nonce += 1) out.push(set.get(nonce)!);
      return out;
    },

    find(cid) {
      return state.messages.get(cid) ?? state.messages.get(byMessageCid.get(cid) ?? '');
    }
  };
}

/** lotus chain/types/message.go ValidForBlockInclusion, the checks a pool applies first. */
function checkMessage(m: ChainMessage): void {
  const size = encodeMessage(m).length;
  if (size > MAX_MESSAGE_SIZE)
    throw new PushError('mpool message too large (65536 < ' + size + '): message too big');
  if (m.version !== 0) throw new PushError("'Version' unsupported");
  if (m.value < 0n) throw new PushError("'Value' field cannot be negative");
  if (m.value > TOTAL_FILECOIN)
    throw new PushError("'Value' field cannot be greater than total filecoin supply");
  if (m.gasFeeCap < 0n) throw new PushError("'GasFeeCap' field cannot be negative");
  if (m.gasPremium < 0n) throw new PushError("'GasPremium' field cannot be negative");
  if (m.gasPremium > m.gasFeeCap) throw new PushError("'GasFeeCap' less than 'GasPremium'");
  if (m.gasLimit > BLOCK_GAS_LIMIT)
    throw new PushError("'GasLimit' field cannot be greater than a block's gas limit");
  const minGas = ON_CHAIN_MESSAGE_BASE + ON_CHAIN_MESSAGE_PER_BYTE * size;
  if (m.gasLimit < minGas) {
    throw new PushError(
      `message will not be included in a block: 'GasLimit' field cannot be less than the cost of storing a message on chain ${m.gasLimit} < ${minGas}`
    );
  }
  if (m.gasFeeCap < BASE_FEE) {
    throw new PushError(
      `GasFeeCap doesn't meet base fee lower bound for inclusion in the next 20 blocks (GasFeeCap: ${m.gasFeeCap}, baseFeeLowerBound: ${BASE_FEE}): gas fee cap too low`
    );
  }
}

/** types.FIL's String(): decimal FIL without trailing zeros, e.g. "0.5 FIL", "0 FIL". */
export function formatFil(atto: bigint): string {
  const negative = atto < 0n;
  const abs = negative ? -atto : atto;
  const whole = abs / 10n ** 18n;
  const frac = (abs % 10n ** 18n).toString().padStart(18, '0').replace(/0+$/, '');
  return `${negative ? '-' : ''}${whole}${frac === '' ? '' : `.${frac}`} FIL`;
}
