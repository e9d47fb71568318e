/**
 * Domain value types shared by the codec and the share maths. Branded so that a job id cannot
 * be passed where a worker name is expected, nor a share's own difficulty where the assigned
 * one is.
 */
declare const brand: unique symbol;
export type Brand<T, Name extends string> = T & { readonly [brand]: Name };

/** A Stratum difficulty: positive and finite, possibly fractional (CPU test miners use < 1). */
export type Difficulty = Brand<number, 'Difficulty'>;

/** A job id as it appears on the wire (opaque string chosen by whoever issued the job). */
export type JobId = Brand<string, 'JobId'>;

/** Unsigned 32-bit integer (0 ..= 0xffffffff) held in a JS number. */
export type U32 = number;

export function isU32(value: number): value is U32 {
  return Number.isInteger(value) && value >= 0 && value <= 0xffffffff;
}

/** Accepts only a positive finite number; the one place a plain number becomes a Difficulty. */
export function toDifficulty(value: number): Difficulty {
  if (!Number.isFinite(value) || value <= 0) {
    throw new RangeError(`difficulty must be a positive finite number, got ${String(value)}`);
  }
  return value as Difficulty;
}

export function toJobId(value: string): JobId {
  return value as JobId;
}
