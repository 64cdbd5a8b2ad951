import fs from 'node:fs/promises';
import http from 'node:http';
import path from 'node:path';
import { CarWriter } from '@ipld/car';
import * as dagPb from '@ipld/dag-pb';
import { MemoryBlockstore } from 'blockstore-core';
import { importBytes } from 'ipfs-unixfs-importer';
import { fixedSize } from 'ipfs-unixfs-importer/chunker';
import { balanced } from 'ipfs-unixfs-importer/layout';
import { CID } from 'multiformats/cid';
import * as raw from 'multiformats/codecs/raw';
import { sha256 } from 'multiformats/hashes/sha2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deterministicBytes } from '../helpers/bytes.ts';
import { DATABASES, serviceDatabase } from '../helpers/databases.ts';
import { registerUser, startTestService, type TestService } from '../helpers/service.ts';

const FIXTURES = path.resolve(import.meta.dirname, '../../../shared/fixtures/gateway-conformance');

/** The import profile, spelled out from the npm importer's own options (not the service's code). */
const PROFILE = {
  cidVersion: 1,
  rawLeaves: true,
  reduceSingleLeafToSelf: true,
  chunker: fixedSize({ chunkSize: 1024 * 1024 }),
  layout: balanced({ maxChildrenPerNode: 1024 })
} as const;

async function carOf(blocks: MemoryBlockstore, root: CID): Promise<Uint8Array> {
  const { writer, out } = CarWriter.create([root]);
  const chunks: Uint8Array[] = [];
  const done = (async () => {
    for await (const c of out) chunks.push(c);
  })();
  for await (const { cid, bytes } of blocks.getAll()) {
    const parts: Uint8Array[] = [];
    for await (const p of bytes) parts.push(p);
    await writer.put({ cid, bytes: Buffer.concat(parts) });
  }
  await writer.close();
  await done;
  return Buffer.concat(chunks);
}

async function carFromBlocks(root: CID, blocks: Array<{ cid: CID; bytes: Uint8Array }>): Promise<Uint8Array> {
  const { writer, out } = CarWriter.create([root]);
  const chunks: Uint8Array[] = [];
  const done = (async () => {
    for await (const c of out) chunks.push(c);
  })();
  for (const b of blocks) await writer.put(b);
  await writer.close();
  await done;
  return Buffer.concat(chunks);
}

async function countFiles(dir: string): Promise<number> {
  try {
    const entries = await fs.readdir(dir, { recursive: true, withFileTypes: true });
    return entries.filter((e) => e.isFile()).length;
  } catch {
    return 0;
  }
}

describe.each(DATABASES)('content API on %s', (kind) => {
  let svc: TestService;
  let dropDb: () => Promise<void>;
  let key: string;

  const api = (p: string, init: RequestInit = {}) => {
    const headers = new Headers(init.headers);
    if (!headers.has('authorization')) headers.set('authorization', `Bearer ${key}`);
    return fetch(`${svc.apiUrl}/api${p}`, { ...init, headers });
  };
  const addFile = (bytes: Uint8Array, name = 'file.bin', extra: Record<string, string> = {}) => {
    const form = new FormData();
    form.set('data', new Blob([bytes as Uint8Array<ArrayBuffer>]), name);
    for (const [k, v] of Object.entries(extra)) form.set(k, v);
    return api('/content/add', { method: 'POST', body: form });
  };
  const addCar = (bytes: Uint8Array, query = '') =>
    api(`/content/add-car${query}`, {
      method: 'POST',
      body: bytes as Uint8Array<ArrayBuffer>,
      headers: { 'content-type': 'application/vnd.ipld.car' }
    });

  beforeAll(async () => {
    const dbOpts = await serviceDatabase(kind);
    dropDb = dbOpts.drop;
    svc = await startTestService({
      databaseUrl: dbOpts.databaseUrl,
      env: { FIRTH_MAX_UPLOAD_BYTES: String(8 * 1024 * 1024) }
    });
    key = (await registerUser(svc.apiUrl, svc.adminInvite, 'alice')).apiKey;
  });
  afterAll(async () => {
    await svc?.stop();
    await dropDb?.();
  });

  it('gives the same CID through add, add-car and ipfs-unixfs-importer', async () => {
    const bytes = deterministicBytes('firth-same-cid', 3 * 1024 * 1024 + 12345);
    const blocks = new MemoryBlockstore();
    const expected = (await importBytes(bytes, blocks, PROFILE)).cid;

    const viaAdd = await addFile(bytes, 'same.bin');
    expect(viaAdd.status).toBe(200);
    const added = await viaAdd.json();
    expect(added.cid).toBe(expected.toString());
    // retrieval_url is for scripts: Node's fetch (following redirects, as scripts do) gets the bytes,
    // with no redirect to a `*.localhost` subdomain it cannot resolve. Browsers get subdomain_url.
    const fetched = await fetch(added.retrieval_url);
    expect(fetched.status).toBe(200);
    expect(fetched.redirected).toBe(false);
    expect(Buffer.from(await fetched.arrayBuffer()).equals(Buffer.from(bytes))).toBe(true);
    const { gatewayUrl } = await (await fetch(`${svc.apiUrl}/api/public/info`)).json();
    expect(added.subdomain_url).toBe(
      `http://${expected.toV1().toString()}.ipfs.${new URL(gatewayUrl).host}/`
    );
    expect(added).toMatchObject({
      estuaryId: expect.any(Number),
      retrieval_url: expect.stringContaining(`/ipfs/${expected}`),
      providers: expect.arrayContaining([expect.stringMatching(/\/p2p\/12D3Koo/)])
    });

    const viaCar = await addCar(await carOf(blocks, expected), '?filename=same.car');
    expect(viaCar.status).toBe(200);
    expect((await viaCar.json()).cid).toBe(expected.toString());

    const content = await (await api(`/content/${added.estuaryId}`)).json();
    expect(content).toMatchObject({
      cid: expected.toString(),
      name: 'same.bin',
      size: bytes.length,
      type: 1,
      pinningStatus: 'pinned',
      replication: 6
    });
  });

  it('matches the published unixfs-v1-2025 vectors', async () => {
    const cases: Array<[Uint8Array, string]> = [
      [
        new TextEncoder().encode('hello world\n'),
        'bafkreifjjcie6lypi6ny7amxnfftagclbuxndqonfipmb64f2km2devei4'
      ],
      [
        deterministicBytes('chunk-v1-seed', 1024 * 1024),
        'bafkreiacndfy443ter6qr2tmbbdhadvxxheowwf75s6zehscklu6ezxmta'
      ],
      [
        deterministicBytes('chunk-v1-seed', 1024 * 1024 + 1),
        'bafybeigmix7t42i6jacydtquhet7srwvgpizfg7gjbq7627d35mjomtu64'
      ],
      [new Uint8Array(0), 'bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku']
    ];
    for (const [bytes, cid] of cases) {
      const res = await addFile(bytes);
      expect(res.status).toBe(200);
      expect((await res.json()).cid).toBe(cid);
    }
  });

  it('takes filename and replication from the form and lists, finds and counts content', async () => {
    const res = await addFile(new TextEncoder().encode('named\n'), 'orig.txt', {
      filename: 'renamed.txt',
      replication: '3'
    });
    const { estuaryId, cid } = await res.json();
    const list = await (await api('/content/list')).json();
    expect(list.find((c: { id: number }) => c.id === estuaryId)).toMatchObject({
      name: 'renamed.txt',
      replication: 3,
      cid
    });
    const status = await (await api(`/content/status/${estuaryId}`)).json();
    expect(status).toMatchObject({ content: { id: estuaryId }, deals: [], failuresCount: 0 });
    const byCid = await (await api(`/content/by-cid/${cid}`)).json();
    expect(byCid.map((r: { content: { id: number } }) => r.content.id)).toContain(estuaryId);
    const pub = await (await fetch(`${svc.apiUrl}/api/public/by-cid/${cid}`)).json();
    expect(pub[0].content).toMatchObject({ cid, pinningStatus: 'pinned' });
    expect(pub[0].content.name).toBeUndefined();
    const stats = await (await api('/content/stats?limit=2')).json();
    expect(stats.length).toBe(2);
    const userStats = await (await api('/user/stats')).json();
    expect(userStats.numPins).toBeGreaterThan(0);
    expect(userStats.totalSize).toBeGreaterThan(0);
    expect((await addFile(new Uint8Array([1]), 'x', { replication: '0' })).status).toBe(400);
    expect((await addFile(new Uint8Array([1]), 'x', { replication: 'six' })).status).toBe(400);
  });

  it('stores the conformance fixture CARs and finds CIDv0 roots by either form', async () => {
    const car = await fs.readFile(path.join(FIXTURES, 'path_gateway_unixfs/dir-with-files.car'));
    const res = await addCar(car);
    expect(res.status).toBe(200);
    const body = await res.json();
    const content = await (await api(`/content/${body.estuaryId}`)).json();
    expect(content.type).toBe(2);

    const v0car = await fs.readFile(path.join(FIXTURES, 'subdomain_gateway/fixtures.car'));
    const v0 = await addCar(v0car);
    if (v0.status === 200) {
      const { cid } = await v0.json();
      const parsed = CID.parse(cid);
      const other = parsed.version === 0 ? parsed.toV1().toString() : parsed.toString();
      expect((await (await api(`/content/by-cid/${other}`)).json()).length).toBeGreaterThan(0);
    } else {
      // A fixture with several roots is refused with a reason.
      expect(v0.status).toBe(400);
    }
  });

  it('refuses bad input with a 400 that says what is wrong, storing nothing', async () => {
    const blocksDir = path.join(svc.dataDir, 'blocks');
    const before = await countFiles(blocksDir);
    const rows = (await (await api('/content/list')).json()).length;

    const good = new TextEncoder().encode('a block whose bytes will be swapped');
    const goodCid = CID.createV1(raw.code, await sha256.digest(good));
    const liar = await addCar(
      await carFromBlocks(goodCid, [{ cid: goodCid, bytes: new TextEncoder().encode('other bytes') }])
    );
    expect(liar.status).toBe(400);
    expect((await liar.json()).error).toMatchObject({
      reason: 'ERR_BLOCK_MISMATCH',
      details: expect.stringContaining(goodCid.toString())
    });

    const missing = await fs.readFile(
      path.join(FIXTURES, 'trustless_gateway_car/file-3k-and-3-blocks-missing-block.car')
    );
    const incomplete = await addCar(missing);
    expect(incomplete.status).toBe(400);
    expect((await incomplete.json()).error.reason).toBe('ERR_INCOMPLETE_DAG');

    const leaf = new TextEncoder().encode('leaf');
    const leafCid = CID.createV1(raw.code, await sha256.digest(leaf));
    const node = dagPb.encode({ Links: [{ Hash: leafCid, Name: 'a', Tsize: 4 }] });
    const nodeCid = CID.createV1(dagPb.code, await sha256.digest(node));
    const twoRoots = await (async () => {
      const { writer, out } = CarWriter.create([nodeCid, leafCid]);
      const chunks: Uint8Array[] = [];
      const done = (async () => {
        for await (const c of out) chunks.push(c);
      })();
      await writer.put({ cid: nodeCid, bytes: node });
      await writer.put({ cid: leafCid, bytes: leaf });
      await writer.close();
      await done;
      return Buffer.concat(chunks);
    })();
    const multi = await addCar(twoRoots);
    expect(multi.status).toBe(400);
    expect((await multi.json()).error.details).toMatch(/exactly one root/);

    const garbage = await addCar(new TextEncoder().encode('this is not a CAR'));
    expect(garbage.status).toBe(400);
    expect((await garbage.json()).error.reason).toBe('ERR_INVALID_CAR');
    const truncated = await carFromBlocks(nodeCid, [
      { cid: nodeCid, bytes: node },
      { cid: leafCid, bytes: leaf }
    ]);
    expect((await addCar(truncated.subarray(0, truncated.length - 3))).status).toBe(400);

    const notMultipart = await api('/content/add', {
      method: 'POST',
      body: 'hello',
      headers: { 'content-type': 'text/plain' }
    });
    expect(notMultipart.status).toBe(415);
    const badMultipart = await api('/content/add', {
      method: 'POST',
      body: '--xyz\r\nContent-Disposition: form-data; name="data"; filename="a"\r\n\r\nunterminated',
      headers: { 'content-type': 'multipart/form-data; boundary=xyz' }
    });
    expect(badMultipart.status).toBe(400);
    const noFile = new FormData();
    noFile.set('filename', 'x');
    expect((await api('/content/add', { method: 'POST', body: noFile })).status).toBe(400);
    const wrongField = new FormData();
    wrongField.set('file', new Blob(['x']), 'x');
    expect((await api('/content/add', { method: 'POST', body: wrongField })).status).toBe(400);

    const badCid = await api('/content/add-ipfs', {
      method: 'POST',
      body: JSON.stringify({ cid: 'not-a-cid' }),
      headers: { 'content-type': 'application/json' }
    });
    expect(badCid.status).toBe(400);
    expect((await badCid.json()).error.details).toMatch(/not a valid CID/);
    expect((await api('/content/by-cid/nope')).status).toBe(400);
    expect((await api('/content/abc')).status).toBe(400);

    expect(await countFiles(blocksDir)).toBe(before);
    expect((await (await api('/content/list')).json()).length).toBe(rows);
    expect(await countFiles(path.join(svc.dataDir, 'staging'))).toBe(0);
  });

  it('refuses an upload over FIRTH_MAX_UPLOAD_BYTES with 413, declared or streamed', async () => {
    const big = deterministicBytes('too-big', 9 * 1024 * 1024);
    const declared = await addFile(big);
    expect(declared.status).toBe(413);
    expect((await declared.json()).error.reason).toBe('ERR_CONTENT_SIZE_OVER_LIMIT');

    // Chunked (no Content-Length): the limit is enforced while streaming a valid CAR.
    const blocks = new MemoryBlockstore();
    const root = (await importBytes(big, blocks, PROFILE)).cid;
    const car = await carOf(blocks, root);
    const streamed = await api('/content/add-car', {
      method: 'POST',
      body: new ReadableStream({
        start(c) {
          for (let i = 0; i < car.length; i += 1024 * 1024) c.enqueue(car.subarray(i, i + 1024 * 1024));
          c.close();
        }
      }),
      duplex: 'half'
    } as RequestInit);
    expect(streamed.status).toBe(413);
    expect(await countFiles(path.join(svc.dataDir, 'staging'))).toBe(0);
  });

  it('counts every file of a streamed folder upload against FIRTH_MAX_UPLOAD_BYTES', async () => {
    const form = new FormData();
    for (const name of ['a.bin', 'b.bin'])
      form.append(
        'data',
        new Blob([deterministicBytes(name, 5 * 1024 * 1024) as Uint8Array<ArrayBuffer>]),
        `folder/${name}`
      );
    const request = new Request('http://x/', { method: 'POST', body: form });
    // Chunked (no Content-Length): each file is under the limit, the two together are not.
    const streamed = await api('/content/add', {
      method: 'POST',
      headers: { 'content-type': request.headers.get('content-type')! },
      body: request.body,
      duplex: 'half'
    } as RequestInit);
    expect(streamed.status).toBe(413);
    expect((await streamed.json()).error.reason).toBe('ERR_CONTENT_SIZE_OVER_LIMIT');
    expect(await countFiles(path.join(svc.dataDir, 'staging'))).toBe(0);
  });

  it('leaves nothing behind when the client goes away mid-upload', async () => {
    const blocksDir = path.join(svc.dataDir, 'blocks');
    const before = await countFiles(blocksDir);
    const rows = (await (await api('/content/list')).json()).length;
    const url = new URL(`${svc.apiUrl}/api/content/add`);
    const boundary = 'firthboundary';
    await new Promise<void>((resolve) => {
      const req = http.request({
        host: url.hostname,
        port: url.port,
        path: url.pathname,
        method: 'POST',
        headers: {
          authorization: `Bearer ${key}`,
          'content-type': `multipart/form-data; boundary=${boundary}`,
          'content-length': String(6 * 1024 * 1024)
        }
      });
      req.on('error', () => resolve());
      req.write(`--${boundary}\r\nContent-Disposition: form-data; name="data"; filename="cut.bin"\r\n\r\n`);
      req.write(deterministicBytes('cut-off', 3 * 1024 * 1024), () => {
        setTimeout(() => {
          req.destroy();
          resolve();
        }, 200);
      });
    });
    // The server notices the close and cleans up.
    for (let i = 0; i < 50 && (await countFiles(path.join(svc.dataDir, 'staging'))) > 0; i++)
      await new Promise((r) => setTimeout(r, 100));
    expect(await countFiles(path.join(svc.dataDir, 'staging'))).toBe(0);
    expect(await countFiles(blocksDir)).toBe(before);
    expect((await (await api('/content/list')).json()).length).toBe(rows);
  });

  it('answers another user with 404, never data', async () => {
    const { estuaryId, cid } = await (await addFile(new TextEncoder().encode('private\n'))).json();
    const invite = (await (await api('/admin/invite/other', { method: 'POST' })).json()).code;
    const other = (await registerUser(svc.apiUrl, invite, 'mallory')).apiKey;
    const asOther = (p: string) =>
      fetch(`${svc.apiUrl}/api${p}`, { headers: { authorization: `Bearer ${other}` } });
    expect((await asOther(`/content/${estuaryId}`)).status).toBe(404);
    expect((await asOther(`/content/status/${estuaryId}`)).status).toBe(404);
    expect(await (await asOther(`/content/by-cid/${cid}`)).json()).toEqual([]);
    expect(await (await asOther('/content/list')).json()).toEqual([]);
  });

  it('does not serve user content on the app origin', async () => {
    const { cid } = await (
      await addFile(new TextEncoder().encode('<script>alert(1)</script>'), 'x.html')
    ).json();
    const res = await fetch(`${svc.apiUrl}/ipfs/${cid}`);
    expect(await res.text()).not.toContain('<script>alert(1)</script>');
  });
});
