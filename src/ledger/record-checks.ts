import { isU32 } from '../work/types.js';
import type { JobRecord, RejectSummary, ShareRecord, TimeWindow, UpstreamVerdictUpdate } from './ledger.js';

/**
 * Checks a ledger backend makes before it queues a record: the facts the types cannot carry
 * (integers, u32 ranges, hash lengths, ids this ledger issued). A record that would break a
 * schema constraint is refused alone here, instead of failing the commit of every share
 * batched with it.
 */

export function checkJobRecord(job: JobRecord): void {
  checkMilliseconds('job.receivedAt', job.receivedAt);
  checkBytes('job.prevhash', job.prevhash, 32);
  job.merkleBranch.forEach((node, i) => {
    checkBytes(`job.merkleBranch[${i}]`, node, 32);
  });
  checkU32('job.version', job.version);
  checkU32('job.nbits', job.nbits);
  checkU32('job.ntime', job.ntime);
  if (!Number.isInteger(job.extranonce2Size) || job.extranonce2Size < 0 || job.extranonce2Size > 255) {
    throw new RangeError(`job.extranonce2Size must be an integer 0..255, got ${String(job.extranonce2Size)}`);
  }
}

/** `lastJobId` is the newest id this ledger handed out; a share may only name one of those. */
export function checkShareRecord(share: ShareRecord, lastJobId: number): void {
  checkMilliseconds('share.time', share.time);
  if (
    share.jobId !== null &&
    (!Number.isInteger(share.jobId) || share.jobId < 1 || share.jobId > lastJobId)
  ) {
    throw new RangeError(`share.jobId ${String(share.jobId)} is not a job id this ledger issued`);
  }
  if (share.extranonce2.length > 255) {
    throw new RangeError(`share.extranonce2 must be at most 255 bytes, got ${share.extranonce2.length}`);
  }
  checkU32('share.ntime', share.ntime);
  checkU32('share.nonce', share.nonce);
  if (share.versionBits !== null) checkU32('share.versionBits', share.versionBits);
  // 0 when the share was refused before any difficulty applied (unknown job, unauthorized worker).
  if (!Number.isFinite(share.assignedDifficulty) || share.assignedDifficulty < 0) {
    throw new RangeError(
      `share.assignedDifficulty must be ≥ 0 and finite, got ${String(share.assignedDifficulty)}`,
    );
  }
  if (share.shareDifficulty !== null && !(share.shareDifficulty >= 0)) {
    throw new RangeError(`share.shareDifficulty must be ≥ 0 or null, got ${String(share.shareDifficulty)}`);
  }
  if (share.hash !== null) checkBytes('share.hash', share.hash, 32);
}

/** checkShareRecord's refusal as a value (null if none), for recordShare, which rejects with it. */
export function shareRecordError(share: ShareRecord, lastJobId: number): Error | null {
  try {
    checkShareRecord(share, lastJobId);
    return null;
  } catch (error) {
    return error instanceof Error ? error : new Error(String(error));
  }
}

/** `lastShareId` is the newest share id this ledger handed out. */
export function checkVerdictUpdate(update: UpstreamVerdictUpdate, lastShareId: number): void {
  if (!Number.isInteger(update.shareId) || update.shareId < 1 || update.shareId > lastShareId) {
    throw new RangeError(`update.shareId ${String(update.shareId)} is not a share id this ledger issued`);
  }
}

export function checkRejectSummary(summary: RejectSummary): void {
  checkMilliseconds('summary.from', summary.from);
  checkMilliseconds('summary.to', summary.to);
  if (summary.to < summary.from) throw new RangeError('summary.to must not be before summary.from');
  if (!Number.isSafeInteger(summary.shares) || summary.shares < 1) {
    throw new RangeError(`summary.shares must be a positive integer, got ${String(summary.shares)}`);
  }
  if ((summary.verdict as string) === 'accepted') {
    throw new RangeError('summary.verdict: accepted shares are always recorded one by one');
  }
}

/** `pruneBefore`'s arguments: a time in integer ms, and a positive batch size. */
export function checkPrune(before: number, maxRows: number): void {
  checkMilliseconds('before', before);
  if (!Number.isSafeInteger(maxRows) || maxRows < 1) {
    throw new RangeError(`maxRows must be a positive integer, got ${String(maxRows)}`);
  }
}

export function checkWindow(window: TimeWindow): void {
  if (!Number.isFinite(window.from) || !Number.isFinite(window.to) || !(window.to > window.from)) {
    throw new RangeError(
      `window must be finite with to > from, got [${String(window.from)}, ${String(window.to)})`,
    );
  }
}

function checkMilliseconds(name: string, value: number): void {
  if (!Number.isSafeInteger(value)) {
    throw new RangeError(`${name} must be integer milliseconds since the epoch, got ${String(value)}`);
  }
}

function checkU32(name: string, value: number): void {
  if (!isU32(value)) throw new RangeError(`${name} must be a u32, got ${String(value)}`);
}

function checkBytes(name: string, value: Uint8Array, length: number): void {
  if (value.length !== length) {
    throw new RangeError(`${name} must be ${length} bytes, got ${value.length}`);
  }
}
