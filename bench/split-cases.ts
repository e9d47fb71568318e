/**
 * The inputs of the split-accuracy benchmark, deterministic from a seed: validator stakes as
 * skewed as real subnets, farms of mixed hashrate, and the random numbers both simulations use.
 */

/** mulberry32: a small seeded generator, so every run of the benchmark sees the same farms. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

/** An exponential variate of the given mean (inter-arrival time of a Poisson process). */
export function exponential(random: () => number, mean: number): number {
  return -Math.log(1 - random()) * mean;
}

/**
 * Stakes as skewed as real subnets: the first validator holds 40 %, the other 60 % falls off
 * as a Zipf law (rank^-1.2), so a few hold several percent and most of a large set hold
 * under 1 %. Returned as shares summing to 1, largest first.
 */
export function skewedStakes(count: number): number[] {
  if (count === 1) return [1];
  const tail = Array.from({ length: count - 1 }, (_, i) => (i + 1) ** -1.2);
  const tailSum = tail.reduce((a, b) => a + b, 0);
  return [0.4, ...tail.map((w) => (0.6 * w) / tailSum)];
}

/** One line on the stakes' shape: the largest, the median, the smallest and how many are under 1 %. */
export function describeStakes(stakes: readonly number[]): string {
  const sorted = [...stakes].sort((a, b) => b - a);
  const pct = (x: number): string => `${(x * 100).toFixed(x < 0.01 ? 2 : 1)}%`;
  const top = sorted.slice(0, 3).map(pct).join(', ');
  const median = sorted[Math.floor(sorted.length / 2)]!;
  const under = sorted.filter((s) => s < 0.01).length;
  return `${stakes.length} validators: top ${top}; median ${pct(median)}; smallest ${pct(sorted.at(-1)!)}; ${under} under 1%`;
}

/** ASIC hashrates in TH/s, log-uniform over [low, low × spread], in a seeded shuffled order. */
export function mixedHashrates(count: number, random: () => number, low = 10, spread = 30): number[] {
  if (count === 1) return [low * Math.sqrt(spread)];
  // Evenly spaced quantiles, jittered: every farm spans the whole range, however small.
  const rates = Array.from(
    { length: count },
    (_, i) => low * spread ** ((i + 0.25 + 0.5 * random()) / count),
  );
  for (let i = rates.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [rates[i], rates[j]] = [rates[j]!, rates[i]!];
  }
  return rates;
}
