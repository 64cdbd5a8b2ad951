import { createCipheriv } from 'node:crypto';
import { Piece } from '@web3-storage/data-segment';
import * as WasmHasher from 'fr32-sha2-256-trunc254-padded-binary-tree-multihash';
import { CID } from 'multiformats/cid';
import * as Digest from 'multiformats/hashes/digest';
import { beforeEach, describe, expect, it } from 'vitest';
import { commpWorkerCount } from '../../filecoin/commp/commp.ts';
import {
  AbortError,
  commp,
  createCommpHasher,
  padPieceCid,
  pieceGeometry,
  zeroCommitment,
  type PieceInfo
} from '../../filecoin/commp/index.ts';
import { pieceCidV1 } from '../../filecoin/commp/piece.ts';

const SUBTREE = 127 << 16; // payload bytes per worker task

/** Deterministic pseudo-random bytes (chacha20 keyed by `seed`). */
function bytes(len: number, seed = 1): Uint8Array {
  const cipher = createCipheriv('chacha20', Buffer.alloc(32, seed), Buffer.alloc(16));
  return new Uint8Array(cipher.update(Buffer.alloc(len)));
}

function fill(len: number, byte: number): Uint8Array {
  return new Uint8Array(len).fill(byte);
}

function concat(...parts: Uint8Array[]): Uint8Array {
  return new Uint8Array(Buffer.concat(parts));
}

/** data-segment's answer: the reference (correct, slow: 6 MB/s). */
function reference(payload: Uint8Array): { v1: string; v2: string; size: number } {
  const piece = Piece.fromPayload(payload);
  return { v1: piece.toInfo().link.toString(), v2: piece.link.toString(), size: Number(piece.size) };
}

/** The Rust→WASM package's answer (v2 only): an independent implementation at 28 MB/s. */
function wasmReference(payload: Uint8Array): string {
  const hasher = WasmHasher.create();
  hasher.write(payload);
  const out = new Uint8Array(hasher.multihashByteLength());
  hasher.digestInto(out, 0, true);
  hasher.free();
  return CID.createV1(0x55, Digest.decode(out)).toString();
}

function summary(info: PieceInfo): { v1: string; v2: string; size: number } {
  return { v1: info.pieceCid.toString(), v2: info.pieceCidV2.toString(), size: info.pieceSize };
}

async function* chunked(payload: Uint8Array, sizes: () => number): AsyncGenerator<Uint8Array> {
  for (let off = 0; off < payload.length;) {
    const n = sizes();
    yield payload.subarray(off, off + n);
    off += n;
  }
}

/** A small deterministic PRNG for chunk sizes. */
function rng(seed: number): () => number {
  let x = seed;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 2 ** 32;
  };
}

describe('commp: reference vectors (filecoin.md §7.2)', () => {
  const quarters = concat(fill(127, 0), fill(127, 1), fill(127, 2), fill(127, 3));
  const rows: Array<{ name: string; payload: Uint8Array; size: number; v1?: string; v2?: string }> = [
    {
      name: '#1 127 zero bytes',
      payload: fill(127, 0),
      size: 128,
      v1: 'baga6ea4seaqdomn3tgwgrh3g532zopskstnbrd2n3sxfqbze7rxt7vqn7veigmy',
      v2: 'bafkzcibcaabdomn3tgwgrh3g532zopskstnbrd2n3sxfqbze7rxt7vqn7veigmy'
    },
    {
      name: '#1 96 zero bytes',
      payload: fill(96, 0),
      size: 128,
      v1: 'baga6ea4seaqdomn3tgwgrh3g532zopskstnbrd2n3sxfqbze7rxt7vqn7veigmy'
    },
    {
      name: '#1 126 zero bytes',
      payload: fill(126, 0),
      size: 128,
      v1: 'baga6ea4seaqdomn3tgwgrh3g532zopskstnbrd2n3sxfqbze7rxt7vqn7veigmy'
    },
    {
      name: '#2 254 zero bytes',
      payload: fill(254, 0),
      size: 256,
      v1: 'baga6ea4seaqgiktap34inmaex4wbs6cghlq5i2j2yd2bb2zndn5ep7ralzphkdy',
      v2: 'bafkzcibcaabwiktap34inmaex4wbs6cghlq5i2j2yd2bb2zndn5ep7ralzphkdy'
    },
    {
      name: '#3 1017 zero bytes',
      payload: fill(1017, 0),
      size: 2048,
      v1: 'baga6ea4seaqpy7usqklokfx2vxuynmupslkeutzexe2uqurdg5vhtebhxqmpqmy'
    },
    {
      name: '#3 2032 zero bytes',
      payload: fill(2032, 0),
      size: 2048,
      v1: 'baga6ea4seaqpy7usqklokfx2vxuynmupslkeutzexe2uqurdg5vhtebhxqmpqmy'
    },
    {
      name: '#3 1024 zero bytes',
      payload: fill(1024, 0),
      size: 2048,
      v1: 'baga6ea4seaqpy7usqklokfx2vxuynmupslkeutzexe2uqurdg5vhtebhxqmpqmy',
      v2: 'bafkzcibd6adqn7d6skbjnziw7kw6tbvsr6jnisspes4tkscsem3wu6mqe66br6bt'
    },
    {
      name: '#4 127 bytes of 0xCC',
      payload: fill(127, 0xcc),
      size: 128,
      v1: 'baga6ea4seaqmfldjtozgne6adk7eve2vdxte7vzlivae7nzsbrawobo546zkijq',
      v2: 'bafkzcibcaabmfldjtozgne6adk7eve2vdxte7vzlivae7nzsbrawobo546zkijq'
    },
    {
      name: '#5 1016 bytes of 0xCC',
      payload: fill(1016, 0xcc),
      size: 1024,
      v1: 'baga6ea4seaqjxgfdkdu37aryhg7bqqiwizj5f6ugasftgeocabwnj4cxkgisaoq',
      v2: 'bafkzcibcaaczxgfdkdu37aryhg7bqqiwizj5f6ugasftgeocabwnj4cxkgisaoq'
    },
    {
      name: '#9 127×{0,1,2,3}',
      payload: quarters,
      size: 512,
      v1: 'baga6ea4seaqes3nobte6ezpp4wqan2age2s5yxcatzotcvobhgcmv5wi2xh5mbi',
      v2: 'bafkzcibcaaces3nobte6ezpp4wqan2age2s5yxcatzotcvobhgcmv5wi2xh5mbi'
    },
    {
      name: '#10 empty payload',
      payload: new Uint8Array(0),
      size: 128,
      v2: 'bafkzcibcp4bdomn3tgwgrh3g532zopskstnbrd2n3sxfqbze7rxt7vqn7veigmy'
    },
    {
      name: '#11 128 zero bytes',
      payload: fill(128, 0),
      size: 256,
      v2: 'bafkzcibcpybwiktap34inmaex4wbs6cghlq5i2j2yd2bb2zndn5ep7ralzphkdy'
    },
    {
      name: '#12 127×{0,1,2,3} + 4 zeros',
      payload: concat(quarters, fill(4, 0)),
      size: 1024,
      v1: 'baga6ea4seaqn42av3szurbbscwuu3zjssvfwbpsvbjf6y3tukvlgl2nf5rha6pa',
      v2: 'bafkzcibd7abqlxticxolgseegik2stpfgkkuwyf6kufex3doorkvmzpjuxwe4dz4'
    },
    {
      name: '#12 127×{0,1,2,3} + 5 zeros',
      payload: concat(quarters, fill(5, 0)),
      size: 1024,
      v1: 'baga6ea4seaqn42av3szurbbscwuu3zjssvfwbpsvbjf6y3tukvlgl2nf5rha6pa',
      v2: 'bafkzcibd64bqlxticxolgseegik2stpfgkkuwyf6kufex3doorkvmzpjuxwe4dz4'
    }
  ];
  // #6–#8 need go-data-segment's cat.png.car and friends, which are not in this repository.
  for (const row of rows) {
    it(row.name, async () => {
      const info = await commp(row.payload);
      expect(info.pieceSize).toBe(row.size);
      expect(info.payloadSize).toBe(row.payload.length);
      if (row.v1 != null) expect(info.pieceCid.toString()).toBe(row.v1);
      if (row.v2 != null) expect(info.pieceCidV2.toString()).toBe(row.v2);
    });
  }

  it('zero commitments match the listed constants', () => {
    const zeros: Array<[number, string]> = [
      [6, 'baga6ea4seaqpy7usqklokfx2vxuynmupslkeutzexe2uqurdg5vhtebhxqmpqmy'], // 2 KiB
      [7, 'baga6ea4seaqarrd3hdxbhpcd6qnzcxao5wmrditaq2z62ysadp45lc4ndhp7mja'], // 4 KiB
      [8, 'baga6ea4seaqlfzd37mi7vtmud5rk6xdvb47kltcn6ul5lrhrnwzljv33v3a2gly'], // 8 KiB
      [15, 'baga6ea4seaqntgehxfzvoouw4ejzgzcsg3axwh2moa2noi6hvgpxbg5u3jqrmky'], // 1 MiB
      [30, 'baga6ea4seaqao7s73y24kcutaosvacpdjgfe5pw76ooefnyqw4ynr3d2y6x2mpq'], // 32 GiB
      [31, 'baga6ea4seaqomqafu276g53zko4k23xzh4h4uecjwicbmvhsuqi7o4bhthhm4aq'] // 64 GiB
    ];
    for (const [level, cid] of zeros) expect(pieceCidV1(zeroCommitment(level)).toString()).toBe(cid);
    expect(zeroCommitment(0)).toEqual(new Uint8Array(32));
  });

  it('padPieceCid: 0xCC×127 padded 128 → 2048, equal to CommP of the zero-extended payload', async () => {
    const small = await commp(fill(127, 0xcc));
    const padded = padPieceCid(small.pieceCid, 128, 2048);
    expect(padded.toString()).toBe('baga6ea4seaqlw6sacpwepbicypu2mj52s74b7steia4igv2bze6wdrbfsjnl4nq');
    const extended = await commp(concat(fill(127, 0xcc), fill(2032 - 127, 0)));
    expect(padded.toString()).toBe(extended.pieceCid.toString());
    expect(padPieceCid(small.pieceCid, 128, 128).toString()).toBe(small.pieceCid.toString());
    expect(() => padPieceCid(small.pieceCid, 2048, 128)).toThrow(/cannot pad/);
    expect(() => padPieceCid(small.pieceCid, 128, 1000)).toThrow(/power of two/);
    expect(() => padPieceCid(small.pieceCidV2, 128, 256)).toThrow(/v1 piece CID/);
  });

  it('piece geometry', () => {
    expect(pieceGeometry(0)).toEqual({ quads: 1, pieceSize: 128, height: 2, padding: 127 });
    expect(pieceGeometry(128)).toEqual({ quads: 2, pieceSize: 256, height: 3, padding: 126 });
    expect(pieceGeometry(32 * 2 ** 30 * (127 / 128)).pieceSize).toBe(32 * 2 ** 30);
  });
});

describe('commp: equal to @web3-storage/data-segment', () => {
  it('every size 0…200 bytes', async () => {
    for (let len = 0; len <= 200; len++) {
      const payload = bytes(len, len % 251);
      expect(summary(await commp(payload)), `len ${len}`).toEqual(reference(payload));
    }
  });

  it('around 127·2^k boundaries (k ≤ 14), inline', async () => {
    for (let k = 0; k <= 14; k++) {
      for (const d of [-1, 0, 1]) {
        const payload = bytes(127 * 2 ** k + d, k + 3);
        expect(summary(await commp(payload, { workers: 0 })), `127·2^${k}${d}`).toEqual(reference(payload));
      }
    }
  });

  it('a few MiB, whole and in random chunk sizes', async () => {
    const payload = bytes(3 * 2 ** 20 + 12345, 9);
    const expected = reference(payload);
    expect(summary(await commp(payload))).toEqual(expected);
    const next = rng(42);
    const info = await commp(
      chunked(payload, () => 1 + Math.floor(next() * 300_000)),
      { workers: 2 }
    );
    expect(summary(info)).toEqual(expected);
    const tiny = payload.subarray(0, 40_000);
    expect(summary(await commp(chunked(tiny, () => 1 + Math.floor(next() * 300))))).toEqual(reference(tiny));
  });

  it('one subtree and one byte more, with workers and without', async () => {
    for (const len of [SUBTREE, SUBTREE + 1]) {
      const payload = bytes(len, 5);
      const expected = wasmReference(payload);
      expect((await commp(payload, { workers: 2 })).pieceCidV2.toString()).toBe(expected);
      expect((await commp(payload, { workers: 0 })).pieceCidV2.toString()).toBe(expected);
    }
  });

  // data-segment takes ~10 s on 65 MiB, so this one is checked against the Rust→WASM package,
  // which the bench (`npm run bench -- commp`) checks against data-segment on 128 MiB.
  it('~65 MiB over several subtrees and workers, random chunks, against the WASM package', async () => {
    const payload = bytes(65 * 2 ** 20 + 777, 11);
    const expected = wasmReference(payload);
    const events: number[] = [];
    const next = rng(7);
    const info = await commp(
      chunked(payload, () => 1 + Math.floor(next() * 3 * 2 ** 20)),
      { workers: 2, onProgress: (evt) => events.push(evt.bytes) }
    );
    expect(info.pieceCidV2.toString()).toBe(expected);
    expect(info.pieceSize).toBe(128 * 2 ** 20);
    expect(info.payloadSize).toBe(payload.length);
    expect(events.length).toBe(Math.ceil(payload.length / SUBTREE));
    expect(events.at(-1)).toBe(payload.length);
    expect(summary(await commp(payload, { workers: 1 }))).toEqual(summary(info));
  });
});

describe('commp: lifecycle', () => {
  async function workersGone(): Promise<void> {
    for (let i = 0; i < 200 && commpWorkerCount() > 0; i++) await new Promise((r) => setTimeout(r, 10));
    expect(commpWorkerCount()).toBe(0);
  }
  // Workers of earlier tests exit asynchronously after their digest().
  beforeEach(workersGone);

  it('abort() stops the workers and rejects later calls', async () => {
    const hasher = createCommpHasher({ workers: 2 });
    const chunk = bytes(2 ** 20, 3);
    for (let i = 0; i < 20; i++) await hasher.write(chunk);
    expect(commpWorkerCount()).toBe(2);
    hasher.abort();
    await expect(hasher.write(chunk)).rejects.toBeInstanceOf(AbortError);
    await expect(hasher.digest()).rejects.toBeInstanceOf(AbortError);
    await workersGone();
  });

  it('an AbortSignal stops commp() mid-stream', async () => {
    const controller = new AbortController();
    const chunk = bytes(2 ** 20, 4);
    async function* source(): AsyncGenerator<Uint8Array> {
      for (let i = 0; i < 1000; i++) {
        if (i === 30) controller.abort();
        yield chunk;
      }
    }
    await expect(commp(source(), { workers: 2, signal: controller.signal })).rejects.toBeInstanceOf(
      AbortError
    );
    await workersGone();
  });

  it('digest() finishes the hasher and frees its workers', async () => {
    const hasher = createCommpHasher({ workers: 2 });
    await hasher.write(bytes(SUBTREE + 5, 6));
    const info = await hasher.digest();
    expect(info.payloadSize).toBe(SUBTREE + 5);
    await workersGone();
    await expect(hasher.write(new Uint8Array(1))).rejects.toThrow(/finished/);
  });

  it('small payloads start no worker thread', async () => {
    const hasher = createCommpHasher({ workers: 2 });
    await hasher.write(bytes(SUBTREE - 1, 8));
    expect(commpWorkerCount()).toBe(0);
    await hasher.digest();
  });
});
