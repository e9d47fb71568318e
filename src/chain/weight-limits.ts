/**
 * Subtensor's own u16 weight arithmetic (pallets/subtensor/src/epoch/math.rs), bit for bit, so
 * the in-memory chain stores what the runtime stores and the validator can check a vector
 * against `MaxWeightsLimit` exactly as the runtime will. The runtime computes in `I32F32`
 * fixed point (substrate-fixed 0.6: 32 fractional bits, multiply = widened product >> 32,
 * divide = (a << 32) / b truncated); here that is a bigint of 2^-32 units. All values are
 * non-negative, so both are floors.
 */

const FRAC = 32n;
const ONE = 1n << FRAC;
const I32F32_MAX = (1n << 63n) - 1n;
const U16_MAX = 65535;

const fromInt = (n: number): bigint => BigInt(n) << FRAC;
/** `saturating_mul`. */
const mul = (a: bigint, b: bigint): bigint => {
  const product = (a * b) >> FRAC;
  return product > I32F32_MAX ? I32F32_MAX : product;
};
/** `safe_div` (`checked_div().unwrap_or_default()`): zero when dividing by zero or overflowing. */
const div = (a: bigint, b: bigint): bigint => {
  if (b === 0n) return 0n;
  const quotient = (a << FRAC) / b;
  return quotient > I32F32_MAX ? 0n : quotient;
};
/** `round()`: to nearest, ties away from zero. */
const round = (a: bigint): bigint => ((a + (ONE >> 1n)) >> FRAC) << FRAC;
/** `saturating_to_num::<u16>()`: drops the fraction, clamps to u16. */
const toU16 = (a: bigint): number => {
  const whole = a >> FRAC;
  return whole > BigInt(U16_MAX) ? U16_MAX : Number(whole);
};

/** `vec_u16_max_upscale_to_u16`: scale so the largest value becomes 65535 (what `Weights` stores). */
export function maxUpscaleU16(values: readonly number[]): number[] {
  if (values.length === 0) return [];
  const fixed = values.map(fromInt);
  const max = fixed.reduce((a, b) => (b > a ? b : a));
  const u16Max = fromInt(U16_MAX);
  if (max === 0n) return fixed.map((e) => toU16(mul(e, u16Max)));
  // Above 32768 the runtime scales by (65535 / max) first, keeping e × 65535 inside I32F32.
  if (max > fromInt(32768)) return fixed.map((e) => toU16(round(mul(e, div(u16Max, max)))));
  return fixed.map((e) => toU16(round(div(mul(e, u16Max), max))));
}

/**
 * `check_vec_max_limited`: true when no value's share of the sum exceeds `maxLimit / 65535`.
 * The runtime applies it to the max-upscaled vector, skips it for a self-weight, and skips it
 * entirely when `MaxWeightsLimit` is 65535 (`max_weight_limited`).
 */
export function isMaxWeightLimited(values: readonly number[], maxLimit: number): boolean {
  if (values.length === 0) return true;
  const limit = div(fromInt(maxLimit), fromInt(U16_MAX));
  const fixed = values.map(fromInt);
  const sum = fixed.reduce((a, b) => a + b, 0n);
  const shares = sum === 0n ? fixed : fixed.map((e) => div(e, sum));
  return shares.every((share) => share <= limit);
}

/** Whether the runtime accepts the vector under `MaxWeightsLimit` (before its self-weight exemption). */
export function passesMaxWeightLimit(values: readonly number[], maxWeightsLimit: number): boolean {
  return maxWeightsLimit === U16_MAX || isMaxWeightLimited(maxUpscaleU16(values), maxWeightsLimit);
}
