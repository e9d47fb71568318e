/**
 * Why a ledger call failed, as a code a caller can branch on:
 * - `LEDGER_LOCKED`: another process (or another open ledger in this one) writes this file.
 * - `LEDGER_OPEN_FAILED`: the file could not be opened as a ledger (not one, newer schema, unreadable).
 * - `LEDGER_COMMIT_FAILED`: the batch holding this record failed to commit; the record is not durable.
 * - `LEDGER_FAILED`: an earlier failure stopped the ledger; nothing more is accepted.
 * - `LEDGER_QUERY_FAILED`: a query went unanswered; recording goes on.
 * - `LEDGER_CLOSED`: `close()` was called.
 */
export type LedgerErrorCode =
  | 'LEDGER_LOCKED'
  | 'LEDGER_OPEN_FAILED'
  | 'LEDGER_COMMIT_FAILED'
  | 'LEDGER_FAILED'
  | 'LEDGER_QUERY_FAILED'
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
