import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import Database from 'better-sqlite3';
import type { JobRecord, TimeWindow } from '../src/ledger/ledger.js';
import { joinBranch, SHARE_COLUMNS } from '../src/ledger/ledger-rows.js';
import { openLedgerReader } from '../src/ledger/open-ledger.js';
import { lastShareId } from '../src/ledger/sqlite-ledger-batch.js';
import { openSqliteLedger } from '../src/ledger/sqlite-ledger.js';
import { prepareJob, type PreparedJob } from '../src/work/share-check.js';
import { wordsToBytes } from '../src/work/sha256.js';
import { toJobId } from '../src/work/types.js';
import { hashHeader, merkleRootWords } from '../validator/audit-page.js';
import { auditWindow } from '../validator/audit.js';

/**
 * `hashrelay audit` end to end over a day's SQLite ledger (default 10 million shares), beside
 * the rates that bound it: the ledger's own read rate (better-sqlite3 stepping the rows the
 * audit reads, nothing done with them) and the audit's stream alone (pages of columns off the
 * database thread, nothing checked). The ledger is built once and kept under
 * $HASHRELAY_BENCH_DIR (default the temp dir), keyed by its shape.
 *
 *   npm run bench -- audit [--shares N] [--repeat R] [--miners M] [--threads 0,2 | none]
 *
 * --repeat: shares a miner finds on one extranonce2 of a job before moving on (nonce, ntime and
 * version rolled meanwhile). With the default 5000 miners a miner finds fewer than one share per
 * 30 s job, so no merkle root repeats: the realistic worst case. Fewer miners (--miners 500)
 * give each several shares a job, and the root cache its due. --threads none only builds the
 * ledger. Fewer shares than a day's 10 million span less time at the same rate.
 */

const DAY_MS = 86_400_000;
/** A day at a large farm; fewer shares cover a shorter span at the same rate (shares a job). */
const SHARES_A_DAY = 10_000_000;
const T0 = Date.UTC(2026, 0, 1);
const UPSTREAMS = 8;
/** An upstream sends a new job every 30 s. */
const JOB_MS = 30_000;
/** Every hash meets 2^-32 but one in 65 536: those are recorded as refused, low difficulty. */
const DIFFICULTY = 2 ** -32;
const LEDGER_SHAPE_VERSION = 4;

interface BenchArgs {
  readonly shares: number;
  readonly repeat: number;
  readonly miners: number;
  readonly threads: readonly number[];
}

function benchArgs(): BenchArgs {
  const { values } = parseArgs({
    args: process.argv.slice(2),
    strict: false,
    options: {
      shares: { type: 'string' },
      repeat: { type: 'string' },
      miners: { type: 'string' },
      threads: { type: 'string' },
    },
  });
  const number = (value: unknown, fallback: number): number =>
    typeof value === 'string' && Number.isFinite(Number(value)) ? Number(value) : fallback;
  const threads =
    typeof values.threads === 'string'
      ? values.threads
          .split(',')
          .map((t) => Number(t))
          .filter((t) => Number.isInteger(t) && t >= 0)
      : [availableParallelism()];
  return {
    shares: Math.max(1, Math.floor(number(values.shares, 10_000_000))),
    repeat: Math.max(1, Math.floor(number(values.repeat, 4))),
    miners: Math.max(1, Math.floor(number(values.miners, 5000))),
    threads,
  };
}

function benchJob(upstream: number, index: number): JobRecord {
  return {
    receivedAt: T0 + index * JOB_MS,
    upstream: `validator-${upstream}`,
    upstreamSession: `validator-${upstream}/1`,
    upstreamJobId: index.toString(16),
    proxyJobId: `${upstream}:${index.toString(16)}`,
    prevhash: randomBytes(32),
    coinb1: randomBytes(60),
    coinb2: randomBytes(140),
    merkleBranch: Array.from({ length: 12 }, () => randomBytes(32)),
    version: 0x20000000,
    nbits: 0x17034219,
    ntime: Math.floor((T0 + index * JOB_MS) / 1000),
    cleanJobs: index % 20 === 0,
    extranonce1: Buffer.from([0xa0, 0, 0, upstream]),
    extranonce2Size: 8,
  };
}

/** Builds the ledger in one transaction, indexes dropped meanwhile and rebuilt after (sorted, not row by row). */
async function buildLedger(path: string, { shares, repeat, miners }: BenchArgs): Promise<void> {
  const partial = `${path}.partial`;
  rmSync(partial, { force: true });
  await (await openSqliteLedger(partial)).close(); // the schema, as the proxy creates it
  const db = new Database(partial);
  // No WAL while building: a transaction of gigabytes would pass through it twice. (OFF is
  // refused in better-sqlite3's defensive mode; a new file's rollback journal stays small.)
  db.pragma('journal_mode = DELETE');
  db.pragma('synchronous = OFF');
  db.pragma('cache_size = -1000000');
  const indexes = db
    .prepare<[], string>(
      "SELECT sql FROM sqlite_schema WHERE type = 'index' AND tbl_name = 'shares' AND sql IS NOT NULL",
    )
    .pluck()
    .all();
  for (const name of db
    .prepare<[], string>(
      "SELECT name FROM sqlite_schema WHERE type = 'index' AND tbl_name = 'shares' AND sql IS NOT NULL",
    )
    .pluck()
    .all()) {
    db.exec(`DROP INDEX ${name}`);
  }
  const insertJob = db.prepare(
    `INSERT INTO jobs (id, received_at, upstream, upstream_session, upstream_job_id, proxy_job_id, prevhash, coinb1,
       coinb2, merkle_branch, version, nbits, ntime, clean_jobs, extranonce1, extranonce2_size)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  );
  const insertShare = db.prepare(
    `INSERT INTO shares (${SHARE_COLUMNS}) VALUES (${Array.from({ length: 17 }, () => '?').join(', ')})`,
  );
  const hotkeys = Array.from(
    { length: miners },
    (_, m) => `5${m.toString(36).padStart(6, '0')}${'x'.repeat(41)}`,
  );
  // Each upstream's current job: shares arrive in time order, so an older one is never named again.
  const current: (
    { readonly index: number; readonly id: number; readonly prepared: PreparedJob } | undefined
  )[] = [];
  let nextJobId = 1;
  const jobFor = (upstream: number, index: number) => {
    let job = current[upstream];
    if (job?.index !== index) {
      const record = benchJob(upstream, index);
      const id = nextJobId++;
      insertJob.run(
        id,
        record.receivedAt,
        record.upstream,
        record.upstreamSession,
        record.upstreamJobId,
        record.proxyJobId,
        record.prevhash,
        record.coinb1,
        record.coinb2,
        joinBranch(record.merkleBranch),
        record.version,
        record.nbits,
        record.ntime,
        record.cleanJobs ? 1 : 0,
        record.extranonce1,
        record.extranonce2Size,
      );
      const prepared = prepareJob({ ...record, jobId: toJobId(record.upstreamJobId) }, record.extranonce1);
      current[upstream] = job = { index, id, prepared };
    }
    return job;
  };
  // Per miner: the job it last worked on, and how many shares it found there.
  const minerJob = new Int32Array(miners).fill(-1);
  const minerShares = new Int32Array(miners);
  // Per miner: the merkle root of its current extranonce2.
  const roots = new Int32Array(miners * 8);
  const hashWords = new Int32Array(8);
  const extranonce2 = Buffer.alloc(8);
  db.transaction(() => {
    for (let i = 0; i < shares; i++) {
      const time = T0 + Math.floor((i * spanOf(shares)) / shares);
      const miner = i % miners;
      const upstream = miner % UPSTREAMS;
      const job = jobFor(upstream, Math.floor((time - T0) / JOB_MS));
      if (minerJob[miner] !== job.id) {
        minerJob[miner] = job.id;
        minerShares[miner] = 0;
      }
      const found = minerShares[miner]!;
      minerShares[miner] = found + 1;
      extranonce2.writeUInt32BE(miner, 0); // the miner's slot
      extranonce2.writeUInt32BE(Math.floor(found / repeat), 4);
      const root = roots.subarray(miner * 8, miner * 8 + 8);
      if (found % repeat === 0) merkleRootWords(job.prepared, extranonce2, root);
      const rolls = miner % 2 === 0; // half the farm rolls version bits (BIP 320)
      const versionBits = rolls ? ((i * 0x9e3779b1) << 13) & 0x1fffe000 : null;
      const version = versionBits === null ? 0x20000000 : (0x20000000 | versionBits) >>> 0;
      const ntime = job.prepared.job.ntime + (found % 30);
      const nonce = (i * 2654435761) >>> 0;
      hashHeader(job.prepared, root, version, ntime, nonce, hashWords);
      const hash = wordsToBytes(hashWords);
      // h ≤ T1·2^32 unless the top 16 bits of the hash are all ones.
      const accepted = !(hash[31] === 0xff && hash[30] === 0xff);
      insertShare.run(
        i + 1,
        time,
        hotkeys[miner]!,
        `${hotkeys[miner]!}.rig${i % 3}`,
        `validator-${upstream}`,
        `validator-${upstream}/1`,
        job.id,
        extranonce2,
        ntime,
        nonce,
        versionBits,
        DIFFICULTY,
        null,
        hash,
        accepted ? 'accepted' : 'low-difficulty',
        accepted ? 'accepted' : 'not-forwarded',
        0,
      );
    }
  })();
  for (const sql of indexes) db.exec(sql);
  db.pragma('journal_mode = WAL'); // as the proxy leaves it
  db.close();
  renameSync(partial, path);
  rmSync(`${partial}-lock`, { force: true });
}

function spanOf(shares: number): number {
  return Math.max(JOB_MS, Math.round((DAY_MS * shares) / SHARES_A_DAY));
}

function windowOf(shares: number): TimeWindow {
  return { from: T0, to: T0 + spanOf(shares) };
}

/** Rows per second better-sqlite3 steps through, the audit's query, nothing done with them. */
function rawReadRate(path: string, window: TimeWindow): number {
  const db = new Database(path, { readonly: true });
  db.pragma('cache_size = -200000');
  const { from, to } = window;
  const started = performance.now();
  let rows = 0;
  for (const _ of db
    .prepare(`SELECT ${SHARE_COLUMNS} FROM shares NOT INDEXED WHERE time >= ? AND time < ? ORDER BY id`)
    .raw()
    .iterate(from, to)) {
    rows++;
  }
  const seconds = (performance.now() - started) / 1000;
  db.close();
  return rows / seconds;
}

/** Shares per second through the audit's stream (pages off the database thread), nothing checked. */
async function streamRate(path: string, window: TimeWindow): Promise<number> {
  const ledger = await openLedgerReader(`sqlite:${path}`);
  try {
    const started = performance.now();
    const span = await ledger.shareSpan(window);
    let afterId = span.firstId - 1;
    let rows = 0;
    for (;;) {
      const page = await ledger.sharePage(window, { afterId, throughId: span.lastId, limit: 16_384 });
      rows += page.count;
      if (page.count < 16_384) break;
      afterId = lastShareId(page, span.lastId);
    }
    return rows / ((performance.now() - started) / 1000);
  } finally {
    await ledger.close();
  }
}

export async function runAuditThroughputBench(): Promise<void> {
  const args = benchArgs();
  const dir = join(process.env['HASHRELAY_BENCH_DIR'] ?? tmpdir(), 'hashrelay-bench-audit');
  mkdirSync(dir, { recursive: true });
  const path = join(
    dir,
    `ledger-v${LEDGER_SHAPE_VERSION}-${args.shares}-r${args.repeat}${args.miners === 5000 ? '' : `-m${args.miners}`}.sqlite`,
  );
  console.log(
    `# hashrelay audit, ${args.shares} shares over ${(spanOf(args.shares) / 3_600_000).toFixed(1)} h ` +
      `from ${args.miners} miners (${args.repeat} a merkle root), SQLite`,
  );
  console.log(
    `load average ${loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}, ${availableParallelism()} cores`,
  );
  if (existsSync(path)) {
    console.log(`ledger ${path} (kept from an earlier run)`);
  } else {
    const started = performance.now();
    await buildLedger(path, args);
    const seconds = (performance.now() - started) / 1000;
    console.log(`ledger ${path} built in ${seconds.toFixed(1)} s (${rate(args.shares / seconds)} shares/s)`);
  }
  const window = windowOf(args.shares);
  if (args.threads.length === 0) return;
  console.log(`ledger read, raw (better-sqlite3 iterate): ${rate(rawReadRate(path, window))} rows/s`);
  console.log(
    `ledger read, the audit's stream (pages of columns): ${rate(await streamRate(path, window))} rows/s`,
  );
  for (const threads of args.threads) {
    const ledger = await openLedgerReader(`sqlite:${path}`);
    try {
      const report = await auditWindow(ledger, window, { threads });
      const verdict = report.ok ? 'ok' : `NOT OK (${JSON.stringify(report.failureCounts)})`;
      console.log(
        `audit, ${threads} checking thread${threads === 1 ? '' : 's'}: ${rate(report.sharesPerSecond)} shares/s ` +
          `(${report.sharesChecked} in ${(report.elapsedMs / 1000).toFixed(1)} s, ${verdict})`,
      );
    } finally {
      await ledger.close();
    }
  }
}

function rate(perSecond: number): string {
  return `${(perSecond / 1000).toFixed(1)} k`;
}
