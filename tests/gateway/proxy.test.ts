import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestService, type TestService } from '../helpers/service.ts';
import { loadFixture } from './helpers/car-fixtures.ts';

// subdomain_gateway/fixtures.car
const DIR = 'bafybeiht6dtwk3les7vqm6ibpvz6qpohidvlshsfyr7l5mpysdw2vmbbhe'; // has ipfs/file.txt
const HELLO = 'bafkreicysg23kiwv34eg2d7qweipxwosdo2py4ldv42nbauguluen5v6am'; // "hello\n"
const HELLO_V0 = 'QmZULkCELmmk5XNfCgTnCyFgAVxBRBXyDHGGMVoLFLiXEN';
const HELLO_V0TO1 = 'bafybeiffndsajwhk3lwjewwdxqntmjm4b5wxaaanokonsggenkbw6slwk4';
const DOMAIN = 'example.com';

interface Raw {
  status: number;
  headers: Map<string, string>;
  body: string;
}

function parse(text: string): Raw {
  const [head, ...rest] = text.split('\r\n\r\n');
  const [statusLine, ...lines] = head!.split('\r\n');
  const headers = new Map(
    lines.map((l) => [l.slice(0, l.indexOf(':')).toLowerCase(), l.slice(l.indexOf(':') + 1).trim()])
  );
  return { status: Number(statusLine!.split(' ')[1]), headers, body: rest.join('\r\n\r\n') };
}

/**
 * Bytes on a socket as a proxy client writes them (node:http and fetch cannot send absolute-form
 * targets or CONNECT to a server directly); `tunnel` first opens a CONNECT to `authority`.
 */
function exchange(port: number, request: string, tunnel?: string): Promise<{ connect?: Raw; response: Raw }> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    let buffer = '';
    let connect: Raw | undefined;
    socket.setEncoding('latin1');
    socket.on('error', reject);
    socket.on('connect', () => {
      if (tunnel == null) socket.write(request);
      else socket.write(`CONNECT ${tunnel} HTTP/1.1\r\nHost: ${tunnel}\r\n\r\n`);
    });
    socket.on('data', (chunk: string) => {
      buffer += chunk;
      if (tunnel != null && connect == null && buffer.includes('\r\n\r\n')) {
        connect = parse(buffer.slice(0, buffer.indexOf('\r\n\r\n') + 4));
        buffer = '';
        socket.write(request);
      }
    });
    socket.on('end', () => resolve({ connect, response: parse(buffer) }));
  });
}

describe('public gateway used as an HTTP proxy (proxy-gateway)', () => {
  let svc: TestService;
  let port: number;

  beforeAll(async () => {
    svc = await startTestService({ env: { FIRTH_GATEWAY_DOMAIN: DOMAIN, FIRTH_GATEWAY_TIMEOUT: '5' } });
    port = Number(new URL(svc.gatewayUrl).port);
    await loadFixture(svc.node.blockstore, 'subdomain_gateway/fixtures.car');
  });
  afterAll(async () => {
    await svc?.stop();
  });

  it('absolute-form targets: the authority in the target picks the subdomain, over the Host header', async () => {
    const { response } = await exchange(
      port,
      `GET http://${HELLO}.ipfs.${DOMAIN}/ HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nConnection: close\r\n\r\n`
    );
    expect(response.status).toBe(200);
    expect(response.body).toBe('hello\n');
  });

  it('absolute-form: the subdomain takes priority over /ipfs/ paths inside the root', async () => {
    const { response } = await exchange(
      port,
      `GET http://${DIR}.ipfs.${DOMAIN}/ipfs/file.txt HTTP/1.1\r\nHost: ${DIR}.ipfs.${DOMAIN}\r\nConnection: close\r\n\r\n`
    );
    expect(response.status).toBe(200);
    expect(response.body).toBe('I am a txt file\n');
  });

  it('absolute-form: example.com/ipfs/{CIDv0} redirects to the CIDv1 subdomain', async () => {
    const { response } = await exchange(
      port,
      `GET http://${DOMAIN}/ipfs/${HELLO_V0}/ HTTP/1.1\r\nHost: ${DOMAIN}\r\nConnection: close\r\n\r\n`
    );
    expect(response.status).toBe(301);
    expect(response.headers.get('location')).toBe(`http://${HELLO_V0TO1}.ipfs.${DOMAIN}/`);
  });

  it('CONNECT opens a tunnel answered by the gateway itself, whatever authority it names', async () => {
    // A TEST-NET address nothing listens on: the gateway never dials it.
    const { connect, response } = await exchange(
      port,
      `GET / HTTP/1.1\r\nHost: ${HELLO}.ipfs.${DOMAIN}\r\nConnection: close\r\n\r\n`,
      '192.0.2.1:80'
    );
    expect(connect?.status).toBe(200);
    expect(response.status).toBe(200);
    expect(response.body).toBe('hello\n');
  });
});
