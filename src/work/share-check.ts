import { bswap32, concatBytes } from './bytes.js';
import type { Job, ShareSubmission } from './job.js';
import { swapPrevhashWords } from './header.js';
import {
  bytesToWords,
  sha256dFromMidstate,
  sha256dHeaderWords,
  sha256dPairWords,
  sha256Midstate,
  wordsToBytes,
  type Sha256Midstate,
} from './sha256.js';
import { meetsDifficulty, nbitsToTarget, shareDifficulty, type Target } from './target.js';
import type { Difficulty, U32 } from './types.js';
import { rollVersion } from './version-rolling.js';

/** ckpool's rule: a share's ntime may run at most this far past the job's. */
export const DEFAULT_MAX_NTIME_AHEAD_SECONDS = 7000;

/**
 * A job bound to one extranonce1, with everything that is the same for every share on it
 * computed once: the coinbase prefix's SHA-256 midstate, branches and prevhash as words, and
 * the block target.
 */
export interface PreparedJob {
  readonly job: Job;
  readonly extranonce1: Uint8Array;
  readonly blockTarget: Target;
  readonly coinbasePrefix: Sha256Midstate;
  readonly branchWords: readonly Int32Array[];
  readonly prevhashWords: Int32Array;
}

/** Throws a RangeError when the job cannot be mined (an nbits that encodes no target). */
export function prepareJob(job: Job, extranonce1: Uint8Array): PreparedJob {
  return {
    job,
    extranonce1,
    blockTarget: nbitsToTarget(job.nbits),
    coinbasePrefix: sha256Midstate(concatBytes(job.coinb1, extranonce1)),
    branchWords: job.merkleBranch.map((branch) => bytesToWords(branch)),
    prevhashWords: bytesToWords(swapPrevhashWords(job.prevhash)),
  };
}

export interface ShareCheckInput {
  readonly job: PreparedJob;
  /** The extranonce2 size the miner was given for this job. */
  readonly extranonce2Size: number;
  readonly submission: ShareSubmission;
  /** The version-rolling mask negotiated with this miner (0 when it never asked). */
  readonly versionMask: U32;
  /** The difficulty in force when this job was sent to this miner. */
  readonly assignedDifficulty: Difficulty;
  readonly maxNtimeAheadSeconds?: number;
}

/** What the proof of work of a well-formed share came to. */
export interface ShareWork {
  /** sha256d(header), internal byte order (display hex is this reversed). */
  readonly hash: Uint8Array;
  /** The hash as a little-endian 256-bit integer, the value compared with targets. */
  readonly hashValue: Target;
  /** T1 / hash. Never credit this: credit is the assigned difficulty. */
  readonly shareDifficulty: number;
  readonly isBlock: boolean;
  readonly header: Uint8Array;
  readonly version: U32;
  /** Internal byte order. */
  readonly merkleRoot: Uint8Array;
  /** Internal byte order. */
  readonly coinbaseTxid: Uint8Array;
}

export type ShareRejectReason =
  'bad-extranonce2-size' | 'version-bits-outside-mask' | 'ntime-out-of-window' | 'low-difficulty';

export type ShareVerdict =
  | { readonly valid: true; readonly reason: null; readonly work: ShareWork }
  | {
      readonly valid: false;
      readonly reason: 'low-difficulty';
      readonly detail: string;
      readonly work: ShareWork;
    }
  | {
      readonly valid: false;
      readonly reason: Exclude<ShareRejectReason, 'low-difficulty'>;
      readonly detail: string;
      readonly work: null;
    };

// Scratch words reused across calls: the check is synchronous, so one set suffices.
const root = new Int32Array(8);
const header = new Int32Array(20);
const hashWords = new Int32Array(8);

/**
 * Judges one share against the job as notified. Pure: the result depends only on the input.
 * Malformed structure (extranonce2 size, version bits, ntime) is refused before any hashing,
 * so a flood of junk costs no SHA-256.
 */
export function checkShare(input: ShareCheckInput): ShareVerdict {
  const { job: prepared, submission } = input;
  const job = prepared.job;

  if (submission.extranonce2.length !== input.extranonce2Size) {
    return {
      valid: false,
      reason: 'bad-extranonce2-size',
      detail: `extranonce2 is ${submission.extranonce2.length} bytes; this connection was given ${input.extranonce2Size}`,
      work: null,
    };
  }

  let version = job.version;
  if (submission.versionBits !== undefined) {
    const rolled = rollVersion(job.version, input.versionMask, submission.versionBits);
    if (!rolled.ok) {
      return {
        valid: false,
        reason: 'version-bits-outside-mask',
        detail: `version bits ${hex8(rolled.stray)} lie outside the negotiated mask ${hex8(input.versionMask)}`,
        work: null,
      };
    }
    version = rolled.version;
  }

  const maxAhead = input.maxNtimeAheadSeconds ?? DEFAULT_MAX_NTIME_AHEAD_SECONDS;
  if (submission.ntime < job.ntime || submission.ntime > job.ntime + maxAhead) {
    return {
      valid: false,
      reason: 'ntime-out-of-window',
      detail: `ntime ${hex8(submission.ntime)} is outside [${hex8(job.ntime)}, job ntime + ${maxAhead} s]`,
      work: null,
    };
  }

  sha256dFromMidstate(prepared.coinbasePrefix, [submission.extranonce2, job.coinb2], root);
  const coinbaseTxid = wordsToBytes(root);
  for (const branch of prepared.branchWords) sha256dPairWords(root, branch, root);

  header[0] = bswap32(version);
  header.set(prepared.prevhashWords, 1);
  header.set(root, 9);
  header[17] = bswap32(submission.ntime);
  header[18] = bswap32(job.nbits);
  header[19] = bswap32(submission.nonce);
  sha256dHeaderWords(header, hashWords);

  let hashValue = 0n;
  for (let i = 7; i >= 0; i--) hashValue = (hashValue << 32n) | BigInt(bswap32(hashWords[i]!));

  const work: ShareWork = {
    hash: wordsToBytes(hashWords),
    hashValue,
    shareDifficulty: shareDifficulty(hashValue),
    isBlock: hashValue <= prepared.blockTarget,
    header: wordsToBytes(header),
    version,
    merkleRoot: wordsToBytes(root),
    coinbaseTxid,
  };

  if (!meetsDifficulty(hashValue, input.assignedDifficulty)) {
    return {
      valid: false,
      reason: 'low-difficulty',
      detail: `share difficulty ${work.shareDifficulty.toPrecision(6)} is below the assigned ${input.assignedDifficulty}`,
      work,
    };
  }
  return { valid: true, reason: null, work };
}

function hex8(value: number): string {
  return value.toString(16).padStart(8, '0');
}
