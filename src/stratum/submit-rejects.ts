import { SubmitErrorCode } from './errors.js';
import type { ResponseError } from './messages.js';

/**
 * Why a pool refused a share, as far as its answer says: `stale` (job not found, or replaced),
 * `duplicate`, `low-difficulty` (ckpool's "Above target", Bitcoin Core's "high-hash"), or
 * `other`.
 */
export type SubmitRejectReason = 'stale' | 'duplicate' | 'low-difficulty' | 'other';

// Pools word the same reasons differently; the words decide before the code, because ckpool
// sends a bare string (read as code 20) and some pools put every refusal under 20.
const WORDINGS: readonly (readonly [RegExp, SubmitRejectReason])[] = [
  [/stale|\bjob\b.*\bnot found|invalid job ?id|unknown job|job expired/i, 'stale'],
  [/duplicate|\bdupe\b/i, 'duplicate'],
  [/above target|low[ -]?diff|difficulty too low|high[ -]hash/i, 'low-difficulty'],
];

const CODES = new Map<number, SubmitRejectReason>([
  [SubmitErrorCode.jobNotFound, 'stale'],
  [SubmitErrorCode.duplicateShare, 'duplicate'],
  [SubmitErrorCode.lowDifficultyShare, 'low-difficulty'],
]);

/** Reads a pool's refusal of a `mining.submit` (null: `result: false` with no error). */
export function classifySubmitReject(error: ResponseError | null): SubmitRejectReason {
  if (error === null) return 'other';
  for (const [wording, reason] of WORDINGS) if (wording.test(error.message)) return reason;
  return CODES.get(error.code) ?? 'other';
}

/** What the proxy knew of a share when it forwarded it. */
export interface ForwardedShare {
  /** On its upstream session's current job generation (not replaced by a clean job). */
  readonly fresh: boolean;
  /** Met the upstream's difficulty by the proxy's own hash (not only forwarded as a block). */
  readonly meetsUpstreamTarget: boolean;
}

/**
 * Whether a refusal counts against the pool's health. Only a disagreement on a share the proxy
 * judged fresh and good enough for the pool does: stale and duplicate answers are timing or the
 * miner's doing, and a block sent under the pool's difficulty is expected to be refused as a share.
 */
export function blamesPool(reason: SubmitRejectReason, share: ForwardedShare): boolean {
  if (reason === 'stale' || reason === 'duplicate') return false;
  return share.fresh && share.meetsUpstreamTarget;
}
