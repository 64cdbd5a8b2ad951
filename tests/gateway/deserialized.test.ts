import fs from 'node:fs/promises';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import * as dagPb from '@ipld/dag-pb';
import { MemoryBlockstore } from 'blockstore-core';
import type { FsBlockstore } from 'blockstore-fs';
import { UnixFS } from 'ipfs-unixfs';
import { importer } from 'ipfs-unixfs-importer';
import { fixedSize } from 'ipfs-unixfs-importer/chunker';
import { CID } from 'multiformats/cid';
import { base36 } from 'multiformats/bases/base36';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBlockSource, type BlockSource } from '../../gateway/public/blocks.ts';
import { openBlockstore } from '../../server/content/staging.ts';
import { isJson, sniffContentType } from '../../gateway/public/unixfs/content-type.ts';
import { readFile } from '../../gateway/public/unixfs/file.ts';
import { parseRange } from '../../gateway/public/range.ts';
import { escapeSegment } from '../../gateway/public/url.ts';
import { deterministicBytes } from '../helpers/bytes.ts';
import { registerUser, startTestService, type TestService } from '../helpers/service.ts';
import { loadFixture, type FixtureBlocks } from './helpers/car-fixtures.ts';

const IMMUTABLE = 'public, max-age=29030400, immutable';
const LISTING_CC = 'public, max-age=604800, stale-while-revalidate=2678400';

// dir_listing/fixtures.car
const DL_ROOT = 'bafybeig6ka5mlwkl4subqhaiatalkcleo4jgnr3hqwvpmsqfca27cijp3i';
const DL_FILE = 'bafkreialihlqnf5uwo4byh4n3cmwlntwqzxxs2fg5vanqdi3d7tb2l5xkm';
// gateway-cache/fixtures.car (gateway.md §6.2)
const R1 = 'bafybeib3ffl2teiqdncv3mkz4r23b5ctrwkzrrhctdbne6iboayxuxk5ui';
const R2 = 'bafybeih2w7hjocxjg6g2ku25hvmd53zj7og4txpby3vsusfefw5rrg5sii';
const R3 = 'bafybeiawdvhmjcz65x5egzx4iukxc72hg4woks6v6fvgyupiyt3oczk5ja';
const R4 = 'bafybeifq2rzpqnqrsdupncmkmhs3ckxxjhuvdcbvydkgvch3ms24k5lo7q';
const FILE = 'bafkreicysg23kiwv34eg2d7qweipxwosdo2py4ldv42nbauguluen5v6am'; // "hello\n"
// path_gateway_unixfs/*.car
const DWF = 'bafybeihchr7vmgjaasntayyatmp5sv6xza57iy2h4xj7g46bpjij6yhrmy';
const ASCII = 'bafkreifkam6ns4aoolg3wedr4uzrs3kvq66p4pecirz6y2vlrngla62mxm'; // 31 bytes
const ASCII_TEXT = 'hello application/vnd.ipld.car\n';
const MB = 'bafybeigcisqd7m5nf3qmuvjdbakl5bdnh4ocrmacaqkpuh77qjvggmt2sa'; // 1026 bytes, 5 leaves
const SYMLINK_DIR = 'QmWvY6FaqFMS89YAQ9NAPjVP4WZKA1qbHbicc9HeSKQTgt';
const PCT_DIR = 'bafybeig675grnxcmshiuzdaz2xalm6ef4thxxds6o6ypakpghm5kghpc34';
// trustless_gateway_car/*.car
const D = 'QmYhmPjhFjYFyaoiuNzYv8WGavpSRDwdHWe5B4M5du5Rtk'; // 3 × 1024 bytes, the middle leaf absent
const D_MIDDLE = 'QmSNLTo6Wv9dfroVaw7MFYjLqf9ho7PKrgsjdzYDtv8h1W';
const HAMT = 'bafybeidbclfqleg2uojchspzd4bob56dqetqjsj27gy2cq3klkkgxtpn4i';
// path_gateway_dag/*.car
const T_JSON = 'bafkreibrppizs3g7axs2jdlnjua6vgpmltv7k72l7v7sa6mmht6mne3qqe'; // UnixFS file with JSON
const DAG_JSON = 'baguqeeram5ujjqrwheyaty3w5gdsmoz6vittchvhk723jjqxk7hakxkd47xq';
const DAG_CBOR = 'bafyreibs4utpgbn7uqegmd2goqz4bkyflre2ek2iwv743fhvylwi4zeeim';
const PLAIN_JSON = 'bagaaierajjsnhsxqlgfrvknlt7z2heoljcgfv37cn45tu7mhmr23x3ekiboq';
const PLAIN_CBOR = 'bafireif3aymeikgfbofx533yf5vlx4kimzq6zmzmpra2mnzfsfnmv4hchm';
// subdomain_gateway/fixtures.car
const SUB_DIR = 'bafybeiht6dtwk3les7vqm6ibpvz6qpohidvlshsfyr7l5mpysdw2vmbbhe'; // "testdirlisting"
const HELLO_V0 = 'QmZULkCELmmk5XNfCgTnCyFgAVxBRBXyDHGGMVoLFLiXEN';
const HELLO_V0TO1 = 'bafybeiffndsajwhk3lwjewwdxqntmjm4b5wxaaanokonsggenkbw6slwk4';
const TOO_LONG =
  'bafkrgqhhyivzstcz3hhswshfjgy6ertgmnqeleynhwt4dlfsthi4hn7zgh4uvlsb5xncykzapi3ocd4lzogukir6ksdy6wzrnz6ohnv4aglcs';
// Never loaded (gateway.md §8).
const MISSING = 'QmYzfKSE55XCjD1MW128RfciAf2DViABhEiXfgVFMabSjN';
const HELLO_IDENTITY = 'bafkqabtimvwgy3yk'; // "hello\n", raw + identity hash

const FIXTURE_FILES = [
  'dir_listing/fixtures.car',
  'gateway-cache/fixtures.car',
  'path_gateway_unixfs/dir-with-files.car',
  'path_gateway_unixfs/symlink.car',
  'path_gateway_unixfs/dir-with-percent-encoded-filename.car',
  'trustless_gateway_car/file-3k-and-3-blocks-missing-block.car',
  'trustless_gateway_car/single-layer-hamt-with-multi-block-files.car',
  'path_gateway_dag/gateway-json-cbor.car',
  'path_gateway_dag/dag-json-traversal.car',
  'path_gateway_dag/dag-cbor-traversal.car',
  'path_gateway_dag/plain-json.car',
  'path_gateway_dag/plain-cbor.car',
  'subdomain_gateway/fixtures.car'
];

interface Res {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
  text: string;
}

/**
 * A request as written: node:http sends the path byte for byte (fetch would normalise `..` and
 * percent-encoding) and lets the test set Host for subdomain requests. Redirects are not followed.
 */
function request(
  base: string,
  path: string,
  opts: { method?: string; headers?: Record<string, string> } = {}
): Promise<Res> {
  const url = new URL(base);
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: url.hostname, port: url.port, path, method: opts.method ?? 'GET', headers: opts.headers },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', reject);
        res.on('end', () => {
          const body = Buffer.concat(chunks);
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body, text: body.toString('utf8') });
        });
      }
    );
    req.on('error', reject);
    req.end();
  });
}

function isHamtShard(bytes: Uint8Array): boolean {
  try {
    const node = dagPb.decode(bytes);
    return node.Data != null && UnixFS.unmarshal(node.Data).type === 'hamt-sharded-directory';
  } catch {
    return false;
  }
}

/** The parts of a `multipart/byteranges` body. */
function multipartParts(res: Res): Array<{ headers: Record<string, string>; body: string }> {
  const boundary = /boundary=([^;]+)/.exec(res.headers['content-type'] ?? '')?.[1];
  if (boundary == null) throw new Error('no boundary');
  const parts = res.text.split(`--${boundary}`).slice(1, -1);
  return parts.map((p) => {
    const text = p.replace(/^\r\n/, '').replace(/\r\n$/, '');
    const [head, ...rest] = text.split('\r\n\r\n');
    const headers = Object.fromEntries(
      head!
        .split('\r\n')
        .map((l) => [l.slice(0, l.indexOf(':')).toLowerCase(), l.slice(l.indexOf(':') + 1).trim()])
    );
    return { headers, body: rest.join('\r\n\r\n') };
  });
}

/** `bytes=7-9` and `bytes=7-9,1-3` (conformance `helpers/range.go`) against the full payload. */
function expectRanges(single: Res, multi: Res, full: Buffer, type: string): void {
  expect(single.status).toBe(206);
  expect(single.headers['content-range']).toBe(`bytes 7-9/${full.length}`);
  expect(single.body).toEqual(full.subarray(7, 10));
  expect(single.headers['content-type']).toBe(type);
  expect(multi.status).toBe(206);
  expect(multi.headers['content-type']).toMatch(/^multipart\/byteranges; boundary=/);
  const parts = multipartParts(multi);
  expect(parts.map((p) => p.headers['content-range'])).toEqual([
    `bytes 7-9/${full.length}`,
    `bytes 1-3/${full.length}`
  ]);
  expect(parts.map((p) => p.headers['content-type'])).toEqual([type, type]);
  expect(parts.map((p) => p.body)).toEqual([
    full.subarray(7, 10).toString('latin1'),
    full.subarray(1, 4).toString('latin1')
  ]);
  expect(Number(multi.headers['content-length'])).toBe(multi.body.length);
}

describe('public gateway: deserialized responses', () => {
  let svc: TestService;
  let gwHost: string;
  const fx: Record<string, FixtureBlocks> = {};
  const block = (cid: string): Buffer => {
    for (const f of Object.values(fx)) {
      const b = f.blocks.get(cid);
      if (b != null) return Buffer.from(b);
    }
    throw new Error(`no fixture block ${cid}`);
  };
  const get = (path: string, headers: Record<string, string> = {}) =>
    request(svc.gatewayUrl, path, { headers });
  const head = (path: string, headers: Record<string, string> = {}) =>
    request(svc.gatewayUrl, path, { method: 'HEAD', headers });
  /** A request to `{cid}.ipfs.localhost:{port}`. */
  const sub = (cid: string, path: string, headers: Record<string, string> = {}) =>
    request(svc.gatewayUrl, path, { headers: { host: `${cid}.ipfs.${gwHost}`, ...headers } });

  // A HAMT of 300 small files of which only the shard nodes are stored, and one fully stored.
  let shardsOnly: { root: CID; names: string[] };
  let fullHamt: { root: CID; files: Map<string, string> };

  beforeAll(async () => {
    // Missing blocks are looked for on the network until this runs out: keep failures short.
    svc = await startTestService({ env: { FIRTH_GATEWAY_TIMEOUT: '10' } });
    gwHost = `localhost:${new URL(svc.gatewayUrl).port}`;
    for (const f of FIXTURE_FILES) fx[f] = await loadFixture(svc.node.blockstore, f);

    const importHamt = async (files: Array<[string, string]>) => {
      const mem = new MemoryBlockstore();
      let root: CID | undefined;
      for await (const entry of importer(
        files.map(([name, text]) => ({ path: `dir/${name}`, content: new TextEncoder().encode(text) })),
        mem,
        { cidVersion: 1, rawLeaves: true, shardSplitThresholdBytes: 1 }
      )) {
        if (entry.path === 'dir') root = entry.cid;
      }
      return { root: root!, mem };
    };
    const names = Array.from({ length: 300 }, (_, i) => `file-${i}.txt`);
    const a = await importHamt(names.map((n) => [n, `only the shards of ${n} are here\n`]));
    // MemoryBlockstore keys blocks by multihash and lists them as raw CIDs: find shards by content.
    for await (const { cid, bytes } of a.mem.getAll()) {
      const parts: Uint8Array[] = [];
      for await (const p of bytes) parts.push(p);
      const data = Buffer.concat(parts);
      if (isHamtShard(data)) await svc.node.blockstore.put(CID.createV1(dagPb.code, cid.multihash), data);
    }
    shardsOnly = { root: a.root, names };
    const files = new Map<string, string>([
      ['index.html', '<!doctype html><title>hamt</title>\n'],
      ...Array.from({ length: 40 }, (_, i): [string, string] => [`n${i}.json`, `{"n": ${i}}\n`])
    ]);
    const b = await importHamt([...files]);
    for await (const { cid, bytes } of b.mem.getAll()) {
      const parts: Uint8Array[] = [];
      for await (const p of bytes) parts.push(p);
      await svc.node.blockstore.put(cid, Buffer.concat(parts));
    }
    fullHamt = { root: b.root, files };
  });
  afterAll(async () => {
    await svc?.stop();
  });

  describe('CORS (conformance path_gateway_cors_test.go)', () => {
    for (const method of ['GET', 'OPTIONS']) {
      it(`#${method === 'GET' ? 1 : 2} ${method} /ipfs/{identity}/ carries the CORS headers`, async () => {
        const res = await request(svc.gatewayUrl, `/ipfs/${HELLO_IDENTITY}/`, { method });
        expect(res.status).toBe(200);
        expect(res.headers['access-control-allow-origin']).toBe('*');
        const list = (h: string | string[] | undefined) => String(h).split(/,\s*/);
        expect(list(res.headers['access-control-allow-methods'])).toEqual(
          expect.arrayContaining(['GET', 'HEAD', 'OPTIONS'])
        );
        expect(list(res.headers['access-control-allow-headers'])).toEqual(
          expect.arrayContaining(['Content-Type', 'Range', 'User-Agent', 'X-Requested-With'])
        );
        expect(list(res.headers['access-control-expose-headers'])).toEqual(
          expect.arrayContaining([
            'Content-Range',
            'Content-Length',
            'X-Ipfs-Path',
            'X-Ipfs-Roots',
            'X-Chunked-Output',
            'X-Stream-Output'
          ])
        );
        if (method === 'GET') expect(res.text).toBe('hello\n');
      });
    }
  });

  describe('directory listing (TestUnixFSDirectoryListing)', () => {
    it('#3 hides the backlink on the root CID', async () => {
      const res = await get(`/ipfs/${DL_ROOT}/`);
      expect(res.status).toBe(200);
      expect(res.text).toContain('Index of');
      expect(res.text).not.toContain(`<a href="/ipfs/${DL_ROOT}/">..</a>`);
      expect(res.text).not.toContain('>..</a>');
    });

    it('#4 redirects a directory without a trailing slash, percent-encoded, keeping the query', async () => {
      const res = await get(`/ipfs/${DL_ROOT}/%C4%85/%C4%99`);
      expect(res.status).toBe(301);
      expect(res.headers.location).toBe(`/ipfs/${DL_ROOT}/%C4%85/%C4%99/`);
      expect(res.body.length).toBe(0);
      const q = await get(`/ipfs/${DL_ROOT}/%C4%85/%C4%99?filename=x&a=b%20c`);
      expect(q.headers.location).toBe(`/ipfs/${DL_ROOT}/%C4%85/%C4%99/?filename=x&a=b+c`);
      const root = await get(`/ipfs/${DL_ROOT}`);
      expect(root.status).toBe(301);
      expect(root.headers.location).toBe(`/ipfs/${DL_ROOT}/`);
    });

    it('#5 serves the Kubo-compatible listing HTML', async () => {
      const res = await get(`/ipfs/${DL_ROOT}/%C4%85/%C4%99/`);
      expect(res.status).toBe(200);
      expect(res.headers['content-type']).toMatch(/^text\/html/);
      expect(res.headers.etag).toContain('"DirIndex-');
      expect(res.text).toContain('Index of');
      expect(res.text).toContain(
        `/ipfs/<a href="/ipfs/${DL_ROOT}">${DL_ROOT}</a>/<a href="/ipfs/${DL_ROOT}/%C4%85">ą</a>/<a href="/ipfs/${DL_ROOT}/%C4%85/%C4%99">ę</a>`
      );
      expect(res.text).toContain(`<a href="/ipfs/${DL_ROOT}/%C4%85/%C4%99/..">..</a>`);
      expect(res.text).toContain(
        `<a href="/ipfs/${DL_ROOT}/%C4%85/%C4%99/file-%C5%BA%C5%82.txt">file-źł.txt</a>`
      );
      expect(res.text).toContain(
        `<a class="ipfs-hash" translate="no" href="/ipfs/${DL_FILE}?filename=file-%25C5%25BA%25C5%2582.txt">`
      );
      // Sizes come from the links' Tsize.
      expect(res.text).toContain('34 B');
    });

    it('#6 answers 404 for a name that is not in the directory', async () => {
      const res = await get(`/ipfs/${DL_ROOT}/i-do-not-exist`);
      expect(res.status).toBe(404);
      expect(res.text).toContain('i-do-not-exist');
    });

    it('escapes every name in the HTML and percent-encodes it in links', async () => {
      const mem = new MemoryBlockstore();
      const name = `<img src=x onerror=alert(1)>&"'#?.txt`;
      let root: CID | undefined;
      for await (const e of importer([{ path: `d/${name}`, content: new TextEncoder().encode('x') }], mem, {
        cidVersion: 1,
        rawLeaves: true
      })) {
        if (e.path === 'd') root = e.cid;
      }
      for await (const { cid, bytes } of mem.getAll()) {
        const parts: Uint8Array[] = [];
        for await (const p of bytes) parts.push(p);
        await svc.node.blockstore.put(cid, Buffer.concat(parts));
      }
      const res = await get(`/ipfs/${root}/`);
      expect(res.status).toBe(200);
      expect(res.text).not.toContain('<img');
      expect(res.text).toContain('&#60;img src=x onerror=alert(1)&#62;&#38;&#34;&#39;#?.txt</a>');
      expect(res.text).toContain(`href="/ipfs/${root}/${escapeSegment(name).replaceAll('&', '&#38;')}"`);
      expect(escapeSegment(name)).toBe('%3Cimg%20src=x%20onerror=alert%281%29%3E&%22%27%23%3F.txt');
      // The link leads back to the file.
      const file = await get(`/ipfs/${root}/${escapeSegment(name)}`);
      expect(file.status).toBe(200);
      expect(file.text).toBe('x');
    });

    it('lists a HAMT-sharded directory from its shards alone (no child block is fetched)', async () => {
      const res = await get(`/ipfs/${shardsOnly.root}/`);
      expect(res.status).toBe(200);
      for (const name of shardsOnly.names) {
        expect(res.text).toContain(`<a href="/ipfs/${shardsOnly.root}/${name}">${name}</a>`);
      }
      expect(res.headers.etag).toBe(
        `"DirIndex-${/DirIndex-([^_]+)_/.exec(res.headers.etag!)![1]}_CID-${shardsOnly.root}"`
      );
    });

    it('lists the conformance HAMT fixture and resolves paths and index.html through HAMTs', async () => {
      const listing = await get(`/ipfs/${HAMT}/`);
      expect(listing.status).toBe(200);
      const names = [...listing.text.matchAll(new RegExp(`<a href="/ipfs/${HAMT}/([^"]+)">`, 'g'))].map(
        (m) => m[1]
      );
      expect(names.length).toBeGreaterThan(100);
      const file = await get(`/ipfs/${HAMT}/${names[0]}`);
      expect(file.status).toBe(200);
      expect(file.headers['x-ipfs-roots']).toBe(`${HAMT},${MB}`);
      expect(file.body.length).toBe(1026);

      const index = await get(`/ipfs/${fullHamt.root}/`);
      expect(index.status).toBe(200);
      expect(index.text).toBe(fullHamt.files.get('index.html'));
      expect(index.headers.etag).toBe(`"${fullHamt.root}"`);
      const json = await get(`/ipfs/${fullHamt.root}/n7.json`);
      expect(json.status).toBe(200);
      expect(json.headers['content-type']).toBe('application/json');
      expect(json.text).toBe('{"n": 7}\n');
      expect((await get(`/ipfs/${fullHamt.root}/nope.json`)).status).toBe(404);
    });
  });

  describe('caching (TestGatewayCache)', () => {
    it('#7 dir listing: roots, X-Ipfs-Path, DirIndex Etag, a revalidating Cache-Control', async () => {
      const res = await get(`/ipfs/${R1}/root2/root3/`);
      expect(res.status).toBe(200);
      expect(res.headers['x-ipfs-path']).toBe(`/ipfs/${R1}/root2/root3/`);
      expect(res.headers['x-ipfs-roots']).toBe(`${R1},${R2},${R3}`);
      expect(res.headers.etag).toMatch(new RegExp(`^"DirIndex-.*_CID-${R3}"$`));
      expect(res.headers['cache-control']).toBe(LISTING_CC);
      expect(res.text).toContain('root4');
    });

    it('#8 dir with index.html: immutable, the directory CID as Etag', async () => {
      const res = await get(`/ipfs/${R1}/root2/root3/root4/`);
      expect(res.status).toBe(200);
      expect(res.headers['cache-control']).toBe(IMMUTABLE);
      expect(res.headers['x-ipfs-path']).toBe(`/ipfs/${R1}/root2/root3/root4/`);
      expect(res.headers['x-ipfs-roots']).toBe(`${R1},${R2},${R3},${R4}`);
      expect(res.headers.etag).toBe(`"${R4}"`);
      expect(res.headers['content-type']).toMatch(/^text\/html/);
      expect(res.text).toBe('hello\n');
    });

    it('#9 file: immutable, five roots, the file CID as Etag', async () => {
      const res = await get(`/ipfs/${R1}/root2/root3/root4/index.html`);
      expect(res.status).toBe(200);
      expect(res.headers['cache-control']).toBe(IMMUTABLE);
      expect(res.headers['x-ipfs-path']).toBe(`/ipfs/${R1}/root2/root3/root4/index.html`);
      expect(res.headers['x-ipfs-roots']).toBe(`${R1},${R2},${R3},${R4},${FILE}`);
      expect(res.headers.etag).toBe(`"${FILE}"`);
    });

    it('#11/#13 only-if-cached succeeds when the content is local (deserialized)', async () => {
      const headers = { 'cache-control': 'only-if-cached' };
      expect((await head(`/ipfs/${R1}/root2/root3/root4/`, headers)).status).toBe(200);
      expect((await get(`/ipfs/${R1}/root2/root3/root4/`, headers)).status).toBe(200);
    });

    it('#12/#14 only-if-cached fails with 412 when the content is not local', async () => {
      const headers = { 'cache-control': 'only-if-cached' };
      const h = await head(`/ipfs/${MISSING}`, headers);
      expect(h.status).toBe(412);
      const g = await get(`/ipfs/${MISSING}`, headers);
      expect(g.status).toBe(412);
      expect(g.body.length).toBe(0);
    });

    const file = `/ipfs/${R1}/root2/root3/root4/index.html`;
    it.each([
      ['#15 matching Etag', `"${FILE}"`],
      ['#17 third Etag in a list', `"fakeEtag1", "fakeEtag2", "${FILE}"`],
      ['#18 weak Etag', `W/"${FILE}"`],
      ['#19 wildcard', '*']
    ])('%s → 304 without a body', async (_name, inm) => {
      const res = await get(file, { 'if-none-match': inm });
      expect(res.status).toBe(304);
      expect(res.body.length).toBe(0);
      expect(res.headers.etag).toBe(`"${FILE}"`);
    });

    it('#16 dir with index.html: its Etag → 304', async () => {
      const res = await get(`/ipfs/${R1}/root2/root3/root4/`, { 'if-none-match': `"${R4}"` });
      expect(res.status).toBe(304);
    });

    it('#20-#22 dir listing: the captured Etag, strong and weak → 304', async () => {
      const first = await get(`/ipfs/${R1}/root2/root3/`);
      const etag = first.headers.etag!;
      expect(etag).not.toBe('');
      const bare = etag.replace(/^"|"$/g, '');
      const strong = await get(`/ipfs/${R1}/root2/root3/`, { 'if-none-match': `"${bare}"` });
      expect(strong.status).toBe(304);
      expect(strong.headers['cache-control']).toBe(LISTING_CC);
      expect((await get(`/ipfs/${R1}/root2/root3/`, { 'if-none-match': `W/"${bare}"` })).status).toBe(304);
      expect((await get(`/ipfs/${R1}/root2/root3/`, { 'if-none-match': `"${R3}"` })).status).toBe(200);
    });
  });

  describe('symlinks (TestGatewaySymlink)', () => {
    it('#28 lists the symlink and its target', async () => {
      const res = await get(`/ipfs/${SYMLINK_DIR}/`);
      expect(res.status).toBe(200);
      expect(res.text).toContain('>foo<');
      expect(res.text).toContain('>bar<');
    });

    it('#30 serves the symlink as its target path', async () => {
      const res = await get(`/ipfs/${SYMLINK_DIR}/bar`);
      expect(res.status).toBe(200);
      expect(res.text).toBe('foo');
      expect(res.headers['content-type']).toBe('inode/symlink');
      expect((await get(`/ipfs/${SYMLINK_DIR}/foo`)).text).toBe('content\n');
    });
  });

  describe('ranges (TestGatewayUnixFSFileRanges)', () => {
    const path = `/ipfs/${DWF}/ascii.txt`;

    it('#31 a file carries Accept-Ranges: bytes and its full body', async () => {
      const res = await get(path);
      expect(res.status).toBe(200);
      expect(res.headers['accept-ranges']).toBe('bytes');
      expect(res.headers['content-length']).toBe('31');
      expect(res.text).toBe(ASCII_TEXT);
    });

    it('#32 single range', async () => {
      const res = await get(path, { range: 'bytes=6-16' });
      expect(res.status).toBe(206);
      expect(res.headers['content-range']).toBe('bytes 6-16/31');
      expect(res.headers['content-length']).toBe('11');
      expect(res.text).toBe('application');
    });

    it('#33 suffix range', async () => {
      const res = await get(path, { range: 'bytes=-3' });
      expect(res.status).toBe(206);
      expect(res.headers['content-range']).toBe('bytes 28-30/31');
      expect(res.text).toBe('ar\n');
    });

    it('#34 several ranges: multipart/byteranges with a part each', async () => {
      const res = await get(path, { range: 'bytes=6-16,0-4' });
      expect(res.status).toBe(206);
      expect(res.headers['content-type']).toMatch(/^multipart\/byteranges; boundary=\w+$/);
      const parts = multipartParts(res);
      expect(parts).toEqual([
        {
          headers: { 'content-type': 'text/plain; charset=utf-8', 'content-range': 'bytes 6-16/31' },
          body: 'application'
        },
        {
          headers: { 'content-type': 'text/plain; charset=utf-8', 'content-range': 'bytes 0-4/31' },
          body: 'hello'
        }
      ]);
      expect(Number(res.headers['content-length'])).toBe(res.body.length);
    });

    it('#35/#36 ranges work with a block missing after or before them', async () => {
      const after = await get(`/ipfs/${D}`, { range: 'bytes=997-1000' });
      expect(after.status).toBe(206);
      expect(after.headers['content-range']).toBe('bytes 997-1000/3072');
      expect(after.body.length).toBe(4);
      const before = await get(`/ipfs/${D}`, { range: 'bytes=2200-2201' });
      expect(before.status).toBe(206);
      expect(before.headers['content-range']).toBe('bytes 2200-2201/3072');
      expect(before.body.length).toBe(2);
      // A range ending exactly on a block boundary does not touch the next (missing) block.
      const boundary = await get(`/ipfs/${D}`, { range: 'bytes=0-1023' });
      expect(boundary.status).toBe(206);
      expect(boundary.body.length).toBe(1024);
      expect(await svc.node.blockstore.has(CID.parse(D_MIDDLE))).toBe(false);
    });

    it('open ranges, ranges across leaves, clamping, 416 and 400', async () => {
      const full = (await get(`/ipfs/${DWF}/multiblock.txt`)).body;
      expect(full.length).toBe(1026);
      const open = await get(`/ipfs/${DWF}/multiblock.txt`, { range: 'bytes=1000-' });
      expect(open.status).toBe(206);
      expect(open.headers['content-range']).toBe('bytes 1000-1025/1026');
      expect(open.body).toEqual(full.subarray(1000));
      const across = await get(`/ipfs/${DWF}/multiblock.txt`, { range: 'bytes=250-780' });
      expect(across.body).toEqual(full.subarray(250, 781));
      const clamped = await get(`/ipfs/${DWF}/multiblock.txt`, { range: 'bytes=1020-5000' });
      expect(clamped.headers['content-range']).toBe('bytes 1020-1025/1026');
      const beyond = await get(`/ipfs/${DWF}/multiblock.txt`, { range: 'bytes=1026-' });
      expect(beyond.status).toBe(416);
      expect(beyond.headers['content-range']).toBe('bytes */1026');
      expect((await get(path, { range: 'bytes=5-2' })).status).toBe(400);
      expect((await get(path, { range: 'bytes=abc' })).status).toBe(400);
      // Other units are ignored.
      expect((await get(path, { range: 'items=0-1' })).status).toBe(200);
    });

    it('If-Range: ranges only while the Etag matches; HEAD ignores Range', async () => {
      const match = await get(path, { range: 'bytes=0-4', 'if-range': `"${ASCII}"` });
      expect(match.status).toBe(206);
      const stale = await get(path, { range: 'bytes=0-4', 'if-range': '"something-else"' });
      expect(stale.status).toBe(200);
      expect(stale.text).toBe(ASCII_TEXT);
      const h = await head(path, { range: 'bytes=0-4' });
      expect(h.status).toBe(200);
      expect(h.headers['content-length']).toBe('31');
    });
  });

  describe('TestPathGatewayMiscellaneous', () => {
    it('#37 a file name with a literal %2C resolves', async () => {
      const res = await get(`/ipfs/${PCT_DIR}/Portugal%252C+Espa%C3%B1a=Peninsula%20Ib%C3%A9rica.txt`);
      expect(res.status).toBe(200);
      expect(res.text).toBe('hello from a percent encoded filename\n');
      expect(res.headers['x-ipfs-path']).toBe(
        `/ipfs/${PCT_DIR}/Portugal%252C+Espa%C3%B1a=Peninsula%20Ib%C3%A9rica.txt`
      );
    });
  });

  describe('JSON and CBOR (path_gateway_dag_test.go)', () => {
    it('#84 a UnixFS file holding JSON is application/json without any hint', async () => {
      const res = await get(`/ipfs/${T_JSON}`);
      expect(res.status).toBe(200);
      expect(res.headers['content-type']).toBe('application/json');
      expect(res.body).toEqual(block(T_JSON));
    });

    it('#85 … and with Accept: application/json', async () => {
      const res = await get(`/ipfs/${T_JSON}`, { accept: 'application/json' });
      expect(res.status).toBe(200);
      expect(res.headers['content-type']).toBe('application/json');
      expect(res.body).toEqual(block(T_JSON));
      expect(res.headers['content-location']).toBe(`/ipfs/${T_JSON}?format=json`);
    });

    it('#86 ?format=json wins over Accept: application/vnd.ipld.raw', async () => {
      const res = await get(`/ipfs/${T_JSON}?format=json`, { accept: 'application/vnd.ipld.raw' });
      expect(res.status).toBe(200);
      expect(res.headers['content-type']).toBe('application/json');
      expect(res.body).toEqual(block(T_JSON));
    });

    it('a UnixFS file that is not JSON is 406 as ?format=json', async () => {
      expect((await get(`/ipfs/${ASCII}?format=json`)).status).toBe(406);
      expect((await get(`/ipfs/${DWF}/?format=json`)).status).toBe(406);
    });

    it.each([
      ['#87 dag-pb ?format=dag-json', `/ipfs/${DL_FILE}?format=dag-json`, {}],
      ['#88 dag-pb ?format=dag-cbor', `/ipfs/${DL_FILE}?format=dag-cbor`, {}],
      ['#89 dag-pb Accept dag-json', `/ipfs/${DL_FILE}`, { accept: 'application/vnd.ipld.dag-json' }],
      ['#90 DAG-JSON ?format=dag-cbor', `/ipfs/${DAG_JSON}?format=dag-cbor`, {}],
      ['#91 DAG-CBOR ?format=dag-json', `/ipfs/${DAG_CBOR}?format=dag-json`, {}],
      ['#92 DAG-CBOR Accept dag-json', `/ipfs/${DAG_CBOR}`, { accept: 'application/vnd.ipld.dag-json' }],
      ['§8 (c) a chunked dag-pb file as dag-json', `/ipfs/${MB}?format=dag-json`, {}],
      ['a dag-pb directory as cbor', `/ipfs/${DWF}/?format=cbor`, {}],
      ['plain JSON as dag-cbor', `/ipfs/${PLAIN_JSON}?format=dag-cbor`, {}]
    ])('%s → 406 (IPIP-0524, no conversion)', async (_name, path, headers) => {
      const res = await get(path, headers as Record<string, string>);
      expect(res.status).toBe(406);
    });

    for (const [name, cid, format, disposition] of [
      ['json', PLAIN_JSON, 'json', 'inline'],
      ['cbor', PLAIN_CBOR, 'cbor', 'attachment']
    ] as const) {
      describe(`#93-#95 plain ${name} codec (TestPlainCodec)`, () => {
        const variants: Array<[string, string, Record<string, string>]> = [
          ['without Accept or format', `/ipfs/${cid}`, {}],
          ['with ?format=', `/ipfs/${cid}?format=${format}`, {}],
          ['with Accept', `/ipfs/${cid}`, { accept: `application/${format}` }]
        ];
        it.each(variants)('%s: the block as-is, full, single and multi range', async (_v, path, headers) => {
          const full = await get(path, headers);
          expect(full.status).toBe(200);
          expect(full.body).toEqual(block(cid));
          expect(full.headers['content-type']).toBe(`application/${format}`);
          expect(full.headers['content-disposition']).toContain(
            `${disposition}; filename="${cid}.${format}"`
          );
          expect(full.headers['x-content-type-options']).toBe('nosniff');
          const single = await get(path, { ...headers, range: 'bytes=7-9' });
          const multi = await get(path, { ...headers, range: 'bytes=7-9,1-3' });
          expectRanges(single, multi, block(cid), `application/${format}`);
        });
      });
    }

    describe('traversal (TestPathing)', () => {
      it('#97 DAG-JSON follows links: /foo/link/bar', async () => {
        const res = await get(`/ipfs/${DAG_JSON}/foo/link/bar?format=dag-json`);
        expect(res.status).toBe(200);
        expect(JSON.parse(res.text)).toEqual({ hello: 'this is not a link' });
      });

      it('#100 DAG-CBOR follows links: /foo/link/bar', async () => {
        const res = await get(`/ipfs/${DAG_CBOR}/foo/link/bar?format=dag-cbor`);
        expect(res.status).toBe(200);
        expect([...res.body]).toEqual([
          0xa1, 0x65, 0x68, 0x65, 0x6c, 0x6c, 0x6f, 0x72, 0x74, 0x68, 0x69, 0x73, 0x20, 0x69, 0x73, 0x20,
          0x6e, 0x6f, 0x74, 0x20, 0x61, 0x20, 0x6c, 0x69, 0x6e, 0x6b
        ]);
      });

      it('#96/#99 a path remainder that is not a link → 501', async () => {
        expect((await get(`/ipfs/${DAG_JSON}/foo?format=dag-json`)).status).toBe(501);
        expect((await get(`/ipfs/${DAG_CBOR}/foo?format=dag-cbor`)).status).toBe(501);
        expect((await get(`/ipfs/${DAG_CBOR}/foo/object/banana`)).status).toBe(501);
      });

      it('#98/#101 a missing key → 404', async () => {
        expect((await get(`/ipfs/${DAG_JSON}/foo/i-do-not-exist`)).status).toBe(404);
        expect((await get(`/ipfs/${DAG_CBOR}/foo/i-do-not-exist`)).status).toBe(404);
      });
    });

    for (const [name, cid, ext, disposition] of [
      ['dag-json', DAG_JSON, 'json', 'inline'],
      ['dag-cbor', DAG_CBOR, 'cbor', 'attachment']
    ] as const) {
      describe(`#102-#118 native ${name} (TestNativeDag)`, () => {
        const type = `application/vnd.ipld.${name}`;

        it('returns the block as-is without a format, with ?format= and with Accept', async () => {
          for (const [path, headers] of [
            [`/ipfs/${cid}`, {}],
            [`/ipfs/${cid}?format=${name}`, {}],
            [`/ipfs/${cid}`, { accept: type }]
          ] as const) {
            const res = await get(path, headers);
            expect(res.status).toBe(200);
            expect(res.body).toEqual(block(cid));
            expect(res.headers['content-type']).toBe(type);
          }
        });

        it(`?format=${ext} and Accept: application/${ext} give the same bytes with the plain type`, async () => {
          for (const res of [
            await get(`/ipfs/${cid}?format=${ext}`),
            await get(`/ipfs/${cid}`, { accept: `application/${ext}` })
          ]) {
            expect(res.status).toBe(200);
            expect(res.body).toEqual(block(cid));
            expect(res.headers['content-type']).toBe(`application/${ext}`);
            expect(res.headers.etag).toBe(`"${cid}.${ext}"`);
          }
        });

        it('Content-Type, Content-Length, Content-Disposition; ?filename=; ?download=true', async () => {
          const res = await get(`/ipfs/${cid}`, { accept: type });
          expect(res.headers['content-type']).toBe(type);
          expect(res.headers['content-length']).toBe(String(block(cid).length));
          expect(res.headers['content-disposition']).toContain(`${disposition}; filename="${cid}.${ext}"`);
          const named = await get(`/ipfs/${cid}?filename=foobar.${ext}`, { accept: type });
          expect(named.headers['content-disposition']).toContain(`${disposition}; filename="foobar.${ext}"`);
          const download = await get(`/ipfs/${cid}?filename=foobar.${ext}&download=true`, { accept: type });
          expect(download.headers['content-disposition']).toContain(`attachment; filename="foobar.${ext}"`);
        });

        it('cache headers', async () => {
          const res = await get(`/ipfs/${cid}`, { accept: type });
          expect(res.headers.etag).toBe(`"${cid}.${name}"`);
          expect(res.headers['x-ipfs-path']).toBe(`/ipfs/${cid}`);
          expect(res.headers['x-ipfs-roots']).toBe(cid);
          expect(res.headers['cache-control']).toBe(IMMUTABLE);
          expect(
            (await get(`/ipfs/${cid}`, { accept: type, 'if-none-match': `"${cid}.${name}"` })).status
          ).toBe(304);
        });

        it('HEAD without and with a format; only-if-cached for a missing CID → 412', async () => {
          const bare = await head(`/ipfs/${cid}`);
          expect(bare.status).toBe(200);
          expect(bare.headers['content-type']).toContain(type);
          expect(bare.headers['content-length']).toBe(String(block(cid).length));
          expect(bare.body.length).toBe(0);
          const formatted = await head(`/ipfs/${cid}?format=${name}`);
          expect(formatted.status).toBe(200);
          expect(formatted.headers.etag).toContain(`${cid}.${name}`);
          expect(formatted.headers['content-type']).toContain(type);
          expect(formatted.headers['content-length']).toBeDefined();
          const missing = CID.parse(MISSING).toV1().toString();
          expect((await head(`/ipfs/${missing}`, { 'cache-control': 'only-if-cached' })).status).toBe(412);
        });

        it('Accept: text/html gives an HTML view (DagIndex Etag, no Content-Disposition, not immutable)', async () => {
          const res = await get(`/ipfs/${cid}/`, { accept: 'text/html' });
          expect(res.status).toBe(200);
          expect(res.headers.etag).toContain('DagIndex-');
          expect(res.headers.etag).toContain(cid);
          expect(res.headers['content-type']).toContain('text/html');
          expect(res.headers['content-disposition']).toBeUndefined();
          expect(res.headers['cache-control']).toBe(LISTING_CC);
          expect(res.text).toContain('</html>');
          // Links become links to the linked blocks.
          expect(res.text).toMatch(/<a class="ipfs-hash" translate="no" href="\/ipfs\/ba[a-z0-9]+\/">/);
          // A browser-like Accept gets the view too; ?download=true gets the bytes.
          const browser = await get(`/ipfs/${cid}/`, {
            accept: 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8'
          });
          expect(browser.headers['content-type']).toContain('text/html');
          const download = await get(`/ipfs/${cid}/?download=true`, { accept: 'text/html' });
          expect(download.body).toEqual(block(cid));
        });

        it('ranges on /ipfs/{cid}/ with no header, the dag Accept and the plain Accept', async () => {
          for (const [headers, t] of [
            [{}, type],
            [{ accept: type }, type],
            [{ accept: `application/${ext}` }, `application/${ext}`]
          ] as const) {
            const single = await get(`/ipfs/${cid}/`, { ...headers, range: 'bytes=7-9' });
            const multi = await get(`/ipfs/${cid}/`, { ...headers, range: 'bytes=7-9,1-3' });
            expectRanges(single, multi, block(cid), t);
          }
        });
      });
    }
  });

  describe('subdomain gateway (/ipfs only)', () => {
    it('#143 the root listing hides the backlink', async () => {
      const res = await sub(DL_ROOT, '/');
      expect(res.status).toBe(200);
      expect(res.text).toContain('Index of');
      expect(res.text).not.toContain('<a href="/">..</a>');
      expect(res.headers['x-ipfs-path']).toBe(`/ipfs/${DL_ROOT}/`);
    });

    it('#144 a directory without a trailing slash redirects to a path-only Location', async () => {
      const res = await sub(DL_ROOT, '/%C4%85/%C4%99');
      expect(res.status).toBe(301);
      expect(res.headers.location).toBe('/%C4%85/%C4%99/');
    });

    it('#145 the listing links into the origin and breadcrumbs to the parent gateway', async () => {
      const res = await sub(DL_ROOT, '/%C4%85/%C4%99/');
      expect(res.status).toBe(200);
      expect(res.headers.etag).toContain('"DirIndex-');
      expect(res.text).toContain('Index of');
      expect(res.text).toContain('<a href="/%C4%85/%C4%99/..">..</a>');
      expect(res.text).toContain(
        `/ipfs/<a href="//${gwHost}/ipfs/${DL_ROOT}">${DL_ROOT}</a>/<a href="//${gwHost}/ipfs/${DL_ROOT}/%C4%85">ą</a>/<a href="//${gwHost}/ipfs/${DL_ROOT}/%C4%85/%C4%99">ę</a>`
      );
      expect(res.text).toContain('<a href="/%C4%85/%C4%99/file-%C5%BA%C5%82.txt">file-źł.txt</a>');
      expect(res.text).toContain(
        `<a class="ipfs-hash" translate="no" href="//${gwHost}/ipfs/${DL_FILE}?filename=file-%25C5%25BA%25C5%2582.txt">`
      );
    });

    it('#146/#148/#149 a path request to the gateway domain moves to the CID subdomain (v0 → v1)', async () => {
      const v1 = await request(svc.gatewayUrl, `/ipfs/${FILE}/`, { headers: { host: gwHost } });
      expect(v1.status).toBe(301);
      expect(v1.headers.location).toBe(`http://${FILE}.ipfs.${gwHost}/`);
      const dir = await request(svc.gatewayUrl, `/ipfs/${SUB_DIR}/`, { headers: { host: gwHost } });
      expect(dir.headers.location).toBe(`http://${SUB_DIR}.ipfs.${gwHost}/`);
      const v0 = await request(svc.gatewayUrl, `/ipfs/${HELLO_V0}/`, { headers: { host: gwHost } });
      expect(v0.status).toBe(301);
      expect(v0.headers.location).toContain(`http://${HELLO_V0TO1}.ipfs.${gwHost}/`);
    });

    it('#147 the redirect keeps a percent-encoded name as sent', async () => {
      const res = await request(
        svc.gatewayUrl,
        `/ipfs/${PCT_DIR}/Portugal%252C+Espa%C3%B1a=Peninsula%20Ib%C3%A9rica.txt`,
        {
          headers: { host: gwHost }
        }
      );
      expect(res.status).toBe(301);
      expect(res.headers.location).toBe(
        `http://${PCT_DIR}.ipfs.${gwHost}/Portugal%252C+Espa%C3%B1a=Peninsula%20Ib%C3%A9rica.txt`
      );
    });

    it('#150 {CID}.ipfs.{host} serves the payload', async () => {
      const res = await sub(FILE, '/');
      expect(res.status).toBe(200);
      expect(res.text).toBe('hello\n');
      expect(res.headers.etag).toBe(`"${FILE}"`);
    });

    it('#151 /ipfs/ is not mounted on a subdomain', async () => {
      expect((await sub(FILE, `/ipfs/${FILE}/`)).status).toBe(404);
    });

    it('#152-#155 a directory named ipfs on a subdomain: files, links, backlink, deep paths', async () => {
      const file = await sub(SUB_DIR, '/ipfs/file.txt');
      expect(file.status).toBe(200);
      expect(file.text).toContain('I am a txt file');
      const listing = await sub(SUB_DIR, '/');
      expect(listing.text).toContain('<a href="/hello">hello</a>');
      expect(listing.text).toContain('<a href="/ipfs">ipfs</a>');
      const nested = await sub(SUB_DIR, '/ipfs/ipns/');
      expect(nested.status).toBe(200);
      expect(nested.text).toContain('<a href="/ipfs/ipns/..">..</a>');
      expect(nested.text).toContain('<a href="/ipfs/ipns/bar">bar</a>');
      const deep = await sub(SUB_DIR, '/ipfs/ipns/bar');
      expect(deep.status).toBe(200);
      expect(deep.text).toContain('text-file-content');
    });

    it('#156 breadcrumbs on a subdomain point at the parent path gateway', async () => {
      const res = await sub(SUB_DIR, '/ipfs/ipns/');
      expect(res.text).toContain('Index of');
      expect(res.text).toContain(
        `/ipfs/<a href="//${gwHost}/ipfs/${SUB_DIR}">${SUB_DIR}</a>/<a href="//${gwHost}/ipfs/${SUB_DIR}/ipfs">ipfs</a>/<a href="//${gwHost}/ipfs/${SUB_DIR}/ipfs/ipns">ipns</a>`
      );
    });

    it('#157 an invalid CID is refused before any redirect, naming it', async () => {
      const res = await request(svc.gatewayUrl, '/ipfs/QmInvalidCID', { headers: { host: gwHost } });
      expect(res.status).toBe(400);
      expect(res.text).toContain('QmInvalidCID');
    });

    it('#158/#159 X-Forwarded-Proto picks the redirect scheme', async () => {
      for (const proto of ['https', 'http']) {
        const res = await request(svc.gatewayUrl, `/ipfs/${FILE}/`, {
          headers: { host: gwHost, 'x-forwarded-proto': proto }
        });
        expect(res.headers.location).toBe(`${proto}://${FILE}.ipfs.${gwHost}/`);
      }
    });

    it('#161/#162 a CID too long for a DNS label is a 400 in words, on the path form and the subdomain form', async () => {
      // Kubo's wording, which gateway-conformance looks for in both bodies.
      const wording = 'CID incompatible with DNS label length limit of 63';
      const path = await request(svc.gatewayUrl, `/ipfs/${TOO_LONG}/`, { headers: { host: gwHost } });
      expect(path.status).toBe(400);
      expect(path.text).toContain(wording);
      const direct = await sub(TOO_LONG, '/');
      expect(direct.status).toBe(400);
      expect(direct.text).toContain(wording);
    });

    it('#160 /ipfs/?uri=ipfs://… (registerProtocolHandler) redirects to the content path', async () => {
      const uri = encodeURIComponent(`ipfs://${DWF}/wiki/Diego_Maradona.html?x=1`);
      for (const host of [gwHost, 'fake.domain.com']) {
        const res = await request(svc.gatewayUrl, `/ipfs/?uri=${uri}`, { headers: { host } });
        expect(res.status).toBe(301);
        expect(res.headers.location).toBe(`/ipfs/${DWF}/wiki/Diego_Maradona.html?x=1`);
      }
      // `..` cannot climb out of the namespace.
      const climbing = await get(`/ipfs/?uri=${encodeURIComponent(`ipfs://${DWF}/../../etc`)}`);
      expect(climbing.headers.location).toBe(`/ipfs/${DWF}/etc`);
      const ipns = await get(`/ipns/?uri=${encodeURIComponent('ipns://en.wikipedia-on-ipfs.org/wiki/')}`);
      expect(ipns.status).toBe(301);
      expect(ipns.headers.location).toBe('/ipns/en.wikipedia-on-ipfs.org/wiki/');
      for (const bad of ['https://example.com/', 'not a uri', 'ipfs://']) {
        const res = await get(`/ipfs/?uri=${encodeURIComponent(bad)}`);
        expect(res.status).toBe(400);
        expect(res.text).toMatch(/uri query parameter/);
      }
    });

    it('#163-#166 a foreign Host is a path gateway; X-Forwarded-Host selects the subdomain gateway', async () => {
      const plain = await request(svc.gatewayUrl, `/ipfs/${FILE}`, { headers: { host: 'fake.domain.com' } });
      expect(plain.status).toBe(200);
      for (const proto of [undefined, 'https', 'http']) {
        const res = await request(svc.gatewayUrl, `/ipfs/${FILE}`, {
          headers: {
            host: 'fake.domain.com',
            'x-forwarded-host': gwHost,
            ...(proto == null ? {} : { 'x-forwarded-proto': proto })
          }
        });
        expect(res.status).toBe(301);
        expect(res.headers.location).toBe(`${proto ?? 'http'}://${FILE}.ipfs.${gwHost}/`);
      }
    });

    it('a label in another base moves to the canonical base32 CIDv1 label', async () => {
      const b36 = CID.parse(FILE).toString(base36);
      const res = await request(svc.gatewayUrl, '/?x=1', { headers: { host: `${b36}.ipfs.${gwHost}` } });
      expect(res.status).toBe(301);
      expect(res.headers.location).toBe(`http://${FILE}.ipfs.${gwHost}/?x=1`);
    });
  });

  describe('gateway.md §8 checks on deserialized responses', () => {
    it('#1 a raw-leaf file: body, immutable Cache-Control, Etag', async () => {
      const res = await get(`/ipfs/${FILE}`);
      expect(res.status).toBe(200);
      expect(res.text).toBe('hello\n');
      expect(res.headers['cache-control']).toBe(IMMUTABLE);
      expect(res.headers.etag).toBe(`"${FILE}"`);
    });

    it('#2 path headers and a type from the name', async () => {
      const res = await head(`/ipfs/${R1}/root2/root3/root4/index.html`);
      expect(res.headers['x-ipfs-path']).toBe(`/ipfs/${R1}/root2/root3/root4/index.html`);
      expect(res.headers['x-ipfs-roots']).toBe(`${R1},${R2},${R3},${R4},${FILE}`);
      expect(res.headers['content-type']).toMatch(/^text\/html/);
    });

    it('#3/#4 301 to the slash URL, then index.html', async () => {
      const r = await get(`/ipfs/${R1}/root2/root3/root4`);
      expect(r.status).toBe(301);
      expect(r.headers.location).toBe(`/ipfs/${R1}/root2/root3/root4/`);
      const res = await get(`/ipfs/${R1}/root2/root3/root4/`);
      expect(res.text).toBe('hello\n');
      expect(res.headers['content-type']).toMatch(/^text\/html/);
    });

    it('#5 the listing for a browser is HTML, not immutable, with a listing Etag', async () => {
      const res = await get(`/ipfs/${R1}/root2/root3/`, { accept: 'text/html' });
      expect(res.status).toBe(200);
      expect(res.headers['content-type']).toMatch(/^text\/html/);
      expect(res.text).toContain('root4');
      expect(res.headers['cache-control']).not.toContain('immutable');
      expect(res.headers.etag).not.toBe(`"${R3}"`);
    });

    it('#6/#7 404 for a missing name, 400 for a bad CID', async () => {
      expect((await get(`/ipfs/${R1}/i-do-not-exist`)).status).toBe(404);
      expect((await get('/ipfs/not-a-cid')).status).toBe(400);
    });

    it('#8 If-None-Match with a list and a weak tag, and *', async () => {
      const path = `/ipfs/${R1}/root2/root3/root4/index.html`;
      for (const inm of [`"fake", W/"${FILE}"`, '*']) {
        const res = await get(path, { 'if-none-match': inm });
        expect(res.status).toBe(304);
        expect(res.body.length).toBe(0);
      }
    });

    it('#9 HEAD: no body, Content-Length, the same Etag as GET', async () => {
      const res = await head(`/ipfs/${DWF}/ascii.txt`);
      expect(res.status).toBe(200);
      expect(res.body.length).toBe(0);
      expect(res.headers['content-length']).toBe('31');
      expect(res.headers.etag).toBe(`"${ASCII}"`);
      expect(res.headers['content-type']).toBe('text/plain; charset=utf-8');
    });

    it('#14 ?filename= gives inline with both name forms; ?download=true gives attachment', async () => {
      const name = 'test%D1%82%D0%B5%D1%81%D1%82.pdf';
      const inline = await get(`/ipfs/${DWF}/ascii.txt?filename=${name}`);
      expect(inline.headers['content-disposition']).toBe(
        `inline; filename="test____.pdf"; filename*=UTF-8''${name}`
      );
      expect(inline.headers['content-type']).toBe('application/pdf');
      const attachment = await get(`/ipfs/${DWF}/ascii.txt?filename=${name}&download=true`);
      expect(attachment.headers['content-disposition']).toBe(
        `attachment; filename="test____.pdf"; filename*=UTF-8''${name}`
      );
      const bare = await get(`/ipfs/${DWF}/ascii.txt?download=true`);
      expect(bare.headers['content-disposition']).toBe('attachment; filename="ascii.txt"');
    });

    it('#25 only-if-cached on a missing CID is 412 without a body', async () => {
      const res = await head(`/ipfs/${MISSING}`, { 'cache-control': 'only-if-cached' });
      expect(res.status).toBe(412);
    });

    it('(b) a service worker may not register for a whole root', async () => {
      expect((await get(`/ipfs/${R1}`, { 'service-worker': 'script' })).status).toBe(400);
    });
  });

  describe('request hygiene', () => {
    it.each([
      ['an invalid CID', '/ipfs/bafyinvalid'],
      ['a .. segment', `/ipfs/${R1}/root2/../root2/`],
      ['an encoded .. segment', `/ipfs/${R1}/root2/%2e%2e/root2/`],
      ['an encoded . segment', `/ipfs/${R1}/%2E/root2/`],
      ['bad percent-encoding', `/ipfs/${R1}/%E0%A4%A/`],
      ['a CID with a percent-encoded slash', `/ipfs/${R1}%2Froot2/`]
    ])('%s → 400', async (_name, path) => {
      expect((await get(path)).status).toBe(400);
    });

    it('a name with an encoded slash is one segment, not two', async () => {
      const res = await get(`/ipfs/${R1}/root2%2Froot3/`);
      expect(res.status).toBe(404);
    });

    it('/ipns/ is not served (501)', async () => {
      expect((await get('/ipns/x')).status).toBe(501);
      expect((await get('/ipns/en.wikipedia-on-ipfs.org/wiki/')).status).toBe(501);
    });
  });

  describe('content added through the API', () => {
    let key: string;
    beforeAll(async () => {
      key = (await registerUser(svc.apiUrl, svc.adminInvite, 'gateway-user')).apiKey;
    });
    const add = async (bytes: Uint8Array, name: string): Promise<string> => {
      const form = new FormData();
      form.set('data', new Blob([bytes as Uint8Array<ArrayBuffer>]), name);
      const res = await fetch(`${svc.apiUrl}/api/content/add`, {
        method: 'POST',
        headers: { authorization: `Bearer ${key}` },
        body: form
      });
      expect(res.status).toBe(200);
      return ((await res.json()) as { cid: string }).cid;
    };

    it('is served byte-identical in path and subdomain mode, whole and in ranges', async () => {
      const bytes = Buffer.from(deterministicBytes('firth-gateway-deserialized', 3 * 1024 * 1024 + 4321));
      const cid = await add(bytes, 'big.bin');
      const path = await get(`/ipfs/${cid}`);
      expect(path.status).toBe(200);
      expect(path.headers['content-length']).toBe(String(bytes.length));
      expect(path.body.equals(bytes)).toBe(true);
      const subdomain = await sub(cid, '/');
      expect(subdomain.status).toBe(200);
      expect(subdomain.body.equals(bytes)).toBe(true);
      // Across the first leaf boundary (1 MiB chunks).
      const start = 1024 * 1024 - 100;
      const ranged = await sub(cid, '/', { range: `bytes=${start}-${start + 299}` });
      expect(ranged.status).toBe(206);
      expect(ranged.body.equals(bytes.subarray(start, start + 300))).toBe(true);
      const tail = await get(`/ipfs/${cid}`, { range: 'bytes=-10' });
      expect(tail.body.equals(bytes.subarray(-10))).toBe(true);
      const h = await head(`/ipfs/${cid}`);
      expect(h.headers['content-length']).toBe(String(bytes.length));
      expect(h.headers['content-type']).toBe('application/octet-stream');
    });

    it('small text is served with a sniffed type; the app origin serves no user content', async () => {
      const marker = `firth-${Date.now()}-marker`;
      const html = Buffer.from(`<!DOCTYPE html><script>/* ${marker} */</script>\n`);
      const cid = await add(html, 'page.html');
      const path = await get(`/ipfs/${cid}`);
      expect(path.status).toBe(200);
      expect(path.headers['content-type']).toBe('text/html');
      expect(path.body.equals(html)).toBe(true);
      expect((await sub(cid, '/')).body.equals(html)).toBe(true);
      for (const p of [`/ipfs/${cid}`, `/ipfs/${cid}/`, `/api/ipfs/${cid}`]) {
        const app = await request(svc.apiUrl, p);
        expect(app.text).not.toContain(marker);
      }
    });
  });
});

describe('gateway file reading, range parsing and sniffing (units)', () => {
  /** A blockstore in a temporary directory, as the service keeps blocks. */
  async function tempBlockstore(): Promise<FsBlockstore> {
    const store = openBlockstore(await fs.mkdtemp(path.join(os.tmpdir(), 'firth-gw-unit-')));
    await store.open();
    return store;
  }

  /** A block source over a blockstore that records every block asked for. */
  function counting(mem: FsBlockstore): { source: BlockSource; asked: string[] } {
    const asked: string[] = [];
    const base = createBlockSource({ local: mem, networked: mem });
    return {
      asked,
      source: {
        ...base,
        get: (cid, o) => {
          asked.push(cid.toString());
          return base.get(cid, o);
        }
      }
    };
  }

  async function importFile(bytes: Uint8Array, chunkSize: number) {
    const mem = await tempBlockstore();
    let cid: CID | undefined;
    for await (const e of importer([{ content: bytes }], mem, {
      cidVersion: 1,
      rawLeaves: true,
      chunker: fixedSize({ chunkSize }),
      // Two levels: 4 leaves per node.
      layout: (await import('ipfs-unixfs-importer/layout')).balanced({ maxChildrenPerNode: 4 })
    })) {
      cid = e.cid;
    }
    const parts: Uint8Array[] = [];
    for await (const p of mem.get(cid!)) parts.push(p);
    return { mem, root: dagPb.decode(Buffer.concat(parts)) };
  }

  it('reads any range of a two-level file and fetches only the blocks it overlaps', async () => {
    const bytes = deterministicBytes('firth-read-range', 100 * 10);
    const { mem, root } = await importFile(bytes, 100);
    for (const [start, end] of [
      [0, 1000],
      [0, 100],
      [100, 200],
      [99, 101],
      [350, 351],
      [0, 400],
      [399, 801],
      [999, 1000]
    ] as const) {
      const { source, asked } = counting(mem);
      const parts: Uint8Array[] = [];
      for await (const p of readFile(root, start, end, source)) parts.push(p);
      expect(Buffer.concat(parts).equals(Buffer.from(bytes.subarray(start, end)))).toBe(true);
      const leaves = asked.filter((c) => c.startsWith('bafkrei'));
      // Leaves are 100 bytes: exactly those overlapping [start, end).
      expect(leaves.length).toBe(Math.ceil(end / 100) - Math.floor(start / 100));
    }
  });

  it('is pulled: a reader that stops early leaves the rest of the file unread', async () => {
    const bytes = deterministicBytes('firth-read-lazy', 100 * 64);
    const { mem, root } = await importFile(bytes, 100);
    const { source, asked } = counting(mem);
    const it = readFile(root, 0, bytes.length, source);
    await it.next();
    await it.return(undefined);
    expect(asked.filter((c) => c.startsWith('bafkrei')).length).toBeLessThan(32);
  });

  it('fails a file whose blocks hold fewer bytes than its metadata says', async () => {
    const leaf = new Uint8Array([1, 2, 3]);
    const mem = await tempBlockstore();
    const { sha256 } = await import('multiformats/hashes/sha2');
    const leafCid = CID.createV1(0x55, await sha256.digest(leaf));
    await mem.put(leafCid, leaf);
    const node = {
      Data: new UnixFS({ type: 'file', blockSizes: [10n] }).marshal(),
      Links: [{ Hash: leafCid, Tsize: 3 }]
    };
    const source = createBlockSource({ local: mem, networked: mem });
    await expect(async () => {
      for await (const _ of readFile(node, 0, 10, source)) {
        // drain
      }
    }).rejects.toThrow(/ended after/);
  });

  it('parses ranges like RFC 9110 says', () => {
    expect(parseRange(undefined, 10)).toEqual({ type: 'full' });
    expect(parseRange('bytes=0-0', 10)).toEqual({ type: 'partial', ranges: [{ start: 0, end: 0 }] });
    expect(parseRange('bytes=-20', 10)).toEqual({ type: 'partial', ranges: [{ start: 0, end: 9 }] });
    expect(parseRange('bytes=5-', 10)).toEqual({ type: 'partial', ranges: [{ start: 5, end: 9 }] });
    expect(parseRange('bytes=10-', 10)).toEqual({ type: 'unsatisfiable' });
    expect(parseRange('bytes=-0', 10)).toEqual({ type: 'unsatisfiable' });
    expect(parseRange('bytes=0-', 0)).toEqual({ type: 'unsatisfiable' });
    expect(parseRange('bytes=20-30, 1-2', 10)).toEqual({ type: 'partial', ranges: [{ start: 1, end: 2 }] });
    // More bytes than the whole, or too many ranges: the whole is sent.
    expect(parseRange('bytes=0-9,0-9', 10)).toEqual({ type: 'full' });
    expect(parseRange(`bytes=${Array.from({ length: 17 }, (_, i) => `${i}-${i}`).join(',')}`, 100)).toEqual({
      type: 'full'
    });
    expect(parseRange('lines=1-2', 10)).toEqual({ type: 'full' });
    expect(() => parseRange('bytes=2-1', 10)).toThrow(/malformed/);
    expect(() => parseRange('bytes=-', 10)).toThrow(/malformed/);
    expect(() => parseRange('bytes=x-1', 10)).toThrow(/malformed/);
  });

  it('sniffs types by magic bytes and the text/JSON heuristics', () => {
    const enc = (s: string) => new TextEncoder().encode(s);
    const bytes = (...b: number[]) => new Uint8Array([...b, ...new Array(16).fill(0)]);
    expect(sniffContentType(bytes(0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a), false)).toBe('image/png');
    expect(sniffContentType(bytes(0xff, 0xd8, 0xff, 0xe0), false)).toBe('image/jpeg');
    expect(sniffContentType(enc('GIF89a......'), false)).toBe('image/gif');
    expect(sniffContentType(enc('RIFF\x00\x00\x00\x00WEBPVP8 '), false)).toBe('image/webp');
    expect(sniffContentType(enc('%PDF-1.7\n'), false)).toBe('application/pdf');
    expect(sniffContentType(bytes(0, 0, 0, 0x20, ...enc('ftypisom')), false)).toBe('video/mp4');
    expect(sniffContentType(bytes(0, 0, 0, 0x1c, ...enc('ftypavif')), false)).toBe('image/avif');
    expect(sniffContentType(bytes(0x1f, 0x8b, 8), false)).toBe('application/gzip');
    expect(sniffContentType(bytes(0, 0x61, 0x73, 0x6d, 1, 0, 0, 0), false)).toBe('application/wasm');
    expect(sniffContentType(enc('<!DOCTYPE html><p>x'), true)).toBe('text/html');
    expect(sniffContentType(enc('  <html lang="en">'), true)).toBe('text/html');
    expect(
      sniffContentType(enc('<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg"/>'), true)
    ).toBe('image/svg+xml');
    expect(sniffContentType(enc('<svg viewBox="0 0 1 1"></svg>'), true)).toBe('image/svg+xml');
    expect(sniffContentType(enc('<?xml version="1.0"?><feed/>'), true)).toBe('application/xml');
    expect(sniffContentType(enc('{ "test": "i am a plain json file" }\n'), true)).toBe('application/json');
    expect(sniffContentType(enc('[1, 2, {"a": null}]'), true)).toBe('application/json');
    expect(sniffContentType(enc('{"a": [1, 2, tr'), false)).toBe('application/json');
    expect(sniffContentType(enc('{"a": "cut inside a str'), false)).toBe('application/json');
    expect(sniffContentType(enc('{"a" 1}'), false)).toBe(TEXT);
    expect(sniffContentType(enc('{ this is code }'), true)).toBe(TEXT);
    expect(sniffContentType(enc('{"a": 1} trailing'), true)).toBe(TEXT);
    expect(sniffContentType(enc('BMW is a car\n'), true)).toBe(TEXT);
    expect(sniffContentType(enc('héllo wörld\n'), true)).toBe(TEXT);
    expect(sniffContentType(new Uint8Array([0xef, 0xbb, 0xbf, ...enc('{"bom": true}')]), true)).toBe(
      'application/json'
    );
    expect(sniffContentType(new Uint8Array([0x01, 0x02, 0x03, 0xfe]), true)).toBe('application/octet-stream');
    expect(sniffContentType(new Uint8Array(0), true)).toBe(TEXT);
    expect(isJson('{"a": {"b": [true, false, null, -1.5e3]}}', true)).toBe(true);
    expect(isJson('{"a": {"b": [true, false, null, -1.5e3]', false)).toBe(true);
    expect(isJson('{"a": {"b": [true, false, null, -1.5e3]', true)).toBe(false);
    expect(isJson('{"a": 01}', false)).toBe(false);
  });
});

const TEXT = 'text/plain; charset=utf-8';
