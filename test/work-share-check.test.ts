import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { toDisplayHex, toHex } from '../src/work/bytes.js';
import type { Job, ShareSubmission } from '../src/work/job.js';
import { checkShare, prepareJob, type ShareVerdict } from '../src/work/share-check.js';
import { T1, difficultyToTarget, nbitsToTarget } from '../src/work/target.js';
import { toDifficulty, toJobId, type Difficulty } from '../src/work/types.js';
import {
  buildOracleJob,
  grindShare,
  oracleHeader,
  type OracleJob,
  type OracleShare,
} from './support/oracle.js';
import { jobFromVector, readShareVector } from './support/vectors.js';

const hex = (s: string) => Uint8Array.from(Buffer.from(s, 'hex'));
const u32 = (s: string) => Number.parseInt(s, 16);

function checkOracleShare(
  oracle: OracleJob,
  share: OracleShare,
  difficulty: Difficulty,
  versionMask = 0,
  versionBits?: number,
): ShareVerdict {
  return checkShare({
    job: prepareJob(oracle.job, oracle.extranonce1),
    extranonce2Size: oracle.extranonce2Size,
    submission: { extranonce2: share.extranonce2, ntime: share.ntime, nonce: share.nonce, versionBits },
    versionMask,
    assignedDifficulty: difficulty,
  });
}

describe('known answers from mainnet', () => {
  test('block 100000 as a Stratum share', () => {
    const v = readShareVector('block-100000.json');
    const verdict = checkShare({
      job: prepareJob(jobFromVector(v), hex(v.extranonce1)),
      extranonce2Size: v.extranonce2_size,
      submission: {
        extranonce2: hex(v.submit.extranonce2),
        ntime: u32(v.submit.ntime),
        nonce: u32(v.submit.nonce),
        versionBits: undefined,
      },
      versionMask: 0,
      assignedDifficulty: toDifficulty(1),
    });
    expect(verdict.valid).toBe(true);
    const work = verdict.work!;
    expect(toDisplayHex(work.coinbaseTxid)).toBe(v.expect.coinbase_txid_display);
    expect(toHex(work.merkleRoot)).toBe(v.expect.merkle_root_internal);
    expect(toHex(work.header)).toBe(v.expect.header);
    expect(toDisplayHex(work.hash)).toBe(v.expect.block_hash_display);
    expect(work.shareDifficulty).toBeCloseTo(v.expect.share_difficulty, 5);
    expect(work.isBlock).toBe(v.expect.is_block);
  });

  test('the genesis block, its coinbase split into coinb1 | extranonce1 | extranonce2 | coinb2', () => {
    const coinbase =
      '01000000010000000000000000000000000000000000000000000000000000000000000000ffffffff4d04ffff001d0104455468652054696d65732030332f4a616e2f32303039204368616e63656c6c6f72206f6e206272696e6b206f66207365636f6e64206261696c6f757420666f722062616e6b73ffffffff0100f2052a01000000434104678afdb0fe5548271967f1a67130b7105cd6a828e03909a67962e0ea1f61deb649f6bc3f4cef38c4f35504e51ec112de5c384df7ba0b8d578a4c702b6bf11d5fac00000000';
    const bytes = hex(coinbase);
    // Cut inside the scriptSig text: 4 bytes of extranonce1, 4 of extranonce2.
    const cut = 60;
    const job: Job = {
      jobId: toJobId('genesis'),
      prevhash: new Uint8Array(32),
      coinb1: bytes.subarray(0, cut),
      coinb2: bytes.subarray(cut + 8),
      merkleBranch: [],
      version: 1,
      nbits: 0x1d00ffff,
      ntime: 1231006505,
      cleanJobs: true,
    };
    const verdict = checkShare({
      job: prepareJob(job, bytes.subarray(cut, cut + 4)),
      extranonce2Size: 4,
      submission: {
        extranonce2: bytes.subarray(cut + 4, cut + 8),
        ntime: 1231006505,
        nonce: 2083236893,
        versionBits: undefined,
      },
      versionMask: 0,
      assignedDifficulty: toDifficulty(1),
    });
    expect(verdict.valid).toBe(true);
    expect(toDisplayHex(verdict.work!.merkleRoot)).toBe(
      '4a5e1e4baab89f3a32518a88c31bc87f618f76673e2cc77ab2127b7afdeda33b',
    );
    expect(toDisplayHex(verdict.work!.hash)).toBe(
      '000000000019d6689c085ae165831e934ff763ae46a2a6c172b3f1b60a8ce26f',
    );
    expect(verdict.work!.isBlock).toBe(true);
  });
});

describe('shares mined against jobs built with bitcoinjs-lib', () => {
  const lowDifficulty = toDifficulty(2 ** -24); // about one hash in 256 meets it

  test('a share that meets the assigned difficulty but not the block target', () => {
    const oracle = buildOracleJob({ transactions: 11, nbits: 0x1d00ffff });
    const share = grindShare(oracle, difficultyToTarget(lowDifficulty), {
      extranonce2: hex('00000001'),
      ntime: oracle.job.ntime,
      version: oracle.job.version,
    });
    const verdict = checkOracleShare(oracle, share, lowDifficulty);
    expect(verdict).toMatchObject({ valid: true, reason: null });
    expect(verdict.work!.isBlock).toBe(false);
    expect(verdict.work!.hashValue).toBe(oracleHeader(oracle, share).hashValue);
    expect(toHex(verdict.work!.header)).toBe(toHex(oracleHeader(oracle, share).header));
    expect(verdict.work!.shareDifficulty).toBeGreaterThanOrEqual(lowDifficulty);
  });

  test('a share just below the assigned difficulty is low-difficulty, and credited nothing', () => {
    const oracle = buildOracleJob({ transactions: 5 });
    const target = difficultyToTarget(lowDifficulty);
    // Find a hash that meets twice the target but not the target itself.
    const share = grindShare(
      oracle,
      target,
      { extranonce2: hex('0000abcd'), ntime: oracle.job.ntime, version: oracle.job.version },
      (h) => h > target && h <= 2n * target,
    );
    const verdict = checkOracleShare(oracle, share, lowDifficulty);
    expect(verdict).toMatchObject({ valid: false, reason: 'low-difficulty' });
    expect(verdict.work!.hashValue).toBe(oracleHeader(oracle, share).hashValue);
    // The same share is fine at half the difficulty.
    expect(checkOracleShare(oracle, share, toDifficulty(lowDifficulty / 2)).valid).toBe(true);
  });

  test('the exact boundary: a hash equal to T1/D meets D', () => {
    const oracle = buildOracleJob({ transactions: 2 });
    const share = {
      extranonce2: hex('01020304'),
      ntime: oracle.job.ntime,
      nonce: 7,
      version: oracle.job.version,
    };
    const hashValue = oracleHeader(oracle, share).hashValue;
    // D = T1 / h exactly is not a double in general; pick D with T1/D landing on h from above and below.
    const atOrAbove = toDifficulty(Number(T1) / Number(hashValue) / (1 + 1e-12));
    const below = toDifficulty((Number(T1) / Number(hashValue)) * (1 + 1e-12));
    expect(checkOracleShare(oracle, share, atOrAbove).valid).toBe(true);
    expect(checkOracleShare(oracle, share, below).reason).toBe('low-difficulty');
  });

  test('a block: regtest-easy nbits, the hash meets the network target', () => {
    const oracle = buildOracleJob({ transactions: 3, nbits: 0x207fffff });
    const share = grindShare(oracle, nbitsToTarget(0x207fffff), {
      extranonce2: hex('00000000'),
      ntime: oracle.job.ntime + 30,
      version: oracle.job.version,
    });
    const verdict = checkOracleShare(oracle, share, toDifficulty(2 ** -31));
    expect(verdict.valid).toBe(true);
    expect(verdict.work!.isBlock).toBe(true);
    expect(oracleHeader(oracle, share).block.checkProofOfWork()).toBe(true);
  });

  test('a version-rolled share (BIP 310), sent as bits and as the full version', () => {
    const mask = 0x1fffe000;
    const oracle = buildOracleJob({ transactions: 7, version: 0x20000000 });
    const rolledVersion = 0x20000000 | 0x0a5c2000;
    const share = grindShare(oracle, difficultyToTarget(lowDifficulty), {
      extranonce2: hex('deadbeef'),
      ntime: oracle.job.ntime,
      version: rolledVersion,
    });
    const asBits = checkOracleShare(oracle, share, lowDifficulty, mask, 0x0a5c2000);
    const asFull = checkOracleShare(oracle, share, lowDifficulty, mask, rolledVersion);
    for (const verdict of [asBits, asFull]) {
      expect(verdict.valid).toBe(true);
      expect(verdict.work!.version).toBe(rolledVersion);
      expect(verdict.work!.hashValue).toBe(oracleHeader(oracle, share).hashValue);
    }
    // Without the rolled bits the header differs and the share almost surely fails.
    expect(checkOracleShare(oracle, share, lowDifficulty, mask, undefined).work!.hashValue).not.toBe(
      asBits.work!.hashValue,
    );
  });

  test('extranonce sizes from 1 to 8 bytes, branches from 0 to 12', () => {
    for (const [size, transactions] of [
      [1, 0],
      [2, 1],
      [4, 2],
      [6, 100],
      [8, 4095],
    ] as const) {
      const oracle = buildOracleJob({ transactions, extranonce1Size: 4, extranonce2Size: size });
      const share = {
        extranonce2: new Uint8Array(size).fill(size),
        ntime: oracle.job.ntime + 1,
        nonce: 99,
        version: oracle.job.version,
      };
      const verdict = checkOracleShare(oracle, share, toDifficulty(2 ** -32));
      expect(verdict.valid).toBe(true);
      expect(verdict.work!.hashValue).toBe(oracleHeader(oracle, share).hashValue);
    }
  });
});

describe('rejection reasons', () => {
  const oracle = buildOracleJob({ transactions: 3 });
  const difficulty = toDifficulty(2 ** -32); // every hash meets it
  const base: ShareSubmission = {
    extranonce2: hex('00000001'),
    ntime: oracle.job.ntime,
    nonce: 1,
    versionBits: undefined,
  };
  const judge = (
    submission: Partial<ShareSubmission>,
    versionMask = 0x1fffe000,
    maxNtimeAheadSeconds?: number,
  ) =>
    checkShare({
      job: prepareJob(oracle.job, oracle.extranonce1),
      extranonce2Size: 4,
      submission: { ...base, ...submission },
      versionMask,
      assignedDifficulty: difficulty,
      ...(maxNtimeAheadSeconds === undefined ? {} : { maxNtimeAheadSeconds }),
    });

  test('the base share is valid', () => {
    expect(judge({}).valid).toBe(true);
  });
  test('bad extranonce2 size, both shorter and longer', () => {
    for (const extranonce2 of [hex('000001'), hex('0000000001')]) {
      const verdict = judge({ extranonce2 });
      expect(verdict).toMatchObject({ valid: false, reason: 'bad-extranonce2-size', work: null });
      if (!verdict.valid) expect(verdict.detail).toMatch(/given 4/);
    }
  });
  test('version bits outside the mask', () => {
    expect(judge({ versionBits: 0x00000001 })).toMatchObject({
      valid: false,
      reason: 'version-bits-outside-mask',
    });
    expect(judge({ versionBits: 0x00002000 }, 0)).toMatchObject({
      valid: false,
      reason: 'version-bits-outside-mask',
    });
  });
  test('ntime before the job or more than 7000 s after it', () => {
    expect(judge({ ntime: oracle.job.ntime - 1 })).toMatchObject({
      valid: false,
      reason: 'ntime-out-of-window',
    });
    expect(judge({ ntime: oracle.job.ntime + 7000 }).valid).toBe(true);
    expect(judge({ ntime: oracle.job.ntime + 7001 })).toMatchObject({
      valid: false,
      reason: 'ntime-out-of-window',
    });
    expect(judge({ ntime: oracle.job.ntime + 601 }, 0x1fffe000, 600)).toMatchObject({
      reason: 'ntime-out-of-window',
    });
  });
  test('low difficulty', () => {
    const verdict = checkShare({
      job: prepareJob(oracle.job, oracle.extranonce1),
      extranonce2Size: 4,
      submission: base,
      versionMask: 0,
      assignedDifficulty: toDifficulty(1e15),
    });
    expect(verdict).toMatchObject({ valid: false, reason: 'low-difficulty' });
  });
  test('a job whose nbits encodes no target cannot be prepared', () => {
    expect(() => prepareJob({ ...oracle.job, nbits: 0x04923456 }, oracle.extranonce1)).toThrow(/negative/);
  });
});

describe('property: our verdict against the oracle', () => {
  test('random jobs and shares', () => {
    fc.assert(
      fc.property(
        fc.record({
          transactions: fc.integer({ min: 0, max: 40 }),
          extranonce1Size: fc.integer({ min: 0, max: 8 }),
          extranonce2Size: fc.integer({ min: 1, max: 8 }),
          version: fc.integer({ min: 0, max: 0x7fffffff }),
          ntime: fc.integer({ min: 0, max: 0xffffffff - 8000 }),
          nbits: fc.constantFrom(0x1d00ffff, 0x207fffff, 0x1b04864c, 0x17034219, 0x2000ffff),
          seed: fc.integer(),
        }),
        fc.record({
          nonce: fc.integer({ min: 0, max: 0xffffffff }),
          ntimeDelta: fc.integer({ min: -5, max: 7005 }),
          rolledBits: fc.integer({ min: 0, max: 0xffffffff }),
          mask: fc.constantFrom(0, 0x1fffe000, 0xffffffff, 0x00ffe000),
          roll: fc.boolean(),
          log2Difficulty: fc.integer({ min: -34, max: 0 }),
        }),
        (jobShape, pick) => {
          let state = jobShape.seed >>> 0;
          const random = (size: number) =>
            Uint8Array.from({ length: size }, () => {
              state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
              return state >>> 24;
            });
          const oracle = buildOracleJob({ ...jobShape, random });
          const extranonce2 = random(jobShape.extranonce2Size);
          const ntime = oracle.job.ntime + pick.ntimeDelta;
          const versionBits = pick.roll ? pick.rolledBits : undefined;
          const difficulty = toDifficulty(2 ** pick.log2Difficulty);
          const verdict = checkOracleShare(
            oracle,
            { extranonce2, ntime, nonce: pick.nonce, version: 0 },
            difficulty,
            pick.mask,
            versionBits,
          );

          // The oracle's own reading of the rules.
          const outside = versionBits === undefined ? 0 : (versionBits & ~pick.mask) >>> 0;
          const jobOutside = (oracle.job.version & ~pick.mask) >>> 0;
          if (outside !== 0 && outside !== jobOutside) {
            expect(verdict.reason).toBe('version-bits-outside-mask');
            return;
          }
          if (pick.ntimeDelta < 0 || pick.ntimeDelta > 7000) {
            expect(verdict.reason).toBe('ntime-out-of-window');
            return;
          }
          const version =
            versionBits === undefined
              ? oracle.job.version
              : ((oracle.job.version & ~pick.mask) | (versionBits & pick.mask)) >>> 0;
          const { hashValue } = oracleHeader(oracle, { extranonce2, ntime, nonce: pick.nonce, version });
          expect(verdict.work?.hashValue).toBe(hashValue);
          const meets = hashValue <= T1 << BigInt(-pick.log2Difficulty);
          expect(verdict.valid).toBe(meets);
          expect(verdict.work?.isBlock).toBe(hashValue <= nbitsToTarget(jobShape.nbits));
        },
      ),
      { numRuns: 300 },
    );
  });
});
