import type { Sha256dBackend } from './sha256d-backend.js';
import { sha256dSelection } from './sha256d-native.js';
import type { PreparedJob } from './share-check.js';
import {
  OUT_HASH_OFFSET,
  SHARE_HASH_OUT_BYTES,
  shareRecordStride,
  writeShareRecord,
  type ShareHashInput,
} from './share-hash-job.js';

/**
 * The header hashes of many shares of one job in one native call, for re-verifying a ledger
 * (`hashrelay audit`): hashing only — the caller applies the rules (extranonce2 size, version
 * mask, ntime window) and compares. `version` is the full header version (already rolled).
 * Returns each sha256d(header), internal byte order, 32 bytes apart: share i at [32i, 32i + 32).
 */
export function hashShareBatch(
  prepared: PreparedJob,
  shares: readonly ShareHashInput[],
  sha256d: Sha256dBackend = sha256dSelection.backend,
): Uint8Array {
  let longest = 0;
  for (const share of shares) longest = Math.max(longest, share.extranonce2.length);
  const stride = shareRecordStride(longest);
  const records = new Uint8Array(stride * shares.length);
  shares.forEach((share, i) => {
    writeShareRecord(records, i * stride, share);
  });
  const out = new Uint8Array(SHARE_HASH_OUT_BYTES * shares.length);
  sha256d.hashShares(prepared.hashJob, records, stride, out);
  const hashes = new Uint8Array(32 * shares.length);
  for (let i = 0; i < shares.length; i++) {
    const at = SHARE_HASH_OUT_BYTES * i + OUT_HASH_OFFSET;
    hashes.set(out.subarray(at, at + 32), 32 * i);
  }
  return hashes;
}
