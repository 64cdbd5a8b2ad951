// The devnet's network indexer: the read side of cid.contact's HTTP find API (`GET /cid/{cid}`,
// `GET /multihash/{mh}`, JSON or NDJSON — reference/filecoin.md §8.1) over what the devnet's
// providers announce. Real IPNI ingests signed advertisement chains over HTTP/libp2p; the devnet's
// providers post their records directly (`POST /ingest/announce`), which keeps the lookup side
// — the part Firth talks to — exactly as cid.contact serves it.
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { join } from 'node:path';
import { base58btc } from 'multiformats/bases/base58';
import { base64 } from 'multiformats/bases/base64';
import { CID } from 'multiformats/cid';
import type { Logger } from 'pino';

export interface ProviderRecord {
  /** base64, as cid.contact prints it */
  ContextID: string;
  /** base64: uvarint transport codes and their payloads, sorted by code */
  Metadata: string;
  Provider: { ID: string; Addrs: string[] };
}

export interface IndexerInit {
  /** Where the index persists (`ipni.json`); undefined = memory only. */
  dataDir?: string;
  logger?: Logger;
}

export interface Indexer {
  announce(record: ProviderRecord, multihashes: Uint8Array[]): Promise<void>;
  remove(contextId: string, providerId: string): Promise<void>;
  find(multihash: Uint8Array): ProviderRecord[];
  handle(req: IncomingMessage, res: ServerResponse): Promise<boolean>;
  close(): Promise<void>;
}

interface Snapshot {
  records: Array<{ record: ProviderRecord; multihashes: string[] }>;
}

const MAX_INGEST_BYTES = 64 * 1024 * 1024;

export async function createIndexer(init: IndexerInit = {}): Promise<Indexer> {
  // record key (provider + context) → record and the multihashes it covers
  const records = new Map<string, { record: ProviderRecord; multihashes: Set<string> }>();
  // multihash (base58btc) → record keys
  const byMultihash = new Map<string, Set<string>>();
  const file = init.dataDir == null ? undefined : join(init.dataDir, 'ipni.json');
  let saving: Promise<void> = Promise.resolve();

  const keyOf = (providerId: string, contextId: string) => `${providerId}/${contextId}`;

  function put(record: ProviderRecord, multihashes: Iterable<string>): void {
    const key = keyOf(record.Provider.ID, record.ContextID);
    const existing = records.get(key);
    const set = existing?.multihashes ?? new Set<string>();
    for (const mh of multihashes) {
      set.add(mh);
      let keys = byMultihash.get(mh);
      if (keys == null) byMultihash.set(mh, (keys = new Set()));
      keys.add(key);
    }
    records.set(key, { record, multihashes: set });
  }

  function drop(key: string): void {
    const entry = records.get(key);
    if (entry == null) return;
    for (const mh of entry.multihashes) {
      const keys = byMultihash.get(mh);
      keys?.delete(key);
      if (keys?.size === 0) byMultihash.delete(mh);
    }
    records.delete(key);
  }

  function persist(): Promise<void> {
    if (file == null) return Promise.resolve();
    const snapshot: Snapshot = {
      records: [...records.values()].map(({ record, multihashes }) => ({
        record,
        multihashes: [...multihashes]
      }))
    };
    // Serialised writes, each whole-file and atomic (tmp + rename).
    saving = saving.then(async () => {
      await writeFile(`${file}.tmp`, JSON.stringify(snapshot));
      await rename(`${file}.tmp`, file);
    });
    return saving;
  }

  if (file != null) {
    await mkdir(init.dataDir!, { recursive: true });
    try {
      const snapshot = JSON.parse(await readFile(file, 'utf8')) as Snapshot;
      for (const { record, multihashes } of snapshot.records) put(record, multihashes);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
  }

  const indexer: Indexer = {
    async announce(record, multihashes) {
      put(
        record,
        multihashes.map((mh) => base58btc.baseEncode(mh))
      );
      await persist();
    },
    async remove(contextId, providerId) {
      drop(keyOf(providerId, contextId));
      await persist();
    },
    find(multihash) {
      const keys = byMultihash.get(base58btc.baseEncode(multihash));
      if (keys == null) return [];
      return [...keys].map((key) => records.get(key)!.record);
    },
    async handle(req, res) {
      const url = new URL(req.url ?? '/', 'http://indexer');
      try {
        if (req.method === 'POST' && url.pathname === '/ingest/announce') {
          const body = (await readJson(req)) as Partial<{
            ContextID: string;
            Metadata: string;
            Provider: { ID: string; Addrs: string[] };
            Multihashes: string[];
          }>;
          const record = parseRecord(body);
          if (!Array.isArray(body.Multihashes) || body.Multihashes.length === 0) {
            throw new BadRequest('Multihashes must be a non-empty array of base58btc multihashes');
          }
          const multihashes = body.Multihashes.map((text) => parseMultihash(String(text)));
          await indexer.announce(record, multihashes);
          init.logger?.debug({ provider: record.Provider.ID, blocks: multihashes.length }, 'ipni: announced');
          return sendJson(res, 200, {});
        }
        if (req.method === 'POST' && url.pathname === '/ingest/remove') {
          const body = (await readJson(req)) as Partial<{ ContextID: string; ProviderID: string }>;
          if (typeof body.ContextID !== 'string' || typeof body.ProviderID !== 'string') {
            throw new BadRequest('ContextID and ProviderID are required');
          }
          await indexer.remove(body.ContextID, body.ProviderID);
          return sendJson(res, 200, {});
        }
        const find = /^\/(cid|multihash)\/([^/]+)$/.exec(url.pathname);
        if (find != null && (req.method === 'GET' || req.method === 'HEAD')) {
          const multihash = find[1] === 'cid' ? parseCidMultihash(find[2]!) : parseMultihash(find[2]!);
          const results = indexer.find(multihash);
          if (results.length === 0) {
            res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' });
            res.end('no results for query');
            return true;
          }
          if ((req.headers.accept ?? '').includes('application/x-ndjson')) {
            res.writeHead(200, { 'content-type': 'application/x-ndjson' });
            res.end(
              req.method === 'HEAD' ? undefined : results.map((r) => JSON.stringify(r) + '\n').join('')
            );
            return true;
          }
          return sendJson(res, 200, {
            MultihashResults: [{ Multihash: base64.baseEncode(multihash), ProviderResults: results }]
          });
        }
        return false;
      } catch (err) {
        if (err instanceof BadRequest) {
          res.writeHead(400, { 'content-type': 'text/plain; charset=utf-8' });
          res.end(err.message);
          return true;
        }
        init.logger?.error({ err }, 'ipni: request failed');
        res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' });
        res.end('internal error');
        return true;
      }
    },
    async close() {
      await saving;
    }
  };
  return indexer;
}

class BadRequest extends Error {}

function parseRecord(body: Partial<ProviderRecord>): ProviderRecord {
  const { ContextID, Metadata, Provider } = body;
  if (typeof ContextID !== 'string' || ContextID === '')
    throw new BadRequest('ContextID (base64) is required');
  if (typeof Metadata !== 'string' || Metadata === '') throw new BadRequest('Metadata (base64) is required');
  if (
    Provider == null ||
    typeof Provider.ID !== 'string' ||
    !Array.isArray(Provider.Addrs) ||
    !Provider.Addrs.every((a) => typeof a === 'string')
  ) {
    throw new BadRequest('Provider {ID, Addrs} is required');
  }
  return { ContextID, Metadata, Provider: { ID: Provider.ID, Addrs: [...Provider.Addrs] } };
}

function parseCidMultihash(text: string): Uint8Array {
  try {
    return CID.parse(text).multihash.bytes;
  } catch {
    throw new BadRequest(`invalid cid: ${text}`);
  }
}

/** A multihash as base58btc (cid.contact's usual form) or hex. */
function parseMultihash(text: string): Uint8Array {
  try {
    if (/^[0-9a-f]+$/i.test(text) && text.length % 2 === 0 && text.startsWith('12')) {
      return new Uint8Array(Buffer.from(text, 'hex'));
    }
    return base58btc.baseDecode(text);
  } catch {
    throw new BadRequest(`invalid multihash: ${text}`);
  }
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_INGEST_BYTES) throw new BadRequest('request body too large');
    chunks.push(chunk);
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    throw new BadRequest('malformed JSON');
  }
}

function sendJson(res: ServerResponse, status: number, body: unknown): true {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
  return true;
}
