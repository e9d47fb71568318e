import type { Job, ShareSubmission } from './job.js';
import type { Sha256dBackend } from './sha256d-backend.js';
import { sha256dSelection } from './sha256d-native.js';
import {
  HEADER_ROOT_OFFSET,
  OUT_HASH_OFFSET,
  OUT_TXID_OFFSET,
  prepareShareHashJob,
  SHARE_HASH_OUT_BYTES,
  shareRecordStride,
  writeShareRecord,
  type ShareHashJob,
} from './share-hash-job.js';
import { meetsDifficulty, nbitsToTarget, shareDifficulty, type Target } from './target.js';
import type { Difficulty, U32 } from './types.js';
import { rollVersion } from './version-rolling.js';

/** ckpool's rule: a share's ntime may run at most this far past the job's. */
export const DEFAULT_MAX_NTIME_AHEAD_SECONDS = 7000;

/**
 * A job bound to one extranonce1, with everything that is the same for every share on it
 * computed once: what hashing needs (the coinbase prefix's midstate, branches, header fields)
 * and the block target.
 */
export interface PreparedJob {
  readonly job: Job;
  readonly extranonce1: Uint8Array;
  readonly blockTarget: Target;
  readonly hashJob: ShareHashJob;
}

/** Throws a RangeError when the job cannot be mined (an nbits that encodes no target). */
export function prepareJob(job: Job, extranonce1: Uint8Array): PreparedJob {
  return {
    job,
    extranonce1,
    blockTarget: nbitsToTarget(job.nbits),
    hashJob: prepareShareHashJob(job, extranonce1),
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

// Scratch reused across calls: the check is synchronous, so one record and one output suffice.
// The record is sized for the extranonce2 in hand (it changes only with the connection's size).
let record = new Uint8Array(shareRecordStride(8));
const hashed = new Uint8Array(SHARE_HASH_OUT_BYTES);
const hashedView = new DataView(hashed.buffer);

/**
 * Judges one share against the job as notified. Pure: the result depends only on the input.
 * Malformed structure (extranonce2 size, version bits, ntime) is refused before any hashing,
 * so a flood of junk costs no SHA-256. `sha256d` is the process's backend unless a test or the
 * bench names one.
 */
export function checkShare(
  input: ShareCheckInput,
  sha256d: Sha256dBackend = sha256dSelection.backend,
): ShareVerdict {
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

  const stride = shareRecordStride(submission.extranonce2.length);
  if (record.length !== stride) record = new Uint8Array(stride);
  writeShareRecord(record, 0, {
    version,
    ntime: submission.ntime,
    nonce: submission.nonce,
    extranonce2: submission.extranonce2,
  });
  // All the sha256d work of the share in one call: native (SHA-NI / ARMv8 SHA2) where it loaded.
  sha256d.hashShares(prepared.hashJob, record, stride, hashed);
  const hashValue = hashValueOf(hashedView, OUT_HASH_OFFSET);

  const work = new HashedShareWork(hashed, hashValue, prepared.blockTarget, version);

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

/**
 * ShareWork from the hashing's output. The header is kept as two pieces of at most 64 bytes,
 * which V8 allocates on its heap: one 80-byte copy costs more than the rest of the verdict
 * (measured). The whole header and the merkle root are put together when read (block
 * reports, the CLI).
 */
class HashedShareWork implements ShareWork {
  readonly hash: Uint8Array;
  readonly shareDifficulty: number;
  readonly isBlock: boolean;
  readonly coinbaseTxid: Uint8Array;
  private readonly headerHead: Uint8Array;
  private readonly headerTail: Uint8Array;

  constructor(
    hashed: Uint8Array,
    readonly hashValue: Target,
    blockTarget: Target,
    readonly version: U32,
  ) {
    this.hash = hashed.slice(OUT_HASH_OFFSET, OUT_HASH_OFFSET + 32);
    this.shareDifficulty = shareDifficulty(hashValue);
    this.isBlock = hashValue <= blockTarget;
    this.coinbaseTxid = hashed.slice(OUT_TXID_OFFSET, OUT_TXID_OFFSET + 32);
    this.headerHead = hashed.slice(0, 64);
    this.headerTail = hashed.slice(64, 80);
  }

  get header(): Uint8Array {
    const header = new Uint8Array(80);
    header.set(this.headerHead, 0);
    header.set(this.headerTail, 64);
    return header;
  }

  get merkleRoot(): Uint8Array {
    return this.header.slice(HEADER_ROOT_OFFSET, HEADER_ROOT_OFFSET + 32);
  }
}

/** The 32 bytes at `offset` as a little-endian 256-bit integer. */
function hashValueOf(view: DataView, offset: number): Target {
  return (
    (view.getBigUint64(offset + 24, true) << 192n) |
    (view.getBigUint64(offset + 16, true) << 128n) |
    (view.getBigUint64(offset + 8, true) << 64n) |
    view.getBigUint64(offset, true)
  );
}

function hex8(value: number): string {
  return value.toString(16).padStart(8, '0');
}
