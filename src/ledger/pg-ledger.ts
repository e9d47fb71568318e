import { GroupCommitQueue, type GroupCommitStats } from './group-commit-queue.js';
import type {
  JobRecord,
  Ledger,
  LedgerHealth,
  LedgerJobId,
  LedgerReader,
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
import { LedgerError, pruneFailed } from './ledger-error.js';
import { withDefaults } from './ledger-options.js';
import { PgBatch } from './pg-ledger-batch.js';
import { describeError, parsePgUrl, sqlState, type PgLocation } from './pg-ledger-connection.js';
import { IdBlocks } from './pg-ledger-ids.js';
import { PgReader } from './pg-ledger-reader.js';
import { PgWriter } from './pg-ledger-writer.js';
import { ReadOnlyLedger } from './read-only-ledger.js';
import type { ShareColumns } from './sqlite-ledger-batch.js';
import {
  checkJobRecord,
  checkPrune,
  checkRejectSummary,
  checkVerdictUpdate,
  shareRecordError,
} from './record-checks.js';

/**
 * The PostgreSQL ledger: several proxy instances (and the validator) share one database.
 *
 * The same interface and rules as the SQLite ledger (sqlite-ledger.ts), and the same group
 * commit (group-commit-queue.ts): records queue here; while one batch commits the next
 * accumulates, and when the commit returns every share of that batch resolves and the next goes. A batch is one
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

export interface PgLedgerStats extends GroupCommitStats {
  /** Shares refused because maxQueuedShares were already waiting. */
  readonly sharesRefused: number;
  /** Time from sending each batch to its commit returning, summed. */
  readonly commitSeconds: number;
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

type Settings = Required<Omit<PgLedgerOptions, 'schema'>>;

const DEFAULTS: Settings = {
  maxBatchRecords: 5000,
  commitTimeoutMs: 60_000,
  attemptTimeoutMs: 15_000,
  connectTimeoutMs: 10_000,
  maxQueuedShares: 250_000,
};

/**
 * Opens the PostgreSQL ledger a URL names (`postgres://USER:PASSWORD@HOST:PORT/DB?schema=NAME`),
 * creating its schema and tables if absent. Rejects with a LedgerError LEDGER_OPEN_FAILED that
 * says what to fix: the server unreachable, the login refused, the database missing, a schema
 * that holds something else or a newer ledger, a server that would not keep commits durable.
 */
export async function openPgLedger(url: string, options: PgLedgerOptions = {}): Promise<PgLedger> {
  const settings = withDefaults(options, DEFAULTS);
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

/**
 * Opens the PostgreSQL ledger a URL names to read only (the audit): the reader's connections
 * alone, no migration and no ids drawn, so a role granted only SELECT on the schema will do.
 */
export async function openPgLedgerReader(
  url: string,
  options: Pick<PgLedgerOptions, 'schema' | 'connectTimeoutMs'> = {},
): Promise<LedgerReader> {
  const location = parsePgUrl(url, options.schema);
  const reader = new PgReader(location, options.connectTimeoutMs ?? DEFAULTS.connectTimeoutMs);
  try {
    if ((await reader.schemaVersion(location.database)) === 0) {
      throw new LedgerError(
        'LEDGER_OPEN_FAILED',
        `schema ${location.schema} in ${location.database} holds no hashrelay ledger: check the URL ` +
          '(the schema is ?schema=NAME, default hashrelay)',
      );
    }
  } catch (error) {
    await reader.close();
    throw openError(error, location);
  }
  return new ReadOnlyLedger({
    name: `the PostgreSQL ledger ${location.where} (read-only)`,
    minerTotals: (window) => reader.minerTotals(window),
    upstreamTotals: (window) => reader.upstreamTotals(window),
    shares: (window) => reader.shares(window),
    job: (id) => reader.job(id),
    shareSpan: (window) => reader.shareSpan(window),
    sharePage: (window, page) => reader.sharePage(window, page),
    rejectSummaries: (window) => reader.rejectSummaries(window),
    close: () => reader.close(),
    queryFailure: describeError,
  });
}

class PgLedgerImpl implements PgLedger {
  readonly where: string;
  private readonly commits: GroupCommitQueue<PgBatch>;
  /** Ends waits for id blocks when the ledger fails. */
  private readonly abort = new AbortController();
  /** The newest job id handed out: a share may name only an id up to it. */
  private lastJobId = 0;
  /** The newest share id handed out: a verdict may name only an id up to it. */
  private lastShareId = 0;
  /** Shares queued or committing, for maxQueuedShares. */
  private sharesWaiting = 0;
  private sharesRefused = 0;

  constructor(
    location: PgLocation,
    private readonly writer: PgWriter,
    private readonly reader: PgReader,
    private readonly jobIds: IdBlocks,
    private readonly shareIds: IdBlocks,
    private readonly settings: Settings,
  ) {
    this.where = location.where;
    this.commits = new GroupCommitQueue(settings, {
      name: `the PostgreSQL ledger ${this.where}`,
      newBatch: () => new PgBatch(),
      commit: (batch) => this.commit(batch),
      timeoutAdvice: () => {
        const last = this.writer.lastError;
        return (
          (last === null ? '' : ` (the last attempt failed: ${describeError(last)})`) +
          '; check that PostgreSQL is up and reachable, then restart the process'
        );
      },
      commitFailure: (error) => ({ code: sqlState(error), detail: describeError(error) }),
      commitAdvice: ADVICE,
      otherCommitAdvice: "restart the process; if it happens again, check the PostgreSQL server's log",
      queryFailure: describeError,
      closeFailure: describeError,
      release: async () => {
        await this.writer.close();
        await this.reader.close();
      },
      abandon: () => {
        this.abort.abort();
        this.writer.stop();
        return this.reader.close();
      },
    });
  }

  recordJob(job: JobRecord): LedgerJobId {
    const refusal = this.commits.refusal();
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
    this.commits.batchForNewRecord().addJob(id, job);
    this.lastJobId = Math.max(this.lastJobId, id);
    return id;
  }

  recordShare(share: ShareRecord): Promise<LedgerShareId> {
    const refusal = this.commits.refusal() ?? shareRecordError(share, this.lastJobId);
    if (refusal !== null) return Promise.reject(refusal);
    if (this.sharesWaiting >= this.settings.maxQueuedShares) {
      this.sharesRefused++;
      return Promise.reject(
        new LedgerError(
          'LEDGER_COMMIT_FAILED',
          `${this.sharesWaiting} shares are already waiting for the PostgreSQL ledger ${this.where} to commit ` +
            '(is PostgreSQL reachable and keeping up?); this share is not recorded',
        ),
      );
    }
    const batch = this.commits.batchForNewRecord();
    const index = batch.addShare(share);
    this.sharesWaiting++;
    return batch.committed.then(() => batch.shareIds[index]!);
  }

  recordUpstreamVerdict(update: UpstreamVerdictUpdate): void {
    if (!this.commits.takesVerdict()) return;
    checkVerdictUpdate(update, this.lastShareId);
    this.commits.batchForLateRecord().addVerdict(update);
  }

  recordRejectSummary(summary: RejectSummary): void {
    if (this.commits.refusal() !== null) return;
    checkRejectSummary(summary);
    this.commits.batchForLateRecord().addSummary(summary);
  }

  flush(): Promise<void> {
    return this.commits.flush();
  }

  health(): LedgerHealth {
    return this.commits.health();
  }

  rejectSummaries(window: TimeWindow): Promise<RejectSummary[]> {
    return this.commits.query('rejectSummaries', window, () => this.reader.rejectSummaries(window));
  }

  minerTotals(window: TimeWindow): Promise<MinerTotals[]> {
    return this.commits.query('minerTotals', window, () => this.reader.minerTotals(window));
  }

  upstreamTotals(window: TimeWindow): Promise<UpstreamTotals[]> {
    return this.commits.query('upstreamTotals', window, () => this.reader.upstreamTotals(window));
  }

  shares(window: TimeWindow): Promise<StoredShare[]> {
    return this.commits.query('shares', window, () => this.reader.shares(window));
  }

  job(id: LedgerJobId): Promise<StoredJob | undefined> {
    return this.commits.query('job', null, () => this.reader.job(id));
  }

  shareSpan(window: TimeWindow): Promise<ShareSpan> {
    return this.commits.query('shareSpan', window, () => this.reader.shareSpan(window));
  }

  sharePage(window: TimeWindow, page: SharePageRequest): Promise<ShareColumns> {
    return this.commits.query('sharePage', window, () => this.reader.sharePage(window, page));
  }

  /** On a reader connection: commits go on beside it (rows they insert are newer than `before`). */
  async pruneBefore(before: number, maxRows: number): Promise<PrunedRows> {
    const refusal = this.commits.refusal();
    if (refusal !== null) throw refusal;
    checkPrune(before, maxRows);
    try {
      return await this.reader.prune(before, maxRows);
    } catch (error) {
      throw pruneFailed(`the PostgreSQL ledger ${this.where}`, describeError(error), error);
    }
  }

  /** Flushes, then closes the connections. Rejects if the ledger failed (before or during close). */
  close(): Promise<void> {
    return this.commits.close();
  }

  stats(): PgLedgerStats {
    const { retries, reconnects, landedOnRetry } = this.writer.stats;
    return {
      ...this.commits.stats(),
      sharesRefused: this.sharesRefused,
      commitRetries: retries,
      reconnects,
      landedOnRetry,
    };
  }

  /**
   * Numbers the batch's shares (in the order they were taken), then commits it. Commit time
   * counts from here: drawing ids, retries and reconnections included.
   */
  private async commit(batch: PgBatch): Promise<number> {
    const started = performance.now();
    const ids = new Array<number>(batch.shareCount);
    for (let i = 0; i < ids.length; i++) {
      ids[i] = this.shareIds.take() ?? (await this.shareIds.takeWhenReady(this.abort.signal));
    }
    batch.shareIds = ids;
    if (ids.length > 0) this.lastShareId = ids.at(-1)!;
    await this.writer.commit(batch);
    this.sharesWaiting -= batch.shareCount;
    return (performance.now() - started) / 1000;
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
