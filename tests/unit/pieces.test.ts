// Piece payloads: a content's CAR streamed from a blockstore, FRC-0058 aggregate layouts whose
// payload has exactly the aggregate's CommP, and byte ranges of both.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CarReader } from '@ipld/car';
import { Piece } from '@web3-storage/data-segment';
import { MemoryBlockstore } from 'blockstore-core/memory';
import { importer } from 'ipfs-unixfs-importer';
import toBuffer from 'it-to-buffer';
import type { CID } from 'multiformats/cid';
import { contentCar } from '../../filecoin/pieces/car.ts';
import { fitAggregate } from '../../filecoin/pieces/aggregate.ts';
import { payloadFromRegions } from '../../filecoin/pieces/payload.ts';
import { readSegmentIndex } from '../../devnet/provider/segments.ts';
import { importProfile } from '../../src/lib/import-profile.ts';
import { deterministicBytes } from '../helpers/bytes.ts';

async function collect(stream: AsyncIterable<Uint8Array>): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  for await (const chunk of stream) parts.push(chunk.slice());
  return Buffer.concat(parts);
}

async function importBytes(bytes: Uint8Array) {
  const blockstore = new MemoryBlockstore();
  let root: CID | undefined;
  for await (const entry of importer([{ content: bytes }], blockstore, importProfile(8))) root = entry.cid;
  const load = async (cid: CID) => toBuffer(blockstore.get(cid));
  return { blockstore, root: root!, load };
}

describe('piece payloads', () => {
  it('streams a content DAG as a CARv1 with every block once, identically each time', async () => {
    const { root, load } = await importBytes(deterministicBytes('car', 5 * 1024 * 1024 + 123));
    const first = await collect(contentCar(root, load));
    const second = await collect(contentCar(root, load, { readAhead: 1 }));
    expect(Buffer.compare(first, second)).toBe(0);
    const reader = await CarReader.fromBytes(first);
    expect((await reader.getRoots()).map(String)).toEqual([root.toString()]);
    const blocks = [];
    for await (const block of reader.blocks()) blocks.push(block);
    expect(blocks[0]!.cid.toString()).toBe(root.toString());
    expect(blocks.length).toBe(7); // 6 leaves of ≤ 1 MiB + the root node
    expect(new Set(blocks.map((b) => b.cid.toString())).size).toBe(blocks.length);
  });

  it('fails the CAR when a block is missing or corrupted', async () => {
    const { root, blockstore, load } = await importBytes(deterministicBytes('corrupt', 3 * 1024 * 1024));
    const leaves: CID[] = [];
    for await (const { cid } of blockstore.getAll()) if (!cid.equals(root)) leaves.push(cid);
    const corrupt = async (cid: CID) => {
      const bytes = await load(cid);
      return cid.equals(leaves[1]!) ? bytes.map((b) => b ^ 1) : bytes;
    };
    await expect(collect(contentCar(root, corrupt))).rejects.toThrow(/do not hash to its CID/);
    const missing = async (cid: CID) => {
      if (cid.equals(leaves[0]!)) throw new Error('not found');
      return load(cid);
    };
    await expect(collect(contentCar(root, missing))).rejects.toThrow(/not found/);
  });

  it('lays out an aggregate whose payload has the aggregate CommP, with inclusion proofs', async () => {
    const cars = [300_000, 5_000, 70_000, 1_000_000].map((n, i) => deterministicBytes(`member-${i}`, n));
    const members = cars.map((car) => ({
      segmentPiece: Piece.fromPayload(car).link,
      payloadSize: car.length
    }));
    const layout = fitAggregate(members, 1024);
    expect(layout.pieceSize).toBe(4 * 1024 * 1024);
    const payload = payloadFromRegions(layout.payloadSize, [
      ...layout.offsets.map((offset, i) => ({
        offset,
        length: cars[i]!.length,
        open: async function* () {
          yield cars[i]!;
        }
      })),
      {
        offset: layout.index.offset,
        length: layout.index.bytes.length,
        open: async function* () {
          yield layout.index.bytes;
        }
      }
    ]);
    const bytes = await collect(payload.read());
    expect(bytes.length).toBe(layout.payloadSize);
    expect(Piece.fromPayload(bytes).toInfo().link.toString()).toBe(layout.pieceCidV1);
    expect(layout.proofs).toHaveLength(4);
    for (const [i, car] of cars.entries()) {
      expect(Buffer.compare(bytes.subarray(layout.offsets[i]!, layout.offsets[i]! + car.length), car)).toBe(
        0
      );
    }
    // A provider finds each member again from the segment index at the end of the piece.
    const dir = await mkdtemp(join(tmpdir(), 'firth-agg-'));
    await writeFile(join(dir, 'payload'), bytes);
    const segments = await readSegmentIndex(join(dir, 'payload'), layout.pieceSize);
    await rm(dir, { recursive: true });
    expect(segments.map((s) => s.start)).toEqual(layout.offsets);
    for (const [i, segment] of segments.entries())
      expect(segment.end - segment.start).toBeGreaterThanOrEqual(cars[i]!.length);
    // Arbitrary ranges are slices of the whole.
    for (const [start, end] of [
      [0, 1],
      [299_999, 300_100],
      [layout.offsets[3]! - 10, layout.offsets[3]! + 10],
      [layout.index.offset - 5, layout.payloadSize + 100]
    ] as const) {
      const part = await collect(payload.read(start, end));
      expect(Buffer.compare(part, bytes.subarray(start, end))).toBe(0);
    }
  });

  it('lays out an aggregate with the same content twice: one segment, shared by both, with the right CommP', async () => {
    const twice = deterministicBytes('dup-member', 40_000);
    const cars = [twice, deterministicBytes('other-member', 70_000), twice];
    const members = cars.map((car) => ({
      segmentPiece: Piece.fromPayload(car).link,
      payloadSize: car.length
    }));
    const layout = fitAggregate(members, 1024);
    // Both copies point at the one segment, with the same proof; the other member sits elsewhere.
    expect(layout.offsets[2]).toBe(layout.offsets[0]);
    expect(layout.proofs[2]).toBe(layout.proofs[0]);
    expect(layout.offsets[1]).not.toBe(layout.offsets[0]);
    // The payload as the deal-data endpoint serves it: each distinct region once, then the index.
    const regions = new Map<number, Uint8Array>();
    for (const [i, offset] of layout.offsets.entries()) regions.set(offset, cars[i]!);
    const payload = payloadFromRegions(layout.payloadSize, [
      ...[...regions.entries()]
        .sort(([a], [b]) => a - b)
        .map(([offset, car]) => ({
          offset,
          length: car.length,
          open: async function* () {
            yield car;
          }
        })),
      {
        offset: layout.index.offset,
        length: layout.index.bytes.length,
        open: async function* () {
          yield layout.index.bytes;
        }
      }
    ]);
    const bytes = await collect(payload.read());
    expect(Piece.fromPayload(bytes).toInfo().link.toString()).toBe(layout.pieceCidV1);
    const dir = await mkdtemp(join(tmpdir(), 'firth-agg-'));
    await writeFile(join(dir, 'payload'), bytes);
    const segments = await readSegmentIndex(join(dir, 'payload'), layout.pieceSize);
    await rm(dir, { recursive: true });
    expect(segments.map((s) => s.start).sort((a, b) => a - b)).toEqual(
      [...new Set(layout.offsets)].sort((a, b) => a - b)
    );
    for (const [i, car] of cars.entries())
      expect(Buffer.compare(bytes.subarray(layout.offsets[i]!, layout.offsets[i]! + car.length), car)).toBe(
        0
      );
  });
});
