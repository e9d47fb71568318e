import type { ProxyJob } from './proxy-job.js';
import type { SessionJob } from './upstream-session.js';

/**
 * Fresh coinbase space for a miner sent an upstream job it has had before (moved back to an
 * upstream whose job has not changed, or re-sent the job with a new difficulty). Miners start
 * extranonce2 again at 0 on every new job id (cpuminer, cgminer, ASIC firmware), so the same
 * space again is work already done: every share a duplicate. The n-th time a miner is sent an
 * upstream job it gets variant n: the same upstream job under its own proxy job id and pad.
 * Variants are shared, so a job has as many as the most times one miner came back to it.
 */
export class JobVariants {
  /** Variant n of each upstream job at index n (0 is the job as registered). */
  private readonly byJob = new WeakMap<SessionJob, (ProxyJob | undefined)[]>();

  register(base: ProxyJob): void {
    this.byJob.set(base.sessionJob, [base]);
  }

  /**
   * Variant `variant` of `base`'s upstream job, minted on first use; undefined when it cannot
   * be (the pad has no room left, or the ledger did not record it).
   */
  get(base: ProxyJob, variant: number, mint: () => ProxyJob | undefined): ProxyJob | undefined {
    if (variant === 0) return base;
    let list = this.byJob.get(base.sessionJob);
    if (list === undefined) {
      list = [base];
      this.byJob.set(base.sessionJob, list);
    }
    const known = list[variant];
    if (known !== undefined) return known;
    const minted = mint();
    if (minted !== undefined) list[variant] = minted;
    return minted;
  }
}
