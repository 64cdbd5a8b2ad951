import { createHash } from 'node:crypto';
import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';

/** The path the sink answers WebSocket upgrades on. */
export const BENCH_WS_SINK_PATH = '/api/bench/ws-sink';

/**
 * Bench-only (`npm run bench -- browser`, bench/browser.ts), and only when the service runs with
 * `FIRTH_BENCH_WS_SINK=1`: a WebSocket endpoint that swallows binary frames and counts their payload
 * bytes. It is the raw-WebSocket baseline the browser→service bitswap transfer is compared with: the
 * same page, the same service process, the same loopback, nothing but the transport. A text frame
 * from the client ends a run: the sink answers with a text frame `{"bytes":N}` and starts counting
 * afresh. Payloads are skipped, never unmasked or kept. Off (no upgrade listener at all) by default.
 */
export function attachBenchWsSink(server: Server): void {
  server.on('upgrade', (req: IncomingMessage, socket: Duplex) => {
    const key = req.headers['sec-websocket-key'];
    if (req.url?.split('?')[0] !== BENCH_WS_SINK_PATH || typeof key !== 'string') {
      socket.destroy();
      return;
    }
    const accept = createHash('sha1').update(`${key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest('base64');
    socket.write(
      'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
        `Sec-WebSocket-Accept: ${accept}\r\n\r\n`
    );
    sink(socket);
  });
}

/** Reads client frames (RFC 6455 §5.2) off the socket, counting binary payload bytes. */
function sink(socket: Duplex): void {
  let buffered = Buffer.alloc(0);
  // The rest of the current frame's payload: how many bytes, whether they count, whether a reply follows.
  let skip = 0;
  let counts = false;
  let replyAfter = false;
  let counted = 0;
  const frame = (opcode: number, payload: Buffer) =>
    socket.write(Buffer.concat([Buffer.from([0x80 | opcode, payload.length]), payload]));
  const reply = () => {
    frame(0x1, Buffer.from(JSON.stringify({ bytes: counted })));
    counted = 0;
    replyAfter = false;
  };

  socket.on('error', () => socket.destroy());
  socket.on('data', (chunk: Buffer) => {
    let data = buffered.length > 0 ? Buffer.concat([buffered, chunk]) : chunk;
    buffered = Buffer.alloc(0);
    while (data.length > 0) {
      if (skip > 0) {
        const n = Math.min(skip, data.length);
        skip -= n;
        if (counts) counted += n;
        data = data.subarray(n);
        if (skip === 0 && replyAfter) reply();
        continue;
      }
      // Header: 2 bytes, extended length 0/2/8, mask 4 (client frames are always masked).
      if (data.length < 2) break;
      const opcode = data[0]! & 0x0f;
      let len = data[1]! & 0x7f;
      let at = 2;
      if (len === 126) {
        if (data.length < 4) break;
        len = data.readUInt16BE(2);
        at = 4;
      } else if (len === 127) {
        if (data.length < 10) break;
        len = Number(data.readBigUInt64BE(2));
        at = 10;
      }
      if (data.length < at + 4) break;
      data = data.subarray(at + 4);
      if (opcode === 0x8) {
        frame(0x8, Buffer.alloc(0));
        socket.end();
        return;
      }
      // Binary and continuation frames count; a text frame asks for the count; ping/pong are skipped.
      skip = len;
      counts = opcode === 0x2 || opcode === 0x0;
      replyAfter = opcode === 0x1;
      if (skip === 0 && replyAfter) reply();
    }
    if (data.length > 0) buffered = Buffer.from(data);
  });
}
