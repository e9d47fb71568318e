import type { Logger } from 'pino';
import type { LocalVerdict } from '../src/ledger/ledger.js';

/** What a reject summary needs of a miner connection. */
export interface RejectingMiner {
  readonly log: Logger;
  readonly identity: string | undefined;
}

interface Pending {
  readonly counts: Map<LocalVerdict, number>;
  /** When this miner's last summary line was written (−∞: never). */
  lastAt: number;
}

/**
 * Rejected shares, logged per miner as one summary line with counts by verdict, at most once per
 * interval per miner: a miner's first reject after a quiet interval is logged at once (quick
 * feedback to whoever is setting up a rig), later ones are counted and written when the
 * interval has passed. Per-share lines would drown the log at 10,000 miners.
 */
export class RejectLog {
  private readonly miners = new Map<RejectingMiner, Pending>();
  private timer: NodeJS.Timeout | undefined;

  constructor(private intervalMs: number) {}

  /** The interval may change with a configuration reload. */
  setInterval(intervalMs: number): void {
    this.intervalMs = intervalMs;
  }

  start(): void {
    // A quarter interval's tick writes a summary at most a quarter interval late.
    const tick = (): void => {
      this.flush(Date.now());
      this.timer = setTimeout(tick, Math.max(250, this.intervalMs / 4));
      this.timer.unref();
    };
    this.timer = setTimeout(tick, Math.max(250, this.intervalMs / 4));
    this.timer.unref();
  }

  stop(): void {
    clearTimeout(this.timer);
  }

  count(miner: RejectingMiner, verdict: LocalVerdict, now: number): void {
    let pending = this.miners.get(miner);
    if (pending === undefined) {
      pending = { counts: new Map(), lastAt: -Infinity };
      this.miners.set(miner, pending);
    }
    pending.counts.set(verdict, (pending.counts.get(verdict) ?? 0) + 1);
    if (now - pending.lastAt >= this.intervalMs) this.write(miner, pending, now);
  }

  /** The miner left: its last counts are in its disconnect line, not here. */
  forget(miner: RejectingMiner): void {
    this.miners.delete(miner);
  }

  /** Writes every summary that is due; forgets miners quiet for a whole interval. */
  flush(now: number): void {
    for (const [miner, pending] of this.miners) {
      if (now - pending.lastAt < this.intervalMs) continue;
      if (pending.counts.size === 0) this.miners.delete(miner);
      else this.write(miner, pending, now);
    }
  }

  private write(miner: RejectingMiner, pending: Pending, now: number): void {
    const rejects = Object.fromEntries(pending.counts);
    let total = 0;
    for (const count of pending.counts.values()) total += count;
    miner.log.info(
      { identity: miner.identity, rejects, total },
      'miner shares rejected (counted since the last such line)',
    );
    pending.counts.clear();
    pending.lastAt = now;
  }
}
