/**
 * Why a ledger call failed, as a code a caller can branch on:
 * - `LEDGER_LOCKED`: another process (or another open ledger in this one) writes this file.
 * - `LEDGER_OPEN_FAILED`: the file could not be opened as a ledger (not one, newer schema, unreadable).
 * - `LEDGER_COMMIT_FAILED`: the batch holding this record failed to commit; the record is not durable.
 * - `LEDGER_FAILED`: an earlier failure stopped the ledger; nothing more is accepted.
 * - `LEDGER_QUERY_FAILED`: a query went unanswered; recording goes on.
 * - `LEDGER_PRUNE_FAILED`: deleting old rows failed (nothing was deleted by that call); recording goes on.
 * - `LEDGER_CLOSED`: `close()` was called.
 */
export type LedgerErrorCode =
  | 'LEDGER_LOCKED'
  | 'LEDGER_OPEN_FAILED'
  | 'LEDGER_COMMIT_FAILED'
  | 'LEDGER_FAILED'
  | 'LEDGER_QUERY_FAILED'
  | 'LEDGER_PRUNE_FAILED'
  | 'LEDGER_CLOSED';

export class LedgerError extends Error {
  override readonly name = 'LedgerError';

  constructor(
    readonly code: LedgerErrorCode,
    message: string,
    options?: { readonly cause?: unknown },
  ) {
    super(message, options);
  }
}

/** A failed `pruneBefore`, as the ledger reports it: what failed, and that recording goes on. */
export function pruneFailed(ledgerName: string, detail: string, cause: unknown): LedgerError {
  if (cause instanceof LedgerError) return cause;
  return new LedgerError(
    'LEDGER_PRUNE_FAILED',
    `deleting old rows from ${ledgerName} failed (${detail}); nothing was deleted by this batch, ` +
      'recording goes on, and retention tries again at its next interval',
    { cause },
  );
}
