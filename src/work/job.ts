import type { JobId, U32 } from './types.js';

/**
 * A job exactly as `mining.notify` carried it, decoded from hex into bytes and numbers.
 * Byte fields keep the wire's byte order: `prevhash` is still word-swapped and each merkle
 * branch is in internal (hash) byte order, so a job can be re-serialised bit for bit.
 */
export interface Job {
  readonly jobId: JobId;
  /** 32 bytes, as sent: each 4-byte word byte-swapped relative to the header. */
  readonly prevhash: Uint8Array;
  readonly coinb1: Uint8Array;
  readonly coinb2: Uint8Array;
  /** Each 32 bytes, in the order they are hashed in. */
  readonly merkleBranch: readonly Uint8Array[];
  readonly version: U32;
  readonly nbits: U32;
  readonly ntime: U32;
  readonly cleanJobs: boolean;
}

/** The proof-of-work part of a `mining.submit`. */
export interface ShareSubmission {
  readonly extranonce2: Uint8Array;
  readonly ntime: U32;
  readonly nonce: U32;
  /** The 6th submit parameter (BIP 310), absent when the miner does not roll versions. */
  readonly versionBits: U32 | undefined;
}
