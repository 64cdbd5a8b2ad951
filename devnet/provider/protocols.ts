// Boost's libp2p protocol handlers (storagemarket/lp2pimpl/net.go): one CBOR item in, one out,
// then close. Read deadline 10 s. A request that isn't valid CBOR of the right shape gets what
// Boost gives it: the stream is closed without a reply (Boost logs the decode error and returns).
import { decodeFirst } from 'cborg';
import * as dagCbor from '@ipld/dag-cbor';
import type { Stream } from '@libp2p/interface';
import type { Logger } from 'pino';

const READ_TIMEOUT_MS = 10_000;
const MAX_REQUEST_BYTES = 4 * 1024 * 1024;

export class DecodeError extends Error {}

/** Reads exactly one CBOR item (the peer may or may not close its write side after it). */
export async function readOneCbor(stream: Stream): Promise<unknown> {
  const timer = setTimeout(() => stream.abort(new Error('read deadline exceeded')), READ_TIMEOUT_MS);
  let buffered = new Uint8Array(0);
  let lastError: unknown;
  try {
    for await (const chunk of stream) {
      const bytes = chunk instanceof Uint8Array ? chunk : chunk.subarray();
      buffered = Buffer.concat([buffered, bytes]);
      if (buffered.length > MAX_REQUEST_BYTES) throw new DecodeError('request too large');
      try {
        return decodeFirst(buffered, dagCbor.decodeOptions)[0];
      } catch (err) {
        lastError = err; // maybe incomplete: read more
      }
    }
    throw new DecodeError(`malformed CBOR: ${(lastError as Error | undefined)?.message ?? 'empty request'}`);
  } finally {
    clearTimeout(timer);
  }
}

export async function writeAndClose(stream: Stream, bytes: Uint8Array): Promise<void> {
  if (!stream.send(bytes)) await stream.onDrain();
  await stream.close();
}

/** Wraps a request/response handler so nothing it throws escapes into libp2p. */
export function oneShot(
  logger: Logger,
  protocol: string,
  unreachable: () => boolean,
  respond: (request: unknown) => Promise<Uint8Array | null>
): (stream: Stream) => Promise<void> {
  return async (stream) => {
    if (unreachable()) {
      stream.abort(new Error('provider unreachable (fault injection)'));
      return;
    }
    try {
      const request = await readOneCbor(stream);
      const reply = await respond(request);
      if (reply == null) await stream.close();
      else await writeAndClose(stream, reply);
    } catch (err) {
      logger.warn({ err, protocol }, 'protocol request failed');
      try {
        if (err instanceof DecodeError || err instanceof TypeError) await stream.close();
        else stream.abort(err as Error);
      } catch {
        stream.abort(err as Error);
      }
    }
  };
}
