import { concatBytes } from './bytes.js';
import { swapPrevhashWords } from './header.js';
import type { Job } from './job.js';
import { bytesToWords, sha256Midstate, type Sha256Midstate } from './sha256.js';
import type { U32 } from './types.js';

/**
 * What hashing a share needs from its job, computed once per job and extranonce1: the coinbase
 * prefix's SHA-256 midstate, coinb2, the branches and the header's fixed fields. `layout` holds
 * it all as one byte array for the native addon (native/sha256.h documents the layout); the
 * other fields are the same values in the shapes the JavaScript SHA-256 works on.
 */
export interface ShareHashJob {
  readonly layout: Uint8Array;
  readonly coinbasePrefix: Sha256Midstate;
  readonly coinb2: Uint8Array;
  readonly branchWords: readonly Int32Array[];
  /** prevhash in header byte order, as 8 big-endian words. */
  readonly prevhashWords: Int32Array;
  /** The header's nbits field (LE32) read as one big-endian word. */
  readonly nbitsWord: number;
}

/** Fixed part of a job layout: midstate, four u32 fields and the header-order prevhash. */
const LAYOUT_FIXED_BYTES = 80;

/** A share record: version, ntime, nonce (LE32 as in the header), extranonce2 length (u32 LE), extranonce2. */
export const SHARE_RECORD_FIXED_BYTES = 16;
/** What hashing yields per share: header (80) ‖ sha256d(header) (32) ‖ coinbase txid (32). */
export const SHARE_HASH_OUT_BYTES = 144;
export const OUT_HASH_OFFSET = 80;
export const OUT_TXID_OFFSET = 112;
/** Where the merkle root sits in the header. */
export const HEADER_ROOT_OFFSET = 36;

export function prepareShareHashJob(job: Job, extranonce1: Uint8Array): ShareHashJob {
  const coinbasePrefix = sha256Midstate(concatBytes(job.coinb1, extranonce1));
  const prevhash = swapPrevhashWords(job.prevhash);
  const branches = concatBytes(...job.merkleBranch);
  if (branches.length !== 32 * job.merkleBranch.length)
    throw new RangeError('every merkle branch must be 32 bytes');
  const fixed = new Uint8Array(LAYOUT_FIXED_BYTES);
  const view = new DataView(fixed.buffer);
  coinbasePrefix.state.forEach((word, i) => {
    view.setInt32(4 * i, word, false);
  });
  view.setUint32(32, coinbasePrefix.length, true);
  view.setUint32(36, job.coinb2.length, true);
  view.setUint32(40, job.merkleBranch.length, true);
  view.setUint32(44, job.nbits, true);
  fixed.set(prevhash, 48);
  return {
    layout: concatBytes(fixed, coinbasePrefix.tail, job.coinb2, branches),
    coinbasePrefix,
    coinb2: job.coinb2,
    branchWords: job.merkleBranch.map((branch) => bytesToWords(branch)),
    prevhashWords: bytesToWords(prevhash),
    nbitsWord: view.getInt32(44, false),
  };
}

/** The proof-of-work fields of one share, with the header version already rolled. */
export interface ShareHashInput {
  readonly version: U32;
  readonly ntime: U32;
  readonly nonce: U32;
  readonly extranonce2: Uint8Array;
}

/** Bytes per record for shares whose extranonce2 is at most `maxExtranonce2Bytes`. */
export function shareRecordStride(maxExtranonce2Bytes: number): number {
  return SHARE_RECORD_FIXED_BYTES + maxExtranonce2Bytes;
}

/** Writes `share` as the record at `offset` of `records`. Byte stores, no DataView: this runs per share. */
export function writeShareRecord(records: Uint8Array, offset: number, share: ShareHashInput): void {
  writeUint32LE(records, offset, share.version);
  writeUint32LE(records, offset + 4, share.ntime);
  writeUint32LE(records, offset + 8, share.nonce);
  writeUint32LE(records, offset + 12, share.extranonce2.length);
  records.set(share.extranonce2, offset + SHARE_RECORD_FIXED_BYTES);
}

function writeUint32LE(bytes: Uint8Array, offset: number, value: number): void {
  bytes[offset] = value;
  bytes[offset + 1] = value >>> 8;
  bytes[offset + 2] = value >>> 16;
  bytes[offset + 3] = value >>> 24;
}

/**
 * How many records `shares` holds, after the checks the native addon makes too (with the same
 * messages), so both backends refuse the same calls.
 */
export function shareRecordCount(shares: Uint8Array, stride: number, out: Uint8Array): number {
  if (!Number.isInteger(stride) || stride < SHARE_RECORD_FIXED_BYTES) {
    throw new RangeError('stride must be at least 16 bytes');
  }
  if (shares.length % stride !== 0)
    throw new RangeError('shares must be a whole number of stride-byte records');
  const count = shares.length / stride;
  if (out.length !== SHARE_HASH_OUT_BYTES * count) throw new RangeError('out must be 144 bytes per share');
  return count;
}
