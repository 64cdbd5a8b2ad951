// CommP of a received file in a worker thread: data-segment's JS hasher runs at a few MB/s, and on
// the main thread it would stall everything sharing the process (the service, with the in-process
// devnet) for seconds per deal.
import { createReadStream } from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';
import * as Hasher from '@web3-storage/data-segment/multihash';
import { Piece } from '@web3-storage/data-segment';

const { path } = workerData as { path: string };
const hasher = Hasher.create();
for await (const chunk of createReadStream(path)) hasher.write(chunk as Uint8Array);
const piece = Piece.fromDigest(hasher.digest());
parentPort!.postMessage({ root: piece.toInfo().link.multihash.digest, size: Number(piece.size) });
