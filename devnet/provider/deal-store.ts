// Persisted deal records (one JSON file, atomic writes) and their explicit state machine. The
// checkpoint names are Boost's (dealcheckpoints): the status protocol reports them as they are.
//
//   Accepted ──transfer+commP──▶ Transferred ──PublishStorageDeals pushed──▶ Published
//     ──receipt, deal ID──▶ PublishConfirmed ──ProveCommitSectors3──▶ AddedPiece
//     ──CAR indexed, IPNI announced──▶ IndexedAndAnnounced ──slashed/expired/failed──▶ Complete
//
// Any step can fail: the deal goes to Complete with a non-empty error (Boost's "failed" deal).
import { readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { PreparedMessage } from './messages.ts';

export const CHECKPOINTS = [
  'Accepted',
  'Transferred',
  'Published',
  'PublishConfirmed',
  'AddedPiece',
  'IndexedAndAnnounced',
  'Complete'
] as const;
export type Checkpoint = (typeof CHECKPOINTS)[number];

const NEXT: Record<Checkpoint, Checkpoint | null> = {
  Accepted: 'Transferred',
  Transferred: 'Published',
  Published: 'PublishConfirmed',
  PublishConfirmed: 'AddedPiece',
  AddedPiece: 'IndexedAndAnnounced',
  IndexedAndAnnounced: 'Complete',
  Complete: null
};

export interface DealRecord {
  uuid: string;
  checkpoint: Checkpoint;
  /** Non-empty once the deal failed (checkpoint is then Complete). */
  error: string;
  /** base64 of the ClientDealProposal tuple CBOR, as received. */
  clientDealProposal: string;
  signedProposalCid: string;
  dealDataRoot: string;
  pieceCid: string;
  pieceSize: number;
  verifiedDeal: boolean;
  client: string;
  startEpoch: number;
  endEpoch: number;
  isOffline: boolean;
  skipIpniAnnounce: boolean;
  transferType: string;
  /** base64 of Transfer.Params (JSON with URL and headers). */
  transferParams: string;
  transferSize: number;
  nBytesReceived: number;
  /** File name of the received CAR inside the provider's `incoming/` directory. */
  carFile: string;
  /** The signed PublishStorageDeals, recorded before it is pushed (a restart resubmits it). */
  publishMessage?: PreparedMessage;
  publishCid?: string;
  chainDealId?: number;
  sectorNumber?: number;
  sealingStatus: string;
  /** Set when the provider terminated the sector (slash fault). */
  slashed?: boolean;
  createdAt: string;
  updatedAt: string;
}

/** The summary the admin API and tests see. */
export interface DealSummary {
  uuid: string;
  checkpoint: Checkpoint;
  error: string;
  pieceCid: string;
  pieceSize: number;
  dealDataRoot: string;
  client: string;
  transferSize: number;
  nBytesReceived: number;
  publishCid?: string;
  chainDealId?: number;
  sectorNumber?: number;
  sealingStatus: string;
  signedProposalCid: string;
}

interface StoreFile {
  nextSector: number;
  deals: DealRecord[];
}

export interface DealStore {
  get(uuid: string): DealRecord | undefined;
  all(): DealRecord[];
  add(record: DealRecord): Promise<void>;
  /** Applies a patch; a checkpoint change must be the next one or Complete (explicit transitions). */
  update(uuid: string, patch: Partial<DealRecord>): Promise<DealRecord>;
  fail(uuid: string, error: string): Promise<DealRecord>;
  allocateSector(): Promise<number>;
  flush(): Promise<void>;
}

export function summarize(d: DealRecord): DealSummary {
  return {
    uuid: d.uuid,
    checkpoint: d.checkpoint,
    error: d.error,
    pieceCid: d.pieceCid,
    pieceSize: d.pieceSize,
    dealDataRoot: d.dealDataRoot,
    client: d.client,
    transferSize: d.transferSize,
    nBytesReceived: d.nBytesReceived,
    publishCid: d.publishCid,
    chainDealId: d.chainDealId,
    sectorNumber: d.sectorNumber,
    sealingStatus: d.sealingStatus,
    signedProposalCid: d.signedProposalCid
  };
}

export async function openDealStore(dir: string): Promise<DealStore> {
  const file = join(dir, 'deals.json');
  let state: StoreFile = { nextSector: 1, deals: [] };
  try {
    state = JSON.parse(await readFile(file, 'utf8')) as StoreFile;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  const deals = new Map(state.deals.map((d) => [d.uuid, d]));
  let saving: Promise<void> = Promise.resolve();

  function save(): Promise<void> {
    // Serialised writes of a whole snapshot; write-then-rename so a crash never leaves half a file.
    const snapshot = JSON.stringify({ nextSector: state.nextSector, deals: [...deals.values()] }, null, 1);
    saving = saving.then(async () => {
      const tmp = `${file}.tmp`;
      await writeFile(tmp, snapshot);
      await rename(tmp, file);
    });
    return saving;
  }

  const store: DealStore = {
    get: (uuid) => deals.get(uuid),
    all: () => [...deals.values()],
    async add(record) {
      deals.set(record.uuid, record);
      await save();
    },
    async update(uuid, patch) {
      const current = deals.get(uuid);
      if (current == null) throw new Error(`no deal ${uuid}`);
      if (patch.checkpoint != null && patch.checkpoint !== current.checkpoint) {
        const allowed = patch.checkpoint === 'Complete' || NEXT[current.checkpoint] === patch.checkpoint;
        if (!allowed)
          throw new Error(`deal ${uuid}: illegal transition ${current.checkpoint} → ${patch.checkpoint}`);
      }
      const next = { ...current, ...patch, updatedAt: new Date().toISOString() };
      deals.set(uuid, next);
      await save();
      return next;
    },
    async fail(uuid, error) {
      return store.update(uuid, { checkpoint: 'Complete', error });
    },
    async allocateSector() {
      const n = state.nextSector++;
      await save();
      return n;
    },
    flush: () => saving
  };
  return store;
}
