import { randomBytes } from 'node:crypto';
import type { Job } from '../src/work/job.js';
import { toJobId } from '../src/work/types.js';

/** Extranonce2 bytes the benchmark pools hand out. */
export const SYNTHETIC_EXTRANONCE2_SIZE = 8;

// A real mainnet target: no share is ever a block, so a proxy in front never logs one.
const NBITS = 0x17034219;
// Coinbase halves of a realistic shape: version, one input up to the extranonce; then the
// rest of the script (with the pool's tag), sequence, one output and the lock time.
const COINB1 = Buffer.from(
  '01000000010000000000000000000000000000000000000000000000000000000000000000ffffffff2503a08601',
  'hex',
);

/** A job of realistic shape for the benchmark pools (they do not check shares against it). */
export function syntheticJob(options: {
  readonly serial: number;
  readonly tag: string;
  readonly prevhash: Uint8Array;
  readonly branches: number;
  readonly clean: boolean;
}): Job {
  const coinb2 = Buffer.from(
    Buffer.from(`/${options.tag}/`).toString('hex') +
      'ffffffff01' +
      '00f2052a01000000' +
      '1976a914' +
      '00'.repeat(20) +
      '88ac' +
      '00000000',
    'hex',
  );
  return {
    jobId: toJobId(options.serial.toString(16)),
    prevhash: options.prevhash,
    coinb1: COINB1,
    coinb2,
    merkleBranch: Array.from({ length: options.branches }, () => randomBytes(32)),
    version: 0x20000000,
    nbits: NBITS,
    ntime: Math.floor(Date.now() / 1000),
    cleanJobs: options.clean,
  };
}
