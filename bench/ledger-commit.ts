import { randomBytes } from 'node:crypto';
import { closeSync, mkdtempSync, openSync, rmSync, fsyncSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import type { Ledger, LedgerJobId, ShareRecord } from '../src/ledger/ledger.js';
import { openPgLedger } from '../src/ledger/pg-ledger.js';
import { openSqliteLedger } from '../src/ledger/sqlite-ledger.js';
import { findPostgresBinaries, POSTGRES_URL_VARIABLE, ThrowawayCluster } from '../test/support/postgres.js';

/**
 * The ledgers' group commit, measured through recordShare as the proxy calls it: sustained
 * shares/s with the ledger as the only limit, then commit latency (recordShare to resolve) at
 * fixed offered loads, beside this disk's own fsync latency, which bounds it from below. Also
 * the main thread's cost per recordShare and its event-loop delay, which is what the miners
 * feel. Set HASHRELAY_BENCH_DIR to measure a particular disk (default: os.tmpdir()).
 *
 * SQLite always; PostgreSQL at HASHRELAY_BENCH_PG (a URL; each case gets a schema of its own,
 * dropped afterwards), else at HASHRELAY_TEST_POSTGRES_URL, else in a throwaway cluster under
 * HASHRELAY_BENCH_DIR when PostgreSQL is installed (its commits then wait for the same disk).
 */

const MINERS = 5000;
const UPSTREAMS = 8;

interface Workload {
  readonly hotkeys: readonly string[];
  readonly jobIds: LedgerJobId[];
  /** Random bytes that extranonce2s and hashes are views into, as a parser's buffers would be. */
  readonly pool: Uint8Array;
  next: number;
}

/** What the bench reads from either backend's stats. */
interface BenchLedger extends Ledger {
  stats(): { readonly commits: number; readonly largestCommit: number; readonly commitSeconds: number };
}

interface Backend {
  /** e.g. "SQLite ledger (WAL, synchronous=FULL) in /tmp/…". */
  readonly title: string;
  /** A new, empty ledger for one case. */
  open(label: string): Promise<BenchLedger>;
  /** Removes what the cases left. */
  release(): Promise<void>;
}

function workload(ledger: Ledger): Workload {
  // SS58 hotkeys are 48 characters; a farm has a few thousand miners over a handful of validators.
  const hotkeys = Array.from(
    { length: MINERS },
    () => `5${randomBytes(36).toString('base64url').slice(0, 47)}`,
  );
  const jobIds = Array.from({ length: UPSTREAMS }, (_, u) => recordJob(ledger, u));
  return { hotkeys, jobIds, pool: randomBytes(1 << 20), next: 0 };
}

function recordJob(ledger: Ledger, upstream: number): LedgerJobId {
  return ledger.recordJob({
    receivedAt: Date.now(),
    upstream: `validator-${upstream}`,
    upstreamSession: `validator-${upstream}/1`,
    upstreamJobId: randomBytes(4).toString('hex'),
    proxyJobId: randomBytes(4).toString('hex'),
    prevhash: randomBytes(32),
    coinb1: randomBytes(60),
    coinb2: randomBytes(140),
    merkleBranch: Array.from({ length: 12 }, () => randomBytes(32)),
    version: 0x20000000,
    nbits: 0x17034219,
    ntime: Math.floor(Date.now() / 1000),
    cleanJobs: true,
    extranonce1: randomBytes(4),
    extranonce2Size: 8,
  });
}

function nextShare(w: Workload, ledger: Ledger): ShareRecord {
  const n = w.next++;
  const upstream = n % UPSTREAMS;
  // A new job per upstream every 20,000 shares (about every 30 s at a busy farm's rate).
  if (n % 20_000 === 19_999) w.jobIds[upstream] = recordJob(ledger, upstream);
  const accepted = n % 50 !== 0;
  return {
    time: Date.now(),
    miner: w.hotkeys[n % MINERS]!,
    worker: `rig${n % 7}`,
    upstream: `validator-${upstream}`,
    upstreamSession: `validator-${upstream}/1`,
    jobId: w.jobIds[upstream]!,
    extranonce2: w.pool.subarray((n * 8) % 1_000_000, ((n * 8) % 1_000_000) + 8),
    ntime: Math.floor(Date.now() / 1000),
    nonce: (n * 2654435761) >>> 0,
    versionBits: (n << 13) & 0x1fffe000,
    assignedDifficulty: 65536,
    shareDifficulty: 65536 * (1 + (n % 97)),
    hash: w.pool.subarray((n * 40) % 1_000_000, ((n * 40) % 1_000_000) + 32),
    verdict: accepted ? 'accepted' : 'low-difficulty',
    upstreamVerdict: accepted ? 'pending' : 'not-forwarded',
    isBlock: false,
  };
}

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}

/** This disk's latency for a 4 KiB write + fsync: no commit can be faster. */
function fsyncLatencies(dir: string): number[] {
  const path = join(dir, 'fsync-probe');
  const fd = openSync(path, 'w');
  const block = randomBytes(4096);
  const samples: number[] = [];
  try {
    for (let i = 0; i < 200; i++) {
      const start = performance.now();
      writeSync(fd, block, 0, block.length, (i % 16) * 4096);
      fsyncSync(fd);
      samples.push(performance.now() - start);
    }
  } finally {
    closeSync(fd);
    rmSync(path);
  }
  return samples.sort((a, b) => a - b);
}

/** As fast as the ledger goes: keep `window` shares outstanding until `total` have resolved. */
async function saturate(backend: Backend, total: number, window: number): Promise<void> {
  const ledger = await backend.open('saturate');
  const w = workload(ledger);
  const loop = monitorEventLoopDelay({ resolution: 1 });
  let recordSeconds = 0;
  let issued = 0;
  const start = performance.now();
  loop.enable();
  await new Promise<void>((done) => {
    let resolved = 0;
    let scheduled = false;
    const schedule = (): void => {
      if (scheduled) return;
      scheduled = true;
      setImmediate(issue);
    };
    // Refill in slices of 1000 so the bench's own record building does not stall the loop.
    const issue = (): void => {
      scheduled = false;
      const room = Math.min(1000, total - issued, window - (issued - resolved));
      const records = Array.from({ length: Math.max(0, room) }, () => nextShare(w, ledger));
      const t = performance.now();
      const promises = records.map((record) => ledger.recordShare(record));
      recordSeconds += (performance.now() - t) / 1000;
      issued += records.length;
      for (const p of promises) {
        void p.then(() => {
          resolved++;
          if (resolved === total) done();
          else if (issued < total) schedule();
        });
      }
      if (issued < total && issued - resolved < window) schedule();
    };
    issue();
  });
  const seconds = (performance.now() - start) / 1000;
  loop.disable();
  const stats = ledger.stats();
  await ledger.close();
  console.log(
    `saturated: ${(total / seconds / 1e3).toFixed(1)} k shares/s (${total} shares, ≤ ${window} outstanding), ` +
      `${stats.commits} commits = ${(stats.commits / total).toFixed(5)} commits/share ` +
      `(${(total / stats.commits).toFixed(0)} shares/commit, largest ${stats.largestCommit})`,
  );
  console.log(
    `  main thread: ${((recordSeconds / total) * 1e6).toFixed(2)} µs per recordShare call, ` +
      `event-loop delay p99 ${(loop.percentile(99) / 1e6).toFixed(1)} ms, max ${(loop.max / 1e6).toFixed(1)} ms; ` +
      `a commit under way ${((100 * stats.commitSeconds) / seconds).toFixed(0)} % of the time`,
  );
}

/** A steady offered load: `rate` shares/s for `seconds`, each share timed from call to resolve. */
async function steady(backend: Backend, rate: number, seconds: number): Promise<void> {
  const ledger = await backend.open(`steady_${rate}`);
  const w = workload(ledger);
  await ledger.flush();
  const latencies: number[] = [];
  const pending: Promise<void>[] = [];
  const loop = monitorEventLoopDelay({ resolution: 1 });
  loop.enable();
  const start = performance.now();
  let issued = 0;
  // Shares arrive from many sockets at once: issue whatever is due every millisecond.
  while (performance.now() - start < seconds * 1000) {
    const due = Math.floor(((performance.now() - start) / 1000) * rate);
    for (; issued < due; issued++) {
      const t = performance.now();
      pending.push(
        ledger.recordShare(nextShare(w, ledger)).then(() => {
          latencies.push(performance.now() - t);
        }),
      );
    }
    await sleep(1);
  }
  await Promise.all(pending);
  loop.disable();
  const stats = ledger.stats();
  await ledger.close();
  latencies.sort((a, b) => a - b);
  console.log(
    `offered ${String(rate).padStart(6)} shares/s: commit latency p50 ${percentile(latencies, 50).toFixed(2)} ms, ` +
      `p99 ${percentile(latencies, 99).toFixed(2)} ms, max ${latencies.at(-1)?.toFixed(2) ?? '-'} ms; ` +
      `${(stats.commits / issued).toFixed(4)} commits/share (${(issued / stats.commits).toFixed(1)} shares/commit); ` +
      `event-loop delay p99 ${(loop.percentile(99) / 1e6).toFixed(1)} ms`,
  );
}

function sqliteBackend(dir: string): Backend {
  return {
    title: `SQLite ledger group commit (WAL, synchronous=FULL) in ${dir}`,
    open: (label) => openSqliteLedger(join(dir, `${label}.sqlite`)),
    release: () => Promise.resolve(),
  };
}

/** The PostgreSQL to measure, or why there is none. */
async function postgresBackend(parent: string): Promise<Backend | string> {
  const given = process.env['HASHRELAY_BENCH_PG'] ?? process.env[POSTGRES_URL_VARIABLE];
  let cluster: ThrowawayCluster | null = null;
  let url: string;
  if (given !== undefined && given !== '') {
    url = given;
  } else if (findPostgresBinaries() !== undefined) {
    cluster = await ThrowawayCluster.start(parent);
    url = cluster.url;
  } else {
    return `skipped: set HASHRELAY_BENCH_PG=postgres://USER:PASSWORD@HOST:PORT/DATABASE, or install PostgreSQL`;
  }
  const schemas: string[] = [];
  const where = cluster === null ? 'at HASHRELAY_BENCH_PG' : `in a throwaway cluster in ${cluster.dir}`;
  return {
    title: `PostgreSQL ledger group commit (synchronous_commit=on, fsync=on) ${where}`,
    open: (label) => {
      const schema = `bench_${process.pid}_${label}`;
      schemas.push(schema);
      return openPgLedger(url, { schema });
    },
    release: async () => {
      if (cluster !== null) {
        await cluster.remove();
        return;
      }
      const client = new pg.Client({ connectionString: url });
      await client.connect();
      try {
        for (const schema of schemas) await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      } finally {
        await client.end();
      }
    },
  };
}

async function measure(backend: Backend): Promise<void> {
  console.log(`# ${backend.title}`);
  try {
    await saturate(backend, 200_000, 20_000);
    for (const rate of [1000, 5000, 20_000, 50_000]) await steady(backend, rate, 4);
  } finally {
    await backend.release();
  }
}

export async function runLedgerCommitBench(): Promise<void> {
  const parent = process.env['HASHRELAY_BENCH_DIR'] ?? tmpdir();
  const dir = mkdtempSync(join(parent, 'hashrelay-ledger-bench-'));
  try {
    const fsyncs = fsyncLatencies(dir);
    console.log(
      `# this disk (${dir}): 4 KiB write + fsync p50 ${percentile(fsyncs, 50).toFixed(2)} ms, ` +
        `p99 ${percentile(fsyncs, 99).toFixed(2)} ms`,
    );
    await measure(sqliteBackend(dir));
    // Beside, not inside, the bench directory: the server may run as another user.
    const postgres = await postgresBackend(parent);
    if (typeof postgres === 'string') console.log(`# PostgreSQL ledger group commit: ${postgres}`);
    else await measure(postgres);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
