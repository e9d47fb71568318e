import pg from 'pg';
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
import type { PgLocation } from './pg-ledger-connection.js';
import { currentVersion } from './pg-ledger-schema.js';
import {
  JOB_COLUMNS,
  REJECT_SUMMARY_COLUMNS,
  SHARE_COLUMNS,
  STORED_SHARE_COLUMNS,
  storedRejectSummary,
  type RejectSummaryRow,
  storedJob,
  storedShare,
  type JobRow,
  type ShareRow,
  type StoredShareRow,
} from './ledger-rows.js';
import { shareColumnsOf, type ShareColumns } from './sqlite-ledger-batch.js';
import {
  minerTotals,
  totalsColumns,
  upstreamTotals,
  type MinerTotalsRow,
  type UpstreamTotalsRow,
} from './window-totals.js';

/**
 * The ledger's reading side: a small pool of connections of its own, so that a long window
 * aggregate never waits behind a commit (nor a commit behind it), and the id blocks are drawn
 * (and old rows pruned) without queueing behind a batch. Queries see whatever any instance has
 * committed.
 */

/**
 * Every total of a group in one pass. The credited sum is exact (numeric) and read as text,
 * then rounded once to the nearest double.
 */
const TOTALS_COLUMNS = totalsColumns({
  credited: `sum(assigned_difficulty) FILTER (WHERE verdict = 'accepted')::text`,
  count: (column, verdict) => `count(*) FILTER (WHERE ${column} = '${verdict}')`,
});

export class PgReader {
  private readonly pool: pg.Pool;
  private readonly s: string;

  constructor(location: PgLocation, connectTimeoutMs: number) {
    this.s = location.schema;
    this.pool = new pg.Pool({
      ...location.config,
      max: 2,
      idleTimeoutMillis: 30_000,
      connectionTimeoutMillis: connectTimeoutMs,
    });
    // An idle connection that fails is dropped by the pool; without a listener it would throw.
    this.pool.on('error', () => undefined);
  }

  /** The schema's ledger version, 0 if it holds none; refuses a schema that is something else, or newer. */
  async schemaVersion(where: string): Promise<number> {
    const client = await this.pool.connect();
    try {
      return await currentVersion(client, this.s, where);
    } finally {
      client.release();
    }
  }

  /** The block size of an id sequence (its increment). */
  async blockSize(sequence: 'job_ids' | 'share_ids'): Promise<number> {
    const { rows } = await this.pool.query<[number]>({
      text: 'SELECT seqincrement FROM pg_sequence WHERE seqrelid = $1::regclass',
      values: [`${this.s}.${sequence}`],
      rowMode: 'array',
    });
    return rows[0]![0];
  }

  /**
   * Draws a block of ids and resolves with its first. The draw commits synchronously whatever
   * the session's default: a block handed out must not be handed out again after a crash.
   */
  async drawBlock(sequence: 'job_ids' | 'share_ids'): Promise<number> {
    const client = await this.pool.connect();
    try {
      const results = (await client.query(
        `BEGIN; SET LOCAL synchronous_commit = on; SELECT nextval('${this.s}.${sequence}') AS first; COMMIT`,
      )) as unknown as pg.QueryResult<{ first: number }>[];
      client.release();
      return results[2]!.rows[0]!.first;
    } catch (error) {
      client.release(error instanceof Error ? error : true);
      throw error;
    }
  }

  async minerTotals(window: TimeWindow): Promise<MinerTotals[]> {
    const { rows } = await this.pool.query<MinerTotalsRow>({
      text: `SELECT miner, worker, ${TOTALS_COLUMNS} FROM ${this.s}.shares WHERE time >= $1 AND time < $2
             GROUP BY miner, worker ORDER BY miner, worker`,
      values: bounds(window),
      rowMode: 'array',
    });
    return minerTotals(rows, window);
  }

  async upstreamTotals(window: TimeWindow): Promise<UpstreamTotals[]> {
    const { rows } = await this.pool.query<UpstreamTotalsRow>({
      text: `SELECT upstream, ${TOTALS_COLUMNS} FROM ${this.s}.shares WHERE time >= $1 AND time < $2
             GROUP BY upstream ORDER BY upstream`,
      values: bounds(window),
      rowMode: 'array',
    });
    return upstreamTotals(rows, window);
  }

  /** The difficulty, numeric, comes back as its exact text: pg leaves numeric unparsed. */
  async shares(window: TimeWindow): Promise<StoredShare[]> {
    const { rows } = await this.pool.query<StoredShareRow>({
      text: `SELECT ${STORED_SHARE_COLUMNS} FROM ${this.s}.shares WHERE time >= $1 AND time < $2 ORDER BY id`,
      values: bounds(window),
      rowMode: 'array',
    });
    return rows.map(storedShare);
  }

  async shareSpan(window: TimeWindow): Promise<ShareSpan> {
    const { rows } = await this.pool.query<[number, number | null, number | null]>({
      text: `SELECT count(*), min(id), max(id) FROM ${this.s}.shares WHERE time >= $1 AND time < $2`,
      values: bounds(window),
      rowMode: 'array',
    });
    const [count, firstId, lastId] = rows[0]!;
    return { count, firstId: firstId ?? 0, lastId: lastId ?? 0 };
  }

  /** Keyset pages on the primary key: each page starts where the last ended, none sorts the window. */
  async sharePage(window: TimeWindow, page: SharePageRequest): Promise<ShareColumns> {
    const { rows } = await this.pool.query<ShareRow>({
      text: `SELECT ${SHARE_COLUMNS} FROM ${this.s}.shares WHERE id > $1 AND id <= $2 AND time >= $3 AND time < $4
             ORDER BY id LIMIT $5`,
      values: [page.afterId, page.throughId, ...bounds(window), page.limit],
      rowMode: 'array',
    });
    return shareColumnsOf(rows);
  }

  async job(id: number): Promise<StoredJob | undefined> {
    // SQLite answers "no such job" for an id that is not an integer; bigint would refuse it.
    if (!Number.isSafeInteger(id)) return undefined;
    const { rows } = await this.pool.query<JobRow>({
      text: `SELECT ${JOB_COLUMNS} FROM ${this.s}.jobs WHERE id = $1`,
      values: [id],
      rowMode: 'array',
    });
    const row = rows[0];
    return row === undefined ? undefined : storedJob(row);
  }

  async rejectSummaries(window: TimeWindow): Promise<RejectSummary[]> {
    const { rows } = await this.pool.query<RejectSummaryRow>({
      text: `SELECT ${REJECT_SUMMARY_COLUMNS} FROM ${this.s}.reject_summaries
             WHERE period_start >= $1 AND period_start < $2 ORDER BY period_start, id`,
      values: bounds(window),
      rowMode: 'array',
    });
    return rows.map(storedRejectSummary);
  }

  /**
   * One transaction of `Ledger.pruneBefore`. SKIP LOCKED: instances pruning together split the
   * rows instead of queueing on each other, and a job a share being inserted now names (its
   * foreign key check holds a lock on the job) is left for a later pass.
   */
  async prune(before: number, maxRows: number): Promise<PrunedRows> {
    const s = this.s;
    const client = await this.pool.connect();
    try {
      await client.query('BEGIN');
      const deleted = async (sql: string): Promise<number> =>
        (await client.query(sql, [before, maxRows])).rowCount ?? 0;
      const shares = await deleted(
        `DELETE FROM ${s}.shares WHERE id IN (SELECT id FROM ${s}.shares WHERE time < $1
           ORDER BY time LIMIT $2 FOR UPDATE SKIP LOCKED)`,
      );
      const rejectSummaries = await deleted(
        `DELETE FROM ${s}.reject_summaries WHERE id IN (SELECT id FROM ${s}.reject_summaries
           WHERE period_start < $1 ORDER BY period_start LIMIT $2 FOR UPDATE SKIP LOCKED)`,
      );
      const jobs = await deleted(
        `DELETE FROM ${s}.jobs WHERE id IN (SELECT id FROM ${s}.jobs WHERE received_at < $1
           AND NOT EXISTS (SELECT 1 FROM ${s}.shares WHERE shares.job_id = jobs.id)
           ORDER BY received_at LIMIT $2 FOR UPDATE SKIP LOCKED)`,
      );
      await client.query('COMMIT');
      client.release();
      return { shares, jobs, rejectSummaries };
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      client.release(error instanceof Error ? error : true);
      throw error;
    }
  }

  async close(): Promise<void> {
    await this.pool.end().catch(() => undefined);
  }
}

/** The bigint range the window bounds are clamped to (every stored time is a safe integer). */
const LIMIT = 2 ** 62;

/**
 * A window's bounds as bigint parameters. Times are integers, so `time ≥ from` is
 * `time ≥ ⌈from⌉` and `time < to` is `time < ⌈to⌉`, for any real bounds SQLite would take.
 */
function bounds(window: TimeWindow): [string, string] {
  const bound = (value: number): string => String(Math.min(Math.max(Math.ceil(value), -LIMIT), LIMIT));
  return [bound(window.from), bound(window.to)];
}
