// A CommP worker thread: hashes one aligned subtree per message with its own wasm kernel and hands
// the payload buffer back for reuse.
import { parentPort } from 'node:worker_threads';
import { SUBTREE_QUADS } from './constants.ts';
import { Kernel } from './kernel.ts';

export interface SubtreeTask {
  id: number;
  buf: ArrayBuffer;
  len: number;
  height: number;
}

export type SubtreeResult =
  { id: number; buf: ArrayBuffer; root: Uint8Array } | { id: number; buf: ArrayBuffer; error: string };

const kernel = new Kernel(SUBTREE_QUADS);
const port = parentPort;
if (port == null) throw new Error('commp worker must run in a worker thread');

port.on('message', (task: SubtreeTask) => {
  let result: SubtreeResult;
  try {
    kernel.input.set(new Uint8Array(task.buf, 0, task.len));
    result = { id: task.id, buf: task.buf, root: kernel.root(task.len, task.height) };
  } catch (err) {
    result = { id: task.id, buf: task.buf, error: String(err) };
  }
  port.postMessage(result, [task.buf]);
});
