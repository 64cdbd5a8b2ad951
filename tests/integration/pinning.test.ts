// The IPFS Pinning Service API (reference/gateway.md §5), driven by the published npm client
// `@ipfs-shipyard/pinning-service-client` (and by plain fetch where the wire format itself is under
// test), against the real service on SQLite and on PostgreSQL. Content comes from separate Helia nodes
// built from the npm packages, over real libp2p connections on loopback.
import {
  Configuration,
  RemotePinningServiceClient,
  Status,
  TextMatchingStrategy,
  type PinResults,
  type PinStatus
} from '@ipfs-shipyard/pinning-service-client';
import { unixfs } from '@helia/unixfs';
import { multiaddr } from '@multiformats/multiaddr';
import { CID } from 'multiformats/cid';
import * as raw from 'multiformats/codecs/raw';
import { sha256 } from 'multiformats/hashes/sha2';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import {
  concatBytes,
  createTestNode,
  dagBlockCids,
  equalBytes,
  randomBytes,
  waitFor,
  type TestNode
} from '../helpers/helia-node.ts';
import { createTempPostgres } from '../helpers/postgres.ts';
import { registerUser, startTestService, type TestService } from '../helpers/service.ts';

const ALL_STATUSES = [Status.Queued, Status.Pinning, Status.Pinned, Status.Failed];
const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;
/** How long a pin from a connected origin may take before the test gives up (not a timing assertion). */
const PIN_WAIT_MS = 90_000;

interface FailureBody {
  error: { reason: string; details?: string; code?: unknown };
}

interface RawResponse {
  status: number;
  text: string;
  json: unknown;
}

/** A random raw block: its CID and bytes. */
async function randomBlock(size = 1024): Promise<{ cid: CID; bytes: Uint8Array }> {
  const bytes = randomBytes(size);
  return { cid: CID.createV1(raw.code, await sha256.digest(bytes)), bytes };
}

/** A CID that no peer anywhere has. */
async function unobtainableCid(): Promise<string> {
  return (await randomBlock(64)).cid.toString();
}

/** The client throws the fetch Response for any non-2xx status: turn that into status and body. */
async function failureOf(call: Promise<unknown>): Promise<{ status: number; body: FailureBody }> {
  try {
    await call;
  } catch (err) {
    if (err instanceof Response) return { status: err.status, body: (await err.json()) as FailureBody };
    throw err;
  }
  throw new Error('the call succeeded but a failure was expected');
}

function expectFailureBody(body: unknown, reason?: string): void {
  const failure = body as FailureBody;
  expect(failure).toBeTypeOf('object');
  expect(failure.error).toBeTypeOf('object');
  expect(failure.error.reason).toBeTypeOf('string');
  expect(failure.error.reason.length).toBeGreaterThan(0);
  if (reason != null) expect(failure.error.reason).toBe(reason);
  // The Pinning Service API's Failure is { error: { reason, details? } }: no Estuary `code`.
  expect(failure.error).not.toHaveProperty('code');
  if (failure.error.details != null) expect(failure.error.details).toBeTypeOf('string');
}

const backends = [
  { name: 'SQLite', postgres: false },
  { name: 'PostgreSQL', postgres: true }
];

describe.each(backends)('IPFS Pinning Service API on $name', ({ postgres }) => {
  const cleanups: Array<() => Promise<void>> = [];
  let service: TestService;
  /** A second service whose pins time out after 5 s, for the failure path. */
  let shortService: TestService;
  let serviceId: string;
  let pinningUrl: string;
  let alice: { session: string; apiKey: string };
  let bob: { session: string; apiKey: string };
  let carol: { session: string; apiKey: string };
  /** Holds small blocks the service fetches from it (the pins' `origins`). */
  let origin: TestNode;
  let originAddrs: string[];

  /**
   * Pins that nobody can provide hold one of the pinner's slots until they time out, so every test
   * removes the ones it made, even when it fails.
   */
  const toRemove: Array<{ apiKey: string; requestid: string; url: string }> = [];
  function removeAfterTest(apiKey: string, requestid: string, url = pinningUrl): void {
    toRemove.push({ apiKey, requestid, url });
  }

  afterEach(async () => {
    for (const { apiKey, requestid, url } of toRemove.splice(0)) {
      const res = await fetch(`${url}/pins/${requestid}`, {
        method: 'DELETE',
        headers: { authorization: `Bearer ${apiKey}` }
      });
      await res.body?.cancel();
      if (res.status !== 202 && res.status !== 404) throw new Error(`cleanup of ${requestid}: ${res.status}`);
    }
  });

  function clientFor(apiKey?: string, url = pinningUrl): RemotePinningServiceClient {
    return new RemotePinningServiceClient(
      new Configuration(apiKey == null ? { endpointUrl: url } : { endpointUrl: url, accessToken: apiKey })
    );
  }

  /** A plain HTTP call to the Pinning API, for what the typed client cannot express. */
  async function call(
    method: string,
    path: string,
    opts: { apiKey?: string; body?: unknown; rawBody?: string } = {}
  ): Promise<RawResponse> {
    const headers: Record<string, string> = {};
    if (opts.apiKey != null) headers.authorization = `Bearer ${opts.apiKey}`;
    let body: string | undefined;
    if (opts.rawBody != null || opts.body !== undefined) {
      headers['content-type'] = 'application/json';
      body = opts.rawBody ?? JSON.stringify(opts.body);
    }
    const res = await fetch(`${pinningUrl}${path}`, { method, headers, body });
    const text = await res.text();
    let json: unknown;
    try {
      json = text === '' ? undefined : JSON.parse(text);
    } catch {
      json = undefined;
    }
    return { status: res.status, text, json };
  }

  /** A block the origin node holds, ready to be pinned with `origins: originAddrs`. */
  async function originBlock(): Promise<string> {
    const { cid, bytes } = await randomBlock();
    await origin.blockstore.put(cid, bytes);
    return cid.toString();
  }

  async function waitForStatus(
    client: RemotePinningServiceClient,
    requestid: string,
    wanted: Status[],
    timeoutMs = PIN_WAIT_MS
  ): Promise<PinStatus> {
    let last: PinStatus | undefined;
    return waitFor(
      `pin ${requestid} to be ${wanted.join(' or ')}`,
      async () => {
        last = await client.pinsRequestidGet({ requestid });
        return wanted.includes(last.status) ? last : undefined;
      },
      { timeoutMs, intervalMs: 250, describe: () => JSON.stringify(last) }
    );
  }

  beforeAll(async () => {
    let databaseUrl: string | undefined;
    let shortDatabaseUrl: string | undefined;
    if (postgres) {
      const main = await createTempPostgres();
      cleanups.push(() => main.drop());
      const short = await createTempPostgres();
      cleanups.push(() => short.drop());
      databaseUrl = main.url;
      shortDatabaseUrl = short.url;
    }
    service = await startTestService({ databaseUrl });
    cleanups.unshift(() => service.stop());
    shortService = await startTestService({
      databaseUrl: shortDatabaseUrl,
      env: { FIRTH_PIN_TIMEOUT_MS: '5000' }
    });
    cleanups.unshift(() => shortService.stop());
    pinningUrl = `${service.apiUrl}/api/pinning`;

    alice = await registerUser(service.apiUrl, service.adminInvite, 'alice');
    for (const name of ['bob', 'carol']) {
      const res = await fetch(`${service.apiUrl}/api/admin/invite/invite-for-${name}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${alice.session}` }
      });
      expect(res.status, await res.clone().text()).toBe(200);
      const { code } = (await res.json()) as { code: string };
      const user = await registerUser(service.apiUrl, code, name);
      if (name === 'bob') bob = user;
      else carol = user;
    }

    const addrs = (await (await fetch(`${service.apiUrl}/api/public/net/addrs`)).json()) as { id: string };
    serviceId = addrs.id;

    origin = await createTestNode({ listen: true });
    cleanups.unshift(async () => {
      await origin.stop();
    });
    originAddrs = origin.libp2p.getMultiaddrs().map((ma) => ma.toString());
    expect(originAddrs.length).toBeGreaterThan(0);
    for (const a of originAddrs) expect(a).toMatch(/\/p2p\/\w+$/);
  });

  afterAll(async () => {
    for (const cleanup of cleanups) {
      try {
        await cleanup();
      } catch (err) {
        console.error('cleanup failed', err);
      }
    }
  });

  it('check 1: a request without a valid Authorization gets 401 and a Failure body', async () => {
    const anonymous = clientFor(undefined);
    const id = '00000000-0000-4000-8000-000000000000';
    const cid = await unobtainableCid();
    for (const attempt of [
      () => anonymous.pinsGet({}),
      () => anonymous.pinsPost({ pin: { cid } }),
      () => anonymous.pinsRequestidGet({ requestid: id }),
      () => anonymous.pinsRequestidPost({ requestid: id, pin: { cid } }),
      () => anonymous.pinsRequestidDelete({ requestid: id })
    ]) {
      const { status, body } = await failureOf(attempt());
      expect(status).toBe(401);
      expectFailureBody(body, 'UNAUTHORIZED');
    }
    // An unknown token and a malformed one are refused the same way.
    for (const token of ['EST00000000-0000-4000-8000-000000000000ARY', 'not-a-token']) {
      const res = await call('GET', '/pins', { apiKey: token });
      expect(res.status).toBe(401);
      expectFailureBody(res.json, 'UNAUTHORIZED');
    }
    // Nothing was created by the refused POST.
    const listed = await clientFor(alice.apiKey).pinsGet({ cid: [cid], status: ALL_STATUSES });
    expect(listed.count).toBe(0);
  });

  it('checks 2 and 3: POST /pins answers 202 with a full PinStatus; the same POST again gets a new requestid', async () => {
    const client = clientFor(alice.apiKey);
    const cid = await originBlock();
    const first = await client.pinsPostRaw({ pin: { cid, name: 'check-2', origins: originAddrs } });
    expect(first.raw.status).toBe(202);
    const json = (await first.raw.json()) as Record<string, unknown> & {
      pin: Record<string, unknown>;
      delegates: unknown[];
    };
    expect(json.requestid).toBeTypeOf('string');
    expect((json.requestid as string).length).toBeGreaterThan(0);
    expect(ALL_STATUSES).toContain(json.status);
    expect(json.created).toMatch(RFC3339);
    expect(Number.isNaN(Date.parse(json.created as string))).toBe(false);
    expect(json.pin.cid).toBe(cid);
    expect(json.pin.name).toBe('check-2');
    expect(Array.isArray(json.delegates)).toBe(true);
    expect(json.delegates.length).toBeGreaterThanOrEqual(1);
    expect(json.delegates.length).toBeLessThanOrEqual(20);
    expect(new Set(json.delegates).size).toBe(json.delegates.length);
    for (const d of json.delegates) {
      expect(d).toBeTypeOf('string');
      // Every multiaddr MUST end with /p2p/{peerID}: the service's own.
      const last = multiaddr(d as string)
        .getComponents()
        .at(-1);
      expect(last?.name).toBe('p2p');
      expect(last?.value).toBe(serviceId);
    }
    if (json.info != null) {
      for (const v of Object.values(json.info as Record<string, unknown>)) expect(v).toBeTypeOf('string');
    }

    const second = await client.pinsPostRaw({ pin: { cid, name: 'check-2', origins: originAddrs } });
    expect(second.raw.status).toBe(202);
    const secondStatus = await second.value();
    expect(secondStatus.requestid).not.toBe(json.requestid);
    expect(secondStatus.created.getTime()).not.toBe(Date.parse(json.created as string));

    // Both requests are worked to the end: the block comes from the origin over bitswap.
    for (const requestid of [json.requestid as string, secondStatus.requestid]) {
      const done = await waitForStatus(client, requestid, [Status.Pinned, Status.Failed]);
      expect(done.status, JSON.stringify(done.info)).toBe(Status.Pinned);
      expect(done.requestid).toBe(requestid);
    }
  });

  it('check 2 (delegates): a client can dial the delegates the service returns', async () => {
    const client = clientFor(alice.apiKey);
    const status = await client.pinsPost({ pin: { cid: await originBlock(), origins: originAddrs } });
    const dialer = await createTestNode({ tcp: true });
    try {
      const tcpDelegates = status.delegates.filter((d) => {
        const names = multiaddr(d)
          .getComponents()
          .map((c) => c.name);
        return names.includes('tcp') && !names.includes('ws') && !names.includes('wss');
      });
      expect(tcpDelegates.length).toBeGreaterThan(0);
      for (const d of tcpDelegates) {
        const connection = await dialer.libp2p.dial(multiaddr(d), { signal: AbortSignal.timeout(30_000) });
        expect(connection.remotePeer.toString()).toBe(serviceId);
      }
    } finally {
      await dialer.stop();
    }
    await waitForStatus(client, status.requestid, [Status.Pinned]);
  });

  it('check 4: GET /pins/{requestid} gives the same pin; an unknown requestid is 404 with a Failure body', async () => {
    const client = clientFor(alice.apiKey);
    const added = await client.pinsPost({
      pin: { cid: await originBlock(), name: 'check-4', origins: originAddrs, meta: { app: 'check-4' } }
    });
    const got = await client.pinsRequestidGetRaw({ requestid: added.requestid });
    expect(got.raw.status).toBe(200);
    const pin = await got.value();
    expect(pin.requestid).toBe(added.requestid);
    expect(pin.pin.cid).toBe(added.pin.cid);
    expect(pin.pin.name).toBe('check-4');
    expect(pin.pin.meta).toEqual({ app: 'check-4' });
    expect(pin.created.getTime()).toBe(added.created.getTime());
    expect(pin.delegates.length).toBeGreaterThanOrEqual(1);

    for (const requestid of ['00000000-0000-4000-8000-000000000000', 'no-such-request']) {
      const { status, body } = await failureOf(client.pinsRequestidGet({ requestid }));
      expect(status).toBe(404);
      expectFailureBody(body, 'NOT_FOUND');
    }
    await waitForStatus(client, added.requestid, [Status.Pinned]);
  });

  it('check 5: without a status filter only pinned pins are listed; ?status= shows the others', async () => {
    const client = clientFor(alice.apiKey);
    const pinnedCid = await originBlock();
    const pinned = await client.pinsPost({ pin: { cid: pinnedCid, name: 'check-5', origins: originAddrs } });
    await waitForStatus(client, pinned.requestid, [Status.Pinned]);
    // Nobody has this one: it stays queued or pinning (the main service waits 10 minutes).
    const stuckCid = await unobtainableCid();
    const stuck = await client.pinsPost({ pin: { cid: stuckCid, name: 'check-5' } });
    removeAfterTest(alice.apiKey, stuck.requestid);
    await waitForStatus(client, stuck.requestid, [Status.Pinning]);

    const byDefault = await client.pinsGet({ cid: [pinnedCid, stuckCid] });
    expect(byDefault.count).toBe(1);
    expect(byDefault.results.map((r) => r.requestid)).toEqual([pinned.requestid]);

    const everything = await client.pinsGet({ limit: 1000 });
    expect(everything.results.length).toBeGreaterThan(0);
    for (const r of everything.results) expect(r.status).toBe(Status.Pinned);
    expect(everything.results.map((r) => r.requestid)).not.toContain(stuck.requestid);

    const inFlight = await client.pinsGet({
      cid: [pinnedCid, stuckCid],
      status: [Status.Queued, Status.Pinning]
    });
    expect(inFlight.count).toBe(1);
    expect(inFlight.results.map((r) => r.requestid)).toEqual([stuck.requestid]);
    expect(inFlight.results[0]?.status).toBe(Status.Pinning);

    const both = await client.pinsGet({ cid: [pinnedCid, stuckCid], status: ALL_STATUSES });
    expect(both.count).toBe(2);
    // Newest first.
    expect(both.results.map((r) => r.requestid)).toEqual([stuck.requestid, pinned.requestid]);

    // A pin still being fetched can be removed, and is gone at once.
    const removed = await client.pinsRequestidDeleteRaw({ requestid: stuck.requestid });
    expect(removed.raw.status).toBe(202);
    expect((await failureOf(client.pinsRequestidGet({ requestid: stuck.requestid }))).status).toBe(404);
    expect((await client.pinsGet({ cid: [stuckCid], status: ALL_STATUSES })).count).toBe(0);
  });

  describe('a user with 25 pins (checks 6 and 7)', () => {
    /** Requestids in the order they were created (oldest first). */
    const created: string[] = [];

    beforeAll(async () => {
      const client = clientFor(carol.apiKey);
      for (let i = 0; i < 25; i++) {
        const status = await client.pinsPost({
          pin: { cid: await originBlock(), name: `page-${String(i).padStart(2, '0')}`, origins: originAddrs }
        });
        created.push(status.requestid);
      }
      await waitFor(
        'all 25 pins to be pinned',
        async () =>
          (await client.pinsGet({ status: [Status.Pinned], limit: 1 })).count === 25 ? true : undefined,
        { timeoutMs: PIN_WAIT_MS, intervalMs: 250 }
      );
    });

    it('check 6: limit=1 with every status gives the total count and one result', async () => {
      const client = clientFor(carol.apiKey);
      const res = await client.pinsGetRaw({ limit: 1, status: ALL_STATUSES });
      expect(res.raw.status).toBe(200);
      const page = await res.value();
      expect(page.count).toBe(25);
      expect(page.results).toHaveLength(1);
      expect(page.results[0]?.requestid).toBe(created.at(-1));
      // What `ipfs pin remote service ls --stat` asks: one call per status, reading `count`.
      const counts = Object.fromEntries(
        await Promise.all(
          ALL_STATUSES.map(async (s) => [s, (await client.pinsGet({ status: [s], limit: 1 })).count] as const)
        )
      );
      expect(counts).toEqual({ queued: 0, pinning: 0, pinned: 25, failed: 0 });
      // With no limit, 10 (the spec's default), newest first.
      const firstPage = await client.pinsGet({});
      expect(firstPage.count).toBe(25);
      expect(firstPage.results.map((r) => r.requestid)).toEqual(created.slice(-10).reverse());
    });

    it.each([
      { label: 'the default status (pinned)', status: undefined },
      { label: 'every status', status: ALL_STATUSES }
    ])(
      'check 7: the Kubo `before` walk with limit=10 and $label visits every pin once, newest first',
      async ({ status }) => {
        const client = clientFor(carol.apiKey);
        const seen: PinStatus[] = [];
        let before: Date | undefined;
        for (let round = 0; ; round++) {
          expect(round, 'the walk did not end').toBeLessThan(10);
          const page: PinResults = await client.pinsGet({ limit: 10, status, before });
          // boxo's client treats count > 0 with no results as an error.
          if (page.count > 0) expect(page.results.length).toBeGreaterThan(0);
          expect(page.results.length).toBeLessThanOrEqual(10);
          seen.push(...page.results);
          // Kubo stops when count == len(results), otherwise asks again before the oldest it got.
          if (page.count === page.results.length) break;
          expect(page.count).toBeGreaterThan(page.results.length);
          before = page.results.at(-1)!.created;
        }
        expect(seen.map((r) => r.requestid)).toEqual([...created].reverse());
        for (let i = 1; i < seen.length; i++) {
          expect(seen[i]!.created.getTime()).toBeLessThan(seen[i - 1]!.created.getTime());
        }
      }
    );

    it('check 7: `before` and `after` are strict bounds on `created`', async () => {
      const client = clientFor(carol.apiKey);
      const all = (await client.pinsGet({ limit: 25 })).results;
      expect(all).toHaveLength(25);
      const pivot = all[12]!;
      const older = await client.pinsGet({ before: pivot.created, limit: 1000 });
      expect(older.count).toBe(12);
      expect(older.results.map((r) => r.requestid)).toEqual(all.slice(13).map((r) => r.requestid));
      const newer = await client.pinsGet({ after: pivot.created, limit: 1000 });
      expect(newer.count).toBe(12);
      expect(newer.results.map((r) => r.requestid)).toEqual(all.slice(0, 12).map((r) => r.requestid));
      const between = await client.pinsGet({ after: all[20]!.created, before: all[10]!.created });
      expect(between.results.map((r) => r.requestid)).toEqual(all.slice(11, 20).map((r) => r.requestid));
    });
  });

  it('check 8: name matching (exact, iexact, partial, ipartial), cid lists and meta filters', async () => {
    const client = clientFor(alice.apiKey);
    const tag = `t${Date.now().toString(36)}`;
    const add = async (name: string, meta?: Record<string, string>) => {
      const pin = await client.pinsPost({ pin: { cid: await unobtainableCid(), name, meta } });
      removeAfterTest(alice.apiKey, pin.requestid);
      return pin;
    };
    const foo = await add(`foo-${tag}`, { k: 'v', app: tag, extra: 'x' });
    const fooUpper = await add(`FOO-${tag}`, { k: 'w', app: tag });
    const other = await add(`bar-${tag}-foo`, { app: tag });
    const ids = (r: PinResults) => r.results.map((p) => p.requestid).sort();
    const sorted = (...p: PinStatus[]) => p.map((x) => x.requestid).sort();
    const q = { status: ALL_STATUSES, limit: 1000 };

    expect(ids(await client.pinsGet({ ...q, name: `foo-${tag}` }))).toEqual(sorted(foo));
    expect(ids(await client.pinsGet({ ...q, name: `Foo-${tag}` }))).toEqual([]);
    expect(
      ids(await client.pinsGet({ ...q, name: `Foo-${tag}`, match: TextMatchingStrategy.Exact }))
    ).toEqual([]);
    expect(
      ids(await client.pinsGet({ ...q, name: `Foo-${tag}`, match: TextMatchingStrategy.Iexact }))
    ).toEqual(sorted(foo, fooUpper));
    expect(
      ids(await client.pinsGet({ ...q, name: `o-${tag}`, match: TextMatchingStrategy.Partial }))
    ).toEqual(sorted(foo));
    expect(
      ids(await client.pinsGet({ ...q, name: `O-${tag}`, match: TextMatchingStrategy.Partial }))
    ).toEqual(sorted(fooUpper));
    expect(ids(await client.pinsGet({ ...q, name: tag, match: TextMatchingStrategy.Ipartial }))).toEqual(
      sorted(foo, fooUpper, other)
    );
    const byCid = await client.pinsGet({ ...q, cid: [foo.pin.cid, other.pin.cid] });
    expect(byCid.count).toBe(2);
    expect(ids(byCid)).toEqual(sorted(foo, other));

    // `meta` travels as URL-encoded JSON (the spec's `content: application/json`), e.g.
    // ?meta=%7B%22k%22%3A%22v%22%7D, and every given key must match; pins may have more keys.
    const metaQuery = async (meta: Record<string, string>) => {
      const res = await call(
        'GET',
        `/pins?status=queued,pinning,pinned,failed&limit=1000&meta=${encodeURIComponent(JSON.stringify(meta))}`,
        { apiKey: alice.apiKey }
      );
      expect(res.status, res.text).toBe(200);
      const body = res.json as { count: number; results: Array<{ requestid: string }> };
      expect(body.count).toBe(body.results.length);
      return body.results.map((r) => r.requestid).sort();
    };
    expect(await metaQuery({ k: 'v' })).toEqual(sorted(foo));
    expect(await metaQuery({ k: 'v', app: tag })).toEqual(sorted(foo));
    expect(await metaQuery({ app: tag })).toEqual(sorted(foo, fooUpper, other));
    expect(await metaQuery({ k: 'v', app: 'someone-else' })).toEqual([]);
    expect(await metaQuery({ k: 'nope' })).toEqual([]);
  });

  it('iexact and ipartial fold the case of every letter, not only ASCII (on every database)', async () => {
    const client = clientFor(alice.apiKey);
    const tag = `u${Date.now().toString(36)}`;
    const pin = await client.pinsPost({ pin: { cid: await unobtainableCid(), name: `ÄRGER-ΩMEGA-${tag}` } });
    removeAfterTest(alice.apiKey, pin.requestid);
    const q = { status: ALL_STATUSES, limit: 1000 };
    const ids = (r: PinResults) => r.results.map((p) => p.requestid);
    expect(ids(await client.pinsGet({ ...q, name: `ÄRGER-ΩMEGA-${tag}` }))).toEqual([pin.requestid]);
    expect(ids(await client.pinsGet({ ...q, name: `ärger-ωmega-${tag}` }))).toEqual([]);
    expect(
      ids(await client.pinsGet({ ...q, name: `ärger-ωmega-${tag}`, match: TextMatchingStrategy.Partial }))
    ).toEqual([]);
    expect(
      ids(await client.pinsGet({ ...q, name: `ärger-ωmega-${tag}`, match: TextMatchingStrategy.Iexact }))
    ).toEqual([pin.requestid]);
    expect(
      ids(await client.pinsGet({ ...q, name: `ωmega-${tag}`, match: TextMatchingStrategy.Ipartial }))
    ).toEqual([pin.requestid]);
  });

  it('an origin that cannot be dialed does not fail the pin (origins are hints)', async () => {
    const client = clientFor(alice.apiKey);
    const shortId = (
      (await (await fetch(`${shortService.apiUrl}/api/public/net/addrs`)).json()) as { id: string }
    ).id;
    // Port 1 on loopback refuses connections; the peer id is real but not there.
    const dead = `/ip4/127.0.0.1/tcp/1/p2p/${shortId}`;
    const pin = await client.pinsPost({ pin: { cid: await originBlock(), origins: [dead, ...originAddrs] } });
    const done = await waitForStatus(client, pin.requestid, [Status.Pinned, Status.Failed]);
    expect(done.status, JSON.stringify(done.info)).toBe(Status.Pinned);
  });

  it('pinning a CID the service already holds (uploaded over HTTP) needs no origins', async () => {
    const client = clientFor(alice.apiKey);
    const form = new FormData();
    form.append('data', new Blob([randomBytes(200_000)]), 'held.bin');
    const upload = await fetch(`${service.apiUrl}/api/content/add`, {
      method: 'POST',
      headers: { authorization: `Bearer ${alice.apiKey}` },
      body: form
    });
    const text = await upload.text();
    expect(upload.status, text).toBe(200);
    const { cid } = JSON.parse(text) as { cid: string };
    const pin = await client.pinsPost({ pin: { cid, name: 'already-held' } });
    const done = await waitForStatus(client, pin.requestid, [Status.Pinned, Status.Failed]);
    expect(done.status, JSON.stringify(done.info)).toBe(Status.Pinned);
    expect(done.info?.dag_size).toBe('200000');
    // The content the pin made, so that the app can link to its page.
    const content = await fetch(`${service.apiUrl}/api/content/${done.info?.content_id}`, {
      headers: { authorization: `Bearer ${alice.apiKey}` }
    });
    expect(content.status).toBe(200);
    expect(((await content.json()) as { cid: string }).cid).toBe(cid);
  });

  it('check 9: POST /pins/{requestid} replaces a pin: 202, a new requestid, the old one 404', async () => {
    const client = clientFor(alice.apiKey);
    const oldCid = await originBlock();
    const old = await client.pinsPost({ pin: { cid: oldCid, name: 'before-replace', origins: originAddrs } });
    await waitForStatus(client, old.requestid, [Status.Pinned]);
    const newCid = await originBlock();
    const res = await client.pinsRequestidPostRaw({
      requestid: old.requestid,
      pin: { cid: newCid, name: 'after-replace', origins: originAddrs, meta: { v: '2' } }
    });
    expect(res.raw.status).toBe(202);
    const replaced = await res.value();
    expect(replaced.requestid).not.toBe(old.requestid);
    expect(replaced.pin.cid).toBe(newCid);
    expect(replaced.pin.name).toBe('after-replace');
    expect(replaced.pin.meta).toEqual({ v: '2' });
    expect(replaced.delegates.length).toBeGreaterThanOrEqual(1);
    expect(replaced.created.getTime()).toBeGreaterThan(old.created.getTime());

    const gone = await failureOf(client.pinsRequestidGet({ requestid: old.requestid }));
    expect(gone.status).toBe(404);
    expectFailureBody(gone.body, 'NOT_FOUND');
    expect((await client.pinsGet({ cid: [oldCid], status: ALL_STATUSES })).count).toBe(0);
    // Replacing the replaced pin again is a 404 too, and changes nothing.
    const again = await failureOf(
      client.pinsRequestidPost({ requestid: old.requestid, pin: { cid: await unobtainableCid() } })
    );
    expect(again.status).toBe(404);
    expectFailureBody(again.body, 'NOT_FOUND');

    const done = await waitForStatus(client, replaced.requestid, [Status.Pinned, Status.Failed]);
    expect(done.status, JSON.stringify(done.info)).toBe(Status.Pinned);
    expect((await client.pinsGet({ cid: [newCid] })).results.map((r) => r.requestid)).toEqual([
      replaced.requestid
    ]);
  });

  it('check 10: DELETE /pins/{requestid} is 202 with an empty body, then GET is 404', async () => {
    const client = clientFor(alice.apiKey);
    const cid = await originBlock();
    const pin = await client.pinsPost({ pin: { cid, origins: originAddrs } });
    await waitForStatus(client, pin.requestid, [Status.Pinned]);

    const res = await call('DELETE', `/pins/${pin.requestid}`, { apiKey: alice.apiKey });
    expect(res.status).toBe(202);
    expect(res.text).toBe('');

    const after = await failureOf(client.pinsRequestidGet({ requestid: pin.requestid }));
    expect(after.status).toBe(404);
    expectFailureBody(after.body, 'NOT_FOUND');
    expect((await client.pinsGet({ cid: [cid], status: ALL_STATUSES })).count).toBe(0);
    const twice = await failureOf(client.pinsRequestidDelete({ requestid: pin.requestid }));
    expect(twice.status).toBe(404);
    expectFailureBody(twice.body, 'NOT_FOUND');
  });

  it('check 11: limit=0 and limit=1001 are 400 (and limit=1000 is fine)', async () => {
    const client = clientFor(alice.apiKey);
    for (const limit of [0, 1001]) {
      const { status, body } = await failureOf(client.pinsGet({ limit }));
      expect(status).toBe(400);
      expectFailureBody(body, 'BAD_REQUEST');
    }
    for (const limit of ['-1', '1.5', 'ten']) {
      const res = await call('GET', `/pins?limit=${limit}`, { apiKey: alice.apiKey });
      expect(res.status, `limit=${limit}`).toBe(400);
      expectFailureBody(res.json, 'BAD_REQUEST');
    }
    expect((await client.pinsGetRaw({ limit: 1000 })).raw.status).toBe(200);
    expect((await client.pinsGetRaw({ limit: 1 })).raw.status).toBe(200);
  });

  it('bad input is a 400 Failure and writes nothing', async () => {
    const client = clientFor(alice.apiKey);
    const before = (await client.pinsGet({ status: ALL_STATUSES, limit: 1 })).count;
    const cid = await unobtainableCid();
    const badPosts: Array<{ label: string; body?: unknown; rawBody?: string }> = [
      { label: 'an invalid CID', body: { cid: 'not-a-cid' } },
      { label: 'an empty CID', body: { cid: '' } },
      { label: 'no CID', body: { name: 'no cid' } },
      { label: 'a CID that is not a string', body: { cid: 42 } },
      { label: 'an unknown field', body: { cid, colour: 'blue' } },
      { label: 'a name over 255 characters', body: { cid, name: 'x'.repeat(256) } },
      { label: 'meta with a non-string value', body: { cid, meta: { k: 1 } } },
      { label: 'meta that is not an object', body: { cid, meta: 'k=v' } },
      { label: 'origins that are not multiaddrs', body: { cid, origins: ['not a multiaddr'] } },
      {
        label: 'more than 20 origins',
        body: {
          cid,
          origins: Array.from({ length: 21 }, (_, i) => `/ip4/127.0.0.1/tcp/${i + 1}/p2p/${serviceId}`)
        }
      },
      { label: 'a JSON array', body: [{ cid }] },
      { label: 'malformed JSON', rawBody: '{"cid": ' }
    ];
    for (const { label, body, rawBody } of badPosts) {
      const res = await call('POST', '/pins', { apiKey: alice.apiKey, body, rawBody });
      const accepted = res.json as { requestid?: string } | undefined;
      if (res.status === 202 && accepted?.requestid != null)
        removeAfterTest(alice.apiKey, accepted.requestid);
      expect(res.status, `POST /pins with ${label}: ${res.text}`).toBe(400);
      expectFailureBody(res.json, 'BAD_REQUEST');
    }
    const badQueries = [
      'cid=not-a-cid',
      'status=done',
      'status=pinned,bogus',
      'match=fuzzy',
      'before=yesterday',
      'after=2024-13-45T00:00:00Z',
      `name=${'x'.repeat(256)}`,
      'meta=not-json',
      `meta=${encodeURIComponent('{"k":1}')}`,
      `meta=${encodeURIComponent('["k","v"]')}`,
      'colour=blue'
    ];
    for (const query of badQueries) {
      const res = await call('GET', `/pins?${query}`, { apiKey: alice.apiKey });
      expect(res.status, `GET /pins?${query.slice(0, 40)}: ${res.text}`).toBe(400);
      expectFailureBody(res.json, 'BAD_REQUEST');
    }
    // A replace with a bad body leaves the old pin alone.
    const pin = await client.pinsPost({ pin: { cid: await unobtainableCid(), name: 'keep-me' } });
    removeAfterTest(alice.apiKey, pin.requestid);
    const badReplace = await call('POST', `/pins/${pin.requestid}`, {
      apiKey: alice.apiKey,
      body: { cid: 'not-a-cid' }
    });
    expect(badReplace.status).toBe(400);
    expectFailureBody(badReplace.json, 'BAD_REQUEST');
    const still = await client.pinsRequestidGet({ requestid: pin.requestid });
    expect(still.pin.name).toBe('keep-me');
    expect((await client.pinsGet({ status: ALL_STATUSES, limit: 1 })).count).toBe(before + 1);
  });

  it("another user's requestid is 404 for GET, replace and DELETE, and the pin is untouched", async () => {
    const aliceClient = clientFor(alice.apiKey);
    const bobClient = clientFor(bob.apiKey);
    const cid = await originBlock();
    const pin = await aliceClient.pinsPost({ pin: { cid, name: 'alice-only', origins: originAddrs } });
    await waitForStatus(aliceClient, pin.requestid, [Status.Pinned]);

    const otherCid = await unobtainableCid();
    for (const attempt of [
      () => bobClient.pinsRequestidGet({ requestid: pin.requestid }),
      () => bobClient.pinsRequestidPost({ requestid: pin.requestid, pin: { cid: otherCid } }),
      () => bobClient.pinsRequestidDelete({ requestid: pin.requestid })
    ]) {
      const { status, body } = await failureOf(attempt());
      expect(status).toBe(404);
      expectFailureBody(body, 'NOT_FOUND');
    }
    // Bob sees none of Alice's pins, and his failed replace created nothing.
    expect((await bobClient.pinsGet({ status: ALL_STATUSES, limit: 1000 })).count).toBe(0);
    expect((await bobClient.pinsGet({ cid: [cid, otherCid], status: ALL_STATUSES })).count).toBe(0);
    expect((await aliceClient.pinsGet({ cid: [otherCid], status: ALL_STATUSES })).count).toBe(0);
    const untouched = await aliceClient.pinsRequestidGet({ requestid: pin.requestid });
    expect(untouched.status).toBe(Status.Pinned);
    expect(untouched.pin.name).toBe('alice-only');
  });

  it('pins a 3 MiB file from a separate Helia node given as origins, and then holds every block itself', async () => {
    const client = clientFor(alice.apiKey);
    const source = await createTestNode({ listen: true });
    let sourceStopped = false;
    const fetcher = await createTestNode({ tcp: true });
    try {
      const file = randomBytes(3 * 1024 * 1024);
      const root = await unixfs(source).addBytes(file);
      const blocks = await dagBlockCids(root, source.blockstore);
      // The 1 MiB-chunk profile: three raw leaves under one dag-pb root.
      expect(blocks).toHaveLength(4);
      let dagBytes = 0;
      for (const b of blocks) dagBytes += (await concatBytes(source.blockstore.get(b))).byteLength;

      const origins = source.libp2p.getMultiaddrs().map((ma) => ma.toString());
      const added = await client.pinsPostRaw({
        pin: { cid: root.toString(), name: 'three-mib.bin', origins, meta: { from: 'helia' } }
      });
      expect(added.raw.status).toBe(202);
      const status = await added.value();
      expect(status.pin.origins).toEqual(origins);

      const done = await waitForStatus(client, status.requestid, [Status.Pinned, Status.Failed]);
      expect(done.status, JSON.stringify(done.info)).toBe(Status.Pinned);
      expect(done.requestid).toBe(status.requestid);
      expect(done.info?.dag_size).toBe(String(dagBytes));

      // The content record agrees.
      const byCid = await fetch(`${service.apiUrl}/api/content/by-cid/${root}`, {
        headers: { authorization: `Bearer ${alice.apiKey}` }
      });
      expect(byCid.status).toBe(200);
      const records = (await byCid.json()) as Array<{
        content: { cid: string; pinningStatus: string; dagSize: number; size: number; requestId: string };
      }>;
      const record = records.find((r) => r.content.requestId === status.requestid);
      expect(record, JSON.stringify(records)).toBeDefined();
      expect(record!.content.cid).toBe(root.toString());
      expect(record!.content.pinningStatus).toBe('pinned');
      expect(record!.content.dagSize).toBe(dagBytes);
      expect(record!.content.size).toBe(file.byteLength);

      // Every block is on the service's own disk...
      for (const b of blocks) expect(await service.node.blockstore.has(b), b.toString()).toBe(true);

      // ...and, with the source gone, a fresh node gets the file back from the service over bitswap.
      await source.stop();
      sourceStopped = true;
      const tcp = (
        (await (await fetch(`${service.apiUrl}/api/public/net/addrs`)).json()) as { addresses: string[] }
      ).addresses.find((a) => {
        const names = multiaddr(a)
          .getComponents()
          .map((c) => c.name);
        return names.includes('tcp') && !names.includes('ws') && !names.includes('wss');
      });
      expect(tcp).toBeDefined();
      await fetcher.libp2p.dial(multiaddr(tcp!), { signal: AbortSignal.timeout(30_000) });
      const back = await concatBytes(unixfs(fetcher).cat(root, { signal: AbortSignal.timeout(60_000) }));
      expect(back.byteLength).toBe(file.byteLength);
      expect(equalBytes(back, file)).toBe(true);
    } finally {
      if (!sourceStopped) await source.stop();
      await fetcher.stop();
    }
  });

  // Several nodes share one database only with PostgreSQL, so this runs for that kind only.
  if (postgres)
    it('two nodes sharing the PostgreSQL database still give every pin a unique `created` (and no 500s)', async () => {
      // A second node on the same database: a fresh copy of the service's modules (as a second
      // process would have), so nothing in memory is shared with the first node.
      const temp = await createTempPostgres();
      const nodes: TestService[] = [];
      try {
        nodes.push(await startTestService({ databaseUrl: temp.url }));
        vi.resetModules();
        const second = (await import('../helpers/service.ts')) as typeof import('../helpers/service.ts');
        nodes.push(await second.startTestService({ databaseUrl: temp.url }));
        const user = await registerUser(nodes[0]!.apiUrl, nodes[0]!.adminInvite, 'erin');
        const cid = await unobtainableCid();
        const replies = await Promise.all(
          Array.from({ length: 100 }, async (_, i) => {
            const res = await fetch(`${nodes[i % 2]!.apiUrl}/api/pinning/pins`, {
              method: 'POST',
              headers: { authorization: `Bearer ${user.apiKey}`, 'content-type': 'application/json' },
              body: JSON.stringify({ cid, name: `node-${i % 2}-${i}` })
            });
            return { status: res.status, body: await res.text() };
          })
        );
        const refused = replies.filter((r) => r.status !== 202);
        expect(refused, `${refused.length} of 100 POSTs failed, e.g. ${refused[0]?.body}`).toEqual([]);
        const created = replies.map((r) => (JSON.parse(r.body) as { created: string }).created);
        expect(new Set(created).size).toBe(100);
        // And the Kubo walk over both nodes' pins sees each exactly once.
        const client = clientFor(user.apiKey, `${nodes[1]!.apiUrl}/api/pinning`);
        const seen: string[] = [];
        let before: Date | undefined;
        for (let round = 0; round < 20; round++) {
          const page = await client.pinsGet({ status: ALL_STATUSES, limit: 10, before });
          seen.push(...page.results.map((r) => r.requestid));
          if (page.count === page.results.length) break;
          before = page.results.at(-1)!.created;
        }
        expect(seen).toHaveLength(100);
        expect(new Set(seen).size).toBe(100);
      } finally {
        for (const n of nodes.reverse()) await n.stop();
        await temp.drop();
      }
    });

  it('a pin of a CID nobody has ends `failed` with info.status_details saying why', async () => {
    const owner = await registerUser(shortService.apiUrl, shortService.adminInvite, 'dora');
    const client = clientFor(owner.apiKey, `${shortService.apiUrl}/api/pinning`);
    const cid = await unobtainableCid();
    const added = await client.pinsPost({ pin: { cid, name: 'nowhere', origins: originAddrs } });
    removeAfterTest(owner.apiKey, added.requestid, `${shortService.apiUrl}/api/pinning`);
    expect([Status.Queued, Status.Pinning]).toContain(added.status);

    const failed = await waitForStatus(client, added.requestid, [Status.Failed, Status.Pinned], 100_000);
    expect(failed.status).toBe(Status.Failed);
    expect(failed.requestid).toBe(added.requestid);
    expect(failed.pin.cid).toBe(cid);
    const details = failed.info?.status_details;
    expect(details, JSON.stringify(failed.info)).toBeTypeOf('string');
    expect(details).toMatch(/timed out|no peer|not found|could not/i);

    // A failed pin is not listed by default, but is under ?status=failed.
    expect((await client.pinsGet({ cid: [cid] })).count).toBe(0);
    const listed = await client.pinsGet({ cid: [cid], status: [Status.Failed] });
    expect(listed.results.map((r) => r.requestid)).toEqual([added.requestid]);
    // And it can be removed like any other.
    expect((await client.pinsRequestidDeleteRaw({ requestid: added.requestid })).raw.status).toBe(202);
    expect((await failureOf(client.pinsRequestidGet({ requestid: added.requestid }))).status).toBe(404);
  });
});
