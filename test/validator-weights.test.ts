import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { isMaxWeightLimited, maxUpscaleU16, passesMaxWeightLimit } from '../src/chain/weight-limits.js';
import {
  convertWeightsAndUidsForEmit,
  normalizeMaxWeight,
  roundHalfEven,
  toU16Vector,
  U16_MAX,
  WeightsError,
} from '../validator/weights.js';

/**
 * Known answers below come from the SDK's `normalize_max_weight` and
 * `convert_weights_and_uids_for_emit` bodies run under Python 3 + numpy 2.4 with float32 input
 * arrays, as the SDK's `process_weights` passes them.
 */
const SDK_VECTORS: { x: number[]; limit: number; shares: number[]; values: number[] }[] = [
  {
    x: [1, 2, 3, 4, 100],
    limit: 0.3,
    shares: [0.0700000748, 0.1400001496, 0.2100002319, 0.2800002992, 0.299999237],
    values: [15292, 30583, 45875, 61166, 65535],
  },
  {
    x: [0.5, 0.5, 0.5, 0.5, 10],
    limit: 0.25,
    shares: [0.1875001192, 0.1875001192, 0.1875001192, 0.1875001192, 0.249999553],
    values: [49151, 49151, 49151, 49151, 65535],
  },
  {
    x: [1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 50],
    limit: 0.2,
    shares: [...Array<number>(10).fill(0.0800000504), 0.1999995261],
    values: [...Array<number>(10).fill(26214), 65535],
  },
  {
    x: [5, 1, 1, 1, 1, 1, 1, 1, 1, 1],
    limit: 0.15,
    shares: [0.1499998868, ...Array<number>(9).fill(0.0944444537)],
    values: [65535, ...Array<number>(9).fill(41263)],
  },
  // One sorted entry is exactly at the limit before epsilon: the cutoff must fall below it.
  {
    x: [3, 1, 2],
    limit: 0.4,
    shares: [0.3999999762, 0.2000000775, 0.3999999762],
    values: [65535, 32768, 65535],
  },
  // Zeros count below the cutoff; the cutoff comes out negative and every entry is clipped to it.
  { x: [0, 0, 0, 1], limit: 0.5, shares: [0.25, 0.25, 0.25, 0.25], values: [65535, 65535, 65535, 65535] },
  // len × limit <= 1: uniform.
  { x: [1, 2], limit: 0.4, shares: [0.5, 0.5], values: [65535, 65535] },
  // All zero: uniform.
  { x: [0, 0], limit: 0.3, shares: [0.5, 0.5], values: [65535, 65535] },
  // Already under the limit: only normalised.
  { x: [7, 7, 7], limit: 0.5, shares: [1 / 3, 1 / 3, 1 / 3], values: [65535, 65535, 65535] },
];

describe('round half to even (Python round)', () => {
  test('ties go to the even neighbour, everything else to the nearest', () => {
    expect([0.5, 1.5, 2.5, 3.5, 32767.5, 32768.5, 65534.5].map(roundHalfEven)).toEqual([
      0, 2, 2, 4, 32768, 32768, 65534,
    ]);
    expect([0, 0.49999999, 0.50000001, 2.4999, 2.5001, 65535].map(roundHalfEven)).toEqual([
      0, 0, 1, 2, 3, 65535,
    ]);
  });
});

describe('convert_weights_and_uids_for_emit', () => {
  test('a vector worked by hand', () => {
    // max 1.0 → 0.25·65535 = 16383.75 → 16384; 0.5·65535 = 32767.5 → 32768 (even); 0 is dropped.
    expect(convertWeightsAndUidsForEmit([4, 2, 9, 1], [0.25, 0.5, 1.0, 0])).toEqual({
      uids: [4, 2, 9],
      values: [16384, 32768, 65535],
    });
  });

  test('exact halves at the 65535 scale round to even, as the SDK does', () => {
    // w / 131070 · 65535 = w / 2 exactly: 0.5, 1.5, 2.5, 32767.5, 32768.5; Math.round would give
    // 1, 2, 3, 32768, 32769. The SDK (Python round) gives the values below, the 0.5 dropped.
    expect(convertWeightsAndUidsForEmit([0, 1, 2, 3, 4, 5], [1, 3, 5, 65535, 65537, 131070])).toEqual({
      uids: [1, 2, 3, 4, 5],
      values: [2, 2, 32768, 32768, 65535],
    });
  });

  test('all-zero weights give nothing to set', () => {
    expect(convertWeightsAndUidsForEmit([0, 1, 2], [0, 0, 0])).toEqual({ uids: [], values: [] });
  });

  test('rejects what the chain cannot take, saying what is wrong', () => {
    expect(() => convertWeightsAndUidsForEmit([0, 1], [0.5, -0.1])).toThrow(/weight is negative/);
    expect(() => convertWeightsAndUidsForEmit([0, -1], [0.5, 0.1])).toThrow(/uid is negative/);
    expect(() => convertWeightsAndUidsForEmit([0, 1, 2], [0.5, 0.1])).toThrow(/3 uids and 2 weights/);
    expect(() => convertWeightsAndUidsForEmit([], [])).toThrow(WeightsError);
    expect(() => convertWeightsAndUidsForEmit([0], [Number.NaN])).toThrow(/not a finite number/);
    expect(() => convertWeightsAndUidsForEmit([0], [Infinity])).toThrow(/not a finite number/);
    expect(() => convertWeightsAndUidsForEmit([65536], [1])).toThrow(/uid 65536 at index 0 is not a u16/);
    expect(() => convertWeightsAndUidsForEmit([1.5], [1])).toThrow(/not a u16/);
  });

  test('properties: u16 values, max 65535, zeros dropped, uid order kept', () => {
    const entries = fc.array(
      fc.tuple(
        fc.integer({ min: 0, max: U16_MAX }),
        fc.oneof(fc.constant(0), fc.double({ min: 0, max: 1e12, noNaN: true })),
      ),
      { minLength: 1, maxLength: 200 },
    );
    fc.assert(
      fc.property(entries, (pairs) => {
        const uids = pairs.map(([uid]) => uid);
        const weights = pairs.map(([, w]) => w);
        const out = convertWeightsAndUidsForEmit(uids, weights);
        expect(out.uids).toHaveLength(out.values.length);
        for (const value of out.values)
          expect(Number.isInteger(value) && value >= 1 && value <= U16_MAX).toBe(true);
        if (weights.some((w) => w > 0)) expect(Math.max(...out.values)).toBe(U16_MAX);
        else expect(out.values).toEqual([]);
        // Output is the input, in order, minus the entries that round to 0.
        const max = Math.max(...weights);
        const kept = pairs.filter(([, w]) => max > 0 && roundHalfEven((w / max) * U16_MAX) > 0);
        expect(out.uids).toEqual(kept.map(([uid]) => uid));
      }),
    );
  });
});

describe('normalize_max_weight', () => {
  test('matches the SDK on known vectors', () => {
    for (const { x, limit, shares, values } of SDK_VECTORS) {
      const y = normalizeMaxWeight(x, limit);
      expect(y).toHaveLength(shares.length);
      // float32 in the SDK, doubles here: shares agree to float32 precision, u16 values exactly.
      y.forEach((share, i) => {
        expect(share, `${x.join(',')} @${limit} [${i}]`).toBeCloseTo(shares[i]!, 6);
      });
      expect(
        convertWeightsAndUidsForEmit(
          x.map((_, i) => i),
          y,
        ).values,
      ).toEqual(values);
    }
    expect(normalizeMaxWeight([], 0.1)).toEqual([]);
  });

  test('a vector worked by hand', () => {
    // [3,1,2] @0.4: sorted shares 1/6, 2/6, 3/6; the two smallest stay under the limit (n_values 2),
    // cutoff = (0.4·0.5 − 1e-7) / (1 − 0.4·1) · 6 = 1.999999; clipped [1.999999, 1, 1.999999] / 4.999998.
    const y = normalizeMaxWeight([3, 1, 2], 0.4);
    expect(y[0]).toBeCloseTo(1.999999 / 4.999998, 12);
    expect(y[1]).toBeCloseTo(1 / 4.999998, 12);
    expect(y[2]).toBeCloseTo(1.999999 / 4.999998, 12);
  });

  test('properties: sums to 1, keeps order, max share at most the limit when feasible', () => {
    fc.assert(
      fc.property(
        fc.array(fc.double({ min: 0, max: 1e9, noNaN: true }), { minLength: 1, maxLength: 120 }),
        fc.double({ min: 0.005, max: 1, noNaN: true }),
        (x, limit) => {
          const y = normalizeMaxWeight(x, limit);
          expect(y.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 9);
          for (let i = 0; i < x.length; i++)
            for (let j = 0; j < x.length; j++)
              if (x[i]! < x[j]!) expect(y[i]!).toBeLessThanOrEqual(y[j]! + 1e-15);
          if (x.length * limit > 1 && x.some((v) => v > 0))
            expect(Math.max(...y)).toBeLessThanOrEqual(limit + 1e-12);
        },
      ),
    );
  });
});

describe('the runtime weight rules', () => {
  test('max-upscale and max-limit check match hand-worked runtime results', () => {
    // max 100 ≤ 32768: e·65535/100 rounded half away from zero: 50 → 32767.5 → 32768.
    expect(maxUpscaleU16([100, 50, 1])).toEqual([65535, 32768, 655]);
    // max 40000 > 32768: e · (65535/40000 truncated to I32F32) then rounded. The truncation puts
    // 20000 just under 32767.5, so the runtime stores 32767 where exact arithmetic gives 32768.
    expect(maxUpscaleU16([40000, 20000])).toEqual([65535, 32767]);
    expect(maxUpscaleU16([0, 0])).toEqual([0, 0]);
    // Shares 0.5 / 0.5 against 32767/65535 (just under 0.5) and 32768/65535.
    expect(isMaxWeightLimited([65535, 65535], 32767)).toBe(false);
    expect(isMaxWeightLimited([65535, 65535], 32768)).toBe(true);
    expect(passesMaxWeightLimit([1], 65535)).toBe(true);
    expect(passesMaxWeightLimit([1], 65534)).toBe(false);
  });
});

describe('toU16Vector', () => {
  const rules = { maxWeightsLimit: U16_MAX, minAllowedWeights: 1, n: 10 };

  test('without a binding limit it is the SDK conversion of the scores', () => {
    const scores = new Map([
      [3, 2],
      [1, 4],
      [7, 0],
      [5, 1],
    ]);
    expect(toU16Vector(scores, rules)).toEqual({
      uids: [3, 1, 5],
      values: [32768, 65535, 16384],
      capped: false,
      padded: false,
    });
    expect(toU16Vector(new Map(), rules)).toEqual({ uids: [], values: [], capped: false, padded: false });
    expect(toU16Vector(new Map([[2, 0]]), rules).values).toEqual([]);
  });

  test('clips the largest share only when it would exceed MaxWeightsLimit', () => {
    const scores = new Map([
      [0, 1],
      [1, 2],
      [2, 3],
      [3, 4],
      [4, 100],
    ]);
    const limit = Math.floor(0.3 * U16_MAX); // 19660
    const out = toU16Vector(scores, { maxWeightsLimit: limit, minAllowedWeights: 1, n: 5 });
    expect(out.capped).toBe(true);
    expect(out.uids).toEqual([0, 1, 2, 3, 4]);
    expect(passesMaxWeightLimit(out.values, limit)).toBe(true);
    // A vector already under the limit is not touched.
    const flat = toU16Vector(
      new Map([
        [0, 1],
        [1, 1],
        [2, 1],
        [3, 1],
      ]),
      { maxWeightsLimit: limit, minAllowedWeights: 1, n: 5 },
    );
    expect(flat).toEqual({
      uids: [0, 1, 2, 3],
      values: [65535, 65535, 65535, 65535],
      capped: false,
      padded: false,
    });
  });

  test('when u16 rounding breaks the SDK result, clips again just under the limit', () => {
    // MaxWeightsLimit 21846 is a share of 0.3333486. The SDK route (normalize_max_weight at that
    // share, then convert) gives [65535, 65526, 65535]: a max share of 0.3333486 + 1.5e-6, which
    // the runtime rejects with MaxWeightExceeded. One retry at a slightly lower share fits.
    const limit = 21846;
    const sdk = convertWeightsAndUidsForEmit([0, 1, 2], normalizeMaxWeight([2, 1, 2], limit / U16_MAX));
    expect(sdk.values).toEqual([65535, 65526, 65535]);
    expect(passesMaxWeightLimit(sdk.values, limit)).toBe(false);
    const out = toU16Vector(
      new Map([
        [0, 2],
        [1, 1],
        [2, 2],
      ]),
      { maxWeightsLimit: limit, minAllowedWeights: 1, n: 3 },
    );
    expect(out).toEqual({ uids: [0, 1, 2], values: [65535, 65527, 65535], capped: true, padded: false });
    expect(passesMaxWeightLimit(out.values, limit)).toBe(true);
  });

  test('pads every uid with a floor share when too few scored or the limit cannot be met', () => {
    const few = toU16Vector(new Map([[2, 5]]), { maxWeightsLimit: U16_MAX, minAllowedWeights: 4, n: 6 });
    expect(few.padded).toBe(true);
    expect(few.uids).toEqual([0, 1, 2, 3, 4, 5]);
    expect(few.values).toEqual([1, 1, 65535, 1, 1, 1]);
    // Two uids cannot each stay under a 0.3 share; six can.
    const limit = Math.floor(0.3 * U16_MAX);
    const tight = toU16Vector(
      new Map([
        [0, 1],
        [1, 1],
      ]),
      { maxWeightsLimit: limit, minAllowedWeights: 1, n: 6 },
    );
    expect(tight.padded).toBe(true);
    expect(tight.uids).toHaveLength(6);
    expect(passesMaxWeightLimit(tight.values, limit)).toBe(true);
    expect(() =>
      toU16Vector(new Map([[0, 1]]), { maxWeightsLimit: limit, minAllowedWeights: 1, n: 3 }),
    ).toThrow(/needs more than 3 uids/);
  });

  test('rejects scores that do not fit the subnet', () => {
    expect(() => toU16Vector(new Map([[10, 1]]), rules)).toThrow(
      /uid 10 is not on the subnet \(it has 10 uids\)/,
    );
    expect(() => toU16Vector(new Map([[1, -1]]), rules)).toThrow(/score -1 for uid 1/);
    expect(() => toU16Vector(new Map([[1, Number.NaN]]), rules)).toThrow(/score NaN/);
    expect(() => toU16Vector(new Map([[1, 1]]), { ...rules, maxWeightsLimit: 70000 })).toThrow(/not a u16/);
  });

  test('properties: the chain would accept every vector it returns', () => {
    const case_ = fc
      .record({
        n: fc.integer({ min: 1, max: 256 }),
        minAllowedWeights: fc.integer({ min: 0, max: 64 }),
        maxWeightsLimit: fc.oneof(fc.constant(U16_MAX), fc.integer({ min: 300, max: U16_MAX })),
      })
      .chain((rules) =>
        fc.record({
          rules: fc.constant(rules),
          scores: fc.uniqueArray(
            fc.tuple(fc.integer({ min: 0, max: rules.n - 1 }), fc.double({ min: 0, max: 1e15, noNaN: true })),
            { selector: ([uid]) => uid, maxLength: rules.n },
          ),
        }),
      );
    fc.assert(
      fc.property(case_, ({ rules, scores }) => {
        const map = new Map(scores);
        let out;
        try {
          out = toU16Vector(map, rules);
        } catch (error) {
          // Only an infeasible limit may refuse: no vector over n uids keeps every share under it.
          expect(error).toBeInstanceOf(WeightsError);
          expect(rules.n * (rules.maxWeightsLimit / U16_MAX)).toBeLessThanOrEqual(1.0001);
          return;
        }
        if (!scores.some(([, s]) => s > 0)) {
          expect(out.uids).toEqual([]);
          return;
        }
        expect(out.uids.length).toBeGreaterThanOrEqual(Math.min(rules.n, rules.minAllowedWeights));
        expect(new Set(out.uids).size).toBe(out.uids.length);
        expect(passesMaxWeightLimit(out.values, rules.maxWeightsLimit)).toBe(true);
        expect(Math.max(...out.values)).toBe(U16_MAX);
        if (!out.padded) {
          // Order of the scored uids is kept.
          const scored = scores.filter(([, s]) => s > 0).map(([uid]) => uid);
          expect(scored.filter((uid) => out.uids.includes(uid))).toEqual(out.uids);
        }
      }),
      { numRuns: 300 },
    );
  });
});
