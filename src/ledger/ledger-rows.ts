import type { LocalVerdict, RejectSummary, StoredJob, StoredShare, UpstreamVerdict } from './ledger.js';

/**
 * The ledger's two tables as rows, one order of columns for both backends: the column lists,
 * the tuple types that follow them, and the records a row read back stands for. The backends
 * differ only in how a few columns are held: SQLite's flags are 0 or 1 and its difficulty a
 * REAL; PostgreSQL's flags are booleans and its difficulty an exact numeric, which pg returns
 * as text.
 */

/** The `jobs` columns, in JobRow order. */
export const JOB_COLUMNS =
  'id, received_at, upstream, upstream_session, upstream_job_id, proxy_job_id, prevhash, coinb1, coinb2, ' +
  'merkle_branch, version, nbits, ntime, clean_jobs, extranonce1, extranonce2_size';

/** The `shares` columns a share is written with, in ShareRow order (upstream_error starts null). */
export const SHARE_COLUMNS =
  'id, time, miner, worker, upstream, upstream_session, job_id, extranonce2, ntime, nonce, version_bits, ' +
  'assigned_difficulty, share_difficulty, hash, verdict, upstream_verdict, is_block';

/** The `shares` columns read back, in StoredShareRow order. */
export const STORED_SHARE_COLUMNS = `${SHARE_COLUMNS}, upstream_error`;

type Flag = boolean | 0 | 1;

/** A `jobs` row; `F` is how the backend holds a flag. */
export type JobRow<F extends Flag = Flag> = [
  id: number,
  receivedAt: number,
  upstream: string,
  upstreamSession: string,
  upstreamJobId: string,
  proxyJobId: string,
  prevhash: Uint8Array,
  coinb1: Uint8Array,
  coinb2: Uint8Array,
  /** The branch's 32-byte hashes, concatenated. */
  merkleBranch: Uint8Array,
  version: number,
  nbits: number,
  ntime: number,
  cleanJobs: F,
  extranonce1: Uint8Array,
  extranonce2Size: number,
];

/** A `shares` row as written; `D` is how the backend holds the difficulty, `F` a flag. */
export type ShareRow<D extends number | string = number | string, F extends Flag = Flag> = [
  id: number,
  time: number,
  miner: string,
  worker: string,
  upstream: string,
  upstreamSession: string,
  jobId: number | null,
  extranonce2: Uint8Array,
  ntime: number,
  nonce: number,
  versionBits: number | null,
  assignedDifficulty: D,
  shareDifficulty: number | null,
  hash: Uint8Array | null,
  verdict: string,
  upstreamVerdict: string,
  isBlock: F,
];

/** A `shares` row read back: as written, then the upstream's error text. */
export type StoredShareRow = [...ShareRow, upstreamError: string | null];

export function storedShare(r: Readonly<StoredShareRow>): StoredShare {
  return {
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
    // The schema's CHECKs hold both verdict columns to these types' values.
    verdict: r[14] as LocalVerdict,
    upstreamVerdict: r[15] as UpstreamVerdict,
    upstreamError: r[17],
    isBlock: Boolean(r[16]),
  };
}

export function storedJob(r: Readonly<JobRow>): StoredJob {
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
    merkleBranch: splitBranch(r[9]),
    version: r[10],
    nbits: r[11],
    ntime: r[12],
    cleanJobs: Boolean(r[13]),
    extranonce1: bytes(r[14]),
    extranonce2Size: r[15],
  };
}

/** The `reject_summaries` columns, in RejectSummaryRow order. */
export const REJECT_SUMMARY_COLUMNS = 'period_start, period_end, miner, worker, upstream, verdict, shares';

/** A `reject_summaries` row (its own id is the database's). */
export type RejectSummaryRow = [
  from: number,
  to: number,
  miner: string,
  worker: string,
  upstream: string,
  verdict: string,
  shares: number,
];

export function rejectSummaryRow(s: RejectSummary): RejectSummaryRow {
  return [s.from, s.to, s.miner, s.worker, s.upstream, s.verdict, s.shares];
}

export function storedRejectSummary(r: RejectSummaryRow): RejectSummary {
  return {
    from: r[0],
    to: r[1],
    miner: r[2],
    worker: r[3],
    upstream: r[4],
    // The schema's CHECK holds the verdict to a rejected LocalVerdict.
    verdict: r[5] as RejectSummary['verdict'],
    shares: r[6],
  };
}

/** A merkle branch as one column holds it: its 32-byte hashes, concatenated in order. */
export function joinBranch(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.length * 32);
  parts.forEach((part, i) => {
    out.set(part, i * 32);
  });
  return out;
}

function splitBranch(joined: Uint8Array): Uint8Array[] {
  return Array.from({ length: joined.length / 32 }, (_, i) => bytes(joined.subarray(i * 32, i * 32 + 32)));
}

/** A plain Uint8Array with a buffer of its own, as callers of the ledger get bytes back. */
function bytes(column: Uint8Array): Uint8Array {
  return new Uint8Array(column);
}
