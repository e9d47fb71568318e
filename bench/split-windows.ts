/**
 * Judges a realised split against its target over sliding windows: for each window, each
 * upstream's share of the credited difficulty that arrived in it, compared with its target
 * share. Shares are given as parallel arrays of (time in simulated seconds, upstream index,
 * difficulty); the same code judges hashrelay's run and TaoHASH's simulated slots.
 */

export interface ShareStream {
  readonly count: number;
  readonly time: Float64Array;
  readonly upstream: Uint16Array;
  readonly difficulty: Float64Array;
}

export interface WindowSpec {
  /** Shares before this are the warm-up: no window starts earlier. */
  readonly from: number;
  /** No window ends later. */
  readonly to: number;
  readonly windowSeconds: number;
  /** Windows start every `stepSeconds` (a divisor of windowSeconds). */
  readonly stepSeconds: number;
}

export interface WindowVerdict {
  readonly windows: number;
  /** Per upstream, the largest |realised − target| over the windows, percentage points. */
  readonly maxErrorPp: number[];
  /** The largest of maxErrorPp, and which upstream it was. */
  readonly worstPp: number;
  readonly worstUpstream: number;
  readonly sharesPerWindow: { readonly mean: number; readonly min: number };
  /**
   * The error Poisson share noise alone gives with perfect placement (open loop): for the
   * upstream where it is largest, the standard deviation of its realised share in a window,
   * from the window's own difficulties (Σ D² per upstream), averaged over windows, in pp.
   */
  readonly noiseSigmaPp: number;
}

export class ShareStreamBuilder {
  private time = new Float64Array(1024);
  private upstream = new Uint16Array(1024);
  private difficulty = new Float64Array(1024);
  private count = 0;

  push(time: number, upstream: number, difficulty: number): void {
    if (this.count === this.time.length) {
      const grow = <T extends Float64Array | Uint16Array>(a: T, make: (n: number) => T): T => {
        const b = make(a.length * 2);
        b.set(a);
        return b;
      };
      this.time = grow(this.time, (n) => new Float64Array(n));
      this.upstream = grow(this.upstream, (n) => new Uint16Array(n));
      this.difficulty = grow(this.difficulty, (n) => new Float64Array(n));
    }
    this.time[this.count] = time;
    this.upstream[this.count] = upstream;
    this.difficulty[this.count] = difficulty;
    this.count++;
  }

  build(): ShareStream {
    return {
      count: this.count,
      time: this.time.subarray(0, this.count),
      upstream: this.upstream.subarray(0, this.count),
      difficulty: this.difficulty.subarray(0, this.count),
    };
  }
}

/** Max |realised − target| per upstream over every window [from + i·step, … + windowSeconds] inside [from, to]. */
export function judgeWindows(
  stream: ShareStream,
  targets: readonly number[],
  spec: WindowSpec,
): WindowVerdict {
  const upstreams = targets.length;
  const perWindow = spec.windowSeconds / spec.stepSeconds;
  if (!Number.isInteger(perWindow)) throw new RangeError('stepSeconds must divide windowSeconds');
  const buckets = Math.floor((spec.to - spec.from) / spec.stepSeconds);
  // Per bucket: Σ D and Σ D² per upstream, and the share count.
  const sum = new Float64Array(buckets * upstreams);
  const squares = new Float64Array(buckets * upstreams);
  const counts = new Float64Array(buckets);
  for (let i = 0; i < stream.count; i++) {
    const bucket = Math.floor((stream.time[i]! - spec.from) / spec.stepSeconds);
    if (bucket < 0 || bucket >= buckets) continue;
    const d = stream.difficulty[i]!;
    const cell = bucket * upstreams + stream.upstream[i]!;
    sum[cell]! += d;
    squares[cell]! += d * d;
    counts[bucket]! += 1;
  }
  const maxErrorPp = new Array<number>(upstreams).fill(0);
  let windows = 0;
  let shareTotal = 0;
  let shareMin = Infinity;
  let sigmaTotal = 0;
  const got = new Float64Array(upstreams);
  const gotSquares = new Float64Array(upstreams);
  for (let start = 0; start + perWindow <= buckets; start++) {
    got.fill(0);
    gotSquares.fill(0);
    let shares = 0;
    for (let b = start; b < start + perWindow; b++) {
      shares += counts[b]!;
      for (let u = 0; u < upstreams; u++) {
        got[u]! += sum[b * upstreams + u]!;
        gotSquares[u]! += squares[b * upstreams + u]!;
      }
    }
    let total = 0;
    let totalSquares = 0;
    for (let u = 0; u < upstreams; u++) {
      total += got[u]!;
      totalSquares += gotSquares[u]!;
    }
    if (total === 0) continue;
    windows++;
    shareTotal += shares;
    shareMin = Math.min(shareMin, shares);
    let sigma = 0;
    for (let u = 0; u < upstreams; u++) {
      const realised = got[u]! / total;
      const error = Math.abs(realised - targets[u]!) * 100;
      maxErrorPp[u] = Math.max(maxErrorPp[u]!, error);
      // δ(S_u/S) ≈ ((1 − r)·δS_u − r·δS_rest)/S, with Var(S) = Σ D² for compound Poisson sums.
      const variance = (1 - realised) ** 2 * gotSquares[u]! + realised ** 2 * (totalSquares - gotSquares[u]!);
      sigma = Math.max(sigma, (Math.sqrt(variance) / total) * 100);
    }
    sigmaTotal += sigma;
  }
  let worstPp = 0;
  let worstUpstream = 0;
  maxErrorPp.forEach((error, u) => {
    if (error > worstPp) {
      worstPp = error;
      worstUpstream = u;
    }
  });
  return {
    windows,
    maxErrorPp,
    worstPp,
    worstUpstream,
    sharesPerWindow: {
      mean: windows === 0 ? 0 : shareTotal / windows,
      min: windows === 0 ? 0 : shareMin,
    },
    noiseSigmaPp: windows === 0 ? 0 : sigmaTotal / windows,
  };
}
