import type { MultipartFile, Multipart } from '@fastify/multipart';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { base32 } from 'multiformats/bases/base32';
import { CID } from 'multiformats/cid';
import { PERM_UPLOAD, PERM_USER } from '../../../server/db/schema.ts';
import { InvalidInputError, TooLargeError, UnsupportedMediaTypeError } from '../../../server/errors.ts';
import {
  stageCar,
  stageFile,
  stageFolder,
  type FolderEntry,
  type StagedUpload
} from '../../../server/content/upload.ts';
import type { Content } from '../../../server/db/schema.ts';
import { parsePinRequest } from '../../../server/pinning/pins.ts';
import { requireAuth, userOf } from '../auth.ts';
import { pageParam, replicationParam } from '../body.ts';
import type { ApiContext } from '../context.ts';

/** Estuary's `/content` routes: uploads (multipart, CAR, by CID) and the owner's queries. */
export async function contentRoutes(app: FastifyInstance, ctx: ApiContext): Promise<void> {
  const upload = requireAuth(ctx.accounts, PERM_UPLOAD);
  const user = requireAuth(ctx.accounts, PERM_USER);
  const max = ctx.config.maxUploadBytes;

  /** Refuse early when the declared length is already over the limit. */
  function checkDeclaredLength(req: FastifyRequest, overhead: number): void {
    const declared = Number(req.headers['content-length'] ?? NaN);
    if (Number.isFinite(declared) && declared > max + overhead) {
      throw new TooLargeError(
        'ERR_CONTENT_SIZE_OVER_LIMIT',
        `upload of ${declared} bytes is over the limit of ${max} bytes`
      );
    }
  }

  async function addResponse(c: Content) {
    // Firth's addition: the same root is already stored for this user (the new content shares its
    // Filecoin deals rather than making a second set).
    const duplicateOf = await ctx.content.sameRoot(Number(c.user_id), c.cid, Number(c.id));
    // The path form on an address that does not redirect: any HTTP client can GET it. Browsers
    // get each CID on its own origin at `subdomain_url`.
    const retrievalUrl = `${ctx.pathGatewayUrl()}/ipfs/${c.cid}`;
    return {
      cid: c.cid,
      retrieval_url: retrievalUrl,
      estuary_retrieval_url: retrievalUrl,
      subdomain_url: subdomainUrl(ctx.gatewayUrl(), c.cid),
      estuaryId: Number(c.id),
      providers: ctx.addresses(),
      replication: c.replication,
      // How its deals will be made (null: no Filecoin network on this node).
      deals: ctx.deals?.placement(Number(c.dag_size), c.replication) ?? null,
      duplicate: duplicateOf != null,
      duplicateOf
    };
  }

  async function commitOrDiscard(staged: StagedUpload, userId: number, name: string, replication: unknown) {
    try {
      return await staged.commit(userId, {
        name,
        replication: replicationParam(replication, ctx.config.replication)
      });
    } catch (err) {
      await staged.discard();
      throw err;
    }
  }

  app.post('/content/add', { preHandler: upload }, async (req) => {
    if (!req.isMultipart()) {
      throw new UnsupportedMediaTypeError(
        'ERR_UNSUPPORTED_CONTENT_TYPE',
        'send multipart/form-data with the file in field "data"'
      );
    }
    checkDeclaredLength(req, 1024 * 1024);
    const q = req.query as Record<string, string | undefined>;
    // Validate what we can before reading a byte of the body.
    replicationParam(q.replication, ctx.config.replication);
    const fields: Record<string, string> = {};
    let staged: StagedUpload | undefined;
    let fileName: string;
    try {
      const parts = fileParts(req.parts(), fields)[Symbol.asyncIterator]();
      const first = await parts.next();
      if (first.done === true)
        throw new InvalidInputError('ERR_INVALID_INPUT', 'no file: send it in multipart field "data"');
      const firstPath = partPath(first.value);
      const opts = { maxBytes: max, signal: abortOn(req) };
      // A relative path with a folder in it starts a folder upload; a bare name, or a client's
      // absolute path of one file, is a single file as before.
      const folder = isDirectoryPart(first.value) || (firstPath.includes('/') && !firstPath.startsWith('/'));
      if (!folder) {
        fileName = first.value.filename.split(/[\\/]/).pop() ?? '';
        staged = await stageFile(ctx.uploads, first.value.file, opts);
        checkTruncated(first.value, max);
        const more = await parts.next();
        if (more.done !== true) {
          more.value.file.resume();
          throw new InvalidInputError(
            'ERR_INVALID_INPUT',
            `a second file "${partPath(more.value)}": send one file, or the files of one folder with their paths ("album/a.jpg")`
          );
        }
      } else {
        fileName = firstPath.split('/')[0]!;
        staged = await stageFolder(ctx.uploads, folderEntries(first.value, parts, max), opts);
      }
    } catch (err) {
      await staged?.discard();
      req.log.info({ err }, 'upload refused');
      if ((err as { code?: string }).code === 'FST_REQ_FILE_TOO_LARGE') {
        throw new TooLargeError('ERR_CONTENT_SIZE_OVER_LIMIT', `upload is over the limit of ${max} bytes`);
      }
      if ((err as { code?: string }).code?.startsWith('FST_') || /multipart|boundary/i.test(String(err))) {
        throw new InvalidInputError(
          'ERR_INVALID_INPUT',
          `malformed multipart body: ${(err as Error).message}`
        );
      }
      throw err;
    }
    const name = fields.filename ?? q.filename ?? fileName;
    const content = await commitOrDiscard(
      staged,
      userOf(req).user.id,
      name,
      fields.replication ?? q.replication
    );
    return addResponse(content);
  });

  // CAR uploads read the raw body themselves, streamed, so this scope accepts any content type.
  await app.register(async (scope) => {
    scope.addContentTypeParser('*', (_req, _payload, done) => done(null));
    scope.post('/content/add-car', { preHandler: upload }, async (req) => {
      checkDeclaredLength(req, 0);
      const q = req.query as Record<string, string | undefined>;
      replicationParam(q.replication, ctx.config.replication);
      const staged = await stageCar(ctx.uploads, req.raw, { maxBytes: max, signal: abortOn(req) });
      const content = await commitOrDiscard(staged, userOf(req).user.id, q.filename ?? '', q.replication);
      return addResponse(content);
    });
  });

  app.post('/content/add-ipfs', { preHandler: upload }, async (req, reply) => {
    const q = req.query as Record<string, string | undefined>;
    const pin = parsePinRequest(req.body);
    const status = await ctx.pins.add(
      userOf(req).user.id,
      pin,
      replicationParam(q.replication, ctx.config.replication)
    );
    return reply.status(202).send(status);
  });

  app.get('/content/list', { preHandler: user }, async (req) => ctx.content.list(userOf(req).user.id));

  app.get('/content/stats', { preHandler: user }, async (req) => {
    const q = req.query as Record<string, string | undefined>;
    return ctx.content.stats(
      userOf(req).user.id,
      pageParam(q.limit, 'limit', 500, 1000),
      pageParam(q.offset, 'offset', 0, 1e12)
    );
  });

  // GET /content/status/:id (with its deals) lives in ./deals.ts.

  app.get('/content/by-cid/:cid', { preHandler: user }, async (req) =>
    ctx.content.byCid(userOf(req).user.id, (req.params as { cid: string }).cid)
  );

  app.get('/content/:id', { preHandler: user }, async (req) =>
    ctx.content.get(userOf(req).user.id, (req.params as { id: string }).id)
  );

  app.get('/public/by-cid/:cid', async (req) => ctx.content.publicByCid((req.params as { cid: string }).cid));

  // `/user/stats` (with bandwidth) is in routes/stats.ts.
}

/** `http://<cidv1 base32>.ipfs.<gateway host>/`, or null when the gateway's host is an IP address. */
function subdomainUrl(gatewayUrl: string, cid: string): string | null {
  const url = new URL(gatewayUrl);
  if (/^\d+\.\d+\.\d+\.\d+$/.test(url.hostname) || url.hostname.startsWith('[')) return null;
  const label = CID.parse(cid).toV1().toString(base32);
  return label.length > 63 ? null : `${url.protocol}//${label}.ipfs.${url.host}/`;
}

/** An AbortSignal that fires when the client goes away mid-request. */
function abortOn(req: FastifyRequest): AbortSignal {
  const ctl = new AbortController();
  req.raw.once('close', () => {
    if (!req.raw.complete) ctl.abort(new Error('client closed the request'));
  });
  return ctl.signal;
}

/** The file parts in field "data"; the other fields are recorded as they pass. */
async function* fileParts(
  parts: AsyncIterable<Multipart>,
  fields: Record<string, string>
): AsyncGenerator<MultipartFile> {
  for await (const part of parts) {
    if (part.type !== 'file') {
      fields[part.fieldname] = String(part.value);
      continue;
    }
    if (part.fieldname !== 'data') {
      part.file.resume();
      throw new InvalidInputError(
        'ERR_INVALID_INPUT',
        `unexpected file field "${part.fieldname}": send files in "data"`
      );
    }
    yield part;
  }
}

/** A part's path in the upload: its filename, URL-decoded when it is escaped as Kubo's client does. */
function partPath(part: MultipartFile): string {
  try {
    return decodeURIComponent(part.filename);
  } catch {
    return part.filename;
  }
}

/** Kubo's convention for an (empty) directory in a multipart add. */
function isDirectoryPart(part: MultipartFile): boolean {
  return part.mimetype === 'application/x-directory';
}

function checkTruncated(part: MultipartFile, max: number): void {
  if (part.file.truncated)
    throw new TooLargeError('ERR_CONTENT_SIZE_OVER_LIMIT', `upload is over the limit of ${max} bytes`);
}

/** The parts of a folder upload as import entries, the first one already read. */
async function* folderEntries(
  first: MultipartFile,
  rest: AsyncIterator<MultipartFile>,
  max: number
): AsyncGenerator<FolderEntry> {
  for (let part: MultipartFile | undefined = first; part != null;) {
    if (isDirectoryPart(part)) {
      part.file.resume();
      yield { path: partPath(part) };
    } else {
      yield { path: partPath(part), content: part.file };
      checkTruncated(part, max);
    }
    const next = await rest.next();
    part = next.done === true ? undefined : next.value;
  }
}
