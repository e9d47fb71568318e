import type { LedgerJobId } from '../src/ledger/ledger.js';
import { serializeNotify } from '../src/stratum/serialize.js';
import { concatBytes } from '../src/work/bytes.js';
import type { Job } from '../src/work/job.js';
import { difficultyToTarget, type Target } from '../src/work/target.js';
import { toJobId, type JobId } from '../src/work/types.js';
import type { ProofScope } from './proof-scopes.js';
import type { SessionJob, UpstreamSession } from './upstream-session.js';

/**
 * An upstream job folded for miners (STRATUM.md, the extranonce fold):
 *   coinb1' = coinb1 ‖ en1_upstream ‖ pad, coinb2' = coinb2, miner en1 = its slot,
 * so every miner on the session hashes exactly what the session expects with
 * en2_upstream = pad ‖ slot ‖ en2_miner. The notify is the same bytes for all of them.
 */
export interface ProxyJob {
  readonly id: JobId;
  readonly session: UpstreamSession;
  readonly sessionJob: SessionJob;
  readonly minerJob: Job;
  readonly pad: Uint8Array;
  /** The upstream difficulty's target: a share is forwarded only if it meets it. */
  readonly upstreamTarget: Target;
  /** mining.notify as the upstream flagged it, and the same job with clean_jobs forced on. */
  readonly notify: Buffer;
  readonly notifyClean: Buffer;
  readonly ledgerJobId: LedgerJobId;
  /** Proofs already judged on this job's prevhash, whatever job id they came under. */
  readonly proofScope: ProofScope;
}

export type FoldResult =
  | { readonly ok: true; readonly minerJob: Job; readonly pad: Uint8Array }
  | { readonly ok: false; readonly problem: string };

export function foldJob(
  sessionJob: SessionJob,
  id: JobId,
  slotBytes: number,
  minerExtranonce2Size: number,
): FoldResult {
  const padBytes = sessionJob.extranonce2Size - slotBytes - minerExtranonce2Size;
  if (padBytes < 0) {
    return {
      ok: false,
      problem:
        `the pool gives extranonce2_size ${sessionJob.extranonce2Size}; hashrelay needs ${slotBytes + minerExtranonce2Size} ` +
        `(${slotBytes}-byte miner slot + ${minerExtranonce2Size} for the miner): lower extranonce.slotBytes or ` +
        'extranonce.minerExtranonce2Size, or use a pool port with a larger extranonce2',
    };
  }
  const pad = new Uint8Array(padBytes);
  const job = sessionJob.job;
  return {
    ok: true,
    pad,
    minerJob: { ...job, jobId: id, coinb1: concatBytes(job.coinb1, sessionJob.extranonce1, pad) },
  };
}

export function makeProxyJob(
  session: UpstreamSession,
  sessionJob: SessionJob,
  id: string,
  fold: { minerJob: Job; pad: Uint8Array },
  ledgerJobId: LedgerJobId,
  proofScope: ProofScope,
): ProxyJob {
  const notify = serializeNotify(fold.minerJob);
  return {
    id: toJobId(id),
    session,
    sessionJob,
    minerJob: fold.minerJob,
    pad: fold.pad,
    upstreamTarget: difficultyToTarget(sessionJob.difficulty),
    notify,
    notifyClean: fold.minerJob.cleanJobs ? notify : serializeNotify({ ...fold.minerJob, cleanJobs: true }),
    ledgerJobId,
    proofScope,
  };
}
