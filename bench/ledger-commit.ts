import { randomBytes } from 'node:crypto';
import { closeSync, mkdtempSync, openSync, rmSync, fsyncSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import type { LedgerJobId, ShareRecord } from '../src/ledger/ledger.js';
import { openSqliteLedger, type SqliteLedger } from '../src/ledger/sqlite-ledger.js';

/**
 * The SQLite ledger's group commit, measured through recordShare as the proxy calls it:
 * sustained shares/s with the ledger as the only limit, then commit latency (recordShare to
 * resolve) at fixed offered loads, beside this disk's own fsync latency, which bounds it from
 * below. Also the main thread's cost per recordShare and its event-loop delay, which is what
 * the miners feel. Set HASHRELAY_BENCH_DIR to measure a particular disk (default: os.tmpdir()).
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

function workload(ledger: SqliteLedger): Workload {
  // SS58 hotkeys are 48 characters; a farm has a few thousand miners over a handful of validators.
  const hotkeys = Array.from(
    { length: MINERS },
    () => `5${randomBytes(36).toString('base64url').slice(0, 47)}`,
  );
  const jobIds = Array.from({ length: UPSTREAMS }, (_, u) => recordJob(ledger, u));
  return { hotkeys, jobIds, pool: randomBytes(1 << 20), next: 0 };
}

function recordJob(ledger: SqliteLedger, upstream: number): LedgerJobId {
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

function nextShare(w: Workload, ledger: SqliteLedger): ShareRecord {
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
async function saturate(dir: string, total: number, window: number): Promise<void> {
  const ledger = await openSqliteLedger(join(dir, 'saturate.sqlite'));
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
      `database thread busy ${((100 * stats.commitSeconds) / seconds).toFixed(0)} % in commits`,
  );
}

/** A steady offered load: `rate` shares/s for `seconds`, each share timed from call to resolve. */
async function steady(dir: string, rate: number, seconds: number): Promise<void> {
  const ledger = await openSqliteLedger(join(dir, `steady-${rate}.sqlite`));
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

export async function runLedgerCommitBench(): Promise<void> {
  const dir = mkdtempSync(join(process.env['HASHRELAY_BENCH_DIR'] ?? tmpdir(), 'hashrelay-ledger-bench-'));
  try {
    console.log(`# SQLite ledger group commit (WAL, synchronous=FULL) in ${dir}`);
    const fsyncs = fsyncLatencies(dir);
    console.log(
      `this disk: 4 KiB write + fsync p50 ${percentile(fsyncs, 50).toFixed(2)} ms, p99 ${percentile(fsyncs, 99).toFixed(2)} ms`,
    );
    await saturate(dir, 200_000, 20_000);
    for (const rate of [1000, 5000, 20_000, 50_000]) await steady(dir, rate, 4);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
