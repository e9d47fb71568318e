import type {
  MinerTotals,
  RejectSummary,
  SharePageRequest,
  ShareSpan,
  StoredJob,
  StoredShare,
  TimeWindow,
  UpstreamTotals,
} from './ledger.js';
import type { RejectSummaryRow, JobRow as TableJobRow, ShareRow as TableShareRow } from './ledger-rows.js';
import type { ShareColumns } from './sqlite-ledger-batch.js';

/**
 * Messages between the main thread and the threads that own the SQLite connections. Jobs and
 * verdict updates cross as tuples in column order, bound to SQL as they are; shares, the bulk,
 * cross as transferred columns (sqlite-ledger-batch.ts).
 */

/** A `jobs` row as bound to SQL (ledger-rows.ts): flags are 0 or 1. */
export type JobRow = Readonly<TableJobRow<0 | 1>>;

/** A `shares` row as inserted (ledger-rows.ts): the difficulty a REAL, flags 0 or 1. */
export type ShareRow = Readonly<TableShareRow<number, 0 | 1>>;

/** An upstream verdict update, in the order the UPDATE binds it. */
export type VerdictRow = readonly [upstreamVerdict: string, upstreamError: string | null, shareId: number];

export interface CommitBatch {
  readonly jobs: readonly JobRow[];
  readonly shares: ShareColumns;
  readonly verdicts: readonly VerdictRow[];
  readonly summaries: readonly RejectSummaryRow[];
}

export interface QueryResults {
  minerTotals: MinerTotals[];
  upstreamTotals: UpstreamTotals[];
  shares: StoredShare[];
  job: StoredJob | undefined;
  shareSpan: ShareSpan;
  sharePage: ShareColumns;
  rejectSummaries: RejectSummary[];
}

export type Query =
  | { readonly kind: 'minerTotals'; readonly window: TimeWindow }
  | { readonly kind: 'upstreamTotals'; readonly window: TimeWindow }
  | { readonly kind: 'shares'; readonly window: TimeWindow }
  | { readonly kind: 'job'; readonly id: number }
  | { readonly kind: 'shareSpan'; readonly window: TimeWindow }
  | { readonly kind: 'sharePage'; readonly window: TimeWindow; readonly page: SharePageRequest }
  | { readonly kind: 'rejectSummaries'; readonly window: TimeWindow };

/** What a database thread is started with (its `workerData`). */
export interface ThreadInit {
  /**
   * The writer holds the lock, commits, and checkpoints the WAL between commits. The reader
   * answers queries on a connection of its own, off the commit path.
   */
  readonly role: 'writer' | 'reader';
  readonly path: string;
  readonly busyTimeoutMs: number;
  /** Writer only: how often it checkpoints; 0 for never. */
  readonly checkpointIntervalMs: number;
}

export type ToThread =
  | { readonly type: 'commit'; readonly seq: number; readonly batch: CommitBatch }
  | { readonly type: 'query'; readonly seq: number; readonly query: Query }
  /** Writer only: one transaction of `pruneBefore` (its reply's value is the PrunedRows). */
  | { readonly type: 'prune'; readonly seq: number; readonly before: number; readonly maxRows: number }
  /** Writer only: fails with SQLITE_FULL while the disk has less than `minFreeBytes` free or refuses a write. */
  | { readonly type: 'probe'; readonly seq: number; readonly minFreeBytes: number }
  | { readonly type: 'close'; readonly seq: number };

/** An error as it crosses threads: SQLite's code (or ours) and its message. */
export interface ThreadError {
  readonly code: string;
  readonly message: string;
}

export type FromThread =
  | { readonly type: 'ready'; readonly lastJobId: number; readonly lastShareId: number }
  | { readonly type: 'open-failed'; readonly error: ThreadError }
  | { readonly type: 'done'; readonly seq: number; readonly value: unknown; readonly seconds: number }
  | { readonly type: 'failed'; readonly seq: number; readonly error: ThreadError };

/** Error codes the database thread raises itself (SQLite's own are `SQLITE_*`). */
export const LOCKED = 'LEDGER_LOCKED';
export const FILE_REPLACED = 'LEDGER_FILE_REPLACED';
export const NOT_A_LEDGER = 'LEDGER_NOT_A_LEDGER';
export const NEWER_SCHEMA = 'LEDGER_NEWER_SCHEMA';

/** An error raised on a database thread, or one that crossed from it, with its code. */
export class ThreadFailure extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}
