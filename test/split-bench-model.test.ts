import { describe, expect, test } from 'vitest';
import { mixedHashrates, seededRandom, skewedStakes } from '../bench/split-cases.js';
import { judgeWindows, ShareStreamBuilder } from '../bench/split-windows.js';
import { slotOwner, taohashShares, taohashSlots } from '../bench/taohash-slots.js';

describe('split-accuracy benchmark model', () => {
  test('stakes: one validator at 40 %, the rest falling off, most of 64 under 1 %', () => {
    for (const count of [2, 16, 64]) {
      const stakes = skewedStakes(count);
      expect(stakes.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 12);
      expect(stakes[0]).toBe(0.4);
    }
    expect(skewedStakes(64).filter((s) => s < 0.01).length).toBeGreaterThan(40);
  });

  test('hashrates: deterministic from the seed and spanning the 30× range', () => {
    const a = mixedHashrates(100, seededRandom(7));
    expect(mixedHashrates(100, seededRandom(7))).toEqual(a);
    expect(Math.max(...a) / Math.min(...a)).toBeGreaterThan(25);
    expect(Math.max(...a)).toBeLessThanOrEqual(300);
  });

  test('TaoHASH slots: floor(share × 720) with a 40-block minimum, largest first, 720 blocks in all', () => {
    const slots = taohashSlots([0.05, 0.4, 0.55]);
    expect(slots).toEqual([
      { validator: 2, blocks: 396 },
      // 36 blocks are left: under 40, so the 5 % validator gets none and they go to the last slot
      { validator: 1, blocks: 288 + 36 },
    ]);
    const many = taohashSlots(skewedStakes(64));
    expect(many.reduce((a, s) => a + s.blocks, 0)).toBe(720);
    expect(many.length).toBeLessThan(64); // the small ones do not fit at all
    expect(slotOwner(many, 0)).toBe(0);
    expect(slotOwner(many, 288 * 12)).toBe(many[1]!.validator);
  });

  test('windows: exact split gives zero error; a skewed window gives its error in pp', () => {
    const exact = new ShareStreamBuilder();
    for (let t = 0; t < 1200; t += 1) {
      exact.push(t + 0.5, 0, 3);
      exact.push(t + 0.5, 1, 1);
    }
    const spec = { from: 0, to: 1200, windowSeconds: 600, stepSeconds: 60 };
    const balanced = judgeWindows(exact.build(), [0.75, 0.25], spec);
    expect(balanced.windows).toBe(11);
    expect(balanced.worstPp).toBeCloseTo(0, 9);

    const skewed = new ShareStreamBuilder();
    for (let t = 0; t < 1200; t += 1) skewed.push(t + 0.5, t < 600 ? 0 : 1, 1);
    const verdict = judgeWindows(skewed.build(), [0.5, 0.5], spec);
    expect(verdict.worstPp).toBeCloseTo(50, 9); // the first and last windows are all one upstream
    expect(verdict.maxErrorPp).toEqual([50, 50]);
  });

  test('TaoHASH shares: every share goes to the slot owner at its time', () => {
    const slots = taohashSlots([0.4, 0.6]);
    const stream = taohashShares(slots, [{ hashrate: 64, difficulty: 2 ** -26 }], 8640, seededRandom(3));
    expect(stream.count).toBeGreaterThan(7000);
    for (let i = 0; i < stream.count; i++)
      expect(stream.upstream[i]).toBe(stream.time[i]! < 432 * 12 ? 1 : 0);
  });
});
