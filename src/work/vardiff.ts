import { toDifficulty, type Difficulty } from './types.js';

/**
 * Variable difficulty for one connection: steer its share rate towards one share every
 * `targetShareSeconds`. Pure state: the caller passes the clock.
 *
 * Retargets at most every `retargetSeconds`, and only when the observed rate is outside
 * [½, 2] × target (hysteresis), so a miner whose rate wobbles is not re-sent difficulty on
 * every job. New difficulties are powers of two: a step is then always at least 2×, and
 * pools and dashboards show round numbers.
 *
 * A connection with no share for `noShareTargets` target intervals (`firstShareTargets` before
 * its first share, while its difficulty is still a guess) is cut 4× without waiting for the
 * period: the caller asks on a timer, so a miner far below its difficulty reaches work it can
 * solve even when no new job comes.
 *
 * The other way, `burstShares` shares at 4× the target rate or faster raise it at once (the
 * caller asks at each credited share): a farm's session to a validator, or a miner far below
 * its difficulty, would otherwise send thousands of shares a second until the period ends, and
 * trip the per-connection flood limit long before. With 16 shares, a miner really at the target
 * rate looks 4× too fast about once in 10^5 windows.
 */
export interface VardiffOptions {
  readonly initialDifficulty: number;
  readonly minDifficulty: number;
  readonly maxDifficulty: number;
  readonly targetShareSeconds: number;
  readonly retargetSeconds: number;
  /** 0 or absent: no early cut (only the period's). */
  readonly noShareTargets?: number;
  /**
   * This many shares (in units of the current difficulty) at 4× the target rate or faster
   * raise the difficulty at once, without waiting for the period; 0 or absent: off.
   */
  readonly burstShares?: number;
  readonly firstShareTargets?: number;
}

export type RetargetReason = 'rate' | 'no-share' | 'miner' | 'config';

export class Vardiff {
  private difficulty: number;
  private floor: number;
  private windowStart: number;
  private sharesInWindow = 0;
  private lastShareAt: number | undefined;
  /** Why the last change was made, for logs and metrics. */
  lastReason: RetargetReason | undefined;

  constructor(
    private options: VardiffOptions,
    now: number,
  ) {
    this.floor = options.minDifficulty;
    this.difficulty = clamp(options.initialDifficulty, options.minDifficulty, options.maxDifficulty);
    this.windowStart = now;
  }

  get current(): Difficulty {
    return toDifficulty(this.difficulty);
  }

  /**
   * New bounds and pace (a configuration reload): the current difficulty is pulled inside the
   * bounds now; the initial difficulty is for new connections only.
   */
  reconfigure(options: VardiffOptions, now: number): void {
    this.options = options;
    this.floor = clamp(this.floor, options.minDifficulty, options.maxDifficulty);
    const bounded = clamp(
      this.difficulty,
      Math.max(this.floor, options.minDifficulty),
      options.maxDifficulty,
    );
    if (bounded !== this.difficulty) this.change(bounded, now, 'config');
  }

  /**
   * A difficulty the miner asked for (suggest_difficulty, minimum-difficulty), within the bounds:
   * a floor from now on, and the starting difficulty while no share has come (the miner knows
   * its hashrate better than our guess).
   */
  setFloor(floor: number, now: number): Difficulty | undefined {
    this.floor = clamp(floor, this.options.minDifficulty, this.options.maxDifficulty);
    const start = this.lastShareAt === undefined;
    if (this.difficulty < this.floor || (start && this.difficulty !== this.floor))
      return this.change(this.floor, now, 'miner');
    return undefined;
  }

  /**
   * Records an accepted share at the difficulty it was credited; counted in units of the
   * current difficulty so shares on jobs sent before a change weigh what they were worth.
   */
  recordShare(creditedDifficulty: number, now: number): void {
    this.sharesInWindow += creditedDifficulty / this.difficulty;
    this.lastShareAt = now;
  }

  /** A raise due now because shares come far faster than the target, else undefined. */
  raiseForBurst(now: number): Difficulty | undefined {
    const burst = this.options.burstShares ?? 0;
    if (burst <= 0 || this.sharesInWindow < burst) return undefined;
    const interval = Math.max((now - this.windowStart) / 1000, 0.001) / this.sharesInWindow;
    const target = this.options.targetShareSeconds;
    if (interval > target / 4) return undefined;
    return this.settle(this.difficulty * (target / interval), now, 'rate');
  }

  /** The new difficulty if one is due, else undefined. */
  retarget(now: number): Difficulty | undefined {
    const elapsed = (now - this.windowStart) / 1000;
    const target = this.options.targetShareSeconds;
    const quietTargets =
      (this.lastShareAt === undefined ? this.options.firstShareTargets : this.options.noShareTargets) ?? 0;
    const quietSeconds = (now - Math.max(this.windowStart, this.lastShareAt ?? 0)) / 1000;
    // At 6 target intervals a miner at its rate is silent 0.25 % of the time; before its first
    // share the difficulty is only our guess, so a shorter silence already says it is too high.
    if (quietTargets > 0 && quietSeconds >= quietTargets * target)
      return this.settle(this.difficulty / 4, now, 'no-share');
    if (elapsed < this.options.retargetSeconds) return undefined;
    let ideal: number;
    if (this.sharesInWindow === 0) {
      // Nothing to measure (a miner stuck far above its rate): cut 4× per period until shares come.
      ideal = this.difficulty / 4;
    } else {
      const interval = elapsed / this.sharesInWindow;
      if (interval >= target / 2 && interval <= target * 2) {
        this.restartWindow(now);
        return undefined;
      }
      ideal = this.difficulty * (target / interval);
    }
    return this.settle(ideal, now, this.sharesInWindow === 0 ? 'no-share' : 'rate');
  }

  /** Moves to the power of two nearest `ideal` within floors and bounds, if that is a change. */
  private settle(ideal: number, now: number, reason: RetargetReason): Difficulty | undefined {
    const next = clamp(
      2 ** Math.round(Math.log2(ideal)),
      Math.max(this.floor, this.options.minDifficulty),
      this.options.maxDifficulty,
    );
    if (next === this.difficulty) {
      this.restartWindow(now);
      return undefined;
    }
    return this.change(next, now, reason);
  }

  private change(next: number, now: number, reason: RetargetReason): Difficulty {
    this.difficulty = next;
    this.lastReason = reason;
    this.restartWindow(now);
    return toDifficulty(next);
  }

  private restartWindow(now: number): void {
    this.windowStart = now;
    this.sharesInWindow = 0;
  }
}

function clamp(value: number, min: number, max: number): number {
  return Math.min(max, Math.max(min, value));
}
