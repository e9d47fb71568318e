import { resolve as resolvePath } from 'node:path';
import type {
  JobRecord,
  Ledger,
  LedgerJobId,
  LedgerShareId,
  MinerTotals,
  ShareRecord,
  StoredJob,
  StoredShare,
  TimeWindow,
  UpstreamTotals,
  UpstreamVerdictUpdate,
} from './ledger.js';
import { LedgerError } from './ledger-error.js';
import { checkJobRecord, checkShareRecord, checkVerdictUpdate, checkWindow } from './record-checks.js';
import {
  FILE_REPLACED,
  ThreadFailure,
  type JobRow,
  type Query,
  type QueryResults,
  type VerdictRow,
} from './sqlite-ledger-protocol.js';
import { ShareColumnsBuilder } from './sqlite-ledger-batch.js';
import { DatabaseThread } from './sqlite-ledger-thread.js';

/**
 * The SQLite ledger, the embedded default for one machine.
 *
 * The database lives on a worker thread (sqlite-ledger-worker.ts): better-sqlite3 is
 * synchronous and a durable commit waits for an fsync, which on the main thread would stall
 * every miner. Records queue here; while the thread commits one batch the next accumulates,
 * and when the thread reports the commit every share of that batch resolves and the next
 * batch goes (group commit: latency about one commit, throughput growing with the batch).
 * A second thread answers queries and checkpoints the WAL, so neither a long aggregate nor
 * the database file's fsync delays a commit.
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
  /** How often the reader thread checkpoints the WAL into the database file. Default 1000 ms. */
  readonly checkpointIntervalMs?: number;
}

export interface SqliteLedgerStats {
  /** Transactions committed. */
  readonly commits: number;
  readonly jobsCommitted: number;
  readonly sharesCommitted: number;
  readonly verdictsCommitted: number;
  /** Upstream verdicts that arrived after close or failure, and were not recorded. */
  readonly verdictsDropped: number;
  /** Records in the largest commit so far. */
  readonly largestCommit: number;
  /** Time the database thread spent in commits (including fsync), summed. */
  readonly commitSeconds: number;
  /** Records waiting for the next commit. */
  readonly queuedRecords: number;
  /** Records in the commit under way. */
  readonly committingRecords: number;
}

export interface SqliteLedger extends Ledger {
  /** The ledger file, absolute. */
  readonly path: string;
  stats(): SqliteLedgerStats;
}

const DEFAULTS = {
  maxBatchRecords: 5000,
  commitTimeoutMs: 60_000,
  busyTimeoutMs: 5000,
  checkpointIntervalMs: 1000,
} as const;

/**
 * Opens (creating if absent) the SQLite ledger at `path`. Rejects with a LedgerError:
 * LEDGER_LOCKED when another ledger has the file open, LEDGER_OPEN_FAILED when it cannot be
 * used (not a ledger, written by a newer hashrelay, unreadable, missing directory).
 */
export async function openSqliteLedger(
  path: string,
  options: SqliteLedgerOptions = {},
): Promise<SqliteLedger> {
  const settings: Required<SqliteLedgerOptions> = {
    maxBatchRecords: options.maxBatchRecords ?? DEFAULTS.maxBatchRecords,
    commitTimeoutMs: options.commitTimeoutMs ?? DEFAULTS.commitTimeoutMs,
    busyTimeoutMs: options.busyTimeoutMs ?? DEFAULTS.busyTimeoutMs,
    checkpointIntervalMs: options.checkpointIntervalMs ?? DEFAULTS.checkpointIntervalMs,
  };
  for (const [name, value] of Object.entries(settings)) {
    if (!Number.isSafeInteger(value) || value < 1) {
      throw new RangeError(`options.${name} must be a positive integer, got ${String(value)}`);
    }
  }
  const absolute = resolvePath(path);
  const { thread, ready } = await DatabaseThread.start({
    role: 'writer',
    path: absolute,
    busyTimeoutMs: settings.busyTimeoutMs,
    checkpointIntervalMs: settings.checkpointIntervalMs,
  });
  const ledger = new SqliteLedgerImpl(absolute, thread, ready.lastJobId, ready.lastShareId, settings);
  try {
    await ledger.startReader();
  } catch (error) {
    await thread.terminate(error instanceof Error ? error : new Error(String(error)));
    throw error;
  }
  return ledger;
}

/** Records committed together, and the one promise their callers wait on. */
class Batch {
  readonly jobs: JobRow[] = [];
  readonly shares = new ShareColumnsBuilder();
  readonly verdicts: VerdictRow[] = [];
  readonly committed: Promise<void>;
  resolve!: () => void;
  reject!: (error: Error) => void;

  constructor() {
    this.committed = new Promise<void>((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
    });
    // A batch of jobs or verdicts alone may have nobody waiting; its failure is reported elsewhere.
    this.committed.catch(() => undefined);
  }

  get size(): number {
    return this.jobs.length + this.shares.size + this.verdicts.length;
  }
}

type State = 'open' | 'closing' | 'closed' | 'failed';

class SqliteLedgerImpl implements SqliteLedger {
  private state: State = 'open';
  /** Why the ledger failed; every later call reports it. */
  private failure: LedgerError | null = null;
  /** Batches not yet sent; the last one takes new records until it is full. */
  private queue: Batch[] = [];
  private committing: Batch | null = null;
  private dispatchScheduled = false;
  private reader: Promise<DatabaseThread> | null = null;
  private closed: Promise<void> | null = null;
  /** After a failure: resolves once both threads have stopped. */
  private threadsGone: Promise<void> = Promise.resolve();
  private counters = {
    commits: 0,
    jobsCommitted: 0,
    sharesCommitted: 0,
    verdictsCommitted: 0,
    verdictsDropped: 0,
    largestCommit: 0,
    commitSeconds: 0,
  };

  constructor(
    readonly path: string,
    private readonly writer: DatabaseThread,
    private lastJobId: number,
    private lastShareId: number,
    private readonly settings: Required<SqliteLedgerOptions>,
  ) {
    writer.onDeath = (error) => {
      this.fail(error);
    };
  }

  recordJob(job: JobRecord): LedgerJobId {
    const refusal = this.refusal();
    if (refusal !== null) throw refusal;
    checkJobRecord(job);
    const id = this.lastJobId + 1;
    this.batchForNewRecord().jobs.push([
      id,
      job.receivedAt,
      job.upstream,
      job.upstreamSession,
      job.upstreamJobId,
      job.proxyJobId,
      copy(job.prevhash),
      copy(job.coinb1),
      copy(job.coinb2),
      concat(job.merkleBranch),
      job.version,
      job.nbits,
      job.ntime,
      job.cleanJobs ? 1 : 0,
      copy(job.extranonce1),
      job.extranonce2Size,
    ]);
    this.lastJobId = id;
    return id;
  }

  recordShare(share: ShareRecord): Promise<LedgerShareId> {
    const refusal = this.refusal();
    if (refusal !== null) return Promise.reject(refusal);
    try {
      checkShareRecord(share, this.lastJobId);
    } catch (error) {
      return Promise.reject(error instanceof Error ? error : new Error(String(error)));
    }
    const id = this.lastShareId + 1;
    const batch = this.batchForNewRecord();
    batch.shares.add(id, share);
    this.lastShareId = id;
    return batch.committed.then(() => id);
  }

  /**
   * After close or failure the update is dropped (and counted in stats): an upstream answers
   * whenever it answers, and the share it concerns was already settled one way or the other.
   */
  recordUpstreamVerdict(update: UpstreamVerdictUpdate): void {
    if (this.refusal() !== null) {
      this.counters.verdictsDropped++;
      return;
    }
    checkVerdictUpdate(update, this.lastShareId);
    this.batchForNewRecord().verdicts.push([update.verdict, update.error, update.shareId]);
  }

  flush(): Promise<void> {
    if (this.failure !== null) return Promise.reject(this.failure);
    const last = this.queue.at(-1) ?? this.committing;
    return last === null ? Promise.resolve() : last.committed;
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

  /** Flushes, then stops both threads. Rejects if the ledger failed (before or during close). */
  close(): Promise<void> {
    this.closed ??= this.shutdown();
    return this.closed;
  }

  stats(): SqliteLedgerStats {
    let queuedRecords = 0;
    for (const batch of this.queue) queuedRecords += batch.size;
    return { ...this.counters, queuedRecords, committingRecords: this.committing?.size ?? 0 };
  }

  private async shutdown(): Promise<void> {
    if (this.state === 'open') this.state = 'closing';
    try {
      await this.flush();
      const reader = this.reader;
      this.reader = null;
      await (await reader?.catch(() => null))?.close();
      await this.writer.close();
    } catch (error) {
      this.fail(
        error instanceof LedgerError
          ? error
          : new LedgerError(
              'LEDGER_FAILED',
              `closing the SQLite ledger ${this.path} failed: ${String(error)}`,
              {
                cause: error,
              },
            ),
      );
    }
    if (this.failure !== null) {
      await this.threadsGone;
      throw this.failure;
    }
    this.state = 'closed';
  }

  /** Why a new record or query cannot be taken, or null if it can. */
  private refusal(): LedgerError | null {
    if (this.failure !== null) return this.failure;
    if (this.state !== 'open') {
      return new LedgerError(
        'LEDGER_CLOSED',
        `the SQLite ledger ${this.path} is closed; nothing more is recorded`,
      );
    }
    return null;
  }

  private batchForNewRecord(): Batch {
    let batch = this.queue.at(-1);
    if (batch === undefined || batch.size >= this.settings.maxBatchRecords) {
      batch = new Batch();
      this.queue.push(batch);
    }
    if (this.committing === null && !this.dispatchScheduled) {
      // Wait out this turn of the event loop so a burst of records shares one commit.
      this.dispatchScheduled = true;
      setImmediate(() => {
        this.dispatchScheduled = false;
        this.dispatch();
      });
    }
    return batch;
  }

  private dispatch(): void {
    if (this.committing !== null || this.failure !== null) return;
    const batch = this.queue.shift();
    if (batch === undefined) return;
    this.committing = batch;
    const timeout = setTimeout(() => {
      this.fail(
        new LedgerError(
          'LEDGER_COMMIT_FAILED',
          `a commit to the SQLite ledger ${this.path} took longer than ${this.settings.commitTimeoutMs} ms; ` +
            'the disk may be hung: check it (dmesg), then restart the process. These records are not recorded',
        ),
      );
    }, this.settings.commitTimeoutMs);
    const { jobs, verdicts } = batch;
    const { columns: shares, transfer } = batch.shares.finish();
    this.writer.request({ type: 'commit', batch: { jobs, shares, verdicts } }, transfer).then(
      ({ seconds }) => {
        clearTimeout(timeout);
        if (this.committing !== batch) return;
        this.committing = null;
        const c = this.counters;
        c.commits++;
        c.jobsCommitted += jobs.length;
        c.sharesCommitted += shares.count;
        c.verdictsCommitted += verdicts.length;
        c.largestCommit = Math.max(c.largestCommit, batch.size);
        c.commitSeconds += seconds;
        batch.resolve();
        // Whatever queued during this commit goes now, as one batch.
        this.dispatch();
      },
      (error: unknown) => {
        clearTimeout(timeout);
        this.fail(this.commitError(error, batch.size));
      },
    );
  }

  /**
   * Stops the ledger: the batch being committed and every queued one reject (nothing is left
   * hanging), both threads stop, and every later call rejects with the reason.
   */
  private fail(error: LedgerError): void {
    if (this.failure !== null || this.state === 'closed') return;
    this.failure =
      error.code === 'LEDGER_FAILED'
        ? error
        : new LedgerError('LEDGER_FAILED', `the SQLite ledger ${this.path} stopped: ${error.message}`, {
            cause: error,
          });
    this.state = 'failed';
    const committing = this.committing;
    const queued = this.queue;
    this.committing = null;
    this.queue = [];
    committing?.reject(error);
    for (const batch of queued) batch.reject(this.failure);
    const failure = this.failure;
    this.threadsGone = Promise.all([
      this.writer.terminate(failure),
      this.reader?.then(
        (reader) => reader.terminate(failure),
        () => undefined,
      ),
    ]).then(() => undefined);
    this.reader = null;
  }

  private commitError(error: unknown, records: number): LedgerError {
    if (error instanceof LedgerError) return error;
    const code = error instanceof ThreadFailure ? error.code : 'ERR_UNKNOWN';
    const message = error instanceof Error ? error.message : String(error);
    return new LedgerError(
      'LEDGER_COMMIT_FAILED',
      `a commit of ${records} records to the SQLite ledger ${this.path} failed (${code}: ${message}); ` +
        `${advice(code)}. These records are not recorded, and the ledger accepts nothing more`,
      { cause: error },
    );
  }

  private async query<K extends Query['kind']>(query: Query & { kind: K }): Promise<QueryResults[K]> {
    const refusal = this.refusal();
    if (refusal !== null) throw refusal;
    if ('window' in query) checkWindow(query.window);
    const reader = await this.startReader();
    try {
      const { value } = await reader.request({ type: 'query', query });
      return value as QueryResults[K];
    } catch (error) {
      if (!(error instanceof ThreadFailure)) throw error;
      throw new LedgerError(
        'LEDGER_QUERY_FAILED',
        `a ${query.kind} query on the SQLite ledger ${this.path} failed (${error.code}: ${error.message})`,
        { cause: error },
      );
    }
  }

  /**
   * The reader thread, started at open and again by the next query if it died. A dead reader
   * loses only its queries (they reject) and, until it is back, checkpoints: the writer then
   * checkpoints by itself once the WAL grows large.
   */
  startReader(): Promise<DatabaseThread> {
    if (this.reader !== null) return this.reader;
    const starting = DatabaseThread.start({
      role: 'reader',
      path: this.path,
      busyTimeoutMs: this.settings.busyTimeoutMs,
      checkpointIntervalMs: this.settings.checkpointIntervalMs,
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

function advice(code: string): string {
  const known = ADVICE.find(([prefix]) => code.startsWith(prefix));
  return known?.[1] ?? 'restart the process; if it happens again, check the disk and the ledger file';
}

/** A copy with a buffer of its own: the caller may reuse its array before the batch is sent. */
function copy(bytes: Uint8Array): Uint8Array {
  return Uint8Array.prototype.slice.call(bytes);
}

function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.length * 32);
  parts.forEach((part, i) => {
    out.set(part, i * 32);
  });
  return out;
}
