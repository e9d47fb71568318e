import type { LocalVerdict } from '../src/ledger/ledger.js';
import { addressKey, type Refusal } from './connection-limits.js';
import { RejectBudget, type RejectBudgetOptions, type RejectScreening } from './reject-budget.js';

/** `limits.rejectBudget` with the keys that carry it across connections. */
export interface RejectStandingsOptions extends RejectBudgetOptions {
  /** An address's allowance (minRejects, disconnectRejects), as a multiple of one worker's. */
  readonly perAddressMultiple: number;
  /** Standings remembered at most; past it the least recently used are forgotten. */
  readonly rememberedStandings: number;
}

/** Worker names are as long as a line allows; this much of one keys its standing. */
const KEYED_WORKER_CHARS = 128;
/** How many new standings between sweeps of settled ones. */
const SWEEP_EVERY_NEW = 4096;

/**
 * Reject budgets that outlive connections, so reconnecting does not refill them: one per
 * (source address, worker), and one per address with a larger allowance for a miner that takes
 * a new worker name each time. Both count invalid submits as a fraction of all submits, so an
 * honest farm behind one NAT address (mostly accepted shares) never spends the address's.
 * A standing is forgotten once settled (no invalid submits left after decay, recording bucket
 * full), which is what a fresh one would be; the map is also bounded by `rememberedStandings`.
 */
export class RejectStandings {
  /** Key → budget, least recently used first (a touch re-inserts). */
  private readonly budgets = new Map<string, RejectBudget>();
  private newSinceSweep = 0;

  constructor(private options: RejectStandingsOptions) {}

  /** Standings remembered now (addresses and workers). */
  get size(): number {
    return this.budgets.size;
  }

  /** New options (a configuration reload): they apply to standings created from now on. */
  setOptions(options: RejectStandingsOptions): void {
    this.options = options;
  }

  /** Screens one judged submit against its worker's and its address's standing. */
  screen(
    address: string,
    worker: string,
    verdict: LocalVerdict,
    forwarded: boolean,
    now: number,
  ): RejectScreening {
    const key = addressKey(address);
    const own = this.budget(workerKey(key, worker), false, now).screen(verdict, forwarded, now);
    // The address's recording bucket is not used: rows are budgeted per worker.
    const shared = this.budget(key, true, now).screen(verdict, true, now);
    const disconnect =
      own.disconnect ??
      (shared.disconnect === undefined ? undefined : `${shared.disconnect} from ${key}, all workers`);
    return { record: own.record, delayMs: Math.max(own.delayMs, shared.delayMs), disconnect };
  }

  /** A new connection from an address closed for junk is turned away before it is read. */
  refusal(address: string, now: number): Refusal | undefined {
    const message = this.addressBarred(address, now);
    return message === undefined ? undefined : { reason: 'reject_budget', message };
  }

  /** Why a new connection from `address` is refused (its address was closed for junk), if it is. */
  private addressBarred(address: string, now: number): string | undefined {
    const key = addressKey(address);
    if (this.budgets.get(key)?.isBarred(now) !== true) return undefined;
    const { minRejects, perAddressMultiple, windowSeconds } = this.options;
    return (
      `reject budget spent: submits from ${key} were mostly invalid; new connections are refused until ` +
      `fewer than ${minRejects * perAddressMultiple} invalid remain (they fade over about ${windowSeconds} s): fix the miners' settings`
    );
  }

  /** Why `worker` from `address` may not authorize (it, or its address, was closed for junk), if so. */
  workerBarred(address: string, worker: string, now: number): string | undefined {
    const key = addressKey(address);
    if (this.budgets.get(workerKey(key, worker))?.isBarred(now) !== true)
      return this.addressBarred(address, now);
    const { minRejects, windowSeconds } = this.options;
    return (
      `reject budget spent: worker ${worker.slice(0, KEYED_WORKER_CHARS)} from ${key} was closed for invalid ` +
      `submits; it may authorize again when fewer than ${minRejects} remain (they fade over about ${windowSeconds} s): fix the miner's settings`
    );
  }

  /** A worker's decayed invalid and total submits, for logs. */
  standing(
    address: string,
    worker: string,
  ): { readonly invalid: number; readonly submits: number } | undefined {
    return this.budgets.get(workerKey(addressKey(address), worker))?.standing();
  }

  private budget(key: string, perAddress: boolean, now: number): RejectBudget {
    let budget = this.budgets.get(key);
    if (budget !== undefined) {
      this.budgets.delete(key);
      this.budgets.set(key, budget);
      return budget;
    }
    const { perAddressMultiple: multiple } = this.options;
    const options = perAddress
      ? {
          ...this.options,
          minRejects: this.options.minRejects * multiple,
          disconnectRejects: this.options.disconnectRejects * multiple,
        }
      : this.options;
    budget = new RejectBudget(options, now);
    this.budgets.set(key, budget);
    if (++this.newSinceSweep >= SWEEP_EVERY_NEW) this.sweep(now);
    // Past the bound the least recently used goes (the one just made is the most recent).
    for (const oldest of this.budgets.keys()) {
      if (this.budgets.size <= this.options.rememberedStandings) break;
      this.budgets.delete(oldest);
    }
    return budget;
  }

  /** Forgets settled standings (bounds the map under churn). */
  private sweep(now: number): void {
    this.newSinceSweep = 0;
    for (const [key, budget] of this.budgets) if (budget.isSettled(now)) this.budgets.delete(key);
  }
}

function workerKey(address: string, worker: string): string {
  // An address key never holds a space, so the two kinds of key cannot meet.
  return `${address} ${worker.slice(0, KEYED_WORKER_CHARS)}`;
}
