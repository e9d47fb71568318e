/**
 * Decides which upstream (validator) each miner works for, so that the difficulty-weighted
 * work each upstream receives tracks its target weight (ARCHITECTURE.md, the loop, step 2).
 *
 * Pure: the caller passes the clock and reports credited work. It decides by measured work,
 * not connection counts: every upstream's delivered work and every miner's rate are decayed
 * averages of credited difficulty, and a miner is sent where the projected deficit
 * (weight × total − delivered − work already on its way) is largest. A miner stays at least
 * `minDwellSeconds` where it is (bounded switching) unless its upstream goes away; with fewer
 * miners than upstreams this time-multiplexes a single miner across all of them.
 *
 * Per decision it costs O(upstreams): the projection over all miners is computed once per
 * clock value and kept up to date as miners move, until new work is recorded.
 */
export interface SplitSchedulerOptions {
  /**
   * Time a miner of average hashrate stays on an upstream before it may be moved again. A
   * miner faster than the farm's average stays proportionally less (down to a quarter of it),
   * so every move shifts about the same amount of work: one big ASIC does not overshoot a
   * small validator's share for a whole dwell.
   */
  readonly minDwellSeconds: number;
  /** Time constant of the decayed work averages: the window the split is judged over. */
  readonly windowSeconds: number;
}

interface MinerState {
  upstream: string | undefined;
  since: number;
  /** Decayed credited difficulty and the time it was last decayed to. */
  work: number;
  updatedAt: number;
  firstSeen: number;
}

/** The fastest miner still stays a quarter of the base dwell: switching stays bounded. */
const MIN_DWELL_FRACTION = 0.25;

export class SplitScheduler {
  private readonly options: SplitSchedulerOptions;
  private weights = new Map<string, number>();
  private readonly available = new Set<string>();
  private readonly delivered = new Map<string, { work: number; updatedAt: number }>();
  private readonly miners = new Map<string, MinerState>();
  private snapshot:
    { now: number; projected: Map<string, number>; total: number; meanRate: number } | undefined;

  constructor(options: SplitSchedulerOptions) {
    if (!(options.minDwellSeconds > 0) || !(options.windowSeconds > 0)) {
      throw new RangeError('minDwellSeconds and windowSeconds must be positive');
    }
    this.options = options;
  }

  /** Target weights by upstream (any positive scale); upstreams not named get none. */
  setWeights(weights: ReadonlyMap<string, number>): void {
    this.snapshot = undefined;
    for (const [name, weight] of weights) {
      if (!(weight >= 0) || !Number.isFinite(weight))
        throw new RangeError(`weight of ${name} must be finite and ≥ 0`);
    }
    this.weights = new Map(weights);
  }

  setAvailable(upstream: string, available: boolean): void {
    this.snapshot = undefined;
    if (available) this.available.add(upstream);
    else this.available.delete(upstream);
  }

  /** Credited work (assigned difficulty of an accepted share) that `miner` delivered to `upstream`. */
  recordWork(miner: string, upstream: string, difficulty: number, now: number): void {
    this.snapshot = undefined;
    const entry = this.delivered.get(upstream) ?? { work: 0, updatedAt: now };
    entry.work = this.decay(entry.work, entry.updatedAt, now) + difficulty;
    entry.updatedAt = now;
    this.delivered.set(upstream, entry);
    const state = this.minerState(miner, now);
    state.work = this.decay(state.work, state.updatedAt, now) + difficulty;
    state.updatedAt = now;
  }

  /** An upstream left the set: its delivered work no longer counts in the realised split. */
  forget(upstream: string): void {
    this.snapshot = undefined;
    this.delivered.delete(upstream);
    this.available.delete(upstream);
  }

  removeMiner(miner: string): void {
    this.snapshot = undefined;
    this.miners.delete(miner);
  }

  /** The miner's estimated rate in difficulty per second. */
  minerRate(miner: string, now: number): number {
    const state = this.miners.get(miner);
    if (state === undefined) return 0;
    const age = Math.max(1, (now - state.firstSeen) / 1000);
    // A decayed sum over τ approximates rate × τ once the miner is older than τ.
    return this.decay(state.work, state.updatedAt, now) / Math.min(age, this.options.windowSeconds);
  }

  /** The upstream the miner should work for from its next job; may be where it already is. */
  assign(miner: string, now: number): string | undefined {
    const state = this.minerState(miner, now);
    const candidates = [...this.available].filter((name) => (this.weights.get(name) ?? 0) > 0);
    if (candidates.length === 0) return undefined;
    const current = state.upstream;
    const mustMove = current === undefined || !candidates.includes(current);
    const view = this.project(candidates, now);
    const rate = this.minerRate(miner, now);
    const dwell = this.dwellSeconds(rate, view.meanRate);
    if (!mustMove && now - state.since < dwell * 1000) return current;

    const totalWeight = candidates.reduce((sum, name) => sum + this.weights.get(name)!, 0);
    const own = Math.max(rate * dwell, Number.MIN_VALUE);
    // The projection counts this miner where it is: take it out, then add it as undecided.
    const projected = new Map(view.projected);
    if (current !== undefined && projected.has(current))
      projected.set(current, projected.get(current)! - own);
    const total = view.total - (current !== undefined && view.projected.has(current) ? own : 0) + own;

    let best: string | undefined;
    let bestDeficit = -Infinity;
    for (const name of candidates) {
      const deficit = (this.weights.get(name)! / totalWeight) * total - projected.get(name)!;
      if (deficit > bestDeficit) {
        bestDeficit = deficit;
        best = name;
      }
    }
    if (!mustMove && best !== current) {
      // Switch only for a real gain: moving costs a clean job and some stale shares.
      const currentDeficit = (this.weights.get(current)! / totalWeight) * total - projected.get(current)!;
      if (bestDeficit - currentDeficit < own / 2) best = current;
    }
    if (best !== current) {
      if (current !== undefined && view.projected.has(current))
        view.projected.set(current, view.projected.get(current)! - own);
      if (best !== undefined) view.projected.set(best, (view.projected.get(best) ?? 0) + own);
      if (current === undefined || !view.projected.has(current)) view.total += own;
      state.upstream = best;
    }
    state.since = now; // a fresh dwell period either way: decisions are spaced by it
    return best;
  }

  /** The realised split of decayed delivered work, by upstream (fractions summing to 1). */
  realisedShares(now: number): Map<string, number> {
    const shares = new Map<string, number>();
    let total = 0;
    for (const [name, entry] of this.delivered) {
      const work = this.decay(entry.work, entry.updatedAt, now);
      shares.set(name, work);
      total += work;
    }
    for (const [name, work] of shares) shares.set(name, total === 0 ? 0 : work / total);
    return shares;
  }

  /** The miner's dwell: the base dwell, shortened for miners faster than the farm's average. */
  private dwellSeconds(rate: number, meanRate: number): number {
    const base = this.options.minDwellSeconds;
    if (!(rate > 0) || !(meanRate > 0)) return base;
    return base * Math.min(1, Math.max(MIN_DWELL_FRACTION, meanRate / rate));
  }

  /** Decayed delivered work plus every placed miner's next dwell period, per upstream. */
  private project(
    candidates: readonly string[],
    now: number,
  ): { projected: Map<string, number>; total: number; meanRate: number } {
    if (this.snapshot?.now === now) return this.snapshot;
    const projected = new Map<string, number>();
    let total = 0;
    for (const name of candidates) {
      const entry = this.delivered.get(name);
      const work = entry === undefined ? 0 : this.decay(entry.work, entry.updatedAt, now);
      projected.set(name, work);
      total += work;
    }
    const rates = new Map<string, number>();
    let rateSum = 0;
    for (const id of this.miners.keys()) {
      const rate = this.minerRate(id, now);
      rates.set(id, rate);
      rateSum += rate;
    }
    const meanRate = this.miners.size === 0 ? 0 : rateSum / this.miners.size;
    for (const [id, other] of this.miners) {
      if (other.upstream === undefined || !projected.has(other.upstream)) continue;
      const rate = rates.get(id)!;
      const incoming = rate * this.dwellSeconds(rate, meanRate);
      projected.set(other.upstream, projected.get(other.upstream)! + incoming);
      total += incoming;
    }
    this.snapshot = { now, projected, total, meanRate };
    return this.snapshot;
  }

  private minerState(miner: string, now: number): MinerState {
    let state = this.miners.get(miner);
    if (state === undefined) {
      state = { upstream: undefined, since: now, work: 0, updatedAt: now, firstSeen: now };
      this.miners.set(miner, state);
    }
    return state;
  }

  private decay(value: number, from: number, to: number): number {
    if (to <= from) return value;
    return value * Math.exp(-(to - from) / 1000 / this.options.windowSeconds);
  }
}
