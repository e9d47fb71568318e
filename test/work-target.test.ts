import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import {
  T1,
  difficultyToTarget,
  hashToBigInt,
  meetsDifficulty,
  nbitsToTarget,
  networkDifficulty,
  shareDifficulty,
  targetToNbits,
} from '../src/work/target.js';
import { toDifficulty } from '../src/work/types.js';

describe('nbits', () => {
  // Bitcoin Core's arith_uint256 SetCompact/GetCompact vectors.
  test.each([
    [0x00000000, 0n, 0x00000000],
    [0x01003456, 0n, 0x00000000],
    [0x01123456, 0x12n, 0x01120000],
    [0x02008000, 0x80n, 0x02008000],
    [0x05009234, 0x92340000n, 0x05009234],
    [0x04123456, 0x12345600n, 0x04123456],
    [0x20123456, 0x1234560000000000000000000000000000000000000000000000000000000000n, 0x20123456],
  ])('nbits %s', (nbits, target, compact) => {
    expect(nbitsToTarget(nbits)).toBe(target);
    expect(targetToNbits(target)).toBe(compact);
  });

  test('difficulty-1 nbits is T1', () => {
    expect(nbitsToTarget(0x1d00ffff)).toBe(T1);
    expect(T1.toString(16)).toBe('ffff' + '0'.repeat(52));
  });

  test('negative and overflowing encodings are refused', () => {
    expect(() => nbitsToTarget(0x04923456)).toThrow(/negative/);
    expect(() => nbitsToTarget(0xff123456)).toThrow(/overflows/);
  });

  test('block 100000 network difficulty', () => {
    expect(networkDifficulty(0x1b04864c)).toBeCloseTo(14484.162361, 5);
  });

  test('targetToNbits round-trips any compact encoding of a target it produced', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 1n, max: (1n << 255n) - 1n }), (target) => {
        const nbits = targetToNbits(target);
        const back = nbitsToTarget(nbits);
        expect(back <= target).toBe(true);
        expect(targetToNbits(back)).toBe(nbits);
      }),
    );
  });
});

describe('difficulty and targets', () => {
  test('difficulty 1 is T1, powers of two shift it exactly', () => {
    expect(difficultyToTarget(toDifficulty(1))).toBe(T1);
    expect(difficultyToTarget(toDifficulty(2 ** -20))).toBe(T1 << 20n);
    expect(difficultyToTarget(toDifficulty(1024))).toBe(T1 >> 10n);
    expect(difficultyToTarget(toDifficulty(3))).toBe(T1 / 3n);
  });

  test('meetsDifficulty decides h · D ≤ T1 exactly, for D = m / 2^k', () => {
    fc.assert(
      fc.property(
        fc.bigInt({ min: 0n, max: (1n << 256n) - 1n }),
        fc.integer({ min: 1, max: 2 ** 40 }),
        fc.integer({ min: 0, max: 60 }),
        (hash, mantissa, shift) => {
          const difficulty = toDifficulty(mantissa / 2 ** shift);
          const exact = hash * BigInt(mantissa) <= T1 << BigInt(shift);
          expect(meetsDifficulty(hash, difficulty)).toBe(exact);
        },
      ),
    );
  });

  test('the boundary: T1/D meets D, one more does not', () => {
    for (const d of [1, 3, 7.5, 0.001, 65536, 1e12]) {
      const difficulty = toDifficulty(d);
      const target = difficultyToTarget(difficulty);
      expect(meetsDifficulty(target, difficulty)).toBe(true);
      expect(meetsDifficulty(target + 1n, difficulty)).toBe(false);
    }
  });

  test('share difficulty is T1 / h to double precision', () => {
    expect(shareDifficulty(T1)).toBe(1);
    expect(shareDifficulty(T1 / 1000n)).toBeCloseTo(1000, 9);
    expect(shareDifficulty(0n)).toBe(Infinity);
    fc.assert(
      fc.property(fc.bigInt({ min: 1n, max: (1n << 256n) - 1n }), (hash) => {
        const precise = Number((T1 << 128n) / hash) / 2 ** 128;
        expect(Math.abs(shareDifficulty(hash) - precise) / precise).toBeLessThan(1e-14);
      }),
    );
  });

  test('hashes compare as little-endian integers', () => {
    const hash = new Uint8Array(32);
    hash[0] = 1;
    expect(hashToBigInt(hash)).toBe(1n);
    hash[31] = 0x80;
    expect(hashToBigInt(hash)).toBe((0x80n << 248n) | 1n);
  });

  test('toDifficulty refuses what is not a positive finite number', () => {
    for (const bad of [0, -1, NaN, Infinity]) expect(() => toDifficulty(bad)).toThrow(/positive finite/);
  });
});
