// Works around a use-after-free in the WebRTC library under @libp2p/webrtc's WebRTC-direct
// listener (node-datachannel 0.33 / libdatachannel 0.24).
//
// libdatachannel's `impl::IceUdpMuxListener` declares `std::atomic<bool> mStopped;` with no
// initialiser, built as C++17, so the flag starts as whatever the heap held. Mostly it reads as
// "already stopped", and then `stop()` returns without unregistering the listener from libjuice's
// UDP mux: node-datachannel frees the listener anyway, libjuice keeps its pointer, and the next
// STUN binding request for an unknown ICE ufrag — a browser redialling the service while it shuts
// down, or any time after — calls into freed memory (`terminate called after throwing an instance
// of 'std::system_error'`, `what(): Invalid argument`; or a glibc mutex assertion). Seen in 3 of 5
// stops with a browser connected, and on every stop in tests/integration/webrtc-direct-stop.test.ts.
//
// So the native listener must outlive libjuice's mux thread: closing the libp2p listener keeps its
// STUN server (and with it the native listener and its callback) referenced for the rest of the
// process instead of freeing it. Requests that still arrive reach @libp2p/webrtc's handler, which
// refuses them once its listener is closed (its shutdown signal has fired). The UDP port stays
// bound until the process exits, so a peer stopped and started again in one process needs a new
// port (tests use port 0).
import nodeDataChannel from 'node-datachannel';

interface StunServer {
  close(): Promise<void>;
}

/** STUN servers of closed WebRTC-direct listeners: never freed, see above. */
const kept = new Set<StunServer>();

/**
 * Makes closing each of this node's WebRTC-direct listeners keep its native UDP mux listener alive
 * (see above). Call once the node listens. Returns how many listeners it found.
 */
export function keepUdpMuxListenersAlive(libp2p: unknown): number {
  const transports = (libp2p as { components?: { transportManager?: { getListeners(): unknown[] } } })
    .components?.transportManager;
  let found = 0;
  for (const listener of transports?.getListeners() ?? []) {
    // WebRTCDirectListener keeps the server its close() stops as `stunServer` (private in its types).
    const server = (listener as { stunServer?: StunServer }).stunServer;
    if (server == null) continue;
    server.close = async () => {
      kept.add(server);
    };
    found++;
  }
  return found;
}

/**
 * Frees the WebRTC library's native threads and sockets before the process exits (peer
 * connections and data channels; not the UDP mux listeners, kept as above). Process-wide, so only
 * for a process that is about to exit.
 */
export function releaseNativeTransports(): void {
  nodeDataChannel.cleanup();
}
