import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestService, type TestService } from '../helpers/service.ts';
import { loadFixture, parseCar } from './helpers/car-fixtures.ts';

// The twenty-five independent HTTP checks of reference/gateway.md §8, in order, as one reviewer
// would run them with curl against a gateway holding fixtures A–D (and not MISSING).
const A = 'bafybeib3ffl2teiqdncv3mkz4r23b5ctrwkzrrhctdbne6iboayxuxk5ui';
const R2 = 'bafybeih2w7hjocxjg6g2ku25hvmd53zj7og4txpby3vsusfefw5rrg5sii';
const R3 = 'bafybeiawdvhmjcz65x5egzx4iukxc72hg4woks6v6fvgyupiyt3oczk5ja';
const R4 = 'bafybeifq2rzpqnqrsdupncmkmhs3ckxxjhuvdcbvydkgvch3ms24k5lo7q';
const FILE = 'bafkreicysg23kiwv34eg2d7qweipxwosdo2py4ldv42nbauguluen5v6am';
const B = 'bafybeihchr7vmgjaasntayyatmp5sv6xza57iy2h4xj7g46bpjij6yhrmy';
const ASCII = 'bafkreifkam6ns4aoolg3wedr4uzrs3kvq66p4pecirz6y2vlrngla62mxm';
const HELLO = 'bafkreifjjcie6lypi6ny7amxnfftagclbuxndqonfipmb64f2km2devei4';
const MB = 'bafybeigcisqd7m5nf3qmuvjdbakl5bdnh4ocrmacaqkpuh77qjvggmt2sa';
const L = [
  'bafkreie5noke3mb7hqxukzcy73nl23k6lxszxi5w3dtmuwz62wnvkpsscm',
  'bafkreih4ephajybraj6wnxsbwjwa77fukurtpl7oj7t7pfq545duhot7cq',
  'bafkreigu7buvm3cfunb35766dn7tmqyh2um62zcio63en2btvxuybgcpue',
  'bafkreicll3huefkc3qnrzeony7zcfo7cr3nbx64hnxrqzsixpceg332fhe',
  'bafkreifst3pqztuvj57lycamoi7z34b4emf7gawxs74nwrc2c7jncmpaqm'
];
const C = 'bafybeidh6k2vzukelqtrjsmd4p52cpmltd2ufqrdtdg6yigi73in672fwu';
const CSUB = 'bafybeicnmple4ehlz3ostv2sbojz3zhh5q7tz5r2qkfdpqfilgggeen7xm';
const D = 'QmYhmPjhFjYFyaoiuNzYv8WGavpSRDwdHWe5B4M5du5Rtk';
const MISSING = 'QmYzfKSE55XCjD1MW128RfciAf2DViABhEiXfgVFMabSjN';

describe('the 25 checks of gateway.md §8', () => {
  let svc: TestService;
  let GW: string;
  const get = (path: string, headers: Record<string, string> = {}, method = 'GET') =>
    fetch(`${GW}${path}`, { headers, method, redirect: 'manual' });
  const carOf = async (res: Response) => (await parseCar(new Uint8Array(await res.arrayBuffer()))).cids;

  beforeAll(async () => {
    // Recursion would turn the MISSING checks into waits: keep the retrieval timeout short.
    svc = await startTestService({ env: { FIRTH_GATEWAY_TIMEOUT: '2' } });
    GW = svc.gatewayUrl;
    for (const f of [
      'gateway-cache/fixtures.car',
      'path_gateway_unixfs/dir-with-files.car',
      'trustless_gateway_car/subdir-with-mixed-block-files.car',
      'trustless_gateway_car/file-3k-and-3-blocks-missing-block.car'
    ]) {
      await loadFixture(svc.node.blockstore, f);
    }
  });
  afterAll(async () => {
    await svc?.stop();
  });

  it('#1 a file: body, immutable Cache-Control, Etag', async () => {
    const res = await get(`/ipfs/${FILE}`);
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('hello\n');
    expect(res.headers.get('cache-control')).toBe('public, max-age=29030400, immutable');
    expect(res.headers.get('etag')).toBe(`"${FILE}"`);
  });

  it('#2 X-Ipfs-Path and X-Ipfs-Roots through a path; text/html by name', async () => {
    const res = await get(`/ipfs/${A}/root2/root3/root4/index.html`);
    expect(res.status).toBe(200);
    expect(res.headers.get('x-ipfs-path')).toBe(`/ipfs/${A}/root2/root3/root4/index.html`);
    expect(res.headers.get('x-ipfs-roots')).toBe([A, R2, R3, R4, FILE].join(','));
    expect(res.headers.get('content-type')).toMatch(/^text\/html/);
  });

  it('#3 a directory without its trailing slash: 301', async () => {
    const res = await get(`/ipfs/${A}/root2/root3/root4`);
    expect(res.status).toBe(301);
    expect(res.headers.get('location')).toBe(`/ipfs/${A}/root2/root3/root4/`);
  });

  it('#4 a directory with index.html serves it', async () => {
    const res = await get(`/ipfs/${A}/root2/root3/root4/`);
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('hello\n');
    expect(res.headers.get('content-type')).toMatch(/^text\/html/);
  });

  it('#5 a generated listing: not immutable, its own Etag', async () => {
    const res = await get(`/ipfs/${A}/root2/root3/`, { accept: 'text/html' });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/html/);
    expect(await res.text()).toContain('root4');
    expect(res.headers.get('cache-control') ?? '').not.toContain('immutable');
    expect(res.headers.get('etag')).not.toBe(`"${R3}"`);
  });

  it('#6 a missing path: 404; #7 not a CID: 400', async () => {
    expect((await get(`/ipfs/${A}/i-do-not-exist`)).status).toBe(404);
    expect((await get('/ipfs/not-a-cid')).status).toBe(400);
  });

  it('#8 If-None-Match lists, weak tags and * give 304 with no body', async () => {
    for (const inm of [`"fake", W/"${FILE}"`, '*']) {
      const res = await get(`/ipfs/${A}/root2/root3/root4/index.html`, { 'if-none-match': inm });
      expect(res.status).toBe(304);
      expect(await res.text()).toBe('');
    }
  });

  it('#9 HEAD: no body, Content-Length, the GET Etag', async () => {
    const res = await get(`/ipfs/${B}/ascii.txt`, {}, 'HEAD');
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('');
    expect(res.headers.get('content-length')).toBe('31');
    expect(res.headers.get('etag')).toBe(`"${ASCII}"`);
  });

  it('#10 #11 #12 byte ranges on a file', async () => {
    const plain = await get(`/ipfs/${B}/ascii.txt`);
    expect(plain.headers.get('accept-ranges')).toBe('bytes');
    const one = await get(`/ipfs/${B}/ascii.txt`, { range: 'bytes=6-16' });
    expect(one.status).toBe(206);
    expect(one.headers.get('content-range')).toBe('bytes 6-16/31');
    expect(await one.text()).toBe('application');
    const suffix = await get(`/ipfs/${B}/ascii.txt`, { range: 'bytes=-3' });
    expect(suffix.status).toBe(206);
    expect(suffix.headers.get('content-range')).toBe('bytes 28-30/31');
    expect(await suffix.text()).toBe('ar\n');
    const multi = await get(`/ipfs/${B}/ascii.txt`, { range: 'bytes=6-16,0-4' });
    expect(multi.status).toBe(206);
    const type = multi.headers.get('content-type') ?? '';
    const body = await multi.text();
    if (type.startsWith('multipart/byteranges')) {
      expect(body).toContain('Content-Range: bytes 6-16/31');
      expect(body).toContain('application');
      expect(body).toContain('Content-Range: bytes 0-4/31');
      expect(body).toContain('hello');
    } else {
      expect(multi.headers.get('content-range')).toBe('bytes 6-16/31');
      expect(body).toBe('application');
    }
  });

  it('#13 ranges need only the blocks they cover', async () => {
    for (const [range, expected] of [
      ['bytes=997-1000', 'bytes 997-1000/3072'],
      ['bytes=2200-2201', 'bytes 2200-2201/3072']
    ]) {
      const res = await get(`/ipfs/${D}`, { range: range! });
      expect(res.status).toBe(206);
      expect(res.headers.get('content-range')).toBe(expected);
      await res.arrayBuffer();
    }
  });

  it('#14 filename and download give both Content-Disposition forms', async () => {
    const q = `/ipfs/${B}/ascii.txt?filename=test%D1%82%D0%B5%D1%81%D1%82.pdf`;
    expect((await get(q)).headers.get('content-disposition')).toBe(
      `inline; filename="test____.pdf"; filename*=UTF-8''test%D1%82%D0%B5%D1%81%D1%82.pdf`
    );
    expect((await get(`${q}&download=true`)).headers.get('content-disposition')).toBe(
      `attachment; filename="test____.pdf"; filename*=UTF-8''test%D1%82%D0%B5%D1%81%D1%82.pdf`
    );
  });

  it('#15 #16 #17 raw blocks by ?format and by Accept; ?format wins', async () => {
    const res = await get(`/ipfs/${R4}?format=raw`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/vnd.ipld.raw');
    const body = new Uint8Array(await res.arrayBuffer());
    expect(body.byteLength).toBe(58);
    expect(Buffer.from(body).toString('hex')).toMatch(/^12340a24015512205891b5b5.*18060a020801$/);
    expect(createHash('sha256').update(body).digest('hex')).toBe(
      Buffer.from((await import('multiformats/cid')).CID.parse(R4).multihash.digest).toString('hex')
    );
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    expect(res.headers.get('content-disposition')).toBe(`attachment; filename="${R4}.bin"`);
    expect(res.headers.get('cache-control')).toContain('immutable');
    expect(res.headers.get('etag')).toBe(`"${R4}.raw"`);

    const byAccept = await get(`/ipfs/${R4}`, { accept: 'application/vnd.ipld.raw' });
    expect(new Uint8Array(await byAccept.arrayBuffer())).toEqual(body);
    expect(byAccept.headers.get('content-type')).toBe('application/vnd.ipld.raw');
    expect(byAccept.headers.get('content-location')).toBe(`/ipfs/${R4}?format=raw`);

    const both = await get(`/ipfs/${R4}?format=raw`, { accept: 'application/vnd.ipld.car' });
    expect(both.headers.get('content-type')).toBe('application/vnd.ipld.raw');
  });

  it('#18 the bafkqaaa probe', async () => {
    const res = await get('/ipfs/bafkqaaa?format=raw');
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('');
    expect((await get('/ipfs/bafkqaaa?format=raw', {}, 'HEAD')).status).toBe(200);
  });

  it('#19 a missing root: 404 for raw, CAR and HEAD', async () => {
    expect((await get(`/ipfs/${MISSING}?format=raw`)).status).toBe(404);
    expect((await get(`/ipfs/${MISSING}?format=car`)).status).toBe(404);
    expect((await get(`/ipfs/${MISSING}?format=raw`, {}, 'HEAD')).status).toBe(404);
  });

  it('#20 a CAR through a path: headers and exactly the blocks, in DFS order', async () => {
    const res = await get(`/ipfs/${C}/subdir/multiblock.txt?format=car`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^application\/vnd\.ipld\.car.*version=1/);
    expect(res.headers.get('content-type')).toContain('order=dfs');
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    expect(res.headers.get('accept-ranges')).toBe('none');
    expect(res.headers.get('content-disposition')).toMatch(/^attachment; filename=".*\.car"$/);
    expect(res.headers.get('etag')).toBeTruthy();
    expect(await carOf(res)).toEqual([C, CSUB, MB, ...L]);
  });

  it('#21 dag-scope block, entity and all', async () => {
    const base = `/ipfs/${C}/subdir?format=car&dag-scope=`;
    expect(await carOf(await get(`${base}block`))).toEqual([C, CSUB]);
    expect(await carOf(await get(`${base}entity`))).toEqual([C, CSUB]);
    expect(new Set(await carOf(await get(`${base}all`)))).toEqual(new Set([C, CSUB, ASCII, HELLO, MB, ...L]));
    expect((await carOf(await get(`${base}all`))).length).toBe(10);
  });

  it('#22 entity-bytes picks the leaves it covers; each range has its own Etag', async () => {
    const etags = new Set<string>();
    for (const [range, leaves] of [
      ['512:1023', [L[2], L[3]]],
      ['-5:*', [L[3], L[4]]],
      ['0:0', [L[0]]]
    ] as const) {
      const res = await get(`/ipfs/${MB}?format=car&dag-scope=entity&entity-bytes=${range}`);
      etags.add(res.headers.get('etag')!);
      expect(await carOf(res)).toEqual([MB, ...leaves]);
    }
    etags.add((await get(`/ipfs/${MB}?format=car`)).headers.get('etag')!);
    expect(etags.size).toBe(4);
  });

  it('#23 dups=y repeats blocks, dups=n does not', async () => {
    const y = await get(`/ipfs/${B}`, { accept: 'application/vnd.ipld.car; version=1; order=dfs; dups=y' });
    expect(y.headers.get('content-type')).toMatch(/order=dfs.*dups=y/);
    expect(await carOf(y)).toEqual([B, ASCII, ASCII, HELLO, MB, ...L]);
    const n = await get(`/ipfs/${B}`, { accept: 'application/vnd.ipld.car; version=1; order=dfs; dups=n' });
    expect(n.headers.get('content-type')).toMatch(/order=dfs.*dups=n/);
    expect(await carOf(n)).toEqual([B, ASCII, HELLO, MB, ...L]);
  });

  it('#24 identity CIDs are never sent as blocks', async () => {
    const res = await get('/ipfs/bafkqaf3imvwgy3zaneqgc3janfxgy2lomvscay3jmqfa', {
      accept: 'application/vnd.ipld.car; dups=y'
    });
    expect(res.status).toBe(200);
    expect(await carOf(res)).toEqual([]);
  });

  it('#25 only-if-cached: 412 when not held, 200 when held', async () => {
    const missing = await get(`/ipfs/${MISSING}`, { 'cache-control': 'only-if-cached' }, 'HEAD');
    expect(missing.status).toBe(412);
    expect(await missing.text()).toBe('');
    expect((await get(`/ipfs/${R4}?format=raw`, { 'cache-control': 'only-if-cached' }, 'HEAD')).status).toBe(
      200
    );
  });

  it('extras: Service-Worker at the root is refused; a codec that does not fit is 406', async () => {
    expect((await get(`/ipfs/${A}`, { 'service-worker': 'script' })).status).toBe(400);
    expect((await get(`/ipfs/${MB}?format=dag-json`)).status).toBe(406);
  });
});
