import { createHash } from 'node:crypto';
import http from 'node:http';
import * as dagPb from '@ipld/dag-pb';
import { MemoryBlockstore } from 'blockstore-core';
import { UnixFS } from 'ipfs-unixfs';
import { exporter } from 'ipfs-unixfs-exporter';
import { CID } from 'multiformats/cid';
import * as raw from 'multiformats/codecs/raw';
import { identity } from 'multiformats/hashes/identity';
import { sha256 } from 'multiformats/hashes/sha2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { overlappingChildren, resolveRange } from '../../gateway/public/car/entity-bytes.ts';
import { deterministicBytes } from '../helpers/bytes.ts';
import { registerUser, startTestService, type TestService } from '../helpers/service.ts';
import {
  hamtRoute,
  hamtShards,
  loadFixture,
  parseCar,
  type FixtureBlocks,
  type ParsedCar
} from './helpers/car-fixtures.ts';

const IMMUTABLE = 'public, max-age=29030400, immutable';
const CAR_TYPE = /^application\/vnd\.ipld\.car; version=1; order=dfs; dups=[yn]$/;

// gateway-raw-block.car
const RB_ROOT = 'bafybeie72edlprgtlwwctzljf6gkn2wnlrddqjbkxo3jomh4n7omwblxly';
const RB_DIR = 'bafybeifaqksygmsbnqe76kwvxoqxtkzcwssq5jkhuo65ldtqiunr3bxlra';
const RB_ASCII = 'bafkreihhpc5y2pqvl5rbe5uuyhqjouybfs3rvlmisccgzue2kkt5zq6upq';
// gateway-cache/fixtures.car (gateway.md §6.2)
const R1 = 'bafybeib3ffl2teiqdncv3mkz4r23b5ctrwkzrrhctdbne6iboayxuxk5ui';
const R2 = 'bafybeih2w7hjocxjg6g2ku25hvmd53zj7og4txpby3vsusfefw5rrg5sii';
const R3 = 'bafybeiawdvhmjcz65x5egzx4iukxc72hg4woks6v6fvgyupiyt3oczk5ja';
const R4 = 'bafybeifq2rzpqnqrsdupncmkmhs3ckxxjhuvdcbvydkgvch3ms24k5lo7q';
// trustless_gateway_car/subdir-with-two-single-block-files.car
const TWO = 'bafybeietjm63oynimmv5yyqay33nui4y4wx6u3peezwetxgiwvfmelutzu';
const TWO_SUB = 'bafybeiggghzz6dlue3m6nb2dttnbrygxh3lrjl5764f2m4gq7dgzdt55o4';
// shared by several trustless fixtures (gateway.md §8)
const ASCII = 'bafkreifkam6ns4aoolg3wedr4uzrs3kvq66p4pecirz6y2vlrngla62mxm';
const HELLO = 'bafkreifjjcie6lypi6ny7amxnfftagclbuxndqonfipmb64f2km2devei4';
const MB = 'bafybeigcisqd7m5nf3qmuvjdbakl5bdnh4ocrmacaqkpuh77qjvggmt2sa';
const LEAVES = [
  'bafkreie5noke3mb7hqxukzcy73nl23k6lxszxi5w3dtmuwz62wnvkpsscm',
  'bafkreih4ephajybraj6wnxsbwjwa77fukurtpl7oj7t7pfq545duhot7cq',
  'bafkreigu7buvm3cfunb35766dn7tmqyh2um62zcio63en2btvxuybgcpue',
  'bafkreicll3huefkc3qnrzeony7zcfo7cr3nbx64hnxrqzsixpceg332fhe',
  'bafkreifst3pqztuvj57lycamoi7z34b4emf7gawxs74nwrc2c7jncmpaqm'
];
// subdir-with-mixed-block-files.car
const C = 'bafybeidh6k2vzukelqtrjsmd4p52cpmltd2ufqrdtdg6yigi73in672fwu';
const CSUB = 'bafybeicnmple4ehlz3ostv2sbojz3zhh5q7tz5r2qkfdpqfilgggeen7xm';
// single-layer-hamt-with-multi-block-files.car
const HAMT_CAR = 'trustless_gateway_car/single-layer-hamt-with-multi-block-files.car';
const HAMT = 'bafybeidbclfqleg2uojchspzd4bob56dqetqjsj27gy2cq3klkkgxtpn4i';
// dir-with-dag-cbor-with-links.car
const CBOR_DIR = 'bafybeia264q44a3kmfc2otctzu4egp2k235o3t7mslz2yjraymp4nv6asi';
const CBOR_DOC = 'bafyreidy4q6mmetut5jzc54ambsfnatbyoujmwbfzyyolqw24majazwgha';
// dir-with-duplicate-files.car (= path_gateway_unixfs/dir-with-files.car; ascii.txt twice)
const DUPS = 'bafybeihchr7vmgjaasntayyatmp5sv6xza57iy2h4xj7g46bpjij6yhrmy';
// file-3k-and-3-blocks-missing-block.car: 3 × 1024-byte dag-pb leaves, the middle one absent
const D = 'QmYhmPjhFjYFyaoiuNzYv8WGavpSRDwdHWe5B4M5du5Rtk';
const D_FIRST = 'QmPKt7ptM2ZYSGPUc8PmPT2VBkLDK3iqpG9TBJY7PCE9rF';
const D_LAST = 'QmWXY482zQdwecnfBsj78poUUuPXvyw2JAFAEMw4tzTavV';
// path_gateway_unixfs/symlink.car
const SYMLINK_DIR = 'QmWvY6FaqFMS89YAQ9NAPjVP4WZKA1qbHbicc9HeSKQTgt';
// Never loaded (gateway.md §8).
const MISSING = 'QmYzfKSE55XCjD1MW128RfciAf2DViABhEiXfgVFMabSjN';
// Identity CIDs: the empty probe, and "hello i am inlined cid\n" (conf TestTrustlessCarOrderAndDuplicates).
const EMPTY_ID = 'bafkqaaa';
const HELLO_ID = 'bafkqaf3imvwgy3zaneqgc3janfxgy2lomvscay3jmqfa';

describe('trustless gateway: raw blocks and CAR', () => {
  let svc: TestService;
  let gw: string;
  const fx: Record<string, FixtureBlocks> = {};
  const block = (cid: string): Uint8Array => {
    for (const f of Object.values(fx)) {
      const b = f.blocks.get(cid);
      if (b != null) return b;
    }
    throw new Error(`no fixture block ${cid}`);
  };

  const get = (path: string, headers: Record<string, string> = {}, method = 'GET') =>
    fetch(`${gw}${path}`, { headers, method });

  async function expectCar(res: Response): Promise<ParsedCar> {
    expect(res.status).toBe(200);
    // conf tooling/helpers/car.go: the header checks every CAR response gets.
    expect(res.headers.get('content-type')).toMatch(CAR_TYPE);
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    expect(res.headers.get('accept-ranges')).toBe('none');
    expect(res.headers.get('content-disposition')).toMatch(/^attachment; filename=".+\.car"$/);
    expect(res.headers.get('etag')).toMatch(/^W\/".+"$/);
    expect(res.headers.get('cache-control')).toBe(IMMUTABLE);
    const car = await parseCar(new Uint8Array(await res.arrayBuffer()));
    expect(car.version).toBe(1);
    return car;
  }

  /** conf StandardCARTestTransforms: each CAR check runs as `?format=car` and as `Accept`. */
  async function carBoth(path: string, query: Record<string, string> = {}): Promise<string[]> {
    const q = new URLSearchParams(query).toString();
    const viaFormat = await expectCar(
      await get(`${path}?${new URLSearchParams({ format: 'car', ...query }).toString()}`)
    );
    const viaAccept = await expectCar(
      await get(`${path}${q === '' ? '' : '?' + q}`, { accept: 'application/vnd.ipld.car' })
    );
    expect(viaAccept.cids).toEqual(viaFormat.cids);
    return viaFormat.cids;
  }

  beforeAll(async () => {
    svc = await startTestService();
    gw = svc.gatewayUrl;
    for (const f of [
      'gateway-raw-block.car',
      'gateway-cache/fixtures.car',
      'path_gateway_unixfs/dir-with-files.car',
      'path_gateway_unixfs/symlink.car',
      'trustless_gateway_car/subdir-with-two-single-block-files.car',
      'trustless_gateway_car/subdir-with-mixed-block-files.car',
      HAMT_CAR,
      'trustless_gateway_car/dir-with-dag-cbor-with-links.car',
      'trustless_gateway_car/dir-with-duplicate-files.car',
      'trustless_gateway_car/file-3k-and-3-blocks-missing-block.car',
      'path_gateway_dag/dag-json-traversal.car',
      'path_gateway_dag/dag-cbor-traversal.car'
    ]) {
      fx[f] = await loadFixture(svc.node.blockstore, f);
    }
    expect(await svc.node.blockstore.has(CID.parse(MISSING))).toBe(false);
  });
  afterAll(async () => {
    await svc?.stop();
  });

  describe('raw blocks (conf TestTrustlessRaw, TestGatewayBlock)', () => {
    it('serves a block by ?format=raw and by Accept, with or without a path (#38, #39, #44, #45)', async () => {
      const dir = block(RB_DIR);
      expect(dir.byteLength).toBe(57);
      for (const path of [`/ipfs/${RB_DIR}`, `/ipfs/${RB_ROOT}/dir`]) {
        const byFormat = await get(`${path}?format=raw`);
        expect(byFormat.status).toBe(200);
        expect(new Uint8Array(await byFormat.arrayBuffer())).toEqual(dir);
        expect(byFormat.headers.get('content-location')).toBeNull();
        const byAccept = await get(path, { accept: 'application/vnd.ipld.raw' });
        expect(byAccept.status).toBe(200);
        expect(new Uint8Array(await byAccept.arrayBuffer())).toEqual(dir);
        // Negotiated by Accept only: say where the same bytes live with ?format (path spec).
        expect(byAccept.headers.get('content-location')).toBe(`${path}?format=raw`);
        expect(byAccept.headers.get('vary')).toMatch(/accept/i);
      }
    });

    it('sends the raw response headers (#41, #43, #46, #48)', async () => {
      for (const [path, roots] of [
        [`/ipfs/${RB_ASCII}`, [RB_ASCII]],
        [`/ipfs/${RB_ROOT}/dir/ascii.txt`, [RB_ROOT, RB_DIR, RB_ASCII]]
      ] as const) {
        const res = await get(path, { accept: 'application/vnd.ipld.raw' });
        expect(res.status).toBe(200);
        expect(res.headers.get('content-type')).toBe('application/vnd.ipld.raw');
        expect(res.headers.get('content-length')).toBe('31');
        expect(res.headers.get('content-disposition')).toBe(`attachment; filename="${RB_ASCII}.bin"`);
        expect(res.headers.get('x-content-type-options')).toBe('nosniff');
        expect(res.headers.get('accept-ranges')).toBe('bytes');
        expect(res.headers.get('etag')).toBe(`"${RB_ASCII}.raw"`);
        expect(res.headers.get('x-ipfs-path')).toBe(path);
        expect(res.headers.get('x-ipfs-roots')).toBe(roots.join(','));
        expect(res.headers.get('cache-control')).toBe(IMMUTABLE);
        expect(new Uint8Array(await res.arrayBuffer())).toEqual(block(RB_ASCII));
      }
    });

    it('names the download after ?filename= (#42, #47)', async () => {
      for (const path of [`/ipfs/${RB_ASCII}`, `/ipfs/${RB_ROOT}/dir/ascii.txt`]) {
        const res = await get(`${path}?filename=foobar.bin`, { accept: 'application/vnd.ipld.raw' });
        expect(res.headers.get('content-disposition')).toBe('attachment; filename="foobar.bin"');
        await res.arrayBuffer();
      }
    });

    it('serves single, suffix and open ranges of a block (#40, #49)', async () => {
      const dir = block(RB_DIR);
      const one = await get(`/ipfs/${RB_ROOT}/dir`, {
        accept: 'application/vnd.ipld.raw',
        range: 'bytes=6-16'
      });
      expect(one.status).toBe(206);
      expect(one.headers.get('content-type')).toBe('application/vnd.ipld.raw');
      expect(one.headers.get('content-range')).toBe('bytes 6-16/57');
      expect(one.headers.get('content-length')).toBe('11');
      expect(new Uint8Array(await one.arrayBuffer())).toEqual(dir.subarray(6, 17));

      const ascii = block(RB_ASCII);
      for (const [range, from, to] of [
        ['bytes=7-9', 7, 9],
        ['bytes=-3', 28, 30],
        ['bytes=29-', 29, 30],
        ['bytes=20-1000', 20, 30]
      ] as const) {
        const res = await get(`/ipfs/${RB_ASCII}`, { accept: 'application/vnd.ipld.raw', range });
        expect(res.status).toBe(206);
        expect(res.headers.get('content-range')).toBe(`bytes ${from}-${to}/31`);
        expect(new Uint8Array(await res.arrayBuffer())).toEqual(ascii.subarray(from, to + 1));
      }
    });

    it('answers several ranges as multipart/byteranges (#49 multi range)', async () => {
      const ascii = block(RB_ASCII);
      const res = await get(`/ipfs/${RB_ASCII}`, {
        accept: 'application/vnd.ipld.raw',
        range: 'bytes=7-9,1-3'
      });
      expect(res.status).toBe(206);
      const type = res.headers.get('content-type') ?? '';
      const boundary = /^multipart\/byteranges; boundary=(\S+)$/.exec(type)?.[1];
      expect(boundary).toBeDefined();
      const body = Buffer.from(await res.arrayBuffer());
      expect(res.headers.get('content-length')).toBe(String(body.byteLength));
      const text = body.toString('latin1');
      const parts = text.split(`--${boundary}`).slice(1, -1);
      expect(text.endsWith(`--${boundary}--\r\n`)).toBe(true);
      expect(parts).toHaveLength(2);
      for (const [i, [from, to]] of [
        [7, 9],
        [1, 3]
      ].entries()) {
        const [head, data] = parts[i]!.split('\r\n\r\n');
        expect(head).toContain('Content-Type: application/vnd.ipld.raw');
        expect(head).toContain(`Content-Range: bytes ${from}-${to}/31`);
        expect(data).toBe(Buffer.from(ascii.subarray(from!, to! + 1)).toString('latin1') + '\r\n');
      }
    });

    it('refuses unsatisfiable ranges with 416 and ignores stale If-Range', async () => {
      const res = await get(`/ipfs/${RB_ASCII}?format=raw`, { range: 'bytes=31-' });
      expect(res.status).toBe(416);
      expect(res.headers.get('content-range')).toBe('bytes */31');
      await res.arrayBuffer();
      const stale = await get(`/ipfs/${RB_ASCII}?format=raw`, { range: 'bytes=0-3', 'if-range': '"other"' });
      expect(stale.status).toBe(200);
      expect((await stale.arrayBuffer()).byteLength).toBe(31);
      const fresh = await get(`/ipfs/${RB_ASCII}?format=raw`, {
        range: 'bytes=0-3',
        'if-range': `"${RB_ASCII}.raw"`
      });
      expect(fresh.status).toBe(206);
      expect((await fresh.arrayBuffer()).byteLength).toBe(4);
      // Another unit, or nonsense, is ignored (RFC 9110 §14.2).
      const other = await get(`/ipfs/${RB_ASCII}?format=raw`, { range: 'items=0-3' });
      expect(other.status).toBe(200);
      await other.arrayBuffer();
    });

    it('answers HEAD with the GET headers and no body', async () => {
      const res = await get(`/ipfs/${RB_ASCII}?format=raw`, {}, 'HEAD');
      expect(res.status).toBe(200);
      expect(res.headers.get('content-length')).toBe('31');
      expect(res.headers.get('etag')).toBe(`"${RB_ASCII}.raw"`);
      expect(res.headers.get('content-type')).toBe('application/vnd.ipld.raw');
      expect((await res.arrayBuffer()).byteLength).toBe(0);
    });

    it('returns a directory block through its path, verifiably (#10, gateway.md §8 #15, #16)', async () => {
      const viaPath = await get(`/ipfs/${R1}/root2/root3/root4/?format=raw`);
      expect(viaPath.status).toBe(200);
      expect(viaPath.headers.get('cache-control')).toBe(IMMUTABLE);
      expect(viaPath.headers.get('x-ipfs-roots')).toBe([R1, R2, R3, R4].join(','));
      const body = new Uint8Array(await viaPath.arrayBuffer());
      expect(body.byteLength).toBe(58);
      expect(Buffer.from(body).toString('hex')).toMatch(/^12340a24015512205891b5b5/);
      expect(Buffer.from(body).toString('hex')).toMatch(/18060a020801$/);
      expect(createHash('sha256').update(body).digest()).toEqual(Buffer.from(CID.parse(R4).multihash.digest));

      const direct = await get(`/ipfs/${R4}?format=raw`);
      expect(direct.headers.get('content-disposition')).toBe(`attachment; filename="${R4}.bin"`);
      expect(direct.headers.get('x-content-type-options')).toBe('nosniff');
      expect(direct.headers.get('etag')).toBe(`"${R4}.raw"`);
      expect(new Uint8Array(await direct.arrayBuffer())).toEqual(body);

      const negotiated = await get(`/ipfs/${R4}`, { accept: 'application/vnd.ipld.raw' });
      expect(negotiated.headers.get('content-type')).toBe('application/vnd.ipld.raw');
      expect(negotiated.headers.get('content-location')).toBe(`/ipfs/${R4}?format=raw`);
      expect(new Uint8Array(await negotiated.arrayBuffer())).toEqual(body);
    });

    it('returns a symlink directory block as-is (#29)', async () => {
      const res = await get(`/ipfs/${SYMLINK_DIR}?format=raw`);
      expect(res.status).toBe(200);
      expect(new Uint8Array(await res.arrayBuffer())).toEqual(block(SYMLINK_DIR));
    });

    it('serves the bafkqaaa probe with an empty body, GET and HEAD (gateway.md §8 #18)', async () => {
      const res = await get(`/ipfs/${EMPTY_ID}?format=raw`);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-length')).toBe('0');
      expect((await res.arrayBuffer()).byteLength).toBe(0);
      const head = await get(`/ipfs/${EMPTY_ID}?format=raw`, {}, 'HEAD');
      expect(head.status).toBe(200);
      await head.arrayBuffer();
      // Identity CIDs carry their bytes: they come back without any storage.
      const inline = await get(`/ipfs/${HELLO_ID}?format=raw`);
      expect(await inline.text()).toBe('hello i am inlined cid\n');
    });

    it('answers 304 to a matching If-None-Match', async () => {
      for (const inm of [`"${RB_ASCII}.raw"`, `W/"${RB_ASCII}.raw"`, `"x", "${RB_ASCII}.raw"`, '*']) {
        const res = await get(`/ipfs/${RB_ASCII}?format=raw`, { 'if-none-match': inm });
        expect(res.status).toBe(304);
        expect(res.headers.get('etag')).toBe(`"${RB_ASCII}.raw"`);
        expect((await res.arrayBuffer()).byteLength).toBe(0);
      }
    });

    it('lets ?format=raw win over Accept: car (#17, #83)', async () => {
      const res = await get(`/ipfs/${RB_DIR}?format=raw`, { accept: 'application/vnd.ipld.car' });
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toBe('application/vnd.ipld.raw');
      expect(res.headers.get('content-location')).toBeNull();
      expect(new Uint8Array(await res.arrayBuffer())).toEqual(block(RB_DIR));
    });
  });

  describe('missing content and only-if-cached', () => {
    it('answers 404 for a root it does not hold: raw, CAR and HEAD (gateway.md §8 #19)', async () => {
      for (const q of ['format=raw', 'format=car', 'format=car&dag-scope=block']) {
        const res = await get(`/ipfs/${MISSING}?${q}`);
        expect(res.status).toBe(404);
        await res.arrayBuffer();
        const head = await get(`/ipfs/${MISSING}?${q}`, {}, 'HEAD');
        expect(head.status).toBe(404);
      }
      const accept = await get(`/ipfs/${MISSING}`, { accept: 'application/vnd.ipld.car' });
      expect(accept.status).toBe(404);
      await accept.arrayBuffer();
    });

    it('answers 404 for a path that does not exist (#6, #53)', async () => {
      for (const q of ['format=car', 'format=raw']) {
        const res = await get(`/ipfs/${TWO}/subdir/i-do-not-exist?${q}`);
        expect(res.status).toBe(404);
        expect(await res.text()).toContain('i-do-not-exist');
        const head = await get(`/ipfs/${TWO}/subdir/i-do-not-exist?${q}`, {}, 'HEAD');
        expect(head.status).toBe(404);
      }
    });

    it('answers only-if-cached with 200 when local and 412 when not (#11–#14, §8 #25)', async () => {
      for (const method of ['GET', 'HEAD']) {
        const local = await get(
          `/ipfs/${R1}/root2/root3/root4/?format=raw`,
          { 'cache-control': 'only-if-cached' },
          method
        );
        expect(local.status).toBe(200);
        await local.arrayBuffer();
        const absent = await get(
          `/ipfs/${MISSING}?format=raw`,
          { 'cache-control': 'only-if-cached' },
          method
        );
        expect(absent.status).toBe(412);
        expect((await absent.arrayBuffer()).byteLength).toBe(0);
      }
    });

    it('ends the stream when a child block is missing mid-CAR', async () => {
      const res = await get(`/ipfs/${D}?format=car`);
      expect(res.status).toBe(200);
      await expect(res.arrayBuffer()).rejects.toThrow();
      // The service is fine afterwards.
      const after = await get(`/ipfs/${D}?format=raw`);
      expect(after.status).toBe(200);
      expect((await after.arrayBuffer()).byteLength).toBe(145);
    });
  });

  describe('CAR pathing (conf TestTrustlessCarPathing)', () => {
    it('sends the path blocks, then the terminus DAG (#50)', async () => {
      expect(await carBoth(`/ipfs/${TWO}/subdir/ascii.txt`)).toEqual([TWO, TWO_SUB, ASCII]);
    });

    it('sends only the HAMT shards on the route, then the file (#51)', async () => {
      const { shards, entry } = hamtRoute(fx[HAMT_CAR]!.blocks, CID.parse(HAMT), '685.txt');
      expect(entry.toString()).toBe(MB);
      expect(await carBoth(`/ipfs/${HAMT}/685.txt`)).toEqual([HAMT, ...shards.map(String), MB, ...LEAVES]);
    });

    it('follows a DAG-CBOR link on the path (#52)', async () => {
      expect(await carBoth(`/ipfs/${CBOR_DOC}/files/single`)).toEqual([CBOR_DOC, HELLO]);
    });

    it('names the CAR after the terminus and lists the roots (gateway.md §8 #20)', async () => {
      const res = await get(`/ipfs/${C}/subdir/multiblock.txt?format=car`);
      expect(res.headers.get('content-disposition')).toBe(`attachment; filename="${MB}.car"`);
      expect(res.headers.get('x-ipfs-roots')).toBe([C, CSUB, MB].join(','));
      expect(res.headers.get('x-ipfs-path')).toBe(`/ipfs/${C}/subdir/multiblock.txt`);
      const car = await expectCar(res);
      expect(car.roots).toEqual([MB]);
      expect(car.cids).toEqual([C, CSUB, MB, ...LEAVES]);
      const named = await get(`/ipfs/${C}/subdir/multiblock.txt?format=car&filename=mine.car`);
      expect(named.headers.get('content-disposition')).toBe('attachment; filename="mine.car"');
      await named.arrayBuffer();
    });
  });

  describe('dag-scope (conf TestTrustlessCarDagScope*)', () => {
    it('block: the path blocks and the terminus only (#54–#56)', async () => {
      expect(await carBoth(`/ipfs/${TWO}/subdir`, { 'dag-scope': 'block' })).toEqual([TWO, TWO_SUB]);
      expect(await carBoth(`/ipfs/${TWO}/subdir/ascii.txt`, { 'dag-scope': 'block' })).toEqual([
        TWO,
        TWO_SUB,
        ASCII
      ]);
      const { shards } = hamtRoute(fx[HAMT_CAR]!.blocks, CID.parse(HAMT), '1.txt');
      expect(await carBoth(`/ipfs/${HAMT}/1.txt`, { 'dag-scope': 'block' })).toEqual([
        HAMT,
        ...shards.map(String),
        MB
      ]);
    });

    it('entity: a directory block, all HAMT shards, a whole file, a DAG-CBOR document (#57–#61)', async () => {
      expect(await carBoth(`/ipfs/${TWO}`, { 'dag-scope': 'entity' })).toEqual([TWO]);
      const hamt = fx[HAMT_CAR]!;
      const shards = hamtShards(hamt.blocks, CID.parse(HAMT)).map(String);
      expect(shards.length).toBeGreaterThan(0);
      expect(await carBoth(`/ipfs/${HAMT}`, { 'dag-scope': 'entity' })).toEqual([HAMT, ...shards]);
      expect(await carBoth(`/ipfs/${C}/subdir/ascii.txt`, { 'dag-scope': 'entity' })).toEqual([
        C,
        CSUB,
        ASCII
      ]);
      expect(await carBoth(`/ipfs/${C}/subdir/multiblock.txt`, { 'dag-scope': 'entity' })).toEqual([
        C,
        CSUB,
        MB,
        ...LEAVES
      ]);
      expect(await carBoth(`/ipfs/${CBOR_DIR}/document`, { 'dag-scope': 'entity' })).toEqual([
        CBOR_DIR,
        CBOR_DOC
      ]);
    });

    it('all: everything below the terminus, depth first (#62, #63, gateway.md §8 #21)', async () => {
      const all = [C, CSUB, ASCII, HELLO, MB, ...LEAVES];
      expect(await carBoth(`/ipfs/${C}/subdir`, { 'dag-scope': 'all' })).toEqual(all);
      expect(await carBoth(`/ipfs/${C}/subdir`)).toEqual(all);
      expect(await carBoth(`/ipfs/${C}/subdir/multiblock.txt`, { 'dag-scope': 'all' })).toEqual([
        C,
        CSUB,
        MB,
        ...LEAVES
      ]);
      expect(await carBoth(`/ipfs/${C}/subdir`, { 'dag-scope': 'entity' })).toEqual([C, CSUB]);
    });

    it('all: follows DAG-CBOR links in document order', async () => {
      expect(await carBoth(`/ipfs/${CBOR_DOC}`)).toEqual([CBOR_DOC, HELLO, MB, ...LEAVES]);
      expect(await carBoth(`/ipfs/${CBOR_DIR}`)).toEqual([CBOR_DIR, CBOR_DOC, HELLO, MB, ...LEAVES]);
    });

    it('follows DAG-JSON and DAG-CBOR links on paths and for dag-scope=all, not for entity', async () => {
      for (const f of [
        'path_gateway_dag/dag-json-traversal.car',
        'path_gateway_dag/dag-cbor-traversal.car'
      ]) {
        const { roots, blocks } = fx[f]!;
        // Each fixture is {foo: {link: L}} -> L = {bar: M} -> M, stored in that (DFS) order.
        const [root, link, leaf] = [...blocks.keys()];
        expect(root).toBe(roots[0]!.toString());
        expect(await carBoth(`/ipfs/${root}`)).toEqual([root, link, leaf]);
        expect(await carBoth(`/ipfs/${root}`, { 'dag-scope': 'entity' })).toEqual([root]);
        expect(await carBoth(`/ipfs/${root}/foo/link`, { 'dag-scope': 'entity' })).toEqual([root, link]);
        expect(await carBoth(`/ipfs/${root}/foo/link/bar`, { 'dag-scope': 'block' })).toEqual([
          root,
          link,
          leaf
        ]);
      }
    });

    it('answers 501 for a path ending inside a document and 404 for a missing key', async () => {
      for (const f of [
        'path_gateway_dag/dag-json-traversal.car',
        'path_gateway_dag/dag-cbor-traversal.car'
      ]) {
        const root = fx[f]!.roots[0]!.toString();
        const notLink = await get(`/ipfs/${root}/foo?format=car`);
        await notLink.arrayBuffer();
        expect(notLink.status).toBe(501);
        const missing = await get(`/ipfs/${root}/foo/i-do-not-exist?format=car`);
        await missing.arrayBuffer();
        expect(missing.status).toBe(404);
      }
    });

    it('all: a HAMT directory with its shards and every entry (each file sent once)', async () => {
      const hamt = fx[HAMT_CAR]!;
      const cids = await carBoth(`/ipfs/${HAMT}`);
      expect(new Set(cids)).toEqual(new Set(hamt.blocks.keys()));
      expect(cids).toHaveLength(hamt.blocks.size);
      expect(cids[0]).toBe(HAMT);
    });
  });

  describe('entity-bytes (conf TestTrustlessCarEntityBytes, gateway.md §8 #22)', () => {
    it('fetches only the blocks of the range, so missing blocks elsewhere do not matter (#64, #65)', async () => {
      expect(await carBoth(`/ipfs/${D}`, { 'dag-scope': 'entity', 'entity-bytes': '0:1000' })).toEqual([
        D,
        D_FIRST
      ]);
      expect(await carBoth(`/ipfs/${D}`, { 'dag-scope': 'entity', 'entity-bytes': '2200:*' })).toEqual([
        D,
        D_LAST
      ]);
    });

    it('selects the leaves that overlap the range (#66–#74)', async () => {
      const cases: Array<[string, string[]]> = [
        ['512:*', LEAVES.slice(2)],
        ['512:1023', LEAVES.slice(2, 4)],
        ['512:-256', LEAVES.slice(2, 4)],
        ['-5:*', LEAVES.slice(3)],
        ['-9999:*', LEAVES],
        ['-9999:-3', LEAVES.slice(0, 4)],
        ['0:0', LEAVES.slice(0, 1)],
        ['0:*', LEAVES],
        ['1024:1025', LEAVES.slice(4)],
        ['300:100000', LEAVES.slice(1)]
      ];
      for (const [range, leaves] of cases) {
        expect(await carBoth(`/ipfs/${MB}`, { 'dag-scope': 'entity', 'entity-bytes': range }), range).toEqual(
          [MB, ...leaves]
        );
      }
      expect(
        await carBoth(`/ipfs/${C}/subdir/multiblock.txt`, { 'dag-scope': 'entity', 'entity-bytes': '0:*' })
      ).toEqual([C, CSUB, MB, ...LEAVES]);
    });

    it('is ignored for directories (#67) and means dag-scope=block for an empty range', async () => {
      const hamt = fx[HAMT_CAR]!;
      expect(await carBoth(`/ipfs/${HAMT}`, { 'dag-scope': 'entity', 'entity-bytes': '0:*' })).toEqual([
        HAMT,
        ...hamtShards(hamt.blocks, CID.parse(HAMT)).map(String)
      ]);
      // 600:-600 of 1026 bytes is 600..426: zero-length.
      expect(await carBoth(`/ipfs/${MB}`, { 'entity-bytes': '600:-600' })).toEqual([MB]);
    });

    it('answers 400 for a range past the end, known before streaming', async () => {
      const res = await get(`/ipfs/${MB}?format=car&entity-bytes=1026:*`);
      expect(res.status).toBe(400);
      expect(await res.text()).toContain('1026 bytes');
      const head = await get(`/ipfs/${MB}?format=car&entity-bytes=5000:6000`, {}, 'HEAD');
      expect(head.status).toBe(400);
    });

    it('gives each scope and range its own weak Etag, and 304s on it', async () => {
      const etags = new Set<string>();
      for (const q of [
        '',
        '&dag-scope=block',
        '&dag-scope=entity',
        '&entity-bytes=512:1023',
        '&entity-bytes=-5:*',
        '&entity-bytes=0:0',
        '&car-dups=y'
      ]) {
        const res = await get(`/ipfs/${MB}?format=car${q}`, {}, 'HEAD');
        expect(res.status).toBe(200);
        const etag = res.headers.get('etag')!;
        expect(etag).toMatch(new RegExp(`^W/"${MB}\\.car\\.[a-z2-7]+"$`));
        etags.add(etag);
        const again = await get(`/ipfs/${MB}?format=car${q}`, { 'if-none-match': etag });
        expect(again.status).toBe(304);
        expect(again.headers.get('etag')).toBe(etag);
        expect((await again.arrayBuffer()).byteLength).toBe(0);
      }
      expect(etags.size).toBe(7);
      // The path is part of it too.
      const viaPath = await get(`/ipfs/${C}/subdir/multiblock.txt?format=car`, {}, 'HEAD');
      expect(etags.has(viaPath.headers.get('etag')!)).toBe(false);
      // And the tag is the same whichever way the format was asked for.
      const byAccept = await get(`/ipfs/${MB}`, { accept: 'application/vnd.ipld.car' }, 'HEAD');
      const byFormat = await get(`/ipfs/${MB}?format=car`, {}, 'HEAD');
      expect(byAccept.headers.get('etag')).toBe(byFormat.headers.get('etag'));
    });
  });

  describe('order and duplicates (conf TestTrustlessCarOrderAndDuplicates, gateway.md §8 #23, #24)', () => {
    const withDups = [DUPS, ASCII, ASCII, HELLO, MB, ...LEAVES];
    const withoutDups = [DUPS, ASCII, HELLO, MB, ...LEAVES];

    it('dups=y repeats blocks in DFS order, dups=n sends each once (#75, #76)', async () => {
      const y = await get(`/ipfs/${DUPS}`, {
        accept: 'application/vnd.ipld.car; version=1; order=dfs; dups=y'
      });
      expect(y.headers.get('content-type')).toBe('application/vnd.ipld.car; version=1; order=dfs; dups=y');
      expect((await expectCar(y)).cids).toEqual(withDups);
      const n = await get(`/ipfs/${DUPS}`, {
        accept: 'application/vnd.ipld.car; version=1; order=dfs; dups=n'
      });
      expect(n.headers.get('content-type')).toBe('application/vnd.ipld.car; version=1; order=dfs; dups=n');
      expect((await expectCar(n)).cids).toEqual(withoutDups);
      // No preference: dups=n, as the spec advises when the gateway controls duplicates.
      const plain = await get(`/ipfs/${DUPS}?format=car`);
      expect(plain.headers.get('content-type')).toBe(
        'application/vnd.ipld.car; version=1; order=dfs; dups=n'
      );
      expect((await expectCar(plain)).cids).toEqual(withoutDups);
    });

    it('answers order=unk with an explicit order and every block (#77)', async () => {
      const res = await get(`/ipfs/${DUPS}`, { accept: 'application/vnd.ipld.car; version=1; order=unk' });
      expect(res.headers.get('content-type')).toContain('order=');
      expect(new Set((await expectCar(res)).cids)).toEqual(new Set(withoutDups));
    });

    it('never sends identity blocks, even with dups=y (#78, §8 #24)', async () => {
      const res = await get(`/ipfs/${HELLO_ID}`, { accept: 'application/vnd.ipld.car; dups=y' });
      expect(res.headers.get('content-type')).toContain('dups=y');
      const car = await expectCar(res);
      expect(car.cids).toEqual([]);
      expect(car.roots).toEqual([HELLO_ID]);
    });

    it('takes CAR parameters from Accept with ?format=car, the URL ones winning (#79–#81)', async () => {
      const fromAccept = await get(`/ipfs/${DUPS}?format=car`, {
        accept: 'application/vnd.ipld.car; version=1; order=dfs; dups=y'
      });
      expect(fromAccept.headers.get('content-type')).toContain('dups=y');
      expect((await expectCar(fromAccept)).cids).toEqual(withDups);
      const order = await get(`/ipfs/${DUPS}?format=car&car-order=dfs`, {
        accept: 'application/vnd.ipld.car; order=unk'
      });
      expect(order.headers.get('content-type')).toContain('order=dfs');
      await expectCar(order);
      const dups = await get(`/ipfs/${DUPS}?format=car&car-dups=y`, {
        accept: 'application/vnd.ipld.car; dups=n'
      });
      expect(dups.headers.get('content-type')).toContain('dups=y');
      expect((await expectCar(dups)).cids).toEqual(withDups);
    });

    it('lets ?format=car win over Accept: raw (#82)', async () => {
      const res = await get(`/ipfs/${RB_DIR}?format=car`, { accept: 'application/vnd.ipld.raw' });
      expect((await expectCar(res)).cids).toEqual([RB_DIR, RB_ASCII]);
    });
  });

  describe('HEAD, probes, negotiation and subdomains', () => {
    it('answers a CAR HEAD with its headers and no body, checking the root', async () => {
      const res = await get(`/ipfs/${C}/subdir?format=car`, {}, 'HEAD');
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toMatch(CAR_TYPE);
      expect(res.headers.get('accept-ranges')).toBe('none');
      expect(res.headers.get('x-ipfs-roots')).toBe([C, CSUB].join(','));
      expect((await res.arrayBuffer()).byteLength).toBe(0);
    });

    it('answers the CAR probe with a valid CAR rooted at bafkqaaa and no blocks', async () => {
      const car = await expectCar(await get(`/ipfs/${EMPTY_ID}?format=car`));
      expect(car.roots).toEqual([EMPTY_ID]);
      expect(car.cids).toEqual([]);
      const head = await get(`/ipfs/${EMPTY_ID}?format=car`, {}, 'HEAD');
      expect(head.status).toBe(200);
    });

    it('sends Content-Location when the CAR was negotiated by Accept', async () => {
      const res = await get(`/ipfs/${TWO}/subdir?dag-scope=block`, { accept: 'application/vnd.ipld.car' });
      expect(res.headers.get('content-location')).toBe(
        `/ipfs/${TWO}/subdir?dag-scope=block&format=car&car-version=1&car-order=dfs&car-dups=n`
      );
      await expectCar(res);
    });

    it('serves raw and CAR on a subdomain origin', async () => {
      const request = (path: string, headers: Record<string, string> = {}) =>
        new Promise<{ status: number; headers: http.IncomingHttpHeaders; body: Buffer }>(
          (resolve, reject) => {
            const url = new URL(path, gw);
            const req = http.get(url, { headers: { host: `${TWO}.ipfs.localhost`, ...headers } }, (res) => {
              const chunks: Buffer[] = [];
              res.on('data', (c: Buffer) => chunks.push(c));
              res.on('end', () =>
                resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks) })
              );
              res.on('error', reject);
            });
            req.on('error', reject);
          }
        );
      const carRes = await request('/subdir/ascii.txt?format=car');
      expect(carRes.status).toBe(200);
      expect(carRes.headers['content-type']).toMatch(CAR_TYPE);
      expect((await parseCar(carRes.body)).cids).toEqual([TWO, TWO_SUB, ASCII]);
      const rawRes = await request('/subdir', { accept: 'application/vnd.ipld.raw' });
      expect(rawRes.status).toBe(200);
      expect(rawRes.headers['content-location']).toBe('/subdir?format=raw');
      expect(new Uint8Array(rawRes.body)).toEqual(block(TWO_SUB));
    });
  });

  describe('DAG shapes built here', () => {
    const put = async (bytes: Uint8Array, code: number): Promise<CID> => {
      const cid = CID.createV1(code, await sha256.digest(bytes));
      await svc.node.blockstore.put(cid, bytes);
      return cid;
    };
    const fileNode = (links: CID[], sizes: number[]) =>
      dagPb.encode(
        dagPb.prepare({
          Data: new UnixFS({ type: 'file', blockSizes: sizes.map(BigInt) }).marshal(),
          Links: links.map((Hash, i) => ({ Hash, Tsize: sizes[i] }))
        })
      );

    it('re-walks a node met twice when only part of it was sent (entity-bytes, dups=n)', async () => {
      const a = await put(new TextEncoder().encode('aaaa'), raw.code);
      const b = await put(new TextEncoder().encode('bbbb'), raw.code);
      const x = await put(fileNode([a, b], [4, 4]), dagPb.code);
      const root = await put(fileNode([x, x], [8, 8]), dagPb.code);
      const s = (c: CID) => c.toString();
      // Bytes 6..9 end the first copy of x (leaf b) and start the second (leaf a).
      expect(await carBoth(`/ipfs/${root}`, { 'entity-bytes': '6:9' })).toEqual([s(root), s(x), s(b), s(a)]);
      expect(await carBoth(`/ipfs/${root}`, { 'entity-bytes': '6:9', 'car-dups': 'y' })).toEqual([
        s(root),
        s(x),
        s(b),
        s(x),
        s(a)
      ]);
      // Whole: the second copy adds nothing with dups=n, everything again with dups=y.
      expect(await carBoth(`/ipfs/${root}`)).toEqual([s(root), s(x), s(a), s(b)]);
      expect(await carBoth(`/ipfs/${root}`, { 'car-dups': 'y' })).toEqual([root, x, a, b, x, a, b].map(s));
    });

    it('walks through an inlined (identity) child without sending it', async () => {
      const leaf = await put(new TextEncoder().encode('a real leaf'), raw.code);
      const inline = CID.createV1(raw.code, identity.digest(new TextEncoder().encode('inline')));
      const dirBytes = dagPb.encode(
        dagPb.prepare({
          Data: new UnixFS({ type: 'directory' }).marshal(),
          Links: [
            { Name: 'inline', Hash: inline, Tsize: 6 },
            { Name: 'real', Hash: leaf, Tsize: 11 }
          ]
        })
      );
      const dir = await put(dirBytes, dagPb.code);
      expect(await carBoth(`/ipfs/${dir}`)).toEqual([dir.toString(), leaf.toString()]);
      // Through the inline CID on the path: it is resolved but never sent.
      const res = await get(`/ipfs/${dir}/inline?format=raw`);
      expect(await res.text()).toBe('inline');
      expect(await carBoth(`/ipfs/${dir}/inline`)).toEqual([dir.toString()]);
    });
  });

  describe('content uploaded through the API', () => {
    it('round-trips an uploaded file through a CAR to the same bytes', async () => {
      const { apiKey } = await registerUser(svc.apiUrl, svc.adminInvite, 'trustless');
      const bytes = deterministicBytes('firth-trustless-car', 2 * 1024 * 1024 + 777);
      const form = new FormData();
      form.set('data', new Blob([bytes as Uint8Array<ArrayBuffer>]), 'upload.bin');
      const added = await fetch(`${svc.apiUrl}/api/content/add`, {
        method: 'POST',
        headers: { authorization: `Bearer ${apiKey}` },
        body: form
      });
      expect(added.status).toBe(200);
      const { cid } = (await added.json()) as { cid: string };

      const car = await expectCar(await get(`/ipfs/${cid}?format=car`));
      expect(car.roots).toEqual([cid]);
      expect(car.cids[0]).toBe(cid);
      // 1 MiB chunks: the root and three leaves.
      expect(car.cids).toHaveLength(4);
      const store = new MemoryBlockstore();
      for (const b of car.blocks) await store.put(b.cid, b.bytes);
      const entry = await exporter(cid, store);
      if (entry.type !== 'file') throw new Error(`expected a file, got ${entry.type}`);
      const parts: Uint8Array[] = [];
      for await (const chunk of entry.content()) parts.push(chunk as Uint8Array);
      expect(Buffer.compare(Buffer.concat(parts), Buffer.from(bytes))).toBe(0);

      // The second MiB alone: the root and the second leaf.
      const slice = await expectCar(await get(`/ipfs/${cid}?format=car&entity-bytes=1048576:2097151`));
      expect(slice.cids).toEqual([cid, car.cids[2]]);
      const leaf = await get(`/ipfs/${car.cids[2]}?format=raw`, { range: 'bytes=-5' });
      expect(leaf.status).toBe(206);
      expect(new Uint8Array(await leaf.arrayBuffer())).toEqual(bytes.subarray(2 * 1048576 - 5, 2 * 1048576));
    });
  });
});

describe('trustless helpers', () => {
  it('resolves entity-bytes against a size', () => {
    expect(resolveRange({ from: 512, to: 1023 }, 1026)).toEqual({
      kind: 'range',
      range: { from: 512, to: 1023 }
    });
    expect(resolveRange({ from: -5, to: undefined }, 1026)).toEqual({
      kind: 'range',
      range: { from: 1021, to: 1025 }
    });
    expect(resolveRange({ from: -9999, to: -3 }, 1026)).toEqual({
      kind: 'range',
      range: { from: 0, to: 1023 }
    });
    expect(resolveRange({ from: 0, to: 99999 }, 1026)).toEqual({
      kind: 'range',
      range: { from: 0, to: 1025 }
    });
    expect(resolveRange({ from: 1026, to: undefined }, 1026)).toEqual({ kind: 'outside' });
    expect(resolveRange({ from: 600, to: -600 }, 1026)).toEqual({ kind: 'empty' });
    expect(resolveRange({ from: 0, to: undefined }, 0)).toEqual({ kind: 'empty' });
  });

  it('picks the children of a file node that overlap a range', () => {
    const sizes = [256, 256, 256, 256, 2];
    expect(overlappingChildren(0, sizes, { from: 512, to: 1023 }).map((c) => c.index)).toEqual([2, 3]);
    expect(overlappingChildren(0, sizes, { from: 300, to: 300 })).toEqual([
      { index: 1, range: { from: 44, to: 44 }, whole: false }
    ]);
    // Inline data in the node comes first.
    expect(overlappingChildren(10, [5, 5], { from: 0, to: 12 })).toEqual([
      { index: 0, range: { from: 0, to: 2 }, whole: false }
    ]);
    expect(overlappingChildren(0, [4, 0, 4], { from: 0, to: 7 }).map((c) => c.index)).toEqual([0, 2]);
  });
});
