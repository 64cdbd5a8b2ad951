import http from 'node:http';
import { extract } from 'it-tar';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestService, type TestService } from '../helpers/service.ts';
import { loadFixture } from './helpers/car-fixtures.ts';

// path_gateway_tar/fixtures.car: a directory with ą/ę/file-źł.txt
const DIR = 'bafybeig6ka5mlwkl4subqhaiatalkcleo4jgnr3hqwvpmsqfca27cijp3i';
const FILE = 'bafkreialihlqnf5uwo4byh4n3cmwlntwqzxxs2fg5vanqdi3d7tb2l5xkm';
const FILE_TEXT = 'I am a txt file on path with utf8\n';
// path_gateway_tar/inside-root.car: foobar/directory/../file; outside-root.car: ../foo
const INSIDE = 'bafybeibfevfxlvxp5vxobr5oapczpf7resxnleb7tkqmdorc4gl5cdva3y';
const OUTSIDE = 'bafybeicaj7kvxpcv4neaqzwhrqqmdstu4dhrwfpknrgebq6nzcecfucvyu';

interface Res {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

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
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) })
        );
      }
    );
    req.on('error', reject);
    req.end();
  });
}

/** Every entry of a tarball: name → type and content. */
async function untar(bytes: Buffer): Promise<Map<string, { type: string; text: string; mtime: number }>> {
  const entries = new Map<string, { type: string; text: string; mtime: number }>();
  for await (const entry of extract()([bytes])) {
    const parts: Uint8Array[] = [];
    // Bodies come as Uint8ArrayLists.
    for await (const chunk of entry.body as AsyncIterable<{ subarray(): Uint8Array }>)
      parts.push(chunk.subarray());
    const body = Buffer.concat(parts);
    entries.set(entry.header.name, {
      type: entry.header.type ?? 'file',
      text: new TextDecoder().decode(body),
      mtime: entry.header.mtime.getTime()
    });
  }
  return entries;
}

describe('public gateway: TAR responses (path-tar-gateway)', () => {
  let svc: TestService;
  const get = (path: string, headers: Record<string, string> = {}) =>
    request(svc.gatewayUrl, path, { headers });

  beforeAll(async () => {
    svc = await startTestService({ env: { FIRTH_GATEWAY_TIMEOUT: '5' } });
    for (const f of ['fixtures.car', 'inside-root.car', 'outside-root.car']) {
      await loadFixture(svc.node.blockstore, `path_gateway_tar/${f}`);
    }
  });
  afterAll(async () => {
    await svc?.stop();
  });

  it('?format=tar of a file: one entry named by its CID, attachment, weak Etag', async () => {
    const res = await get(`/ipfs/${FILE}?format=tar`);
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe('application/x-tar');
    expect(res.headers['content-disposition']).toBe(`attachment; filename="${FILE}.tar"`);
    expect(res.headers.etag).toBe(`W/"${FILE}.x-tar"`);
    expect(res.headers['x-content-type-options']).toBe('nosniff');
    const entries = await untar(res.body);
    expect([...entries.keys()]).toEqual([FILE]);
    expect(entries.get(FILE)).toMatchObject({ type: 'file', text: FILE_TEXT });
  });

  it('Accept: application/x-tar gives the same archive, with Content-Location', async () => {
    const byQuery = await get(`/ipfs/${FILE}?format=tar`);
    const res = await get(`/ipfs/${FILE}`, { accept: 'application/x-tar' });
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe('application/x-tar');
    expect(res.headers.etag).toBe(`W/"${FILE}.x-tar"`);
    expect(res.headers['content-location']).toBe(`/ipfs/${FILE}?format=tar`);
    // No UnixFS mtime: entries carry the epoch, so the same DAG always gives the same bytes.
    expect(res.body.equals(byQuery.body)).toBe(true);
  });

  it('a directory: its tree under a folder named by the CID, UTF-8 names kept', async () => {
    const res = await get(`/ipfs/${DIR}?format=tar`);
    expect(res.status).toBe(200);
    const entries = await untar(res.body);
    expect(entries.get(DIR)?.type).toBe('directory');
    expect(entries.get(`${DIR}/ą/ę`)?.type).toBe('directory');
    expect(entries.get(`${DIR}/ą/ę/file-źł.txt`)).toEqual({ type: 'file', text: FILE_TEXT, mtime: 0 });
    expect(entries.size).toBe(10);
  });

  it('a path inside the root: the archive is rooted at the terminus CID', async () => {
    const res = await get(`/ipfs/${DIR}/%C4%85?format=tar`);
    expect(res.status).toBe(200);
    const names = [...(await untar(res.body)).keys()];
    const sub = names[0]!;
    expect(sub).toMatch(/^bafy/);
    expect(names).toContain(`${sub}/ę/file-źł.txt`);
  });

  it('?filename= names the attachment (ASCII fallback and RFC 8187 form)', async () => {
    const res = await get(`/ipfs/${DIR}?filename=${encodeURIComponent('testтест.tar')}&format=tar`);
    expect(res.status).toBe(200);
    expect(res.headers['content-disposition']).toBe(
      `attachment; filename="test____.tar"; filename*=UTF-8''test%D1%82%D0%B5%D1%81%D1%82.tar`
    );
  });

  it('link names that climb out of the root are refused with a status, not a cut-off archive', async () => {
    const res = await get(`/ipfs/${OUTSIDE}?format=tar`);
    expect(res.status).toBe(400);
    expect(res.headers['content-type']).toMatch(/^text\/plain/);
    expect(res.body.toString()).toMatch(/outside the root/);
  });

  it('relative names that stay inside the root are cleaned (foobar/directory/../file → foobar/file)', async () => {
    const res = await get(`/ipfs/${INSIDE}?format=tar`);
    expect(res.status).toBe(200);
    const entries = await untar(res.body);
    expect(entries.get(`${INSIDE}/foobar/file`)?.type).toBe('file');
    expect([...entries.keys()].some((n) => n.includes('..'))).toBe(false);
  });

  it('If-None-Match with the weak Etag is a 304; HEAD sends headers only', async () => {
    const notModified = await get(`/ipfs/${DIR}?format=tar`, { 'if-none-match': `W/"${DIR}.x-tar"` });
    expect(notModified.status).toBe(304);
    expect(notModified.body.length).toBe(0);
    const head = await request(svc.gatewayUrl, `/ipfs/${DIR}?format=tar`, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(head.headers['content-type']).toBe('application/x-tar');
    expect(head.body.length).toBe(0);
  });

  it('a missing path is a 404 before any archive starts', async () => {
    const res = await get(`/ipfs/${DIR}/no-such-name?format=tar`);
    expect(res.status).toBe(404);
  });
});
