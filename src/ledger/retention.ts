/**
 * How long the ledger keeps its rows. The validator scores the work since its last post (a
 * tempo, ~72 minutes, at most two by default), and an audit of a posted window needs that
 * window's shares and jobs: a retention shorter than a day would delete what those still read.
 */

/** The shortest retention allowed (besides 0, keep everything). */
export const MIN_RETENTION_DAYS = 1;

/** 30 days: a month of evidence to audit posted weights against, and a bounded disk. */
export const DEFAULT_RETENTION_DAYS = 30;

export const DAY_MS = 86_400_000;

/** Why `days` is not a retention, or undefined if it is (0 keeps everything). */
export function retentionProblem(days: number): string | undefined {
  if (!Number.isFinite(days) || days < 0) return `must be a number of days ≥ 0, got ${String(days)}`;
  if (days > 0 && days < MIN_RETENTION_DAYS) {
    return (
      `${days} days is shorter than the ${MIN_RETENTION_DAYS} day the ledger must keep: the validator ` +
      'scores the work since its last post and an audit re-reads posted windows, so rows that young are ' +
      `still needed; use ${MIN_RETENTION_DAYS} or more, or 0 to keep everything`
    );
  }
  return undefined;
}

/** The time before which rows go: whole milliseconds, `days` before `nowMs`. */
export function retentionCutoff(nowMs: number, days: number): number {
  return Math.floor(nowMs - days * DAY_MS);
}
