import { resolve as resolvePath } from 'node:path';
import { Batch, GroupCommitQueue, type GroupCommitStats } from './group-commit-queue.js';
import type {
  JobRecord,
  Ledger,
  LedgerHealth,
  LedgerJobId,
  LedgerShareId,
  MinerTotals,
  PrunedRows,
  RejectSummary,
  ShareRecord,
  SharePageRequest,
  ShareSpan,
  StoredJob,
  StoredShare,
  TimeWindow,
  UpstreamTotals,
  UpstreamVerdictUpdate,
} from './ledger.js';
import { pruneFailed, type LedgerError } from './ledger-error.js';
import { joinBranch, rejectSummaryRow, type RejectSummaryRow } from './ledger-rows.js';
import { withDefaults } from './ledger-options.js';
import {
  checkJobRecord,
  checkPrune,
  checkRejectSummary,
  checkVerdictUpdate,
  shareRecordError,
} from './record-checks.js';
import {
  FILE_REPLACED,
  ThreadFailure,
  type JobRow,
  type Query,
  type QueryResults,
  type VerdictRow,
} from './sqlite-ledger-protocol.js';
import { ShareColumnsBuilder, type ShareColumns } from './sqlite-ledger-batch.js';
import { DatabaseThread } from './sqlite-ledger-thread.js';

/**
 * The SQLite ledger, the embedded default for one machine.
 *
 * The database lives on a worker thread (sqlite-ledger-worker.ts): better-sqlite3 is
 * synchronous and a durable commit waits for an fsync, which on the main thread would stall
 * every miner. Records queue here and go to the thread in batches (group commit,
 * group-commit-queue.ts): while the thread commits one batch the next accumulates, and when
 * the thread reports the commit every share of that batch resolves and the next batch goes.
 * The writer thread also checkpoints the WAL into the database file, between commits: measured,
 * a checkpoint beside the commits (on a thread of its own) slowed them more, its fsync racing
 * theirs for the disk. A second thread, started by the first query, answers queries, so a
 * long aggregate never delays a commit; a proxy, which never queries, never pays for it (a
 * thread is a V8 isolate: ~10 MiB).
 *
 * Ids are numbered here, after the largest id in the file, so `recordJob` can answer at once.
 * That is only sound with one writer per file: opening takes an exclusive lock on
 * `<path>-lock` and a second opener, in this process or another, fails with LEDGER_LOCKED.
 * Other processes may read the file (WAL mode) but must never write it.
 */

export interface SqliteLedgerOptions {
  /** Most records (jobs + shares + verdict updates) in one commit. Default 5000. */
  readonly maxBatchRecords?: number;
  /** A commit running longer than this fails the ledger (a hung disk). Default 60 000 ms. */
  readonly commitTimeoutMs?: number;
  /** How long a connection waits on another's lock (readers, checkpoints). Default 5000 ms. */
  readonly busyTimeoutMs?: number;
  /** How often the writer thread checkpoints the WAL into the database file. Default 1000 ms. */
  readonly checkpointIntervalMs?: number;
  /** After a full disk, how often the ledger tries again to commit. Default 1000 ms. */
  readonly retryIntervalMs?: number;
  /** After a full disk, the free space the ledger waits for before it records again. Default 64 MiB. */
  readonly recoveryFreeBytes?: number;
  /** Longest an upstream verdict or reject summary waits for a share to commit with. Default 250 ms. */
  readonly lateRecordDelayMs?: number;
}

export interface SqliteLedgerStats extends GroupCommitStats {
  /** Time the database thread spent in commits (including fsync), summed. */
  readonly commitSeconds: number;
}

export interface SqliteLedger extends Ledger {
  /** The ledger file, absolute. */
  readonly path: string;
  stats(): SqliteLedgerStats;
}

const DEFAULTS: Required<SqliteLedgerOptions> = {
  maxBatchRecords: 5000,
  commitTimeoutMs: 60_000,
  busyTimeoutMs: 5000,
  checkpointIntervalMs: 1000,
  retryIntervalMs: 1000,
  recoveryFreeBytes: 64 * 1024 * 1024,
  lateRecordDelayMs: 250,
};

/**
 * Opens (creating if absent) the SQLite ledger at `path`. Rejects with a LedgerError:
 * LEDGER_LOCKED when another ledger has the file open, LEDGER_OPEN_FAILED when it cannot be
 * used (not a ledger, written by a newer hashrelay, unreadable, missing directory).
 */
export async function openSqliteLedger(
  path: string,
  options: SqliteLedgerOptions = {},
): Promise<SqliteLedger> {
  const settings = withDefaults(options, DEFAULTS);
  const absolute = resolvePath(path);
  const { thread, ready } = await DatabaseThread.start({
    role: 'writer',
    path: absolute,
    busyTimeoutMs: settings.busyTimeoutMs,
    checkpointIntervalMs: settings.checkpointIntervalMs,
  });
  return new SqliteLedgerImpl(absolute, thread, ready.lastJobId, ready.lastShareId, settings);
}

/** Records committed together: jobs and verdicts as rows, shares as columns (sqlite-ledger-batch.ts). */
class SqliteBatch extends Batch {
  readonly jobs: JobRow[] = [];
  readonly shares = new ShareColumnsBuilder();
  readonly verdicts: VerdictRow[] = [];
  readonly summaries: RejectSummaryRow[] = [];

  get jobCount(): number {
    return this.jobs.length;
  }

  get shareCount(): number {
    return this.shares.size;
  }

  get verdictCount(): number {
    return this.verdicts.length;
  }

  get summaryCount(): number {
    return this.summaries.length;
  }
}

class SqliteLedgerImpl implements SqliteLedger {
  private readonly commits: GroupCommitQueue<SqliteBatch>;
  private reader: Promise<DatabaseThread> | null = null;

  constructor(
    readonly path: string,
    private readonly writer: DatabaseThread,
    private lastJobId: number,
    private lastShareId: number,
    private readonly settings: Required<SqliteLedgerOptions>,
  ) {
    this.commits = new GroupCommitQueue(settings, {
      name: `the SQLite ledger ${path}`,
      newBatch: () => new SqliteBatch(),
      commit: (batch) => this.commit(batch),
      timeoutAdvice: () => '; the disk may be hung: check it (dmesg), then restart the process',
      commitFailure: (error) => {
        const code = error instanceof ThreadFailure ? error.code : 'ERR_UNKNOWN';
        return { code, detail: `${code}: ${error instanceof Error ? error.message : String(error)}` };
      },
      commitAdvice: ADVICE,
      otherCommitAdvice: 'restart the process; if it happens again, check the disk and the ledger file',
      queryFailure: (error) => (error instanceof ThreadFailure ? `${error.code}: ${error.message}` : null),
      closeFailure: (error) => String(error),
      release: () => this.release(),
      abandon: (failure) => this.abandon(failure),
      recovery: {
        retryIntervalMs: settings.retryIntervalMs,
        transientAdvice: (error) =>
          error instanceof ThreadFailure && error.code === 'SQLITE_FULL'
            ? `the disk holding the ledger is full: free space; recording resumes by itself once ` +
              `${Math.round(settings.recoveryFreeBytes / 1024)} KiB are free`
            : null,
        // The failed batch's shares were refused; its jobs must still land before any share names them.
        carryOver: (from, into) => {
          into.jobs.push(...from.jobs);
          into.verdicts.push(...from.verdicts);
          into.summaries.push(...from.summaries);
        },
        probe: async () => {
          await this.writer.request({ type: 'probe', minFreeBytes: settings.recoveryFreeBytes });
        },
      },
    });
    writer.onDeath = (error) => {
      this.commits.fail(error);
    };
  }

  recordJob(job: JobRecord): LedgerJobId {
    const refusal = this.commits.refusal();
    if (refusal !== null) throw refusal;
    checkJobRecord(job);
    const id = this.lastJobId + 1;
    this.commits.batchForNewRecord().jobs.push(jobRow(id, job));
    this.lastJobId = id;
    return id;
  }

  recordShare(share: ShareRecord): Promise<LedgerShareId> {
    const refusal = this.commits.shareRefusal() ?? shareRecordError(share, this.lastJobId);
    if (refusal !== null) return Promise.reject(refusal);
    const id = this.lastShareId + 1;
    const batch = this.commits.batchForNewRecord();
    batch.shares.add(id, share);
    this.lastShareId = id;
    return batch.committed.then(() => id);
  }

  recordUpstreamVerdict(update: UpstreamVerdictUpdate): void {
    if (!this.commits.takesVerdict()) return;
    checkVerdictUpdate(update, this.lastShareId);
    this.commits.batchForLateRecord().verdicts.push([update.verdict, update.error, update.shareId]);
  }

  recordRejectSummary(summary: RejectSummary): void {
    if (this.commits.refusal() !== null) return;
    checkRejectSummary(summary);
    this.commits.batchForLateRecord().summaries.push(rejectSummaryRow(summary));
  }

  flush(): Promise<void> {
    return this.commits.flush();
  }

  health(): LedgerHealth {
    return this.commits.health();
  }

  rejectSummaries(window: TimeWindow): Promise<RejectSummary[]> {
    return this.query({ kind: 'rejectSummaries', window });
  }

  minerTotals(window: TimeWindow): Promise<MinerTotals[]> {
    return this.query({ kind: 'minerTotals', window });
  }

  upstreamTotals(window: TimeWindow): Promise<UpstreamTotals[]> {
    return this.query({ kind: 'upstreamTotals', window });
  }

  shares(window: TimeWindow): Promise<StoredShare[]> {
    return this.query({ kind: 'shares', window });
  }

  job(id: LedgerJobId): Promise<StoredJob | undefined> {
    return this.query({ kind: 'job', id });
  }

  shareSpan(window: TimeWindow): Promise<ShareSpan> {
    return this.query({ kind: 'shareSpan', window });
  }

  sharePage(window: TimeWindow, page: SharePageRequest): Promise<ShareColumns> {
    return this.query({ kind: 'sharePage', window, page });
  }

  /**
   * On the writer thread, between commits: a commit waits behind at most one prune batch
   * (tens of milliseconds for a thousand rows), never behind a whole retention pass.
   */
  async pruneBefore(before: number, maxRows: number): Promise<PrunedRows> {
    const refusal = this.commits.refusal();
    if (refusal !== null) throw refusal;
    checkPrune(before, maxRows);
    try {
      const { value } = await this.writer.request({ type: 'prune', before, maxRows });
      return value as PrunedRows;
    } catch (error) {
      const detail = error instanceof ThreadFailure ? `${error.code}: ${error.message}` : String(error);
      throw pruneFailed(`the SQLite ledger ${this.path}`, detail, error);
    }
  }

  /** Flushes, then stops both threads. Rejects if the ledger failed (before or during close). */
  close(): Promise<void> {
    return this.commits.close();
  }

  stats(): SqliteLedgerStats {
    return this.commits.stats();
  }

  /** The database thread's own time in the commit (including fsync) is what stats count. */
  private async commit(batch: SqliteBatch): Promise<number> {
    const { jobs, verdicts, summaries } = batch;
    const { columns: shares, transfer } = batch.shares.finish();
    const { seconds } = await this.writer.request(
      { type: 'commit', batch: { jobs, shares, verdicts, summaries } },
      transfer,
    );
    return seconds;
  }

  private async release(): Promise<void> {
    const reader = this.reader;
    this.reader = null;
    await (await reader?.catch(() => null))?.close();
    await this.writer.close();
  }

  private async abandon(failure: LedgerError): Promise<void> {
    const reader = this.reader;
    this.reader = null;
    await Promise.all([
      this.writer.terminate(failure),
      reader?.then(
        (thread) => thread.terminate(failure),
        () => undefined,
      ),
    ]);
  }

  private query<K extends Query['kind']>(query: Query & { kind: K }): Promise<QueryResults[K]> {
    return this.commits.query(query.kind, 'window' in query ? query.window : null, async () => {
      const reader = await this.startReader();
      const { value } = await reader.request({ type: 'query', query });
      return value as QueryResults[K];
    });
  }

  /** The reader thread, started by the first query and again by the next one if it died. */
  startReader(): Promise<DatabaseThread> {
    if (this.reader !== null) return this.reader;
    const starting = DatabaseThread.start({
      role: 'reader',
      path: this.path,
      busyTimeoutMs: this.settings.busyTimeoutMs,
      checkpointIntervalMs: 0,
    }).then(({ thread }) => {
      thread.onDeath = () => {
        if (this.reader === starting) this.reader = null;
      };
      return thread;
    });
    starting.catch(() => {
      if (this.reader === starting) this.reader = null;
    });
    this.reader = starting;
    return starting;
  }
}

/** What an operator should do about a failed commit, by SQLite's (or our) error code. */
const ADVICE: readonly (readonly [codePrefix: string, advice: string])[] = [
  [
    FILE_REPLACED,
    'commits since then went to a deleted file: put the ledger file back (or move the damaged one aside) and restart the process',
  ],
  ['SQLITE_FULL', 'the disk holding the ledger is full: free space, then restart the process'],
  [
    'SQLITE_READONLY',
    'the ledger file or its directory is not writable: fix permissions or the mount, then restart the process',
  ],
  ['SQLITE_IOERR', 'the disk reported an I/O error: check it (dmesg, SMART), then restart the process'],
  ['SQLITE_CORRUPT', 'the file is damaged: move it aside, restore a backup, and restart the process'],
  ['SQLITE_NOTADB', 'the file is damaged: move it aside, restore a backup, and restart the process'],
  [
    'SQLITE_CONSTRAINT',
    'a record broke a schema constraint, which is a bug in hashrelay: report it with this message, then restart the process',
  ],
];

/** A job as the database thread binds it, holding its own copies of the caller's bytes. */
function jobRow(id: LedgerJobId, job: JobRecord): JobRow {
  return [
    id,
    job.receivedAt,
    job.upstream,
    job.upstreamSession,
    job.upstreamJobId,
    job.proxyJobId,
    copy(job.prevhash),
    copy(job.coinb1),
    copy(job.coinb2),
    joinBranch(job.merkleBranch),
    job.version,
    job.nbits,
    job.ntime,
    job.cleanJobs ? 1 : 0,
    copy(job.extranonce1),
    job.extranonce2Size,
  ];
}

/** A copy with a buffer of its own: the caller may reuse its array before the batch is sent. */
function copy(bytes: Uint8Array): Uint8Array {
  return Uint8Array.prototype.slice.call(bytes);
}
