import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { difficultyToTarget } from '../src/work/target.js';
import { toDifficulty } from '../src/work/types.js';
import { buildOracleJob, oracleHeader } from './support/oracle.js';
import { jobFromVector, readShareVector } from './support/vectors.js';
import {
  bitCount,
  DIFFICULTY_1_TARGET,
  displayHex,
  headerTemplate,
  rolledVersion,
  sha256d,
  targetForDifficulty,
  versionBitsAt,
} from './peers/pow.js';

const hex = (s: string) => Uint8Array.from(Buffer.from(s, 'hex'));
const u32 = (s: string) => Number.parseInt(s, 16);

describe('test peers: proof-of-work maths', () => {
  test('mainnet block 100000 as a Stratum job hashes to its real block hash', () => {
    const v = readShareVector('block-100000.json');
    const job = jobFromVector(v);
    const header = headerTemplate(
      job,
      hex(v.extranonce1),
      hex(v.submit.extranonce2),
      job.version,
      u32(v.submit.ntime),
    );
    header.writeUInt32LE(u32(v.submit.nonce), 76);
    expect(header.toString('hex')).toBe(v.expect.header);
    expect(displayHex(sha256d(header))).toBe(v.expect.block_hash_display);
  });

  test('headers agree with the bitcoinjs-lib oracle, version rolling included', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 12 }),
        fc.integer({ min: 1, max: 8 }),
        fc.nat({ max: 0xffff }),
        fc.nat({ max: 0xffffffff }),
        (transactions, extranonce2Size, index, nonce) => {
          const oracle = buildOracleJob({ transactions, extranonce2Size });
          const mask = 0x1fffe000;
          const version = rolledVersion(oracle.job.version, mask, versionBitsAt(index, mask));
          const extranonce2 = Uint8Array.from({ length: extranonce2Size }, (_, i) => (index + i) & 0xff);
          const ours = headerTemplate(oracle.job, oracle.extranonce1, extranonce2, version);
          ours.writeUInt32LE(nonce, 76);
          const theirs = oracleHeader(oracle, { extranonce2, ntime: oracle.job.ntime, nonce, version });
          expect(ours.toString('hex')).toBe(Buffer.from(theirs.header).toString('hex'));
        },
      ),
      { numRuns: 50 },
    );
  });

  test('difficulty targets are exact and agree with the proxy library', () => {
    expect(targetForDifficulty(1)).toBe(DIFFICULTY_1_TARGET);
    expect(targetForDifficulty(2 ** -16)).toBe(DIFFICULTY_1_TARGET << 16n);
    expect(targetForDifficulty(3)).toBe(DIFFICULTY_1_TARGET / 3n);
    expect(targetForDifficulty(2 ** -40)).toBe((1n << 256n) - 1n);
    fc.assert(
      fc.property(fc.double({ min: 2 ** -30, max: 2 ** 40, noNaN: true }), (difficulty) => {
        expect(targetForDifficulty(difficulty)).toBe(difficultyToTarget(toDifficulty(difficulty)));
      }),
    );
  });

  test('version bits enumerate distinct values inside the mask', () => {
    const mask = 0x00ffe000;
    const seen = new Set<number>();
    for (let index = 0; index < 2 ** bitCount(mask); index++) {
      const bits = versionBitsAt(index, mask);
      expect((bits & ~mask) >>> 0).toBe(0);
      seen.add(bits);
    }
    expect(seen.size).toBe(2 ** 11);
    expect(rolledVersion(0x20000000, 0x1fffe000, 0xffffffff)).toBe(0x3fffe000);
  });
});
