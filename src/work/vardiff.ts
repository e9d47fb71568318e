import { toDifficulty, type Difficulty } from './types.js';

/**
 * Variable difficulty for one connection: steer its share rate towards one share every
 * `targetShareSeconds`. Pure state: the caller passes the clock.
 *
 * Retargets at most every `retargetSeconds`, and only when the observed rate is outside
 * [½, 2] × target (hysteresis), so a miner whose rate wobbles is not re-sent difficulty on
 * every job. New difficulties are powers of two: a step is then always at least 2×, and
 * pools and dashboards show round numbers.
 */
export interface VardiffOptions {
  readonly initialDifficulty: number;
  readonly minDifficulty: number;
  readonly maxDifficulty: number;
  readonly targetShareSeconds: number;
  readonly retargetSeconds: number;
}

export class Vardiff {
  private difficulty: number;
  private floor: number;
  private windowStart: number;
  private sharesInWindow = 0;

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
    if (bounded !== this.difficulty) this.change(bounded, now);
  }

  /** A floor the miner asked for (suggest_difficulty, minimum-difficulty), within the bounds. */
  setFloor(floor: number, now: number): Difficulty | undefined {
    this.floor = clamp(floor, this.options.minDifficulty, this.options.maxDifficulty);
    if (this.difficulty < this.floor) return this.change(this.floor, now);
    return undefined;
  }

  /**
   * Records an accepted share at the difficulty it was credited; counted in units of the
   * current difficulty so shares on jobs sent before a change weigh what they were worth.
   */
  recordShare(creditedDifficulty: number): void {
    this.sharesInWindow += creditedDifficulty / this.difficulty;
  }

  /** The new difficulty if one is due, else undefined. */
  retarget(now: number): Difficulty | undefined {
    const elapsed = (now - this.windowStart) / 1000;
    if (elapsed < this.options.retargetSeconds) return undefined;
    const target = this.options.targetShareSeconds;
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
    const next = clamp(
      2 ** Math.round(Math.log2(ideal)),
      Math.max(this.floor, this.options.minDifficulty),
      this.options.maxDifficulty,
    );
    if (next === this.difficulty) {
      this.restartWindow(now);
      return undefined;
    }
    return this.change(next, now);
  }

  private change(next: number, now: number): Difficulty {
    this.difficulty = next;
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
