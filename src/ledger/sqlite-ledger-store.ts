import { statfsSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import type {
  MinerTotals,
  PrunedRows,
  RejectSummary,
  SharePageRequest,
  ShareSpan,
  StoredJob,
  StoredShare,
  TimeWindow,
  UpstreamTotals,
} from './ledger.js';
import { forEachShareRow, shareColumnsOf, type ShareColumns } from './sqlite-ledger-batch.js';
import { ledgerVersion, migrate, SCHEMA_VERSION } from './sqlite-ledger-schema.js';
import {
  FILE_REPLACED,
  LOCKED,
  NOT_A_LEDGER,
  ThreadFailure,
  type CommitBatch,
  type JobRow,
  type Query,
  type QueryResults,
  type ShareRow,
  type VerdictRow,
} from './sqlite-ledger-protocol.js';
import {
  JOB_COLUMNS,
  REJECT_SUMMARY_COLUMNS,
  SHARE_COLUMNS,
  storedRejectSummary,
  type RejectSummaryRow,
  STORED_SHARE_COLUMNS,
  storedJob,
  storedShare,
  type StoredShareRow,
} from './ledger-rows.js';
import {
  minerTotals,
  totalsColumns,
  upstreamTotals,
  type MinerTotalsRow,
  type UpstreamTotalsRow,
} from './window-totals.js';

/**
 * The SQLite side of the ledger, synchronous: one connection (and, for the writer, its lock),
 * used by a database thread (sqlite-ledger-worker.ts), never by the main thread.
 */

/** WAL pages (4 KiB) after which the writer checkpoints by itself: 256 MiB. */
const FALLBACK_CHECKPOINT_PAGES = 65_536;

/** One SELECT computes every total of a group. */
const TOTALS_COLUMNS = totalsColumns({
  credited: `total(CASE WHEN verdict = 'accepted' THEN assigned_difficulty END)`,
  count: (column, verdict) => `sum(${column} = '${verdict}')`,
});

interface FileIdentity {
  readonly dev: number;
  readonly ino: number;
}

export class SqliteLedgerStore {
  private readonly insertJob;
  private readonly insertShare;
  private readonly updateVerdict;
  private readonly insertSummary;
  private readonly commitBatch;
  private readonly probeWrite;
  private readonly pruneBatch;
  private readonly selectSummaries;
  private readonly selectMinerTotals;
  private readonly selectUpstreamTotals;
  private readonly selectShares;
  private readonly selectShareSpan;
  private readonly selectSharePage;
  private readonly selectJob;
  private readonly dbIdentity: FileIdentity;
  private walIdentity: FileIdentity | undefined;

  private constructor(
    private readonly db: Database.Database,
    private readonly path: string,
    /** Held open for the writer's lifetime: its exclusive lock is what makes this the one writer. */
    private readonly lock: Database.Database | null,
  ) {
    this.insertJob = db.prepare<[JobRow]>(`INSERT INTO jobs (${JOB_COLUMNS}) VALUES (${placeholders(16)})`);
    this.insertShare = db.prepare<[ShareRow]>(
      `INSERT INTO shares (${SHARE_COLUMNS}) VALUES (${placeholders(17)})`,
    );
    this.updateVerdict = db.prepare<[VerdictRow]>(
      'UPDATE shares SET upstream_verdict = ?, upstream_error = ? WHERE id = ?',
    );
    this.insertSummary = db.prepare<[RejectSummaryRow]>(
      `INSERT INTO reject_summaries (${REJECT_SUMMARY_COLUMNS}) VALUES (${placeholders(7)})`,
    );
    // Jobs first, so that every share's job exists when its foreign key is checked.
    this.commitBatch = db.transaction((batch: CommitBatch) => {
      for (const job of batch.jobs) this.insertJob.run(job);
      forEachShareRow(batch.shares, (share) => {
        try {
          this.insertShare.run(share);
        } catch (error) {
          // A proof already credited (schema: shares_credited_hash): keep the row, as a duplicate.
          if (!isCreditedTwice(error)) throw error;
          const copy = [...share] satisfies ShareRow;
          copy[VERDICT] = 'duplicate';
          this.insertShare.run(copy);
        }
      });
      for (const verdict of batch.verdicts) this.updateVerdict.run(verdict);
      for (const summary of batch.summaries) this.insertSummary.run(summary);
    });
    // Rewriting the header's user_version (same value) commits one WAL page: a write with no row.
    this.probeWrite = db.transaction(() => db.pragma(`user_version = ${SCHEMA_VERSION}`));
    this.pruneBatch = pruneTransaction(db);
    this.selectSummaries = db
      .prepare<[number, number], RejectSummaryRow>(
        `SELECT ${REJECT_SUMMARY_COLUMNS} FROM reject_summaries
         WHERE period_start >= ? AND period_start < ? ORDER BY period_start, id`,
      )
      .raw();
    this.selectMinerTotals = db
      .prepare<[number, number], MinerTotalsRow>(
        `SELECT miner, worker, ${TOTALS_COLUMNS} FROM shares WHERE time >= ? AND time < ?
         GROUP BY miner, worker ORDER BY miner, worker`,
      )
      .raw();
    this.selectUpstreamTotals = db
      .prepare<[number, number], UpstreamTotalsRow>(
        `SELECT upstream, ${TOTALS_COLUMNS} FROM shares WHERE time >= ? AND time < ?
         GROUP BY upstream ORDER BY upstream`,
      )
      .raw();
    this.selectShares = db
      .prepare<[number, number], StoredShareRow>(
        `SELECT ${STORED_SHARE_COLUMNS} FROM shares WHERE time >= ? AND time < ? ORDER BY id`,
      )
      .raw();
    // The time index finds the window's ids; the pages then walk the table itself by id (NOT
    // INDEXED keeps the rowid range), never sorting the window once a page.
    this.selectShareSpan = db
      .prepare<[number, number], [number, number | null, number | null]>(
        'SELECT count(*), min(id), max(id) FROM shares WHERE time >= ? AND time < ?',
      )
      .raw();
    this.selectSharePage = db
      .prepare<[number, number, number, number, number], ShareRow>(
        `SELECT ${SHARE_COLUMNS} FROM shares NOT INDEXED WHERE id > ? AND id <= ? AND time >= ? AND time < ?
         ORDER BY id LIMIT ?`,
      )
      .raw();
    this.selectJob = db.prepare<[number], JobRow>(`SELECT ${JOB_COLUMNS} FROM jobs WHERE id = ?`).raw();
    this.dbIdentity = identify(path) ?? replaced(path);
  }

  /** Takes the writer's lock, then opens (creating or migrating) the ledger. */
  static openWriter(path: string, busyTimeoutMs: number): SqliteLedgerStore {
    const lock = takeLock(path);
    try {
      const db = new Database(path, { timeout: busyTimeoutMs });
      try {
        const mode = db.pragma('journal_mode = WAL', { simple: true }) as string;
        if (mode !== 'wal') {
          throw new ThreadFailure(
            'LEDGER_NO_WAL',
            `${path}: SQLite could not use WAL mode here (got ${mode}); put the ledger on a local disk`,
          );
        }
        // FULL: each commit fsyncs the WAL, so an acknowledged share survives power loss.
        db.pragma('synchronous = FULL');
        // macOS: fsync does not reach the platters without F_FULLFSYNC (no effect elsewhere).
        db.pragma('fullfsync = ON');
        db.pragma('checkpoint_fullfsync = ON');
        db.pragma('foreign_keys = ON');
        // The writer thread checkpoints on a timer, between commits; this only steps in (inside
        // a commit) if the timer falls far behind.
        db.pragma(`wal_autocheckpoint = ${FALLBACK_CHECKPOINT_PAGES}`);
        // Give the WAL back after a burst instead of keeping its high-water size.
        db.pragma(`journal_size_limit = ${64 * 1024 * 1024}`);
        migrate(db, path);
        return new SqliteLedgerStore(db, path, lock);
      } catch (error) {
        db.close();
        throw error;
      }
    } catch (error) {
      lock.close();
      throw error;
    }
  }

  /**
   * A connection beside the writer's, for queries (WAL lets it read while commits go on) and
   * checkpoints. It writes nothing else: `query_only` still allows checkpoints.
   */
  static openReader(path: string, busyTimeoutMs: number): SqliteLedgerStore {
    const db = new Database(path, { fileMustExist: true, timeout: busyTimeoutMs });
    try {
      db.pragma('query_only = ON');
      // Opened on its own (the audit), the file may be anything: refuse what is not a ledger.
      if (ledgerVersion(db, path) === 0) {
        throw new ThreadFailure(NOT_A_LEDGER, `${path} is empty: no ledger has been written there yet`);
      }
      db.pragma('synchronous = FULL');
      db.pragma('fullfsync = ON');
      db.pragma('checkpoint_fullfsync = ON');
      return new SqliteLedgerStore(db, path, null);
    } catch (error) {
      db.close();
      throw error;
    }
  }

  /** The newest job and share ids in the file: the main thread numbers new records after them. */
  lastIds(): { lastJobId: number; lastShareId: number } {
    const max = (table: string): number =>
      this.db.prepare<[], number>(`SELECT coalesce(max(id), 0) FROM ${table}`).pluck().get() ?? 0;
    return { lastJobId: max('jobs'), lastShareId: max('shares') };
  }

  /** Commits the batch in one transaction, then checks the commit landed in the file at `path`. */
  commit(batch: CommitBatch): void {
    this.commitBatch(batch);
    this.checkStillInPlace();
  }

  /**
   * After a full disk: fails with SQLITE_FULL until the ledger's filesystem has `minFreeBytes`
   * free (a failed commit leaves room for small writes, so a write alone proves too little),
   * then writes and fsyncs one page.
   */
  probe(minFreeBytes: number): void {
    const fs = statfsSync(dirname(this.path));
    const free = fs.bavail * fs.bsize;
    if (free < minFreeBytes) {
      throw new ThreadFailure(
        'SQLITE_FULL',
        `${free} bytes free beside ${this.path}, fewer than the ${minFreeBytes} the ledger waits for`,
      );
    }
    this.probeWrite.immediate();
    this.checkStillInPlace();
  }

  /** One transaction of `Ledger.pruneBefore`, then the check that it landed in the file at `path`. */
  prune(before: number, maxRows: number): PrunedRows {
    const pruned = this.pruneBatch(before, maxRows);
    this.checkStillInPlace();
    return pruned;
  }

  query<K extends Query['kind']>(query: Query & { kind: K }): QueryResults[K];
  query(query: Query): QueryResults[Query['kind']] {
    switch (query.kind) {
      case 'minerTotals':
        return this.minerTotals(query.window);
      case 'upstreamTotals':
        return this.upstreamTotals(query.window);
      case 'shares':
        return this.shares(query.window);
      case 'job':
        return this.job(query.id);
      case 'shareSpan':
        return this.shareSpan(query.window);
      case 'sharePage':
        return this.sharePage(query.window, query.page);
      case 'rejectSummaries':
        return this.rejectSummaries(query.window);
    }
  }

  /**
   * Copies committed WAL frames into the database file and fsyncs it, without blocking the
   * writer (PASSIVE). Once a checkpoint has caught up, the writer's next commit starts the
   * WAL over from its beginning, so it stays small.
   */
  checkpoint(): void {
    this.db.pragma('wal_checkpoint(PASSIVE)');
  }

  close(): void {
    if (this.lock !== null) this.db.pragma('optimize');
    this.db.close();
    this.lock?.close();
  }

  private minerTotals(window: TimeWindow): MinerTotals[] {
    return minerTotals(this.selectMinerTotals.all(window.from, window.to), window);
  }

  private upstreamTotals(window: TimeWindow): UpstreamTotals[] {
    return upstreamTotals(this.selectUpstreamTotals.all(window.from, window.to), window);
  }

  private shares(window: TimeWindow): StoredShare[] {
    return this.selectShares.all(window.from, window.to).map(storedShare);
  }

  private shareSpan(window: TimeWindow): ShareSpan {
    const [count, firstId, lastId] = this.selectShareSpan.get(window.from, window.to)!;
    return { count, firstId: firstId ?? 0, lastId: lastId ?? 0 };
  }

  private sharePage(window: TimeWindow, page: SharePageRequest): ShareColumns {
    const { afterId, throughId, limit } = page;
    return shareColumnsOf(this.selectSharePage.iterate(afterId, throughId, window.from, window.to, limit));
  }

  private rejectSummaries(window: TimeWindow): RejectSummary[] {
    return this.selectSummaries.all(window.from, window.to).map(storedRejectSummary);
  }

  private job(id: number): StoredJob | undefined {
    const row = this.selectJob.get(id);
    return row === undefined ? undefined : storedJob(row);
  }

  /**
   * SQLite keeps writing to a file that was deleted or replaced under it, and those commits
   * vanish when the connection closes: a commit only counts if the path still names the
   * database (and the WAL) it went to.
   */
  private checkStillInPlace(): void {
    if (!sameFile(identify(this.path), this.dbIdentity)) replaced(this.path);
    const wal = identify(`${this.path}-wal`);
    this.walIdentity ??= wal;
    if (!sameFile(wal, this.walIdentity)) replaced(`${this.path}-wal`);
  }
}

/**
 * One writer per ledger file: the ids the main thread hands out assume nobody else inserts.
 * The lock is an exclusive transaction held on `<path>-lock`, a separate file so that
 * readers (our own, `sqlite3`, an auditor) can still open the ledger itself. The OS drops
 * the lock when the process dies, however it dies. Never delete the lock file while a
 * ledger may be open: a second writer could then lock a new file of the same name.
 */
function takeLock(path: string): Database.Database {
  const lockPath = `${path}-lock`;
  const lock = new Database(lockPath, { timeout: 0 });
  try {
    lock.exec('BEGIN EXCLUSIVE');
    return lock;
  } catch (error) {
    lock.close();
    if (error instanceof Database.SqliteError && error.code === 'SQLITE_BUSY') {
      throw new ThreadFailure(
        LOCKED,
        `${path} is already open for writing (its lock ${lockPath} is held by another process, or by ` +
          'another ledger in this one); a SQLite ledger has one writer: stop the other proxy or give ' +
          'this one a ledger file of its own',
      );
    }
    throw error;
  }
}

/**
 * Deletes up to `maxRows` of each table's rows from before `before`, oldest first, in one
 * transaction. Jobs go after the shares: a job some kept share names stays (the foreign key
 * would refuse it anyway), and goes in a later call once its shares have.
 */
function pruneTransaction(db: Database.Database): (before: number, maxRows: number) => PrunedRows {
  const deleteShares = db.prepare<[number, number]>(
    'DELETE FROM shares WHERE id IN (SELECT id FROM shares WHERE time < ? ORDER BY time LIMIT ?)',
  );
  const deleteSummaries = db.prepare<[number, number]>(
    `DELETE FROM reject_summaries WHERE id IN
       (SELECT id FROM reject_summaries WHERE period_start < ? ORDER BY period_start LIMIT ?)`,
  );
  const deleteJobs = db.prepare<[number, number]>(
    `DELETE FROM jobs WHERE id IN
       (SELECT id FROM jobs WHERE received_at < ?
          AND NOT EXISTS (SELECT 1 FROM shares WHERE shares.job_id = jobs.id)
        ORDER BY received_at LIMIT ?)`,
  );
  const freePages = db.prepare<[], number>('PRAGMA freelist_count').pluck();
  const pageSize = db.pragma('page_size', { simple: true }) as number;
  return db.transaction((before: number, maxRows: number): PrunedRows => {
    const shares = deleteShares.run(before, maxRows).changes;
    const rejectSummaries = deleteSummaries.run(before, maxRows).changes;
    const jobs = deleteJobs.run(before, maxRows).changes;
    return { shares, jobs, rejectSummaries, freeBytes: (freePages.get() ?? 0) * pageSize };
  });
}

function placeholders(count: number): string {
  return Array.from({ length: count }, () => '?').join(', ');
}

function identify(path: string): FileIdentity | undefined {
  const stat = statSync(path, { throwIfNoEntry: false });
  return stat === undefined ? undefined : { dev: stat.dev, ino: stat.ino };
}

function sameFile(a: FileIdentity | undefined, b: FileIdentity | undefined): boolean {
  return a !== undefined && b !== undefined && a.dev === b.dev && a.ino === b.ino;
}

function replaced(path: string): never {
  throw new ThreadFailure(FILE_REPLACED, `${path} was removed or replaced while the ledger had it open`);
}

/** `verdict`'s place in a ShareRow (SHARE_COLUMNS order). */
const VERDICT = 14;

function isCreditedTwice(error: unknown): boolean {
  return (
    error instanceof Error &&
    (error as { code?: string }).code === 'SQLITE_CONSTRAINT_UNIQUE' &&
    error.message.includes('shares.hash')
  );
}
