// Kubo 0.43.1 with its `unixfs-v1-2025` import profile (IPIP-0499) and Firth give the same root CID for
// the same file or folder: Firth's multipart upload (its service-side importer), a CAR Kubo exported
// after a real add, and Firth's one import profile (src/lib/import-profile.ts, the same options the
// browser's import worker uses) run over the same files. The browser itself: unixfs-cids-browser.test.ts.
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { importer, type ImportCandidate } from 'ipfs-unixfs-importer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { importProfile } from '../../src/lib/import-profile.ts';
import { DATABASES, serviceDatabase } from '../helpers/databases.ts';
import { registerUser, startTestService, type TestService } from '../helpers/service.ts';
import { runKubo } from './kubo.ts';
import { hasKubo, reportSkipped } from './tools.ts';
import {
  FILE_CASES,
  folderCases,
  kuboAdd,
  kuboCar,
  kuboRepo,
  writeFolder,
  type FolderCase
} from './unixfs-fixtures.ts';

const missing = hasKubo() ? [] : ['Kubo (ipfs) is not built'];
reportSkipped('UnixFS CIDs: Kubo unixfs-v1-2025 vs Firth', missing);

interface AddResponse {
  cid: string;
  duplicate: boolean;
  duplicateOf: number | null;
}

async function addFile(service: TestService, key: string, name: string, bytes: Uint8Array) {
  const form = new FormData();
  form.append('data', new Blob([Buffer.from(bytes)]), name);
  const res = await fetch(`${service.apiUrl}/api/content/add`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}` },
    body: form
  });
  expect(res.status, await res.clone().text()).toBe(200);
  return (await res.json()) as AddResponse;
}

async function addCar(service: TestService, key: string, car: Uint8Array) {
  const res = await fetch(`${service.apiUrl}/api/content/add-car`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/vnd.ipld.car' },
    body: Buffer.from(car)
  });
  expect(res.status, await res.clone().text()).toBe(200);
  return (await res.json()) as AddResponse;
}

/** A folder as one multipart body: each file in "data" named by its path, empty directories as
 * `application/x-directory` parts (Kubo's convention). */
async function addFolder(service: TestService, key: string, folder: FolderCase, escape = false) {
  const form = new FormData();
  const name = (p: string) => (escape ? encodeURIComponent(p) : p);
  const directory = (p: string) =>
    form.append('data', new Blob([], { type: 'application/x-directory' }), name(p));
  if (folder.files.length === 0 && folder.emptyDirs.length === 0) directory(folder.name);
  for (const f of folder.files)
    form.append('data', new Blob([Buffer.from(f.bytes)]), name(`${folder.name}/${f.path}`));
  for (const d of folder.emptyDirs) directory(`${folder.name}/${d}`);
  return fetch(`${service.apiUrl}/api/content/add`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}` },
    body: form
  });
}

/** Firth's import profile over a folder's files, as the import worker runs it: the top directory's CID. */
async function firthProfileCid(folder: FolderCase): Promise<string> {
  const candidates: ImportCandidate[] = [
    // The worker gets files only (a browser picker lists no directories); the folder itself is
    // named so an empty one still has a root.
    ...(folder.files.length === 0 ? [{ path: folder.name }] : []),
    ...folder.files.map((f) => ({ path: `${folder.name}/${f.path}`, content: f.bytes })),
    ...folder.emptyDirs.map((d) => ({ path: `${folder.name}/${d}` }))
  ];
  let root: string | undefined;
  for await (const entry of importer(candidates, { put: async (cid) => cid }, importProfile(8))) {
    root = entry.cid.toString();
  }
  if (root === undefined) throw new Error('nothing imported');
  return root;
}

describe.skipIf(missing.length > 0)('UnixFS CIDs: Kubo unixfs-v1-2025 and Firth agree', () => {
  let repo = '';
  let dir = '';
  let folders: FolderCase[] = [];
  const kuboFiles = new Map<string, string>();
  const kuboFolders = new Map<string, string>();

  beforeAll(async () => {
    repo = await kuboRepo();
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'firth-unixfs-cases-'));
    for (const f of FILE_CASES) {
      const file = path.join(dir, f.name);
      await fs.writeFile(file, f.bytes);
      const hashed = await kuboAdd(repo, file, true);
      // A real add (for `dag export`) gives the same CID as --only-hash.
      expect(await kuboAdd(repo, file)).toBe(hashed);
      kuboFiles.set(f.name, hashed);
    }
    folders = await folderCases();
    for (const folder of folders) {
      const root = await writeFolder(path.join(dir, 'folders'), folder);
      const hashed = await kuboAdd(repo, root, true);
      expect(await kuboAdd(repo, root)).toBe(hashed);
      kuboFolders.set(folder.name, hashed);
    }
  });

  afterAll(async () => {
    if (repo !== '') await fs.rm(repo, { recursive: true, force: true });
    if (dir !== '') await fs.rm(dir, { recursive: true, force: true });
  });

  it('the sharding cases are what they claim: Kubo shards only past the threshold', async () => {
    const isHamt = async (cid: string) => {
      const r = await runKubo(repo, ['dag', 'get', `${cid}`]);
      const node = JSON.parse(r.stdout) as { Data: { '/': { bytes: string } } };
      // UnixFS Type 5 (HAMTShard) vs 1 (Directory): the protobuf's first field, `08 05` / `08 01`.
      return Buffer.from(node.Data['/'].bytes, 'base64')[1] === 5;
    };
    expect(await isHamt(kuboFolders.get('hamt-by-block-size')!)).toBe(true);
    expect(await isHamt(kuboFolders.get('block-over-threshold')!)).toBe(true);
    expect(await isHamt(kuboFolders.get('block-at-threshold')!)).toBe(false);
    expect(await isHamt(kuboFolders.get('nested')!)).toBe(false);
  });

  it("Firth's import profile gives Kubo's CID for every folder", async () => {
    const got: Record<string, string> = {};
    const want: Record<string, string> = {};
    for (const folder of folders) {
      got[folder.name] = await firthProfileCid(folder);
      want[folder.name] = kuboFolders.get(folder.name)!;
    }
    expect(got).toEqual(want);
  });

  describe.each(DATABASES)('uploads to Firth on %s', (kind) => {
    let service: TestService | undefined;
    let key = '';
    let drop = async () => {};

    beforeAll(async () => {
      const db = await serviceDatabase(kind);
      drop = db.drop;
      service = await startTestService({ databaseUrl: db.databaseUrl });
      key = (await registerUser(service.apiUrl, service.adminInvite, 'cids')).apiKey;
    });

    afterAll(async () => {
      await service?.stop();
      await drop();
    });

    it.each(FILE_CASES.map((f) => [f.name, f] as const))(
      "file %s: multipart gives Kubo's CID",
      async (_, f) => {
        const added = await addFile(service!, key, f.name, f.bytes);
        expect(added.cid).toBe(kuboFiles.get(f.name));
        // Dedupe still works: the same bytes again are the same content.
        const again = await addFile(service!, key, `${f.name}-again`, f.bytes);
        expect(again).toMatchObject({ cid: added.cid, duplicate: true });
      }
    );

    it.each(FILE_CASES.map((f) => [f.name] as const))(
      "file %s: Kubo's CAR gives Kubo's CID",
      async (name) => {
        const cid = kuboFiles.get(name)!;
        expect((await addCar(service!, key, await kuboCar(repo, cid))).cid).toBe(cid);
      }
    );

    it("every folder: multipart with paths gives Kubo's CID, and the same folder again is a duplicate", async () => {
      const got: Record<string, string> = {};
      const want: Record<string, string> = {};
      for (const folder of folders) {
        const res = await addFolder(service!, key, folder);
        expect(res.status, await res.clone().text()).toBe(200);
        got[folder.name] = ((await res.json()) as AddResponse).cid;
        want[folder.name] = kuboFolders.get(folder.name)!;
      }
      expect(got).toEqual(want);
      const again = await addFolder(service!, key, folders[0]!);
      expect(await again.json()).toMatchObject({ cid: want[folders[0]!.name], duplicate: true });
      // Paths URL-escaped, as Kubo's client sends them ("nested%2Fdocs%2Fguide.md").
      for (const folder of folders.filter((f) => f.name === 'nested' || f.name.startsWith('ü'))) {
        const escaped = await addFolder(service!, key, folder, true);
        expect(((await escaped.json()) as AddResponse).cid).toBe(want[folder.name]);
      }
    });

    it('takes a file named by an absolute path as one file, as before', async () => {
      const f = FILE_CASES[1]!;
      const added = await addFile(service!, key, `/home/someone/${f.name}`, f.bytes);
      expect(added.cid).toBe(kuboFiles.get(f.name));
    });

    it('refuses a folder upload with two top folders or a path that climbs out', async () => {
      for (const names of [['a/x.txt', 'b/y.txt'], ['a/../x.txt'], ['a//x.txt']]) {
        const form = new FormData();
        for (const n of names) form.append('data', new Blob(['x']), n);
        const res = await fetch(`${service!.apiUrl}/api/content/add`, {
          method: 'POST',
          headers: { authorization: `Bearer ${key}` },
          body: form
        });
        expect(res.status, names.join(',')).toBe(400);
      }
    });

    it("every folder: Kubo's CAR gives Kubo's CID, and its files read back", async () => {
      for (const folder of folders) {
        const cid = kuboFolders.get(folder.name)!;
        expect((await addCar(service!, key, await kuboCar(repo, cid))).cid).toBe(cid);
        for (const file of folder.files.slice(0, 3)) {
          const url = `${service!.gatewayUrl}/ipfs/${cid}/${file.path.split('/').map(encodeURIComponent).join('/')}`;
          const res = await fetch(url);
          expect(res.status, url).toBe(200);
          expect(Buffer.from(await res.arrayBuffer()).equals(Buffer.from(file.bytes))).toBe(true);
        }
      }
    });
  });
});
