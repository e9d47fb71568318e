import pg from 'pg';
import type {
  LocalVerdict,
  MinerTotals,
  StoredJob,
  StoredShare,
  TimeWindow,
  UpstreamTotals,
  UpstreamVerdict,
  WorkTotals,
} from './ledger.js';
import type { PgLocation } from './pg-ledger-connection.js';
import { LOCAL_VERDICTS, UPSTREAM_VERDICTS } from './verdicts.js';

/**
 * The ledger's reading side: a small pool of connections of its own, so that a long window
 * aggregate never waits behind a commit (nor a commit behind it), and the id blocks are drawn
 * without queueing behind a batch. Queries see whatever any instance has committed.
 */

const SHARE_COLUMNS =
  'id, time, miner, worker, upstream, upstream_session, job_id, extranonce2, ntime, nonce, version_bits, ' +
  'assigned_difficulty::text, share_difficulty, hash, verdict, upstream_verdict, upstream_error, is_block';
const JOB_COLUMNS =
  'id, received_at, upstream, upstream_session, upstream_job_id, proxy_job_id, prevhash, coinb1, coinb2, ' +
  'merkle_branch, version, nbits, ntime, clean_jobs, extranonce1, extranonce2_size';

/**
 * Every total of a group in one pass; the verdict counts are columns, not rows. The credited
 * sum is exact (numeric) and read as text, then rounded once to the nearest double.
 */
const TOTALS_COLUMNS = [
  `sum(assigned_difficulty) FILTER (WHERE verdict = 'accepted')::text`,
  ...LOCAL_VERDICTS.map((v) => `count(*) FILTER (WHERE verdict = '${v}')`),
  ...UPSTREAM_VERDICTS.map((v) => `count(*) FILTER (WHERE upstream_verdict = '${v}')`),
].join(', ');

type TotalsTail = [credited: string | null, ...counts: number[]];

type StoredShareRow = [
  id: number,
  time: number,
  miner: string,
  worker: string,
  upstream: string,
  upstreamSession: string,
  jobId: number | null,
  extranonce2: Buffer,
  ntime: number,
  nonce: number,
  versionBits: number | null,
  assignedDifficulty: string,
  shareDifficulty: number | null,
  hash: Buffer | null,
  verdict: LocalVerdict,
  upstreamVerdict: UpstreamVerdict,
  upstreamError: string | null,
  isBlock: boolean,
];

type JobRow = [
  id: number,
  receivedAt: number,
  upstream: string,
  upstreamSession: string,
  upstreamJobId: string,
  proxyJobId: string,
  prevhash: Buffer,
  coinb1: Buffer,
  coinb2: Buffer,
  merkleBranch: Buffer,
  version: number,
  nbits: number,
  ntime: number,
  cleanJobs: boolean,
  extranonce1: Buffer,
  extranonce2Size: number,
];

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
    const { rows } = await this.pool.query<[string, string, ...TotalsTail]>({
      text: `SELECT miner, worker, ${TOTALS_COLUMNS} FROM ${this.s}.shares WHERE time >= $1 AND time < $2
             GROUP BY miner, worker ORDER BY miner, worker`,
      values: bounds(window),
      rowMode: 'array',
    });
    return rows.map(([miner, worker, ...tail]) => ({ miner, worker, ...workTotals(tail, window) }));
  }

  async upstreamTotals(window: TimeWindow): Promise<UpstreamTotals[]> {
    const { rows } = await this.pool.query<[string, ...TotalsTail]>({
      text: `SELECT upstream, ${TOTALS_COLUMNS} FROM ${this.s}.shares WHERE time >= $1 AND time < $2
             GROUP BY upstream ORDER BY upstream`,
      values: bounds(window),
      rowMode: 'array',
    });
    return rows.map(([upstream, ...tail]) => ({ upstream, ...workTotals(tail, window) }));
  }

  async shares(window: TimeWindow): Promise<StoredShare[]> {
    const { rows } = await this.pool.query<StoredShareRow>({
      text: `SELECT ${SHARE_COLUMNS} FROM ${this.s}.shares WHERE time >= $1 AND time < $2 ORDER BY id`,
      values: bounds(window),
      rowMode: 'array',
    });
    return rows.map((r) => ({
      id: r[0],
      time: r[1],
      miner: r[2],
      worker: r[3],
      upstream: r[4],
      upstreamSession: r[5],
      jobId: r[6],
      extranonce2: bytes(r[7]),
      ntime: r[8],
      nonce: r[9],
      versionBits: r[10],
      assignedDifficulty: Number(r[11]),
      shareDifficulty: r[12],
      hash: r[13] === null ? null : bytes(r[13]),
      verdict: r[14],
      upstreamVerdict: r[15],
      upstreamError: r[16],
      isBlock: r[17],
    }));
  }

  async job(id: number): Promise<StoredJob | undefined> {
    // SQLite answers "no such job" for an id that is not an integer; bigint would refuse it.
    if (!Number.isSafeInteger(id)) return undefined;
    const { rows } = await this.pool.query<JobRow>({
      text: `SELECT ${JOB_COLUMNS} FROM ${this.s}.jobs WHERE id = $1`,
      values: [id],
      rowMode: 'array',
    });
    const r = rows[0];
    if (r === undefined) return undefined;
    const branch = r[9];
    return {
      id: r[0],
      receivedAt: r[1],
      upstream: r[2],
      upstreamSession: r[3],
      upstreamJobId: r[4],
      proxyJobId: r[5],
      prevhash: bytes(r[6]),
      coinb1: bytes(r[7]),
      coinb2: bytes(r[8]),
      merkleBranch: Array.from({ length: branch.length / 32 }, (_, i) =>
        bytes(branch.subarray(i * 32, i * 32 + 32)),
      ),
      version: r[10],
      nbits: r[11],
      ntime: r[12],
      cleanJobs: r[13],
      extranonce1: bytes(r[14]),
      extranonce2Size: r[15],
    };
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

function workTotals([credited, ...counts]: TotalsTail, window: TimeWindow): WorkTotals {
  const sharesByVerdict: Partial<Record<LocalVerdict, number>> = {};
  const sharesByUpstreamVerdict: Partial<Record<UpstreamVerdict, number>> = {};
  LOCAL_VERDICTS.forEach((verdict, i) => {
    const count = counts[i] ?? 0;
    if (count > 0) sharesByVerdict[verdict] = count;
  });
  UPSTREAM_VERDICTS.forEach((verdict, i) => {
    const count = counts[LOCAL_VERDICTS.length + i] ?? 0;
    if (count > 0) sharesByUpstreamVerdict[verdict] = count;
  });
  const creditedDifficulty = credited === null ? 0 : Number(credited);
  return {
    creditedDifficulty,
    hashrate: (creditedDifficulty * 2 ** 32) / ((window.to - window.from) / 1000),
    sharesByVerdict,
    sharesByUpstreamVerdict,
  };
}

/** A plain Uint8Array with a buffer of its own, as callers of the ledger get bytes back. */
function bytes(buffer: Buffer): Uint8Array {
  return new Uint8Array(buffer);
}
