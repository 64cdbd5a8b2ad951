// The provider's libp2p host: TCP + WebSockets, noise, yamux, identify, and bitswap (via Helia)
// over a read-only blockstore view of the CARs the provider holds. The Boost protocols are
// registered on the same host by index.ts.
import { noise } from '@chainsafe/libp2p-noise';
import { yamux } from '@chainsafe/libp2p-yamux';
import { withBitswap } from '@helia/bitswap';
import { withLibp2pLight } from '@helia/libp2p';
import { identify } from '@libp2p/identify';
import type { PrivateKey } from '@libp2p/interface';
import { tcp } from '@libp2p/tcp';
import { webSockets } from '@libp2p/websockets';
import { createHeliaLight } from 'helia';
import type { Blockstore, InputPair, Pair } from 'interface-blockstore';
import type { CID } from 'multiformats/cid';
import type { CarIndex } from './car-index.ts';

export interface BlockFaults {
  refuse: boolean;
  corrupt: boolean;
}

class ReadOnlyError extends Error {
  constructor() {
    super('the provider blockstore is read-only');
    this.name = 'ReadOnlyError';
  }
}

class NotFoundError extends Error {
  constructor(cid: CID) {
    super(`block ${cid} not found`);
    this.name = 'NotFoundError';
  }
}

/** Blocks of the provider's CARs; refuse hides them, corrupt flips the first byte of each. */
export function carBlockstore(index: CarIndex, faults: () => BlockFaults): Blockstore {
  async function* read(cid: CID): AsyncGenerator<Uint8Array> {
    const f = faults();
    const bytes = f.refuse ? undefined : await index.read(cid);
    if (bytes == null) throw new NotFoundError(cid);
    if (f.corrupt && bytes.length > 0) bytes[0]! ^= 0xff;
    yield bytes;
  }
  const store = {
    has: async (cid: CID) => !faults().refuse && index.has(cid),
    get: (cid: CID) => read(cid),
    async *getMany(source: AsyncIterable<CID> | Iterable<CID>): AsyncGenerator<Pair> {
      for await (const cid of source) yield { cid, bytes: read(cid) };
    },
    // eslint-disable-next-line require-yield
    async *getAll(): AsyncGenerator<Pair> {
      throw new ReadOnlyError();
    },
    put: async (_cid: CID, _bytes: unknown) => {
      throw new ReadOnlyError();
    },
    // eslint-disable-next-line require-yield
    async *putMany(_source: AsyncIterable<InputPair> | Iterable<InputPair>): AsyncGenerator<CID> {
      throw new ReadOnlyError();
    },
    delete: async (_cid: CID) => {
      throw new ReadOnlyError();
    },
    // eslint-disable-next-line require-yield
    async *deleteMany(_source: AsyncIterable<CID> | Iterable<CID>): AsyncGenerator<CID> {
      throw new ReadOnlyError();
    }
  };
  return store as unknown as Blockstore;
}

export async function startHost(init: { privateKey: PrivateKey; host: string; blockstore: Blockstore }) {
  const ip = init.host.includes(':') ? 'ip6' : 'ip4';
  const helia = withBitswap(
    withLibp2pLight(createHeliaLight({ blockstore: init.blockstore }), {
      privateKey: init.privateKey,
      addresses: { listen: [`/${ip}/${init.host}/tcp/0`, `/${ip}/${init.host}/tcp/0/ws`] },
      transports: [tcp(), webSockets()],
      connectionEncrypters: [noise()],
      streamMuxers: [yamux()],
      // The devnet lives on loopback.
      connectionGater: { denyDialMultiaddr: () => false },
      services: { identify: identify() }
    })
  );
  await helia.start();
  return helia;
}
