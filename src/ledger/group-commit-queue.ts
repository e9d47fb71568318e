import type { LedgerHealth, TimeWindow } from './ledger.js';
import { LedgerError } from './ledger-error.js';
import { checkWindow } from './record-checks.js';

/**
 * The group commit both ledger backends put in front of their database: records queue in
 * batches; while one batch commits the next accumulates, and when the commit returns every
 * share of that batch resolves and the next batch goes (latency about one commit, throughput
 * growing with the batch). A commit that fails or outlives its timeout stops the ledger: the
 * batch under way and every queued one reject, so nobody is left waiting, and every later call
 * reports why. How a batch holds its records and how it is committed is the backend's.
 *
 * Records nobody waits on (upstream verdicts, reject summaries) do not start a commit of their
 * own: they ride with the next share or job, or go after `lateRecordDelayMs`, or at a flush.
 * Otherwise every forwarded share would cost two fsyncs (its row, then the pool's verdict on it),
 * and a share arriving during the verdict's commit would wait for it before its own.
 *
 * A backend with `recovery` may call a failure transient (a full disk): then the ledger is
 * impaired instead of stopped. The waiting shares reject, new shares are refused at once, and
 * jobs, verdicts and summaries are carried into a batch kept for later. Every retry interval a
 * probe asks the backend whether the cause has passed; when it has, the carried batch goes.
 */

/** The records of one commit, held as the backend commits them, and the promise their callers wait on. */
export abstract class Batch {
  readonly committed: Promise<void>;
  resolve!: () => void;
  reject!: (error: Error) => void;
  /** Commit without waiting for a share or job to ride with (a flush, or the late records' time is up). */
  due = false;

  constructor() {
    this.committed = new Promise<void>((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
    });
    // A batch of jobs or verdicts alone may have nobody waiting; its failure is reported elsewhere.
    this.committed.catch(() => undefined);
  }

  abstract get jobCount(): number;
  abstract get shareCount(): number;
  abstract get verdictCount(): number;
  abstract get summaryCount(): number;

  get size(): number {
    return this.jobCount + this.shareCount + this.verdictCount + this.summaryCount;
  }

  /** Holds records something waits on (shares) or that must precede them (jobs). */
  get urgent(): boolean {
    return this.due || this.jobCount + this.shareCount > 0;
  }
}

/** How a backend rides out a failure that may pass by itself. */
export interface GroupCommitRecovery<B extends Batch> {
  /** What to do about a failed commit's error if it may pass by itself (a full disk), else null. */
  transientAdvice(error: unknown): string | null;
  /** Moves what a failed batch must not lose (jobs, verdicts, summaries; not its shares) into `into`. */
  carryOver(from: B, into: B): void;
  /** A small durable write that fails (transiently) while the cause lasts. */
  probe(): Promise<void>;
  /** How long to wait between tries while impaired. */
  readonly retryIntervalMs: number;
}

export interface GroupCommitSettings {
  /** Most records (jobs + shares + verdict updates) in one commit. */
  readonly maxBatchRecords: number;
  /** A commit not done this long after it was sent fails the ledger. */
  readonly commitTimeoutMs: number;
  /** Longest a verdict or summary waits for a share to commit with. Default 250 ms. */
  readonly lateRecordDelayMs?: number;
}

const LATE_RECORD_DELAY_MS = 250;

/** What the queue needs of a backend. */
export interface GroupCommitBackend<B extends Batch> {
  /** The ledger as messages name it, e.g. `the SQLite ledger /var/lib/hashrelay/ledger.sqlite`. */
  readonly name: string;
  newBatch(): B;
  /** Commits one batch, whole; resolves with the seconds to count as commit time. */
  commit(batch: B): Promise<number>;
  /** What follows "took longer than N ms" when a commit times out: what may be wrong, what to do. */
  timeoutAdvice(): string;
  /** A failed commit's error code (if it has one) and its text, for the ledger's error. */
  commitFailure(error: unknown): { readonly code: string | undefined; readonly detail: string };
  /** What an operator should do about a failed commit, by error code prefix, first match wins. */
  readonly commitAdvice: readonly (readonly [codePrefix: string, advice: string])[];
  /** The advice for a failed commit whose code matches none of `commitAdvice`. */
  readonly otherCommitAdvice: string;
  /** A failed query's text for LEDGER_QUERY_FAILED, or null to pass its error on as it is. */
  queryFailure(error: unknown): string | null;
  /** The text of an error `release` threw, for the ledger's error. */
  closeFailure(error: unknown): string;
  /** Releases the database after close's final flush (connections, threads, locks). */
  release(): Promise<void>;
  /** Stops the database at once after a failure; resolves once it is all gone. */
  abandon(failure: LedgerError): Promise<void>;
  /** Without it every failed commit stops the ledger. */
  readonly recovery?: GroupCommitRecovery<B>;
}

/** The stats every backend keeps. */
export interface GroupCommitStats {
  /** Transactions committed. */
  readonly commits: number;
  readonly jobsCommitted: number;
  readonly sharesCommitted: number;
  readonly verdictsCommitted: number;
  readonly summariesCommitted: number;
  /** Commits (or probes) that failed with a transient error and were tried again. */
  readonly transientFailures: number;
  /** Upstream verdicts that arrived after close or failure, and were not recorded. */
  readonly verdictsDropped: number;
  /** Records in the largest commit so far. */
  readonly largestCommit: number;
  /** Commit time (as the backend counts it), summed. */
  readonly commitSeconds: number;
  /** Records waiting for the next commit. */
  readonly queuedRecords: number;
  /** Records in the commit under way. */
  readonly committingRecords: number;
}

type State = 'open' | 'closing' | 'closed' | 'failed';

export class GroupCommitQueue<B extends Batch> {
  private state: State = 'open';
  /** Why the ledger failed; every later call reports it. */
  private failure: LedgerError | null = null;
  /** Why commits fail for now, and since when; null when they land. */
  private impaired: { readonly error: LedgerError; readonly since: number } | null = null;
  private retryTimer: NodeJS.Timeout | undefined;
  private probing = false;
  /** Batches not yet sent; the last one takes new records until it is full. */
  private queue: B[] = [];
  private committing: B | null = null;
  private dispatchScheduled = false;
  /** Sends a batch of late records alone once no share came to carry them. */
  private lateTimer: NodeJS.Timeout | undefined;
  private closed: Promise<void> | null = null;
  /** After a failure: resolves once the backend's database is let go. */
  private abandoned: Promise<void> = Promise.resolve();
  private counters = {
    commits: 0,
    jobsCommitted: 0,
    sharesCommitted: 0,
    verdictsCommitted: 0,
    summariesCommitted: 0,
    transientFailures: 0,
    verdictsDropped: 0,
    largestCommit: 0,
    commitSeconds: 0,
  };

  constructor(
    private readonly settings: GroupCommitSettings,
    private readonly backend: GroupCommitBackend<B>,
  ) {}

  /** Why a new record or query cannot be taken, or null if it can. */
  refusal(): LedgerError | null {
    if (this.failure !== null) return this.failure;
    if (this.state !== 'open') {
      return new LedgerError('LEDGER_CLOSED', `${this.backend.name} is closed; nothing more is recorded`);
    }
    return null;
  }

  /** Why a new share cannot be taken: `refusal()`, or the transient failure while impaired. */
  shareRefusal(): LedgerError | null {
    return this.refusal() ?? this.impaired?.error ?? null;
  }

  health(): LedgerHealth {
    if (this.failure !== null) return { state: 'stopped', reason: this.failure.message };
    if (this.state !== 'open') return { state: 'stopped', reason: `${this.backend.name} is closed` };
    if (this.impaired !== null)
      return { state: 'impaired', reason: this.impaired.error.message, since: this.impaired.since };
    return { state: 'ok' };
  }

  /**
   * Whether an upstream verdict update can still be queued. After close or failure it is
   * dropped (and counted in stats): an upstream answers whenever it answers, and the share it
   * concerns was already settled one way or the other.
   */
  takesVerdict(): boolean {
    if (this.refusal() === null) return true;
    this.counters.verdictsDropped++;
    return false;
  }

  /** The batch a new share or job goes in; call only when `refusal()` is null. */
  batchForNewRecord(): B {
    const batch = this.openBatch();
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

  /**
   * The batch a verdict or summary goes in (nobody waits on it); call only when `refusal()` is
   * null. It commits with the next share or job, or alone after `lateRecordDelayMs`.
   */
  batchForLateRecord(): B {
    const batch = this.openBatch();
    this.armLateTimer();
    return batch;
  }

  /** Resolves when everything queued so far is committed; rejects at once while impaired. */
  flush(): Promise<void> {
    if (this.failure !== null) return Promise.reject(this.failure);
    if (this.impaired !== null) return Promise.reject(this.impaired.error);
    const last = this.queue.at(-1);
    if (last !== undefined) {
      last.due = true;
      this.dispatch();
      return last.committed;
    }
    return this.committing === null ? Promise.resolve() : this.committing.committed;
  }

  private openBatch(): B {
    let batch = this.queue.at(-1);
    if (batch === undefined || batch.size >= this.settings.maxBatchRecords) {
      batch = this.backend.newBatch();
      this.queue.push(batch);
    }
    return batch;
  }

  private armLateTimer(): void {
    if (this.lateTimer !== undefined) return;
    this.lateTimer = setTimeout(() => {
      this.lateTimer = undefined;
      const first = this.queue[0];
      if (first === undefined) return;
      first.due = true;
      this.dispatch();
    }, this.settings.lateRecordDelayMs ?? LATE_RECORD_DELAY_MS);
  }

  /**
   * Runs a query unless the ledger is closed or failed, after checking its window (null for
   * none); a failure the backend can explain becomes LEDGER_QUERY_FAILED.
   */
  async query<T>(kind: string, window: TimeWindow | null, run: () => Promise<T>): Promise<T> {
    const refusal = this.refusal();
    if (refusal !== null) throw refusal;
    if (window !== null) checkWindow(window);
    try {
      return await run();
    } catch (error) {
      const detail = this.backend.queryFailure(error);
      if (detail === null) throw error;
      const message = `a ${kind} query on ${this.backend.name} failed (${detail})`;
      throw new LedgerError('LEDGER_QUERY_FAILED', message, { cause: error });
    }
  }

  /** Flushes, then releases the backend. Rejects if the ledger failed (before or during close). */
  close(): Promise<void> {
    this.closed ??= this.shutdown();
    return this.closed;
  }

  stats(): GroupCommitStats {
    let queuedRecords = 0;
    for (const batch of this.queue) queuedRecords += batch.size;
    return { ...this.counters, queuedRecords, committingRecords: this.committing?.size ?? 0 };
  }

  /**
   * Stops the ledger: the batch being committed and every queued one reject (nothing is left
   * hanging), the backend lets its database go, and every later call rejects with the reason.
   */
  fail(error: LedgerError): void {
    if (this.failure !== null || this.state === 'closed') return;
    const failure =
      error.code === 'LEDGER_FAILED'
        ? error
        : new LedgerError('LEDGER_FAILED', `${this.backend.name} stopped: ${error.message}`, {
            cause: error,
          });
    this.failure = failure;
    this.state = 'failed';
    this.impaired = null;
    clearTimeout(this.retryTimer);
    clearTimeout(this.lateTimer);
    this.lateTimer = undefined;
    const committing = this.committing;
    const queued = this.queue;
    this.committing = null;
    this.queue = [];
    committing?.reject(error);
    for (const batch of queued) batch.reject(failure);
    this.abandoned = this.backend.abandon(failure);
  }

  private async shutdown(): Promise<void> {
    if (this.state === 'open') this.state = 'closing';
    clearTimeout(this.retryTimer);
    try {
      await this.flush();
      await this.backend.release();
    } catch (error) {
      this.fail(
        error instanceof LedgerError
          ? error
          : new LedgerError(
              'LEDGER_FAILED',
              `closing ${this.backend.name} failed: ${this.backend.closeFailure(error)}`,
              { cause: error },
            ),
      );
    }
    if (this.failure !== null) {
      await this.abandoned;
      throw this.failure;
    }
    this.state = 'closed';
  }

  /** Sends the next batch; while impaired nothing is sent until a probe succeeds. */
  private dispatch(): void {
    if (this.committing !== null || this.failure !== null || this.probing || this.impaired !== null) return;
    const next = this.queue[0];
    if (next === undefined) return;
    // Late records alone wait for a share to carry them (a full batch, or one behind it, goes).
    if (!next.urgent && this.queue.length === 1 && next.size < this.settings.maxBatchRecords) {
      this.armLateTimer();
      return;
    }
    const batch = this.queue.shift()!;
    this.committing = batch;
    // The late records go in this batch or are re-timed when it lands.
    clearTimeout(this.lateTimer);
    this.lateTimer = undefined;
    const timeout = setTimeout(() => {
      this.fail(
        new LedgerError(
          'LEDGER_COMMIT_FAILED',
          `a commit to ${this.backend.name} took longer than ${this.settings.commitTimeoutMs} ms` +
            `${this.backend.timeoutAdvice()}. These records are not recorded`,
        ),
      );
    }, this.settings.commitTimeoutMs);
    this.backend.commit(batch).then(
      (seconds) => {
        clearTimeout(timeout);
        if (this.committing !== batch) return;
        this.committing = null;
        const c = this.counters;
        c.commits++;
        c.jobsCommitted += batch.jobCount;
        c.sharesCommitted += batch.shareCount;
        c.verdictsCommitted += batch.verdictCount;
        c.summariesCommitted += batch.summaryCount;
        c.largestCommit = Math.max(c.largestCommit, batch.size);
        c.commitSeconds += seconds;
        this.impaired = null;
        batch.resolve();
        // Whatever queued during this commit goes now, as one batch.
        this.dispatch();
      },
      (error: unknown) => {
        clearTimeout(timeout);
        if (this.committing !== batch) return;
        const advice = this.state === 'open' ? this.backend.recovery?.transientAdvice(error) : null;
        if (advice === null || advice === undefined) this.fail(this.commitError(error, batch.size));
        else this.impair(batch, error, advice);
      },
    );
  }

  /**
   * A transient failure: the batch under way and every queued one reject (their shares are not
   * recorded), what must not be lost moves into one batch kept for the retry, and the retry
   * timer starts.
   */
  private impair(failed: B, error: unknown, advice: string): void {
    const recovery = this.backend.recovery!;
    const { detail } = this.backend.commitFailure(error);
    const reason = new LedgerError(
      'LEDGER_COMMIT_FAILED',
      `a commit to ${this.backend.name} failed (${detail}); ${advice}. ` +
        `Shares are refused until a commit lands again (retried every ${recovery.retryIntervalMs} ms)`,
      { cause: error },
    );
    this.counters.transientFailures++;
    this.committing = null;
    const carried = this.backend.newBatch();
    const dropped = [failed, ...this.queue];
    for (const batch of dropped) recovery.carryOver(batch, carried);
    this.queue = carried.size > 0 ? [carried] : [];
    for (const batch of dropped) batch.reject(reason);
    this.impaired = { error: reason, since: this.impaired?.since ?? Date.now() };
    this.scheduleRetry();
  }

  private scheduleRetry(): void {
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => {
      this.retry();
    }, this.backend.recovery!.retryIntervalMs);
    this.retryTimer.unref();
  }

  /**
   * While impaired: the probe first (the cause must be gone, not only a small write possible:
   * a failed commit leaves room for a few), then the carried batch and the rest.
   */
  private retry(): void {
    if (this.impaired === null || this.failure !== null || this.state !== 'open') return;
    this.probing = true;
    this.backend.recovery!.probe().then(
      () => {
        this.probing = false;
        if (this.failure !== null) return;
        this.impaired = null;
        this.dispatch();
      },
      (error: unknown) => {
        this.probing = false;
        if (this.failure !== null || this.state !== 'open') return;
        const advice = this.backend.recovery!.transientAdvice(error);
        if (advice === null) {
          this.fail(this.commitError(error, 0));
          return;
        }
        this.counters.transientFailures++;
        this.scheduleRetry();
      },
    );
  }

  private commitError(error: unknown, records: number): LedgerError {
    if (error instanceof LedgerError) return error;
    const { code, detail } = this.backend.commitFailure(error);
    const known =
      code === undefined ? undefined : this.backend.commitAdvice.find(([p]) => code.startsWith(p));
    return new LedgerError(
      'LEDGER_COMMIT_FAILED',
      `a commit of ${records} records to ${this.backend.name} failed (${detail}); ` +
        `${known?.[1] ?? this.backend.otherCommitAdvice}. These records are not recorded, and the ledger accepts nothing more`,
      { cause: error },
    );
  }
}
