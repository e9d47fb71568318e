import type { Difficulty, U32 } from './types.js';

/** The difficulty-1 target: 0x00000000FFFF0000...0000. */
export const T1 = 0xffffn << 208n;

const MAX_TARGET = (1n << 256n) - 1n;

/** A 256-bit target or hash as an unsigned integer (hashes are read little-endian). */
export type Target = bigint;

/**
 * nbits (compact) → target, as Bitcoin Core's `SetCompact`. Negative or overflowing
 * encodings are not valid targets and are refused.
 */
export function nbitsToTarget(nbits: U32): Target {
  const exponent = nbits >>> 24;
  let mantissa = nbits & 0x007fffff;
  if (mantissa !== 0 && (nbits & 0x00800000) !== 0) {
    throw new RangeError(`nbits ${hex8(nbits)} encodes a negative target`);
  }
  let target: bigint;
  if (exponent <= 3) {
    mantissa >>>= 8 * (3 - exponent);
    target = BigInt(mantissa);
  } else {
    target = BigInt(mantissa) << BigInt(8 * (exponent - 3));
  }
  if (target > MAX_TARGET) throw new RangeError(`nbits ${hex8(nbits)} overflows 256 bits`);
  return target;
}

/** target → nbits, as Bitcoin Core's `GetCompact` (used by test peers to build jobs). */
export function targetToNbits(target: Target): U32 {
  if (target < 0n || target > MAX_TARGET) throw new RangeError('target must fit in 256 unsigned bits');
  let size = byteLength(target);
  let compact: number;
  if (size <= 3) {
    compact = Number(target << BigInt(8 * (3 - size)));
  } else {
    compact = Number(target >> BigInt(8 * (size - 3)));
  }
  // The mantissa's top bit is a sign bit: shift it into the exponent instead.
  if ((compact & 0x00800000) !== 0) {
    compact >>>= 8;
    size += 1;
  }
  return ((size << 24) | compact) >>> 0;
}

function byteLength(value: bigint): number {
  let size = 0;
  while (value > 0n) {
    value >>= 8n;
    size += 1;
  }
  return size;
}

/**
 * A finite positive double is exactly `mantissa · 2^exponent` with an integer mantissa below
 * 2^53. Splitting it this way lets difficulty arithmetic stay exact in bigint.
 */
function decompose(value: number): { mantissa: bigint; exponent: number } {
  if (!Number.isFinite(value) || value <= 0)
    throw new RangeError(`expected a positive finite number, got ${value}`);
  let exponent = 0;
  let scaled = value;
  while (!Number.isInteger(scaled)) {
    scaled *= 2;
    exponent -= 1;
  }
  while (scaled > Number.MAX_SAFE_INTEGER) {
    scaled /= 2;
    exponent += 1;
  }
  return { mantissa: BigInt(scaled), exponent };
}

/** The target a share must meet for difficulty D: floor(T1 / D), exact. */
export function difficultyToTarget(difficulty: Difficulty): Target {
  const { mantissa, exponent } = decompose(difficulty);
  const target = exponent >= 0 ? T1 / (mantissa << BigInt(exponent)) : (T1 << BigInt(-exponent)) / mantissa;
  return target > MAX_TARGET ? MAX_TARGET : target;
}

// Shares arrive at a handful of difficulties: remember the last target computed.
let lastDifficulty = 0;
let lastTarget: Target = 0n;

/**
 * h ≤ T1 / D. For an integer h this is h ≤ floor(T1 / D), so comparing with the exact
 * target decides it without rounding.
 */
export function meetsDifficulty(hash: Target, difficulty: Difficulty): boolean {
  if (difficulty !== lastDifficulty) {
    lastTarget = difficultyToTarget(difficulty);
    lastDifficulty = difficulty;
  }
  return hash <= lastTarget;
}

const T1_FLOAT = 0xffff * 2 ** 208;

/**
 * T1 / value as a double (Infinity for zero). T1 is exact in a double and Number(value) is
 * correctly rounded, so the quotient is within two ulps: plenty for a figure that is reported,
 * never credited, and ten times cheaper than a bigint division.
 */
export function difficultyOf(value: Target): number {
  return T1_FLOAT / Number(value);
}

/** A share's own difficulty, T1 / h. */
export function shareDifficulty(hash: Target): number {
  return difficultyOf(hash);
}

/** The network difficulty of a job's nbits, T1 / target(nbits). */
export function networkDifficulty(nbits: U32): number {
  return difficultyOf(nbitsToTarget(nbits));
}

/** 32 bytes read as a little-endian unsigned integer (how a block hash is compared). */
export function hashToBigInt(hash: Uint8Array): Target {
  let value = 0n;
  for (let i = hash.length - 1; i >= 0; i--) value = (value << 8n) | BigInt(hash[i]!);
  return value;
}

function hex8(value: number): string {
  return value.toString(16).padStart(8, '0');
}
