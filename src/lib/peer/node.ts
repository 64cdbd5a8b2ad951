import { noise } from '@chainsafe/libp2p-noise';
import { yamux } from '@chainsafe/libp2p-yamux';
import { withBitswap } from '@helia/bitswap';
import { withLibp2pLight } from '@helia/libp2p';
import { circuitRelayTransport } from '@libp2p/circuit-relay-v2';
import { gossipsub } from '@libp2p/gossipsub';
import { identify, identifyPush } from '@libp2p/identify';
import type { PeerId } from '@libp2p/interface';
import { ping } from '@libp2p/ping';
import { webRTC, webRTCDirect } from '@libp2p/webrtc';
import { webSockets } from '@libp2p/websockets';
import { webTransport } from '@libp2p/webtransport';
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr';
import { IDBBlockstore } from 'blockstore-idb';
import { IDBDatastore } from 'datastore-idb';
import { createHeliaLight } from 'helia';
import { BLOCKSTORE_DB, DATASTORE_DB, RECONNECT_MAX_MS, RECONNECT_MIN_MS } from './constants';

/** What the service says about itself at `GET /api/public/net/addrs`. */
export interface ServiceAddrs {
  id: string;
  addresses: string[];
}

export type LinkStatus = 'starting' | 'connecting' | 'connected' | 'offline';

export interface BrowserPeerInit {
  /** Reads the service's peer id and addresses (fresh each time: a restarted service may have moved). */
  serviceAddrs(signal: AbortSignal): Promise<ServiceAddrs>;
  /** Called whenever the link to the service or this peer's addresses change. */
  onChange?: (status: LinkStatus) => void;
  /**
   * Called with each gossipsub message on a subscribed topic that is signed by the service's key (`from` is
   * the service's peer id). Anything else (unsigned, another sender) is dropped before it gets here.
   */
  onServiceMessage?: (topic: string, data: Uint8Array) => void;
}

export interface BrowserPeer {
  readonly peerId: PeerId;
  readonly status: LinkStatus;
  /** The service's peer id once known. */
  readonly servicePeer: string | undefined;
  /** This peer's dialable addresses: its circuit address through the service, its WebRTC addresses. */
  addresses(): string[];
  /** Resolves once a direct connection to the service is open and a relay slot reserved (or `signal` aborts). */
  ready(options?: { signal?: AbortSignal }): Promise<void>;
  /** Dials the service now instead of waiting for the next retry. */
  reconnect(): void;
  /** Listens on a gossipsub topic (the account's pin status); messages go to `onServiceMessage`. */
  subscribe(topic: string): void;
  /** The blocks in IndexedDB (the page's own handle, no network behind it). */
  readonly localBlocks: IDBBlockstore;
  stop(): Promise<void>;
}

/** The transports the service can be reached on *directly* from a page: WebSockets first (faster), then WebRTC-direct. */
function directAddrs(addresses: string[]): Multiaddr[] {
  const parsed = addresses.flatMap((a) => {
    try {
      return [multiaddr(a)];
    } catch {
      return [];
    }
  });
  const has = (ma: Multiaddr, name: string) => ma.getComponents().some((c) => c.name === name);
  const relayed = (ma: Multiaddr) => has(ma, 'p2p-circuit');
  const ws = parsed.filter((ma) => !relayed(ma) && (has(ma, 'ws') || has(ma, 'wss')));
  const rtc = parsed.filter((ma) => !relayed(ma) && has(ma, 'webrtc-direct') && has(ma, 'certhash'));
  return [...ws, ...rtc];
}

/**
 * Starts the browser's Helia node on the page: blocks in IndexedDB (`blockstore-idb`, the database the
 * import worker fills), its identity and peer store in IndexedDB (`datastore-idb`; Helia loads or creates the
 * key there, so the peer id survives reloads), libp2p over WebSockets, WebRTC-direct, WebRTC, WebTransport and
 * circuit relay. It keeps a direct connection to the service (bitswap does not run over relayed connections)
 * and reserves a slot on the service's relay so the service can dial it back through its circuit address.
 */
export async function createBrowserPeer(init: BrowserPeerInit): Promise<BrowserPeer> {
  const blockstore = new IDBBlockstore(BLOCKSTORE_DB);
  const datastore = new IDBDatastore(DATASTORE_DB);
  await blockstore.open();
  await datastore.open();

  const helia = withBitswap(
    withLibp2pLight(createHeliaLight({ blockstore, datastore }), {
      addresses: {
        // `/p2p-circuit`: reserve a slot on a relay among connected peers (the service); `/webrtc`: accept
        // browser-to-browser WebRTC signalled over that relay.
        listen: ['/p2p-circuit', '/webrtc']
      },
      transports: [
        webSockets(),
        webRTCDirect(),
        webRTC(),
        ...('WebTransport' in globalThis ? [webTransport()] : []),
        circuitRelayTransport()
      ],
      connectionEncrypters: [noise()],
      streamMuxers: [yamux()],
      // Browsers refuse plain ws:// and loopback/private addresses by default; the service runs on localhost
      // in development and tests. Only the service's own addresses are dialled (no discovery is configured).
      connectionGater: { denyDialMultiaddr: () => false },
      services: {
        identify: identify(),
        identifyPush: identifyPush(),
        ping: ping(),
        // StrictSign (the default): messages without a valid signature of their `from` key are rejected.
        pubsub: gossipsub({ allowPublishToZeroTopicPeers: true })
      }
    }),
    { maxInboundStreams: 1024, maxOutboundStreams: 1024 }
  );
  await helia.start();
  const libp2p = helia.libp2p;

  let status: LinkStatus = 'starting';
  let servicePeer: string | undefined;
  let stopped = false;
  let attempt = 0;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let dialing: AbortController | undefined;
  const waiters = new Set<() => void>();
  const currentStatus = (): LinkStatus =>
    status === 'connected' && !connectedDirectly() ? 'connecting' : status;
  const changed = () => {
    if (isReady()) for (const w of waiters) w();
    init.onChange?.(currentStatus());
  };
  const setStatus = (next: LinkStatus) => {
    if (status === next) return;
    status = next;
    changed();
  };

  function connectedDirectly(): boolean {
    if (servicePeer === undefined) return false;
    return libp2p.getConnections().some((c) => c.remotePeer.toString() === servicePeer && c.limits == null);
  }

  function circuitAddrs(): string[] {
    return libp2p
      .getMultiaddrs()
      .map((ma) => ma.toString())
      .filter((a) => a.includes('/p2p-circuit'));
  }

  function isReady(): boolean {
    return connectedDirectly() && circuitAddrs().length > 0;
  }

  async function dial(): Promise<void> {
    if (stopped) return;
    clearTimeout(timer);
    timer = undefined;
    dialing?.abort();
    const controller = new AbortController();
    dialing = controller;
    setStatus('connecting');
    try {
      const signal = AbortSignal.any([controller.signal, AbortSignal.timeout(15_000)]);
      const info = await init.serviceAddrs(signal);
      servicePeer = info.id;
      const addrs = directAddrs(info.addresses);
      if (addrs.length === 0) throw new Error('the service offers no address a browser can dial');
      await libp2p.dial(addrs, { signal });
      attempt = 0;
      setStatus('connected');
    } catch {
      if (controller.signal.aborted || stopped) return;
      setStatus('offline');
      retry();
    } finally {
      if (dialing === controller) dialing = undefined;
    }
  }

  /** Exponential backoff with jitter, capped; `online` events and `reconnect()` cut it short. */
  function retry(): void {
    if (stopped || timer !== undefined) return;
    const delay = Math.min(RECONNECT_MAX_MS, RECONNECT_MIN_MS * 2 ** attempt) * (0.75 + Math.random() * 0.5);
    attempt++;
    timer = setTimeout(() => {
      timer = undefined;
      void dial();
    }, delay);
  }

  libp2p.addEventListener('peer:disconnect', (evt) => {
    if (evt.detail.toString() !== servicePeer || stopped) return;
    setStatus('offline');
    retry();
  });
  libp2p.addEventListener('connection:open', () => changed());
  libp2p.addEventListener('connection:close', () => changed());
  libp2p.addEventListener('self:peer:update', () => changed());
  // A relay reservation made after the connection adds the circuit address without a
  // `self:peer:update` (seen after a reload): the circuit listener's `listening` says so.
  libp2p.addEventListener('transport:listening', () => changed());
  libp2p.addEventListener('transport:close', () => changed());
  const pubsub = libp2p.services.pubsub;
  pubsub.addEventListener('message', (evt) => {
    const msg = evt.detail;
    if (msg.type !== 'signed' || servicePeer === undefined || msg.from.toString() !== servicePeer) return;
    init.onServiceMessage?.(msg.topic, msg.data);
  });
  const onOnline = () => void dial();
  globalThis.addEventListener?.('online', onOnline);

  void dial();

  return {
    peerId: libp2p.peerId,
    get status() {
      return currentStatus();
    },
    get servicePeer() {
      return servicePeer;
    },
    addresses() {
      const me = libp2p.peerId.toString();
      return libp2p
        .getMultiaddrs()
        .map((ma) => ma.toString())
        .filter((a) => a.endsWith(`/p2p/${me}`))
        .sort((a, b) => Number(b.includes('/p2p-circuit/p2p/')) - Number(a.includes('/p2p-circuit/p2p/')));
    },
    ready(options = {}) {
      if (isReady()) return Promise.resolve();
      return new Promise<void>((resolve, reject) => {
        const done = () => {
          waiters.delete(done);
          resolve();
        };
        waiters.add(done);
        options.signal?.addEventListener(
          'abort',
          () => {
            waiters.delete(done);
            reject(options.signal?.reason as Error);
          },
          { once: true }
        );
      });
    },
    reconnect() {
      if (!connectedDirectly()) void dial();
    },
    subscribe(topic) {
      if (!pubsub.getTopics().includes(topic)) pubsub.subscribe(topic);
    },
    localBlocks: blockstore,
    async stop() {
      stopped = true;
      clearTimeout(timer);
      dialing?.abort();
      globalThis.removeEventListener?.('online', onOnline);
      await helia.stop();
      await blockstore.close();
      await datastore.close();
    }
  };
}
