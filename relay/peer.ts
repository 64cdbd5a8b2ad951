import path from 'node:path';
import { noise } from '@chainsafe/libp2p-noise';
import { yamux } from '@chainsafe/libp2p-yamux';
import { withBitswap } from '@helia/bitswap';
import { withLibp2pLight } from '@helia/libp2p';
import { circuitRelayServer, circuitRelayTransport } from '@libp2p/circuit-relay-v2';
import { gossipsub } from '@libp2p/gossipsub';
import { identify } from '@libp2p/identify';
import { ping } from '@libp2p/ping';
import { tcp } from '@libp2p/tcp';
import { webRTCDirect } from '@libp2p/webrtc';
import { webSockets } from '@libp2p/websockets';
import * as dagCbor from '@ipld/dag-cbor';
import * as dagJson from '@ipld/dag-json';
import { FsDatastore } from 'datastore-fs';
import { createHeliaLight } from 'helia';
import type { Blockstore } from 'interface-blockstore';
import * as json from 'multiformats/codecs/json';
import { CID } from 'multiformats/cid';
import { sha512 } from 'multiformats/hashes/sha2';
import { loadOrCreatePeerKey } from './identity.ts';
import { keepUdpMuxListenersAlive } from './webrtc-native.ts';

export { releaseNativeTransports } from './webrtc-native.ts';

export interface PeerInit {
  dataDir: string;
  /** The service's one blockstore; Helia serves and fills it over bitswap. */
  blockstore: Blockstore;
  /** Interface to listen on. @default '127.0.0.1' */
  host: string;
  /** TCP port; WebSockets listen on port+1, WebRTC-direct on UDP port. 0 = free ports. */
  port: number;
  /** Addresses to announce instead of the listen addresses. */
  announce?: string[];
}

export type FirthPeer = Awaited<ReturnType<typeof createPeer>>;

/**
 * The service's libp2p host and Helia node: TCP, WebSockets and WebRTC-direct (what browsers can
 * dial), noise, yamux, identify, ping, a circuit relay v2 server (so browser peers can be reached),
 * gossipsub, and bitswap over the on-disk blockstore. Only bitswap fetches blocks: no public HTTP
 * gateways or delegated routers are consulted.
 */
export async function createPeer(init: PeerInit) {
  const privateKey = await loadOrCreatePeerKey(path.join(init.dataDir, 'peer.key'));
  const datastore = new FsDatastore(path.join(init.dataDir, 'datastore'));
  await datastore.open();

  const ip = init.host.includes(':') ? 'ip6' : 'ip4';
  const p = init.port;
  const listen = [
    `/${ip}/${init.host}/tcp/${p}`,
    `/${ip}/${init.host}/tcp/${p === 0 ? 0 : p + 1}/ws`,
    `/${ip}/${init.host}/udp/${p}/webrtc-direct`
  ];

  const helia = withBitswap(
    withLibp2pLight(
      createHeliaLight({
        blockstore: init.blockstore,
        datastore,
        codecs: [dagCbor, dagJson, json],
        hashers: [sha512]
      }),
      {
        privateKey,
        addresses: { listen, announce: init.announce ?? [] },
        transports: [tcp(), webSockets(), webRTCDirect(), circuitRelayTransport()],
        connectionEncrypters: [noise()],
        // A stream's unread bytes may reach 32 MiB (default 4 MiB): libp2p reads a new bitswap stream
        // only after a peer-store write, and a browser peer answers our wants with one message of
        // all the blocks (up to the pinner's 24 MiB want window); past the limit the stream is
        // dropped and the blocks never come (server/pinning/pinner.ts `WantWindow`).
        streamMuxers: [yamux({ streamOptions: { maxReadBufferLength: 32 * 1024 * 1024 } })],
        // Loopback and private addresses are where tests and LAN peers live.
        connectionGater: { denyDialMultiaddr: () => false },
        services: {
          identify: identify(),
          ping: ping(),
          relay: circuitRelayServer({ reservations: { maxReservations: 1024 } }),
          pubsub: gossipsub({ allowPublishToZeroTopicPeers: true })
        }
      }
    ),
    { maxInboundStreams: 1024, maxOutboundStreams: 1024 }
  );
  await helia.start();
  // Stopping the WebRTC-direct listener would leave the native library a dangling pointer.
  if (keepUdpMuxListenersAlive(helia.libp2p) === 0) {
    await helia.stop();
    throw new Error('@libp2p/webrtc internals not found: the WebRTC-direct listener cannot be kept alive');
  }
  return helia;
}

export interface BitswapTraffic {
  /** A block arrived from `peer` (wanted or not): its CID and size. */
  received(peer: string, cid: import('multiformats/cid').CID, bytes: number): void;
  /** A message carrying `blocks` blocks of `bytes` in total was sent to `peer`. */
  sent(peer: string, bytes: number, blocks: number): void;
}

interface BitswapInternals {
  wantList: EventTarget;
  network: EventTarget & {
    sendMessage(
      peer: { toString(): string },
      message: { blocks: Map<string, { data: Uint8Array }> },
      options?: unknown
    ): Promise<void>;
  };
  notify(cid: CID): Promise<void>;
}

/** The bitswap instance inside Helia's block broker (private in @helia/bitswap's types). */
function bitswapOf(helia: FirthPeer): BitswapInternals | undefined {
  const brokers = (
    helia as unknown as { blockBrokers?: Array<{ name?: string; bitswap?: BitswapInternals }> }
  ).blockBrokers;
  const bitswap = brokers?.find((b) => b.name === 'bitswap')?.bitswap;
  if (
    bitswap?.wantList == null ||
    typeof bitswap.network?.sendMessage !== 'function' ||
    typeof bitswap.network.addEventListener !== 'function' ||
    typeof bitswap.notify !== 'function'
  )
    return undefined;
  return bitswap;
}

/**
 * Calls `listener` with the blocks each incoming bitswap message wants (cancels left out), so the
 * service can fetch what it no longer holds (Case B retrieval). Returns false when the bitswap
 * internals are not where this expects.
 */
export function onBitswapWants(helia: FirthPeer, listener: (peer: string, wants: CID[]) => void): boolean {
  const bitswap = bitswapOf(helia);
  if (bitswap == null) return false;
  bitswap.network.addEventListener('bitswap:message', (evt) => {
    const { peer, message } = (evt as CustomEvent).detail as {
      peer: { toString(): string };
      message: { wantlist?: { entries?: Array<{ cid: Uint8Array; cancel?: boolean }> } };
    };
    const wants: CID[] = [];
    for (const entry of message.wantlist?.entries ?? []) {
      if (entry.cancel === true) continue;
      try {
        wants.push(CID.decode(entry.cid));
      } catch {
        // a malformed CID: bitswap itself ignores it too
      }
    }
    if (wants.length > 0) listener(peer.toString(), wants);
  });
  return true;
}

/**
 * A function that tells bitswap a block was stored behind its back (peers that want it get it
 * now); undefined when the bitswap internals are not where this expects.
 */
export function bitswapNotifier(helia: FirthPeer): ((cid: CID) => void) | undefined {
  const bitswap = bitswapOf(helia);
  if (bitswap == null) return undefined;
  return (cid) => void bitswap.notify(cid).catch(() => undefined);
}

/**
 * Metering hook: reports bitswap blocks in and out per peer. @helia/bitswap keeps its broker
 * private and its libp2p metrics carry no peer, so this reaches the broker Helia holds and listens
 * to its want list ('block' events) and wraps its network's sendMessage. Returns false when the
 * bitswap internals are not where this expects (a changed @helia/bitswap): metering is then off.
 */
export function onBitswapTraffic(helia: FirthPeer, traffic: BitswapTraffic): boolean {
  const bitswap = bitswapOf(helia);
  if (bitswap == null) return false;
  bitswap.wantList.addEventListener('block', (evt) => {
    const { sender, cid, block } = (evt as CustomEvent).detail as {
      sender: { toString(): string };
      cid: import('multiformats/cid').CID;
      block: Uint8Array;
    };
    traffic.received(sender.toString(), cid, block.byteLength);
  });
  const network = bitswap.network;
  const send = network.sendMessage.bind(network);
  network.sendMessage = async (peer, message, options) => {
    let bytes = 0;
    for (const b of message.blocks.values()) bytes += b.data.byteLength;
    const blocks = message.blocks.size;
    await send(peer, message, options);
    if (blocks > 0) traffic.sent(peer.toString(), bytes, blocks);
  };
  return true;
}
