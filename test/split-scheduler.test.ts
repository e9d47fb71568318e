import { describe, expect, test } from 'vitest';
import { SplitScheduler } from '../proxy/split-scheduler.js';

/** Stakes as skewed as real subnets: one validator with 40 %, the rest falling off, many under 1 %. */
function skewedStakes(count: number): Map<string, number> {
  const stakes = new Map<string, number>([['v0', 40]]);
  let rest = 60;
  for (let i = 1; i < count; i++) {
    const share = i === count - 1 ? rest : rest * 0.35;
    stakes.set(`v${i}`, share);
    rest -= share;
  }
  return stakes;
}

interface Simulation {
  readonly maxErrorPp: Map<string, number>;
  readonly switchesPerMinerHour: number;
}

/**
 * Fluid model: each miner delivers its rate every second to where it is placed; the
 * scheduler is consulted every `decisionSeconds` (job boundaries). Realised shares are judged
 * over sliding 10-minute windows after a 10-minute warm-up.
 */
function simulate(options: {
  rates: number[];
  stakes: Map<string, number>;
  seconds: number;
  decisionSeconds?: number;
  minDwellSeconds?: number;
  events?: (second: number, scheduler: SplitScheduler) => void;
  targetAt?: (second: number) => Map<string, number>;
  /** Judge only windows ending at these seconds (others straddle a change). */
  judged?: (end: number) => boolean;
}): Simulation {
  const scheduler = new SplitScheduler({
    minDwellSeconds: options.minDwellSeconds ?? 10,
    windowSeconds: 600,
  });
  scheduler.setWeights(options.stakes);
  for (const name of options.stakes.keys()) scheduler.setAvailable(name, true);
  const names = [...options.stakes.keys()];
  const perSecond: Map<string, number>[] = [];
  const placement = new Map<number, string | undefined>();
  let switches = 0;
  for (let second = 0; second < options.seconds; second++) {
    const now = second * 1000;
    options.events?.(second, scheduler);
    if (second % (options.decisionSeconds ?? 5) === 0) {
      options.rates.forEach((_, miner) => {
        const next = scheduler.assign(`m${miner}`, now);
        if (placement.has(miner) && placement.get(miner) !== next) switches += 1;
        placement.set(miner, next);
      });
    }
    const delivered = new Map<string, number>();
    options.rates.forEach((rate, miner) => {
      const upstream = placement.get(miner);
      if (upstream === undefined) return;
      scheduler.recordWork(`m${miner}`, upstream, rate, now + 999);
      delivered.set(upstream, (delivered.get(upstream) ?? 0) + rate);
    });
    perSecond.push(delivered);
  }
  const maxErrorPp = new Map(names.map((name) => [name, 0]));
  for (let end = 1200; end <= options.seconds; end += 30) {
    if (options.judged !== undefined && !options.judged(end)) continue;
    const window = perSecond.slice(end - 600, end);
    const target = options.targetAt?.(end) ?? options.stakes;
    const targetTotal = [...target.values()].reduce((a, b) => a + b, 0);
    const total = window.reduce((sum, second) => sum + [...second.values()].reduce((a, b) => a + b, 0), 0);
    for (const name of names) {
      const got = window.reduce((sum, second) => sum + (second.get(name) ?? 0), 0);
      const error = Math.abs(got / total - (target.get(name) ?? 0) / targetTotal) * 100;
      maxErrorPp.set(name, Math.max(maxErrorPp.get(name)!, error));
    }
  }
  return { maxErrorPp, switchesPerMinerHour: switches / options.rates.length / (options.seconds / 3600) };
}

/** TaoHASH's scheme on the same stakes: consecutive slots of floor(share × 720) blocks, 40 minimum. */
function taohashMaxErrorPp(stakes: Map<string, number>): number {
  const total = [...stakes.values()].reduce((a, b) => a + b, 0);
  const slots = [...stakes].map(([name, stake]) => ({
    name,
    blocks: Math.max(40, Math.floor((stake / total) * 720)),
  }));
  const timeline: string[] = slots.flatMap((slot) =>
    Array.from({ length: slot.blocks * 12 }, () => slot.name),
  );
  let worst = 0;
  for (let end = 600; end <= timeline.length; end += 30) {
    const window = timeline.slice(end - 600, end);
    for (const [name, stake] of stakes) {
      const got = window.filter((n) => n === name).length / window.length;
      worst = Math.max(worst, Math.abs(got - stake / total) * 100);
    }
  }
  return worst;
}

const mixedRates = (count: number) =>
  Array.from({ length: count }, (_, i) => 100 * 10 ** (((i * 7919) % count) / count)); // 100 to 1000, spread

describe('split scheduler (fluid simulation)', () => {
  test('100 miners of mixed hashrate across 16 validators with skewed stakes: every validator within 1 pp', () => {
    const stakes = skewedStakes(16);
    const result = simulate({ rates: mixedRates(100), stakes, seconds: 3600 });
    for (const [name, error] of result.maxErrorPp) expect(error, name).toBeLessThan(1);
    expect(result.switchesPerMinerHour).toBeLessThanOrEqual(3600 / 10);
  });

  test('a single ASIC is time-multiplexed across 16 validators, far better than TaoHASH’s slots', () => {
    const stakes = skewedStakes(16);
    const result = simulate({ rates: [1000], stakes, seconds: 7200 });
    const worst = Math.max(...result.maxErrorPp.values());
    const taohash = taohashMaxErrorPp(stakes);
    expect(taohash).toBeGreaterThan(50); // whole-farm slots: one validator gets a whole window
    expect(worst).toBeLessThan(taohash / 5);
  });

  test('an upstream that goes away has its share redistributed, and gets it back on return', () => {
    const stakes = new Map([
      ['a', 50],
      ['b', 30],
      ['c', 20],
    ]);
    const result = simulate({
      rates: mixedRates(30),
      stakes,
      seconds: 5400,
      events: (second, scheduler) => {
        if (second === 1800) scheduler.setAvailable('b', false);
        if (second === 3600) scheduler.setAvailable('b', true);
      },
      judged: (end) => end <= 1800 || (end > 2400 + 600 && end <= 3600) || end > 4200 + 600,
      targetAt: (end) =>
        end > 1800 + 600 && end <= 3600
          ? new Map([
              ['a', 50],
              ['b', 0],
              ['c', 20],
            ])
          : stakes,
    });
    // Steady phases only: before the loss, while b is gone (after a window to settle), after its return.
    for (const [name, error] of result.maxErrorPp) expect(error, name).toBeLessThan(1);
  });

  test('weights are validated and no upstream means no assignment', () => {
    const scheduler = new SplitScheduler({ minDwellSeconds: 10, windowSeconds: 600 });
    expect(() => {
      scheduler.setWeights(new Map([['x', -1]]));
    }).toThrow(/≥ 0/);
    expect(scheduler.assign('m', 0)).toBeUndefined();
    scheduler.setWeights(new Map([['x', 1]]));
    scheduler.setAvailable('x', true);
    expect(scheduler.assign('m', 0)).toBe('x');
  });
});
