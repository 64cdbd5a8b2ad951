import { createHmac } from 'node:crypto';
import type { Logger } from '../log.ts';

/** What a status message says about one pin. The page matches it to its upload by `requestid`. */
export interface PinStatusEvent {
  requestid: string;
  cid: string;
  status: 'queued' | 'pinning' | 'pinned' | 'failed';
  /** Blocks and bytes of the DAG the service holds so far. */
  blocks: number;
  bytes: number;
  /** Why it failed, or what it waits for. */
  details?: string;
}

/** The wire form: JSON, versioned, with the time the service sent it. */
export interface PinStatusMessage extends PinStatusEvent {
  v: 1;
  at: number;
}

/** The part of gossipsub this module uses. */
export interface StatusPublisher {
  publish(topic: string, data: Uint8Array): Promise<unknown>;
}

export interface StatusEventsInit {
  pubsub: StatusPublisher;
  /**
   * Keys the per-account topic names, so an account's topic cannot be guessed from its user id: only the
   * account (which learns it from its pins' `info.status_topic`) knows where to listen. Stable across
   * restarts (derived from the service's libp2p key) so a page keeps its subscription.
   */
  secret: Uint8Array;
  log: Logger;
}

export interface StatusEvents {
  /** `/firth/v1/account/<opaque id>/status`. */
  topicFor(userId: number): string;
  /** Publishes without waiting; a failure is logged (the page still has HTTP polling). */
  publish(userId: number, event: PinStatusEvent): void;
}

export const STATUS_TOPIC_PREFIX = '/firth/v1/account/';

/**
 * Live pin status for the page over gossipsub. The service's gossipsub runs with the StrictSign policy, so
 * every message carries `from` = the service's peer id and a signature by its libp2p key; the page accepts
 * only signed messages from the peer id `GET /api/public/net/addrs` names.
 */
export function createStatusEvents(init: StatusEventsInit): StatusEvents {
  const topicFor = (userId: number) =>
    `${STATUS_TOPIC_PREFIX}${createHmac('sha256', init.secret).update(`account:${userId}`).digest('base64url').slice(0, 32)}/status`;
  const encoder = new TextEncoder();
  return {
    topicFor,
    publish(userId, event) {
      const message: PinStatusMessage = { v: 1, at: Date.now(), ...event };
      init.pubsub
        .publish(topicFor(userId), encoder.encode(JSON.stringify(message)))
        .catch((err: unknown) =>
          init.log.debug({ err, requestid: event.requestid }, 'status publish failed')
        );
    }
  };
}
