import type { LocalVerdict, UpstreamVerdict } from './ledger.js';

// Records over the verdict types: adding a verdict to ledger.ts without listing it here fails
// the build. Key order is the order totals and schema checks list them.
const LOCAL: Record<LocalVerdict, true> = {
  accepted: true,
  'low-difficulty': true,
  stale: true,
  duplicate: true,
  'unknown-job': true,
  'ntime-out-of-window': true,
  'version-bits-outside-mask': true,
  'bad-extranonce2-size': true,
  'unauthorized-worker': true,
};

const UPSTREAM: Record<UpstreamVerdict, true> = {
  pending: true,
  accepted: true,
  rejected: true,
  'not-forwarded': true,
  'no-answer': true,
};

/** Every local verdict. */
export const LOCAL_VERDICTS = Object.keys(LOCAL) as readonly LocalVerdict[];

/** Every upstream verdict. */
export const UPSTREAM_VERDICTS = Object.keys(UPSTREAM) as readonly UpstreamVerdict[];

/** Every local verdict but `accepted`: what a reject summary counts. */
export const REJECTED_VERDICTS = LOCAL_VERDICTS.filter((verdict) => verdict !== 'accepted');
