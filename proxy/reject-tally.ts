import type { Ledger, RejectSummary } from '../src/ledger/ledger.js';

/** Keys counted per interval before new ones are folded into `_other` (memory stays bounded). */
const MAX_KEYS = 10_000;
const OTHER = '_other';

type Counted = Omit<RejectSummary, 'from' | 'to'>;

/**
 * Rejected shares past their connection's recording budget, counted per miner, worker,
 * upstream and verdict, and written to the ledger as one summary row each per interval.
 */
export class RejectTally {
  private counts = new Map<string, { -readonly [K in keyof Counted]: Counted[K] }>();
  private from = Date.now();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly ledger: Ledger,
    private readonly intervalMs: number,
  ) {}

  start(): void {
    this.timer = setInterval(() => {
      this.flush(Date.now());
    }, this.intervalMs);
    this.timer.unref();
  }

  /** Stops the timer and writes what is counted. */
  stop(): void {
    clearInterval(this.timer);
    this.flush(Date.now());
  }

  count(share: Omit<Counted, 'shares'>): void {
    let key = JSON.stringify([share.miner, share.worker, share.upstream, share.verdict]);
    let counted = this.counts.get(key);
    if (counted === undefined && this.counts.size >= MAX_KEYS) {
      key = JSON.stringify([OTHER, OTHER, share.upstream, share.verdict]);
      counted = this.counts.get(key);
      share = { ...share, miner: OTHER, worker: OTHER };
    }
    if (counted === undefined) this.counts.set(key, { ...share, shares: 1 });
    else counted.shares += 1;
  }

  private flush(now: number): void {
    const from = this.from;
    this.from = now;
    const counts = this.counts;
    if (counts.size === 0) return;
    this.counts = new Map();
    for (const counted of counts.values()) this.ledger.recordRejectSummary({ from, to: now, ...counted });
  }
}
