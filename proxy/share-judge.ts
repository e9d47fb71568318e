import type { LocalVerdict } from '../src/ledger/ledger.js';
import { SubmitErrorCode } from '../src/stratum/errors.js';
import type { SubmitRequest } from '../src/stratum/messages.js';
import { concatBytes } from '../src/work/bytes.js';
import { checkShare, prepareJob, type ShareWork } from '../src/work/share-check.js';
import type { Target } from '../src/work/target.js';
import type { MinerJob } from './miner-connection.js';

export interface Judgement {
  readonly verdict: LocalVerdict;
  /** Zero for an accepted share, else the Stratum error code the miner is sent. */
  readonly code: number;
  readonly message: string;
  readonly work: ShareWork | null;
  /** What the upstream sees: pad ‖ slot ‖ miner extranonce2. */
  readonly upstreamExtranonce2: Uint8Array;
  /** Meets the upstream's difficulty (or is a block) and was not refused for its form. */
  readonly forward: boolean;
  /** Meets the upstream's difficulty by our own hash: the pool refusing it is a disagreement. */
  readonly meetsUpstreamTarget: boolean;
  /** A block for the network: meets nbits and the floor of `blocks.minDifficulty`. */
  readonly block: boolean;
}

export interface JudgeContext {
  readonly slot: Uint8Array;
  readonly minerExtranonce2Size: number;
  readonly versionMask: number;
  readonly ntimeMaxAheadSeconds: number;
  /**
   * The target of `blocks.minDifficulty`: a share meeting nbits is a block only if it meets this
   * too (regtest's nbits is met by every share; no real network's block is under difficulty 1).
   */
  readonly blockFloorTarget: Target;
}

/**
 * Judges one submit against the job as it was sent to this miner: unknown job, stale, form
 * (extranonce2 size, version bits, ntime), proof of work at the assigned difficulty, and
 * duplicates keyed on the header hash across the job's whole prevhash epoch (the hash covers
 * the upstream-visible tuple: session, job content, full extranonce2, ntime, nonce, version). Stale shares are hashed too, so a share the pool
 * may still take is forwarded, but they are never credited.
 */
export function judgeShare(
  entry: MinerJob | undefined,
  request: SubmitRequest,
  context: JudgeContext,
): Judgement {
  if (entry === undefined) {
    return refuse(
      'unknown-job',
      SubmitErrorCode.jobNotFound,
      `job ${request.jobId.slice(0, 64)} is not one sent to this connection (stale or unknown)`,
      request.extranonce2,
    );
  }
  const { job } = entry;
  const upstreamExtranonce2 = concatBytes(job.pad, context.slot, request.extranonce2);
  entry.prepared ??= prepareJob(job.minerJob, context.slot);
  const verdict = checkShare({
    job: entry.prepared,
    extranonce2Size: context.minerExtranonce2Size,
    submission: request,
    versionMask: context.versionMask,
    assignedDifficulty: entry.difficulty,
    maxNtimeAheadSeconds: context.ntimeMaxAheadSeconds,
  });
  if (verdict.work === null) {
    return refuse(verdict.reason, SubmitErrorCode.other, verdict.detail, upstreamExtranonce2);
  }
  const work = verdict.work;
  const block = work.isBlock && work.hashValue <= context.blockFloorTarget;
  const meetsUpstreamTarget = work.hashValue <= job.upstreamTarget;
  const forwardable = meetsUpstreamTarget || block;
  const measured = { work, upstreamExtranonce2, meetsUpstreamTarget, block };

  // The chain moved on from this prevhash everywhere: nothing on it can be credited, and its
  // proofs are no longer remembered, so it is never forwarded either.
  if (job.proofScope.dropped) {
    return {
      verdict: 'stale',
      code: SubmitErrorCode.jobNotFound,
      message: 'stale share: the block it builds on was replaced',
      ...measured,
      forward: false,
    };
  }
  // The header hash is the proof: the same one under any job id (a re-sent job, a reconnected
  // session, a reused slot) is a duplicate.
  if (!job.proofScope.proofs.add(work.hash)) {
    return {
      verdict: 'duplicate',
      code: SubmitErrorCode.duplicateShare,
      message: 'duplicate share: this proof of work was already submitted',
      ...measured,
      forward: false,
    };
  }

  if (job.sessionJob.generation < job.session.generation) {
    return {
      verdict: 'stale',
      code: SubmitErrorCode.jobNotFound,
      message: 'stale share: the job was replaced by a clean job',
      ...measured,
      forward: forwardable && verdict.valid,
    };
  }
  if (!verdict.valid) {
    // A block below the assigned difficulty (only if assigned > network difficulty) still goes up.
    return {
      verdict: verdict.reason,
      code: SubmitErrorCode.lowDifficultyShare,
      message: verdict.detail,
      ...measured,
      forward: block,
    };
  }
  return { verdict: 'accepted', code: 0, message: '', ...measured, forward: forwardable };
}

function refuse(
  verdict: LocalVerdict,
  code: number,
  message: string,
  upstreamExtranonce2: Uint8Array,
): Judgement {
  return {
    verdict,
    code,
    message,
    work: null,
    upstreamExtranonce2,
    forward: false,
    meetsUpstreamTarget: false,
    block: false,
  };
}
