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
import { PgBatch } from './pg-ledger-batch.js';
import { describeError, parsePgUrl, sqlState, type PgLocation } from './pg-ledger-connection.js';
import { IdBlocks } from './pg-ledger-ids.js';
import { PgReader } from './pg-ledger-reader.js';
import { PgWriter } from './pg-ledger-writer.js';
import { checkJobRecord, checkShareRecord, checkVerdictUpdate, checkWindow } from './record-checks.js';

/**
 * The PostgreSQL ledger: several proxy instances (and the validator) share one database.
 *
 * The same interface and rules as the SQLite ledger (sqlite-ledger.ts), and the same group
 * commit: records queue here; while one batch commits the next accumulates, and when the
 * commit returns every share of that batch resolves and the next goes. A batch is one
 * statement and one round trip (pg-ledger-writer.ts), so a commit costs about one WAL flush on
 * the server, whatever its size.
 *
 * Durability: a share resolves only after its COMMIT returned, on a session with
 * `synchronous_commit` on (the writer sets it if the server's default is off, and refuses a
 * server running with `fsync = off`). A connection that fails mid-commit is replaced and the
 * batch retried, exactly once, until `commitTimeoutMs`; past that, or on an error no retry
 * mends, the ledger fails as the SQLite one does: the waiting shares reject and nothing more
 * is taken. Across a failover, only synchronous replication keeps that promise: a standby
 * promoted from asynchronous replication may lack commits the ledger already acknowledged.
 *
 * Ids: recordJob must answer at once, so ids are numbered here, from blocks each instance
 * draws from a sequence (pg-ledger-ids.ts). Ids never collide between instances; within one
 * instance they increase in the order records are taken; between instances they interleave by
 * block, so id order is not time order (windows are by time).
 *
 * One difference from SQLite: PostgreSQL text cannot hold U+0000, which is stored as U+FFFD.
 */

export interface PgLedgerOptions {
  /** The schema holding the ledger (overrides the URL's `?schema=`). Default `hashrelay`. */
  readonly schema?: string;
  /** Most records (jobs + shares + verdict updates) in one commit. Default 5000. */
  readonly maxBatchRecords?: number;
  /**
   * A batch not committed this long after it was sent, retries included, fails the ledger.
   * Default 60 000 ms: rides out a server restart or a failover.
   */
  readonly commitTimeoutMs?: number;
  /** One commit attempt unanswered this long is taken for a lost connection, and retried. Default 15 000 ms. */
  readonly attemptTimeoutMs?: number;
  /** Connecting (or reconnecting) gives up after this long. Default 10 000 ms. */
  readonly connectTimeoutMs?: number;
  /**
   * Shares waiting for a commit beyond which new ones are refused at once (LEDGER_COMMIT_FAILED)
   * instead of piling up in memory while the database is unreachable. Default 250 000.
   */
  readonly maxQueuedShares?: number;
}

export interface PgLedgerStats {
  /** Transactions committed. */
  readonly commits: number;
  readonly jobsCommitted: number;
  readonly sharesCommitted: number;
  readonly verdictsCommitted: number;
  /** Upstream verdicts that arrived after close or failure, and were not recorded. */
  readonly verdictsDropped: number;
  /** Shares refused because maxQueuedShares were already waiting. */
  readonly sharesRefused: number;
  /** Records in the largest commit so far. */
  readonly largestCommit: number;
  /** Time from sending each batch to its commit returning, summed. */
  readonly commitSeconds: number;
  /** Records waiting for the next commit. */
  readonly queuedRecords: number;
  /** Records in the commit under way. */
  readonly committingRecords: number;
  /** Commit attempts that failed and were tried again. */
  readonly commitRetries: number;
  /** Connections made again after one was lost. */
  readonly reconnects: number;
  /** Retried batches found already committed by the attempt whose answer was lost. */
  readonly landedOnRetry: number;
}

export interface PgLedger extends Ledger {
  /** `user@host:port/database schema NAME` (no password). */
  readonly where: string;
  stats(): PgLedgerStats;
}

const DEFAULTS = {
  maxBatchRecords: 5000,
  commitTimeoutMs: 60_000,
  attemptTimeoutMs: 15_000,
  connectTimeoutMs: 10_000,
  maxQueuedShares: 250_000,
} as const;

type Settings = Required<Omit<PgLedgerOptions, 'schema'>>;

/**
 * Opens the PostgreSQL ledger a URL names (`postgres://USER:PASSWORD@HOST:PORT/DB?schema=NAME`),
 * creating its schema and tables if absent. Rejects with a LedgerError LEDGER_OPEN_FAILED that
 * says what to fix: the server unreachable, the login refused, the database missing, a schema
 * that holds something else or a newer ledger, a server that would not keep commits durable.
 */
export async function openPgLedger(url: string, options: PgLedgerOptions = {}): Promise<PgLedger> {
  const settings: Settings = {
    maxBatchRecords: options.maxBatchRecords ?? DEFAULTS.maxBatchRecords,
    commitTimeoutMs: options.commitTimeoutMs ?? DEFAULTS.commitTimeoutMs,
    attemptTimeoutMs: options.attemptTimeoutMs ?? DEFAULTS.attemptTimeoutMs,
    connectTimeoutMs: options.connectTimeoutMs ?? DEFAULTS.connectTimeoutMs,
    maxQueuedShares: options.maxQueuedShares ?? DEFAULTS.maxQueuedShares,
  };
  for (const [name, value] of Object.entries(settings)) {
    if (!Number.isSafeInteger(value) || value < 1) {
      throw new RangeError(`options.${name} must be a positive integer, got ${String(value)}`);
    }
  }
  const location = parsePgUrl(url, options.schema);
  const writer = new PgWriter(location, settings);
  const reader = new PgReader(location, settings.connectTimeoutMs);
  try {
    await writer.open();
    const blocks = async (sequence: 'job_ids' | 'share_ids'): Promise<IdBlocks> => {
      const ids = new IdBlocks(() => reader.drawBlock(sequence), await reader.blockSize(sequence), 1000);
      await ids.start();
      return ids;
    };
    const [jobIds, shareIds] = await Promise.all([blocks('job_ids'), blocks('share_ids')]);
    return new PgLedgerImpl(location, writer, reader, jobIds, shareIds, settings);
  } catch (error) {
    writer.stop();
    await reader.close();
    throw openError(error, location);
  }
}

type State = 'open' | 'closing' | 'closed' | 'failed';

class PgLedgerImpl implements PgLedger {
  readonly where: string;
  private state: State = 'open';
  /** Why the ledger failed; every later call reports it. */
  private failure: LedgerError | null = null;
  /** Batches not yet sent; the last one takes new records until it is full. */
  private queue: PgBatch[] = [];
  private committing: PgBatch | null = null;
  private dispatchScheduled = false;
  private closed: Promise<void> | null = null;
  /** After a failure: resolves once the connections are gone. */
  private connectionsGone: Promise<void> = Promise.resolve();
  /** Ends waits for id blocks when the ledger fails. */
  private readonly abort = new AbortController();
  /** The newest job id handed out: a share may name only an id up to it. */
  private lastJobId = 0;
  /** The newest share id handed out: a verdict may name only an id up to it. */
  private lastShareId = 0;
  /** Shares queued or committing, for maxQueuedShares. */
  private sharesWaiting = 0;
  private counters = {
    commits: 0,
    jobsCommitted: 0,
    sharesCommitted: 0,
    verdictsCommitted: 0,
    verdictsDropped: 0,
    sharesRefused: 0,
    largestCommit: 0,
    commitSeconds: 0,
  };

  constructor(
    location: PgLocation,
    private readonly writer: PgWriter,
    private readonly reader: PgReader,
    private readonly jobIds: IdBlocks,
    private readonly shareIds: IdBlocks,
    private readonly settings: Settings,
  ) {
    this.where = location.where;
  }

  recordJob(job: JobRecord): LedgerJobId {
    const refusal = this.refusal();
    if (refusal !== null) throw refusal;
    checkJobRecord(job);
    const id = this.jobIds.take();
    if (id === undefined) {
      throw new LedgerError(
        'LEDGER_COMMIT_FAILED',
        `the PostgreSQL ledger ${this.where} has no job ids left: drawing a new block has failed ` +
          `(${describeError(this.jobIds.lastError)}); check that PostgreSQL is reachable. This job is not recorded`,
      );
    }
    this.batchForNewRecord().addJob(id, job);
    this.lastJobId = Math.max(this.lastJobId, id);
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
    if (this.sharesWaiting >= this.settings.maxQueuedShares) {
      this.counters.sharesRefused++;
      return Promise.reject(
        new LedgerError(
          'LEDGER_COMMIT_FAILED',
          `${this.sharesWaiting} shares are already waiting for the PostgreSQL ledger ${this.where} to commit ` +
            '(is PostgreSQL reachable and keeping up?); this share is not recorded',
        ),
      );
    }
    const batch = this.batchForNewRecord();
    const index = batch.addShare(share);
    this.sharesWaiting++;
    return batch.committed.then(() => batch.shareIds[index]!);
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
    this.batchForNewRecord().addVerdict(update);
  }

  flush(): Promise<void> {
    if (this.failure !== null) return Promise.reject(this.failure);
    const last = this.queue.at(-1) ?? this.committing;
    return last === null ? Promise.resolve() : last.committed;
  }

  minerTotals(window: TimeWindow): Promise<MinerTotals[]> {
    return this.query('minerTotals', window, () => this.reader.minerTotals(window));
  }

  upstreamTotals(window: TimeWindow): Promise<UpstreamTotals[]> {
    return this.query('upstreamTotals', window, () => this.reader.upstreamTotals(window));
  }

  shares(window: TimeWindow): Promise<StoredShare[]> {
    return this.query('shares', window, () => this.reader.shares(window));
  }

  job(id: LedgerJobId): Promise<StoredJob | undefined> {
    return this.query('job', null, () => this.reader.job(id));
  }

  /** Flushes, then closes the connections. Rejects if the ledger failed (before or during close). */
  close(): Promise<void> {
    this.closed ??= this.shutdown();
    return this.closed;
  }

  stats(): PgLedgerStats {
    let queuedRecords = 0;
    for (const batch of this.queue) queuedRecords += batch.size;
    const { retries, reconnects, landedOnRetry } = this.writer.stats;
    return {
      ...this.counters,
      queuedRecords,
      committingRecords: this.committing?.size ?? 0,
      commitRetries: retries,
      reconnects,
      landedOnRetry,
    };
  }

  private async shutdown(): Promise<void> {
    if (this.state === 'open') this.state = 'closing';
    try {
      await this.flush();
      await this.writer.close();
      await this.reader.close();
    } catch (error) {
      this.fail(
        error instanceof LedgerError
          ? error
          : new LedgerError(
              'LEDGER_FAILED',
              `closing the PostgreSQL ledger ${this.where} failed: ${describeError(error)}`,
              {
                cause: error,
              },
            ),
      );
    }
    if (this.failure !== null) {
      await this.connectionsGone;
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
        `the PostgreSQL ledger ${this.where} is closed; nothing more is recorded`,
      );
    }
    return null;
  }

  private batchForNewRecord(): PgBatch {
    let batch = this.queue.at(-1);
    if (batch === undefined || batch.size >= this.settings.maxBatchRecords) {
      batch = new PgBatch();
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
      const last = this.writer.lastError;
      this.fail(
        new LedgerError(
          'LEDGER_COMMIT_FAILED',
          `a commit to the PostgreSQL ledger ${this.where} took longer than ${this.settings.commitTimeoutMs} ms` +
            (last === null ? '' : ` (the last attempt failed: ${describeError(last)})`) +
            '; check that PostgreSQL is up and reachable, then restart the process. These records are not recorded',
        ),
      );
    }, this.settings.commitTimeoutMs);
    const started = performance.now();
    this.commit(batch).then(
      () => {
        clearTimeout(timeout);
        if (this.committing !== batch) return;
        this.committing = null;
        const c = this.counters;
        c.commits++;
        c.jobsCommitted += batch.jobs;
        c.sharesCommitted += batch.shares;
        c.verdictsCommitted += batch.verdictUpdates;
        c.largestCommit = Math.max(c.largestCommit, batch.size);
        c.commitSeconds += (performance.now() - started) / 1000;
        this.sharesWaiting -= batch.shares;
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

  /** Numbers the batch's shares (in the order they were taken), then commits it. */
  private async commit(batch: PgBatch): Promise<void> {
    const ids = new Array<number>(batch.shares);
    for (let i = 0; i < ids.length; i++) {
      ids[i] = this.shareIds.take() ?? (await this.shareIds.takeWhenReady(this.abort.signal));
    }
    batch.shareIds = ids;
    if (ids.length > 0) this.lastShareId = ids.at(-1)!;
    await this.writer.commit(batch);
  }

  /**
   * Stops the ledger: the batch being committed and every queued one reject (nothing is left
   * hanging), the connections close, and every later call rejects with the reason.
   */
  private fail(error: LedgerError): void {
    if (this.failure !== null || this.state === 'closed') return;
    this.failure =
      error.code === 'LEDGER_FAILED'
        ? error
        : new LedgerError('LEDGER_FAILED', `the PostgreSQL ledger ${this.where} stopped: ${error.message}`, {
            cause: error,
          });
    this.state = 'failed';
    const committing = this.committing;
    const queued = this.queue;
    this.committing = null;
    this.queue = [];
    committing?.reject(error);
    for (const batch of queued) batch.reject(this.failure);
    this.abort.abort();
    this.writer.stop();
    this.connectionsGone = this.reader.close();
  }

  private commitError(error: unknown, records: number): LedgerError {
    if (error instanceof LedgerError) return error;
    const code = sqlState(error);
    return new LedgerError(
      'LEDGER_COMMIT_FAILED',
      `a commit of ${records} records to the PostgreSQL ledger ${this.where} failed (${describeError(error)}); ` +
        `${advice(code)}. These records are not recorded, and the ledger accepts nothing more`,
      { cause: error },
    );
  }

  private async query<T>(kind: string, window: TimeWindow | null, run: () => Promise<T>): Promise<T> {
    const refusal = this.refusal();
    if (refusal !== null) throw refusal;
    if (window !== null) checkWindow(window);
    try {
      return await run();
    } catch (error) {
      throw new LedgerError(
        'LEDGER_QUERY_FAILED',
        `a ${kind} query on the PostgreSQL ledger ${this.where} failed (${describeError(error)})`,
        { cause: error },
      );
    }
  }
}

/** What an operator should do about a failed commit, by SQLSTATE (prefix). */
const ADVICE: readonly (readonly [codePrefix: string, advice: string])[] = [
  [
    '23505',
    'two writers used the same ids: the sequences job_ids and share_ids of the ledger schema were reset ' +
      'or altered (never change them while a ledger is open); fix them to exceed every id in the tables, then restart the process',
  ],
  [
    '23',
    'a record broke a schema constraint, which is a bug in hashrelay: report it with this message, then restart the process',
  ],
  [
    '22',
    'a record held a value the schema refuses, which is a bug in hashrelay: report it with this message, then restart the process',
  ],
  [
    '42P01',
    "the ledger's tables are gone (was the schema dropped?): restore them, or give the ledger a new schema, then restart the process",
  ],
  [
    '42501',
    "this role may no longer write the ledger's tables: grant it back (GRANT ALL ON ALL TABLES IN SCHEMA …), then restart the process",
  ],
];

function advice(code: string | undefined): string {
  const known = code === undefined ? undefined : ADVICE.find(([prefix]) => code.startsWith(prefix));
  return known?.[1] ?? "restart the process; if it happens again, check the PostgreSQL server's log";
}

/** Advice for a failed open, by SQLSTATE or transport error code. */
const OPEN_ADVICE: Readonly<Record<string, string>> = {
  ECONNREFUSED: 'is PostgreSQL running and listening at that address?',
  ENOENT: 'is PostgreSQL running, with its socket in that directory?',
  ENOTFOUND: 'the host name does not resolve: check the URL',
  ETIMEDOUT: 'the server did not answer: check the address and any firewall',
  '28P01': 'the password was refused: check the user and password in the URL',
  '28000': 'the server refused this login: check the user in the URL and pg_hba.conf',
  '3D000': 'the database does not exist: create it (createdb -O USER NAME) or fix the URL',
  '42501':
    'the role lacks a privilege: let it create the schema (GRANT CREATE ON DATABASE …) or create the schema for it, owned by it',
};

function openError(error: unknown, location: PgLocation): LedgerError {
  if (error instanceof LedgerError) return error;
  const code = (error as { code?: unknown } | null)?.code;
  const hint = typeof code === 'string' ? OPEN_ADVICE[code] : undefined;
  return new LedgerError(
    'LEDGER_OPEN_FAILED',
    `cannot open the PostgreSQL ledger ${location.where}: ${describeError(error)}${hint === undefined ? '' : `; ${hint}`}`,
    { cause: error },
  );
}
