// A context row for bench/upload.ts: the least any upload server must do with the same request —
// parse the multipart body and SHA-256 it in 1 MiB pieces — with no chunking into a DAG and no
// storage. Usage: node bench/hash-only-server.ts; prints {"url": …} when ready.
import { createHash } from 'node:crypto';
import multipart from '@fastify/multipart';
import Fastify from 'fastify';

const app = Fastify();
await app.register(multipart, { limits: { fileSize: 2 ** 40 } });
app.post('/api/content/add', async (req) => {
  let bytes = 0;
  let piece = createHash('sha256');
  let inPiece = 0;
  for await (const part of req.parts()) {
    if (part.type !== 'file') continue;
    for await (const chunk of part.file as AsyncIterable<Buffer>) {
      bytes += chunk.byteLength;
      piece.update(chunk);
      inPiece += chunk.byteLength;
      if (inPiece >= 1024 * 1024) {
        piece.digest();
        piece = createHash('sha256');
        inPiece = 0;
      }
    }
  }
  piece.digest();
  return { bytes };
});
await app.listen({ host: '127.0.0.1', port: 0 });
const { port } = app.server.address() as { port: number };
process.stdout.write(JSON.stringify({ url: `http://127.0.0.1:${port}` }) + '\n');
