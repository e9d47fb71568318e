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
 *
 * Variant v of a job writes v (big-endian) into the pad: the same upstream job with a coinbase
 * space of its own, for a miner sent that job before (./job-variants.ts). Variant 0 has a zero pad.
 */
export interface ProxyJob {
  readonly id: JobId;
  readonly session: UpstreamSession;
  readonly sessionJob: SessionJob;
  readonly minerJob: Job;
  readonly pad: Uint8Array;
  readonly variant: number;
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
  | { readonly ok: true; readonly minerJob: Job; readonly pad: Uint8Array; readonly variant: number }
  | { readonly ok: false; readonly problem: string };

export function foldJob(
  sessionJob: SessionJob,
  id: JobId,
  slotBytes: number,
  minerExtranonce2Size: number,
  variant = 0,
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
  if (variant >= variantsOf(padBytes))
    return { ok: false, problem: `variant ${variant} does not fit a ${padBytes}-byte pad` };
  const pad = new Uint8Array(padBytes);
  for (let i = padBytes - 1, rest = variant; i >= 0 && rest > 0; i--, rest = Math.floor(rest / 256))
    pad[i] = rest % 256;
  const job = sessionJob.job;
  return {
    ok: true,
    pad,
    variant,
    minerJob: { ...job, jobId: id, coinb1: concatBytes(job.coinb1, sessionJob.extranonce1, pad) },
  };
}

/** How many distinct pads (coinbase spaces per slot) a pad of this many bytes gives. */
export function variantsOf(padBytes: number): number {
  return 256 ** Math.min(padBytes, 6);
}

export function makeProxyJob(
  session: UpstreamSession,
  sessionJob: SessionJob,
  id: string,
  fold: { minerJob: Job; pad: Uint8Array; variant: number },
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
    variant: fold.variant,
    upstreamTarget: difficultyToTarget(sessionJob.difficulty),
    notify,
    notifyClean: fold.minerJob.cleanJobs ? notify : serializeNotify({ ...fold.minerJob, cleanJobs: true }),
    ledgerJobId,
    proofScope,
  };
}
