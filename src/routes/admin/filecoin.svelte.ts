import { isApiError } from '$lib/api';
import type { AdminAlert, DealsApi, Miner, WalletBalance } from '$lib/api/deals';
import { Loadable } from '$lib/utils/loadable.svelte';
import { Task } from '$lib/utils/task.svelte';

/** Null when the service answers 503: no Filecoin network is configured there. */
async function orOff<T>(load: Promise<T>): Promise<T | null> {
  try {
    return await load;
  } catch (err) {
    if (isApiError(err) && err.status === 503) return null;
    throw err;
  }
}

export interface Wallet {
  address: string;
  balance: WalletBalance;
}

/** The admin page's Filecoin sections: the wallet and escrow, and the storage providers. */
export class FilecoinAdmin {
  readonly wallet: Loadable<Wallet | null>;
  readonly miners: Loadable<Miner[] | null>;
  /** What an operator must fix (a wallet short of escrow, pieces no more deals are made for). */
  readonly alerts: Loadable<AdminAlert[] | null>;
  readonly addingEscrow: Task<[string], string>;
  readonly addingMiner: Task<[string], void>;
  /** One provider action at a time (suspend, unsuspend, remove); `busy` names the provider. */
  readonly changingMiner: Task<[string, () => Promise<void>], void>;
  #lastEscrowMessage = $state<string | null>(null);
  #busy = $state<string | null>(null);
  readonly #api: DealsApi;

  constructor(api: DealsApi) {
    this.#api = api;
    this.wallet = new Loadable(async (signal) => {
      const [address, balance] = await Promise.all([
        orOff(this.#api.address({ signal })),
        orOff(this.#api.balance({ signal }))
      ]);
      return address === null || balance === null ? null : { address, balance };
    });
    this.miners = new Loadable((signal) => orOff(this.#api.adminMiners({ signal })));
    this.alerts = new Loadable((signal) => orOff(this.#api.alerts({ signal })));
    this.addingEscrow = new Task(async (fil: string) => {
      const cid = await this.#api.addEscrow(fil);
      this.#lastEscrowMessage = cid;
      await this.wallet.load();
      return cid;
    });
    this.addingMiner = new Task(async (miner: string) => {
      await this.#api.addMiner(miner);
      await this.miners.load();
    });
    this.changingMiner = new Task(async (miner: string, action: () => Promise<void>) => {
      this.#busy = miner;
      try {
        await action();
      } finally {
        // Reloaded even when the action failed: a provider someone else removed meanwhile (404)
        // must not stay listed until the page is reloaded.
        await this.miners.load();
        this.#busy = null;
      }
    });
  }

  /** The message CID of the last escrow top-up made in this visit. */
  get lastEscrowMessage(): string | null {
    return this.#lastEscrowMessage;
  }

  get busy(): string | null {
    return this.#busy;
  }

  suspend(miner: string, reason: string): Promise<void | undefined> {
    return this.changingMiner.run(miner, () => this.#api.suspendMiner(miner, reason));
  }

  unsuspend(miner: string): Promise<void | undefined> {
    return this.changingMiner.run(miner, () => this.#api.unsuspendMiner(miner));
  }

  remove(miner: string): Promise<void | undefined> {
    return this.changingMiner.run(miner, () => this.#api.removeMiner(miner));
  }

  load(): Promise<void> {
    return Promise.all([this.wallet.load(), this.miners.load(), this.alerts.load()]).then(() => undefined);
  }

  abort(): void {
    this.wallet.abort();
    this.miners.abort();
    this.alerts.abort();
  }
}
