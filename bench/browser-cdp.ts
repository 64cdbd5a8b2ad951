// A few lines of raw Chrome DevTools Protocol, for what playwright-core does not expose: the JS heap of a
// page's dedicated workers. Chromium is started with `--remote-debugging-port=0` beside Playwright's own
// pipe; this client attaches to the page target (flat sessions) and auto-attaches to its workers.
import fs from 'node:fs/promises';
import path from 'node:path';

interface CdpMessage {
  id?: number;
  method?: string;
  sessionId?: string;
  params?: Record<string, unknown>;
  result?: Record<string, unknown>;
  error?: { message: string };
}

export interface HeapSample {
  /** V8 heap in use, bytes. */
  used: number;
  /** ArrayBuffer backing stores, bytes, when this Chromium reports them (outside the V8 heap). */
  backing: number;
}

export interface HeapSampler {
  /** One reading of the page and of each of its workers. */
  sample(): Promise<{ page: HeapSample; workers: HeapSample[] }>;
  /** A full garbage collection in the page. */
  collectGarbage(): Promise<void>;
  close(): void;
}

/** Reads the port Chromium wrote for `--remote-debugging-port=0`. */
async function devtoolsUrl(profileDir: string): Promise<string> {
  for (let i = 0; i < 100; i++) {
    try {
      const [port, p] = (await fs.readFile(path.join(profileDir, 'DevToolsActivePort'), 'utf8')).split('\n');
      if (port && p) return `ws://127.0.0.1:${port}${p}`;
    } catch {
      // not written yet
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error('Chromium did not write DevToolsActivePort');
}

/** Attaches to the page whose URL contains `urlPart`, and to its dedicated workers as they start. */
export async function heapSampler(profileDir: string, urlPart: string): Promise<HeapSampler> {
  const ws = new WebSocket(await devtoolsUrl(profileDir));
  await new Promise((resolve, reject) => {
    ws.addEventListener('open', resolve, { once: true });
    ws.addEventListener('error', reject, { once: true });
  });
  let nextId = 1;
  const calls = new Map<
    number,
    { resolve: (r: Record<string, unknown>) => void; reject: (e: Error) => void }
  >();
  const workers = new Set<string>();
  const send = (method: string, params: Record<string, unknown> = {}, sessionId?: string) =>
    new Promise<Record<string, unknown>>((resolve, reject) => {
      const id = nextId++;
      calls.set(id, { resolve, reject });
      ws.send(JSON.stringify({ id, method, params, sessionId }));
    });
  ws.addEventListener('message', (event) => {
    const msg = JSON.parse(String(event.data)) as CdpMessage;
    if (msg.id !== undefined) {
      const call = calls.get(msg.id);
      calls.delete(msg.id);
      if (msg.error) call?.reject(new Error(msg.error.message));
      else call?.resolve(msg.result ?? {});
    } else if (msg.method === 'Target.attachedToTarget') {
      const p = msg.params as { sessionId: string; targetInfo: { type: string } };
      if (p.targetInfo.type === 'worker') workers.add(p.sessionId);
    } else if (msg.method === 'Target.detachedFromTarget') {
      workers.delete((msg.params as { sessionId: string }).sessionId);
    }
  });

  const { targetInfos } = (await send('Target.getTargets')) as {
    targetInfos: Array<{ targetId: string; type: string; url: string }>;
  };
  const target = targetInfos.find((t) => t.type === 'page' && t.url.includes(urlPart));
  if (target === undefined) throw new Error(`no page at ${urlPart}`);
  const { sessionId } = (await send('Target.attachToTarget', {
    targetId: target.targetId,
    flatten: true
  })) as {
    sessionId: string;
  };
  await send(
    'Target.setAutoAttach',
    { autoAttach: true, waitForDebuggerOnStart: false, flatten: true },
    sessionId
  );

  const heap = async (session: string): Promise<HeapSample> => {
    const r = (await send('Runtime.getHeapUsage', {}, session)) as {
      usedSize: number;
      backingStorageSize?: number;
    };
    return { used: r.usedSize, backing: r.backingStorageSize ?? 0 };
  };
  return {
    async sample() {
      const [page, ...w] = await Promise.all([
        heap(sessionId),
        ...[...workers].map((s) => heap(s).catch(() => ({ used: 0, backing: 0 })))
      ]);
      return { page: page!, workers: w };
    },
    async collectGarbage() {
      await send('HeapProfiler.collectGarbage', {}, sessionId);
    },
    close() {
      ws.close();
    }
  };
}
