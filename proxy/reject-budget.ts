import type { LocalVerdict } from '../src/ledger/ledger.js';

/** `limits.rejectBudget` (src/config/proxy-config.ts). */
export interface RejectBudgetOptions {
  readonly windowSeconds: number;
  readonly minRejects: number;
  readonly maxInvalidRatio: number;
  readonly throttleMs: number;
  readonly disconnectRejects: number;
  readonly recordedRejectsPerHour: number;
  readonly summarySeconds: number;
}

/** What to do with one judged submit of a connection. */
export interface RejectScreening {
  /** Record the share one by one; otherwise it is counted in a reject summary. */
  readonly record: boolean;
  /** Answer this much later (a throttled connection's rejects); 0 for at once. */
  readonly delayMs: number;
  /** Close the connection with this reason after judging; undefined to keep it. */
  readonly disconnect: string | undefined;
}

const HOUR_MS = 3_600_000;

/**
 * One submitter's standing: its invalid and total submits, decayed over `windowSeconds` (so
 * old mistakes fade), and a bucket of rejected shares it may still have recorded one by one.
 * Once it has been closed it stays barred until its invalid count decays under `minRejects`:
 * a submitter that comes back at once is closed on its first invalid submit, not 200 later.
 * Pure: the caller passes the time, and acts on the screening.
 */
export class RejectBudget {
  private invalid = 0;
  private submits = 0;
  private barred = false;
  private decayedAt: number;
  private recordable: number;
  private refilledAt: number;

  constructor(
    private readonly options: RejectBudgetOptions,
    now: number,
  ) {
    this.decayedAt = now;
    this.refilledAt = now;
    this.recordable = options.recordedRejectsPerHour;
  }

  /**
   * Screens one judged submit. `forwarded` shares (they went upstream, and may be a block) are
   * always recorded one by one, as accepted ones are.
   */
  screen(verdict: LocalVerdict, forwarded: boolean, now: number): RejectScreening {
    this.decay(now);
    // A burst of stales after a new block is normal: they are neither good nor junk here.
    if (verdict !== 'stale') {
      this.submits += 1;
      if (verdict !== 'accepted') this.invalid += 1;
    }
    if (verdict === 'accepted') return { record: true, delayMs: 0, disconnect: undefined };
    const record = forwarded || this.takeRecordable(now);
    const { minRejects, maxInvalidRatio, disconnectRejects, throttleMs, windowSeconds } = this.options;
    const mostlyInvalid = this.invalid > maxInvalidRatio * this.submits;
    const barredAndInvalid = this.barred && verdict !== 'stale';
    if (barredAndInvalid || (mostlyInvalid && this.invalid >= disconnectRejects)) {
      this.barred = true;
      const disconnect =
        `rejects: ${Math.round(this.invalid)} of ${Math.round(this.submits)} submits invalid ` +
        `over about ${windowSeconds} s`;
      return { record, delayMs: 0, disconnect };
    }
    const throttled = mostlyInvalid && this.invalid >= minRejects;
    return { record, delayMs: throttled ? throttleMs : 0, disconnect: undefined };
  }

  /** Invalid and total submits in the current window (decayed), for logs. */
  standing(): { readonly invalid: number; readonly submits: number } {
    return { invalid: Math.round(this.invalid), submits: Math.round(this.submits) };
  }

  /** Closed for invalid submits, and not yet decayed under `minRejects`: refuse it. */
  isBarred(now: number): boolean {
    this.decay(now);
    return this.barred;
  }

  /** Nothing left to remember: no invalid submit to speak of and the recording bucket full. */
  isSettled(now: number): boolean {
    this.decay(now);
    const perHour = this.options.recordedRejectsPerHour;
    const recordable = this.recordable + ((now - this.refilledAt) / HOUR_MS) * perHour;
    return !this.barred && this.invalid < 1 && recordable >= perHour;
  }

  private decay(now: number): void {
    const factor = Math.exp(-(now - this.decayedAt) / (this.options.windowSeconds * 1000));
    this.invalid *= factor;
    this.submits *= factor;
    this.decayedAt = now;
    if (this.barred && this.invalid < this.options.minRejects) this.barred = false;
  }

  private takeRecordable(now: number): boolean {
    const perHour = this.options.recordedRejectsPerHour;
    this.recordable = Math.min(perHour, this.recordable + ((now - this.refilledAt) / HOUR_MS) * perHour);
    this.refilledAt = now;
    if (this.recordable < 1) return false;
    this.recordable -= 1;
    return true;
  }
}
