import type { Uid } from '../src/chain/chain.js';
import { passesMaxWeightLimit } from '../src/chain/weight-limits.js';

/**
 * Float scores → the u16 vector `set_weights` takes, as the Bittensor Python SDK does it
 * (bittensor/utils/weight_utils.py). Arithmetic is IEEE double throughout. The SDK keeps
 * weights in float32 numpy arrays for `normalize_max_weight`; the shares differ from ours only
 * around the 7th significant digit, and the u16 conversion (`round(w × 65535)`) is done in
 * Python floats (doubles) in the SDK too, so that step matches exactly.
 */

export const U16_MAX = 65535;

export class WeightsError extends Error {}

/** Python's `round(x)` for a non-negative double: to nearest, ties to even. */
export function roundHalfEven(x: number): number {
  const floor = Math.floor(x);
  const fraction = x - floor; // exact below 2^52
  if (fraction < 0.5) return floor;
  if (fraction > 0.5) return floor + 1;
  return floor % 2 === 0 ? floor : floor + 1;
}

/**
 * `normalize_max_weight(x, limit)`: shares that sum to 1 with none above `limit`, clipping the
 * largest entries to a common cutoff. As in the SDK: an all-zero input, or one where
 * `len × limit <= 1` (no vector of that length can stay under the limit), gives the uniform
 * vector; an input already under the limit is only normalised.
 */
export function normalizeMaxWeight(x: readonly number[], limit: number): number[] {
  const epsilon = 1e-7; // The SDK's margin so the clipped share lands just under the limit.
  const weights = [...x];
  const values = [...x].sort((a, b) => a - b);
  const length = x.length;
  if (sum(x) === 0 || length * limit <= 1) return x.map(() => 1 / length);

  const valuesSum = sum(values);
  const estimation = values.map((v) => v / valuesSum);
  if (Math.max(...estimation) <= limit) {
    const total = sum(weights);
    return weights.map((w) => w / total);
  }

  const cumsum: number[] = [];
  let running = 0;
  for (const e of estimation) cumsum.push((running += e));
  const estimationSum = estimation.map((e, i) => (length - i - 1) * e);
  const nValues = estimation.filter((e, i) => e / (estimationSum[i]! + cumsum[i]! + epsilon) < limit).length;
  // numpy's cumsum[n_values - 1] reads from the end when n_values is 0.
  const cumsumAtCut = cumsum[nValues - 1 >= 0 ? nValues - 1 : length - 1]!;
  const cutoffScale = (limit * cumsumAtCut - epsilon) / (1 - limit * (length - nValues));
  const cutoff = cutoffScale * valuesSum;
  const clipped = weights.map((w) => (w > cutoff ? cutoff : w));
  const total = sum(clipped);
  return clipped.map((w) => w / total);
}

export interface U16Weights {
  readonly uids: Uid[];
  /** u16 values; the largest is 65535. */
  readonly values: number[];
}

/**
 * `convert_weights_and_uids_for_emit`: divide by the largest weight, `round(w × 65535)` with
 * ties to even, and drop entries that became 0. An all-zero vector gives empty lists (nothing
 * to set). Like the SDK, an empty input is an error; beyond the SDK, uids must be u16 integers
 * and weights finite, since the chain could not take anything else.
 */
export function convertWeightsAndUidsForEmit(
  uids: readonly number[],
  weights: readonly number[],
): U16Weights {
  if (weights.length === 0 || uids.length === 0) {
    throw new WeightsError(
      'no weights given: pass at least one uid and weight (the SDK fails on an empty list too)',
    );
  }
  const badWeight = weights.findIndex((w) => !Number.isFinite(w));
  if (badWeight >= 0)
    throw new WeightsError(`weight ${weights[badWeight]} at index ${badWeight} is not a finite number`);
  if (Math.min(...weights) < 0) {
    throw new WeightsError(`a weight is negative, which cannot exist on chain: ${weights.join(', ')}`);
  }
  if (Math.min(...uids) < 0)
    throw new WeightsError(`a uid is negative, which cannot exist on chain: ${uids.join(', ')}`);
  if (uids.length !== weights.length) {
    throw new WeightsError(
      `uids and weights must have the same length, got ${uids.length} uids and ${weights.length} weights`,
    );
  }
  const badUid = uids.findIndex((uid) => !Number.isInteger(uid) || uid > U16_MAX);
  if (badUid >= 0) throw new WeightsError(`uid ${uids[badUid]} at index ${badUid} is not a u16`);

  const out: U16Weights = { uids: [], values: [] };
  if (sum(weights) === 0) return out;
  const max = Math.max(...weights);
  weights.forEach((weight, i) => {
    const value = roundHalfEven((weight / max) * U16_MAX);
    if (value !== 0) {
      out.uids.push(uids[i]!);
      out.values.push(value);
    }
  });
  return out;
}

export interface SubnetWeightRules {
  /** `MaxWeightsLimit` (u16): the largest share allowed is this / 65535; 65535 means no limit. */
  readonly maxWeightsLimit: number;
  /** `MinAllowedWeights`: a vector needs at least min(n, this) entries. */
  readonly minAllowedWeights: number;
  /** Number of uids on the subnet; every uid must be below it. */
  readonly n: number;
}

export interface U16Vector extends U16Weights {
  /** The largest shares were clipped (`normalize_max_weight`) to fit `MaxWeightsLimit`. */
  readonly capped: boolean;
  /** Every uid got a 1e-5 floor share, as the SDK's `process_weights` does, to meet the chain's rules. */
  readonly padded: boolean;
}

/**
 * Scores by uid → a vector the subnet accepts. Uids with a zero score are left out; the rest
 * become shares of their sum. The largest shares are clipped with `normalize_max_weight` only
 * when they would exceed `MaxWeightsLimit / 65535`, and the u16 result is checked with the
 * runtime's own fixed-point rule; if u16 rounding pushed it over, it is clipped again at a
 * slightly lower limit. When the vector would hold fewer than min(n, MinAllowedWeights) uids,
 * or too few for any vector to stay under the limit, every uid 0..n−1 gets a 1e-5 floor share
 * (the SDK's `process_weights`); a floor share always survives rounding as a value of at least
 * 1. No scores gives an empty vector: the caller decides what to post instead (the owner's
 * burn uid).
 */
export function toU16Vector(scores: ReadonlyMap<Uid, number>, rules: SubnetWeightRules): U16Vector {
  const { maxWeightsLimit, minAllowedWeights, n } = rules;
  if (!Number.isInteger(maxWeightsLimit) || maxWeightsLimit < 0 || maxWeightsLimit > U16_MAX) {
    throw new WeightsError(`maxWeightsLimit ${maxWeightsLimit} is not a u16`);
  }
  const uids: Uid[] = [];
  const weights: number[] = [];
  for (const [uid, score] of scores) {
    if (!Number.isFinite(score) || score < 0) {
      throw new WeightsError(`score ${score} for uid ${uid} is not a finite non-negative number`);
    }
    if (!Number.isInteger(uid) || uid < 0 || uid >= n) {
      throw new WeightsError(`uid ${uid} is not on the subnet (it has ${n} uids); refresh the metagraph`);
    }
    if (score > 0) {
      uids.push(uid);
      weights.push(score);
    }
  }
  if (uids.length === 0) return { uids: [], values: [], capped: false, padded: false };
  const total = sum(weights);
  const shares = weights.map((w) => w / total);
  const required = Math.min(n, minAllowedWeights);

  const sparse = fitMaxWeightLimit(uids, shares, maxWeightsLimit);
  if (sparse !== undefined && sparse.uids.length >= required) return { ...sparse, padded: false };

  const byUid = new Map(uids.map((uid, i) => [uid, shares[i]!]));
  const allUids = Array.from({ length: n }, (_, uid) => uid);
  const floored = allUids.map((uid) => 1e-5 + (byUid.get(uid) ?? 0));
  const padded = fitMaxWeightLimit(allUids, floored, maxWeightsLimit);
  if (padded !== undefined) return { ...padded, padded: true };
  const limit = maxWeightsLimit / U16_MAX;
  throw new WeightsError(
    `MaxWeightsLimit ${maxWeightsLimit}/65535 allows a share of at most ${limit.toFixed(6)}, which no vector ` +
      `over this subnet's ${n} uids can respect (it needs more than ${Math.floor(1 / limit)} uids)`,
  );
}

/** The u16 vector for these shares under `MaxWeightsLimit`, or undefined when none fits. */
function fitMaxWeightLimit(
  uids: readonly Uid[],
  shares: readonly number[],
  maxWeightsLimit: number,
): (U16Weights & { capped: boolean }) | undefined {
  if (maxWeightsLimit === U16_MAX) return { ...convertWeightsAndUidsForEmit(uids, shares), capped: false };
  const limit = maxWeightsLimit / U16_MAX;
  if (uids.length * limit <= 1) return undefined; // normalize_max_weight would give up (uniform)
  const total = sum(shares);
  // Each retry lowers the float limit a little more, to absorb u16 rounding.
  for (let attempt = 0; attempt < 24; attempt++) {
    const target = attempt === 0 ? limit : limit * (1 - 1e-6 * 2 ** attempt);
    if (uids.length * target <= 1) return undefined;
    const capped = Math.max(...shares) / total > target;
    const vector = convertWeightsAndUidsForEmit(uids, capped ? normalizeMaxWeight(shares, target) : shares);
    if (passesMaxWeightLimit(vector.values, maxWeightsLimit)) return { ...vector, capped };
  }
  return undefined;
}

function sum(xs: readonly number[]): number {
  let total = 0;
  for (const x of xs) total += x;
  return total;
}
