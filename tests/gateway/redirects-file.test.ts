import http from 'node:http';
import { CID } from 'multiformats/cid';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  MAX_REDIRECTS_BYTES,
  matchRedirect,
  parseRedirects
} from '../../gateway/public/unixfs/redirects-rules.ts';
import { startTestService, type TestService } from '../helpers/service.ts';
import { loadFixture } from './helpers/car-fixtures.ts';

// redirects_file/redirects.car (gateway-conformance): one folder per case, each with a _redirects.
const EXAMPLES = 'QmYBhLYDwVFvxos9h8CGU2ibaY66QNgv8hpfewxaQrPiZj';
const PAGE_404 = 'Qmd9GD7Bauh6N2ZLfNnYS3b7QVAijbud83b8GE8LPMNBBP';
const PAGE_410 = 'QmSmR9NShZ89VEBrn9SBy7Xxvjw8Qe6XArD5GqtHvbtBM3';
const PAGE_451 = 'QmVQqj9oZig9tH3ENHo4bxV5pNgssUwFCXUjAJAVcZVbJG';
const FORCED = 'QmU7ysGXwAtiV7aBarZASJsxKoKyKmd9Xrz2FFamSCbg8S'; // "/a /b 301!"
const TOO_LARGE = 'QmQTfvjGmvTfxFpUcZNLdTLuKV227KJkGiN6xooHVeVZAS'; // 65548 bytes
const NEWLINES = 'QmYzMrtPyBv7LKiEAGLLRPtvqm3SjQYLWxwWQ2vnpxQwRd'; // CRLF
const GOOD_CODES = 'QmWHn2TunA1g7gQ7q9rwAoWuot2hMpojZ6cZ9ERsNKm5gE';
const BAD_CODES = 'QmcBcFnKKqgpCVMxxGsriw9ByTVF6uDdKDMuEBq3m6f1bm'; // "/a /b 999", and found.html
const INVALID = 'QmRgpzYQESidTtTojN8zRWjiNs9Cy6o7KHRxh7kDpJm3KH'; // "hello"
// redirects_file/redirects-spa.car: "/* /index.html 200", index.html is "hello world\n"
const SPA = 'bafybeib5lboymwd6p2eo4qb2lkueaine577flvsjjeuevmp2nlio72xv5q';

const IMMUTABLE = 'public, max-age=29030400, immutable';

interface Res {
  status: number;
  headers: http.IncomingHttpHeaders;
  text: string;
}

function request(base: string, path: string, headers: Record<string, string>): Promise<Res> {
  const url = new URL(base);
  return new Promise((resolve, reject) => {
    const req = http.request({ host: url.hostname, port: url.port, path, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', reject);
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, headers: res.headers, text: Buffer.concat(chunks).toString() })
      );
    });
    req.on('error', reject);
    req.end();
  });
}

describe('_redirects rules (web-redirects-file spec)', () => {
  it('parses from, to and status; 301 by default; comments, blank lines and CRLF', () => {
    const rules = parseRedirects(
      '# comment\r\n\r\n/a /b\r\n  /c   /d   302  \n/e/* https://example.com/:splat 308\n'
    );
    expect(rules.map((r) => [r.to, r.status])).toEqual([
      ['/b', 301],
      ['/d', 302],
      ['https://example.com/:splat', 308]
    ]);
  });

  it('matches placeholders and splats, first rule wins, trailing slash ignored', () => {
    const rules = parseRedirects(
      [
        '/posts/:year/:month/:title /articles/:year/:month/:title/:year',
        '/splat/* /to/:splat 302',
        '/* /index.html 200'
      ].join('\n')
    );
    expect(matchRedirect(rules, '/posts/2022/01/hello')).toEqual({
      to: '/articles/2022/01/hello/2022',
      status: 301
    });
    expect(matchRedirect(rules, '/posts/2022/01/hello/')).toEqual({
      to: '/articles/2022/01/hello/2022',
      status: 301
    });
    expect(matchRedirect(rules, '/splat/a/b%20c.html')).toEqual({ to: '/to/a/b%20c.html', status: 302 });
    expect(matchRedirect(rules, '/posts/2022')).toEqual({ to: '/index.html', status: 200 });
    expect(matchRedirect(parseRedirects('/only /x'), '/other')).toBeUndefined();
  });

  it('refuses what the spec does not allow, naming the line', () => {
    expect(() => parseRedirects('/a /b 301!')).toThrow(/line 1: forced redirects/);
    expect(() => parseRedirects('/ok /fine\n/a /b 999')).toThrow(/line 2: unsupported redirect status "999"/);
    expect(() => parseRedirects('hello')).toThrow(/missing "to"/);
    expect(() => parseRedirects('/a /b 301 extra')).toThrow(/too many fields/);
    expect(() => parseRedirects('a /b')).toThrow(/"from" must start with "\/"/);
    expect(() => parseRedirects('/:x/:x /b')).toThrow(/placeholder :x appears twice/);
    expect(() => parseRedirects('/a https://elsewhere.example/ 200')).toThrow(/serves a path of this root/);
    expect(MAX_REDIRECTS_BYTES).toBe(65536);
  });
});

describe('public gateway: _redirects on subdomain origins', () => {
  let svc: TestService;
  let gwHost: string;
  /** A request to `{cidv1}.ipfs.localhost:{port}`. */
  const sub = (cid: string, path: string, headers: Record<string, string> = {}) =>
    request(svc.gatewayUrl, path, { host: `${CID.parse(cid).toV1().toString()}.ipfs.${gwHost}`, ...headers });

  beforeAll(async () => {
    svc = await startTestService({ env: { FIRTH_GATEWAY_TIMEOUT: '5' } });
    gwHost = `localhost:${new URL(svc.gatewayUrl).port}`;
    await loadFixture(svc.node.blockstore, 'redirects_file/redirects.car');
    await loadFixture(svc.node.blockstore, 'redirects_file/redirects-spa.car');
  });
  afterAll(async () => {
    await svc?.stop();
  });

  it('redirects with 301 by default, 301 and 302 as written, placeholders and splats filled', async () => {
    const cases: Array<[string, number, string]> = [
      ['/redirect-one', 301, '/one.html'],
      ['/301-redirect-one', 301, '/one.html'],
      ['/302-redirect-two', 302, '/two.html'],
      ['/posts/2022/01/01/hello-world', 301, '/articles/2022/01/01/hello-world'],
      ['/splat/one.html', 301, '/redirected-splat/one.html']
    ];
    for (const [path, status, location] of cases) {
      const res = await sub(EXAMPLES, path);
      expect([path, res.status, res.headers.location]).toEqual([path, status, location]);
    }
    // The visitor's query parameters go along.
    const withQuery = await sub(EXAMPLES, '/redirect-one?ref=mail');
    expect(withQuery.headers.location).toBe('/one.html?ref=mail');
  });

  it('200 rewrites serve the target (catch-all included) and answer If-None-Match with 304', async () => {
    for (const path of ['/200-index', '/catch-all']) {
      const res = await sub(EXAMPLES, path);
      expect(res.status).toBe(200);
      expect(res.text).toContain('my index');
    }
    const spa = await sub(SPA, '/missing-page', { accept: 'text/html' });
    expect(spa.status).toBe(200);
    expect(spa.text).toBe('hello world\n');
    expect(spa.headers.etag).toBeTruthy();
    const again = await sub(SPA, '/missing-page', {
      accept: 'text/html',
      'if-none-match': spa.headers.etag!
    });
    expect(again.status).toBe(304);
  });

  it('404, 410 and 451 rules serve the custom page with that status, immutable, Etag of the page', async () => {
    for (const [path, status, page] of [
      ['/not-found/has-no-redirects-entry', 404, PAGE_404],
      ['/gone/has-no-redirects-entry', 410, PAGE_410],
      ['/unavail/has-no-redirects-entry', 451, PAGE_451]
    ] as const) {
      const res = await sub(EXAMPLES, path, { 'if-none-match': `"${page}"` });
      expect(res.status).toBe(status);
      expect(res.headers['cache-control']).toBe(IMMUTABLE);
      expect(res.headers.etag).toBe(`"${page}"`);
      expect(res.text).toContain(`my ${status}`);
    }
  });

  it('existing paths are served as they are (no forced redirects), even beside a broken file', async () => {
    const index = await sub(EXAMPLES, '/one.html');
    expect(index.status).toBe(200);
    const found = await sub(BAD_CODES, '/found.html');
    expect(found.status).toBe(200);
    expect(found.text).toContain('my found');
  });

  it('a file that is not valid rules, or over 64 KiB, is a 500 that says why', async () => {
    const forced = await sub(FORCED, '/not-found');
    expect(forced.status).toBe(500);
    expect(forced.text).toContain('could not parse _redirects:');
    const invalid = await sub(INVALID, '/not-found');
    expect(invalid.status).toBe(500);
    expect(invalid.text).toContain('could not parse _redirects:');
    const large = await sub(TOO_LARGE, '/not-found');
    expect(large.status).toBe(500);
    expect(large.text).toContain('could not parse _redirects: redirects file size cannot exceed 65536 bytes');
  });

  it('CRLF files and every good status code work', async () => {
    const crlf = await sub(NEWLINES, '/redirect-one');
    expect([crlf.status, crlf.headers.location]).toEqual([301, '/one.html']);
    for (const code of [301, 302, 303, 307, 308]) {
      const res = await sub(GOOD_CODES, `/a${code}`);
      expect([res.status, res.headers.location]).toEqual([code, `/b${code}`]);
    }
  });

  it('a path with no matching rule keeps its 404; the path gateway never applies _redirects', async () => {
    const none = await sub(NEWLINES, '/no-rule');
    expect(none.status).toBe(404);
    const path = await request(svc.gatewayUrl, `/ipfs/${EXAMPLES}/redirect-one`, { host: '127.0.0.1' });
    expect(path.status).toBe(404);
    expect(path.headers.location).toBeUndefined();
  });
});
