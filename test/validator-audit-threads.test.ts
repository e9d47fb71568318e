import Database from 'better-sqlite3';
import { afterAll, afterEach, describe, expect, test } from 'vitest';
import { join } from 'node:path';
import { auditProgress, progressLine } from '../cli/audit-progress.js';
import { runAuditCommand } from '../cli/audit-command.js';
import type { JobRecord, Ledger, LedgerReader, ShareRecord } from '../src/ledger/ledger.js';
import { openLedgerReader } from '../src/ledger/open-ledger.js';
import { openPgLedger } from '../src/ledger/pg-ledger.js';
import { openSqliteLedger } from '../src/ledger/sqlite-ledger.js';
import type { Job } from '../src/work/job.js';
import { toJobId } from '../src/work/types.js';
import { auditWindow, type AuditReport } from '../validator/audit.js';
import { grindNonce, headerTemplate, rolledVersion, targetForDifficulty } from './peers/pow.js';
import { ledgerDir, makeJob, makeShare, proofHash, removeLedgerDirs } from './support/ledger-records.js';
import { testPostgres } from './support/postgres.js';
import { skipNote } from './support/skip-note.js';

/**
 * The audit spread over threads reads the ledger as a stream of pages and checks them on worker
 * threads with cached jobs and merkle roots: its report must be the one the calling thread
 * alone gives, share for share, on a ledger with forged and tampered rows mixed into honest
 * ones, each still named; and the same over PostgreSQL.
 */

const found = await testPostgres();
const postgres = typeof found === 'string' ? null : found;

const opened: (Ledger | LedgerReader)[] = [];
afterEach(async () => {
  await Promise.allSettled(opened.splice(0).map((ledger) => ledger.close()));
});
afterAll(async () => {
  await postgres?.release();
  removeLedgerDirs();
});

const T0 = 1_790_000_000_000;
const WINDOW = { from: T0, to: T0 + 3_600_000 };
/** Every hash but one in 65 536 meets it: a nonce is found at once. */
const D = 2 ** -32;
const BIP320 = 0x1fffe000;

interface Expected {
  readonly shareId: number;
  readonly kind: string;
}

/** A share with real proof of work on `job`; `nonceOffset` makes it the next nonce of the same header. */
function ground(
  record: JobRecord,
  jobId: number,
  n: number,
  spec: {
    readonly extranonce2Seed: number;
    readonly versionBits?: number;
    readonly difficulty?: number;
    readonly verdict?: ShareRecord['verdict'];
    readonly miner?: string;
  },
): ShareRecord {
  const job: Job = { ...record, jobId: toJobId(record.upstreamJobId) };
  const extranonce2 = Buffer.alloc(record.extranonce2Size);
  extranonce2.writeUInt32BE(spec.extranonce2Seed, extranonce2.length - 4);
  const version =
    spec.versionBits === undefined ? job.version : rolledVersion(job.version, BIP320, spec.versionBits);
  const ntime = job.ntime + (n % 20);
  const target = targetForDifficulty(D);
  const proof = grindNonce(
    headerTemplate(job, record.extranonce1, extranonce2, version, ntime),
    (v) => v <= target,
    {
      startNonce: n * 1000,
    },
  );
  return makeShare(n, jobId, {
    time: T0 + n,
    miner: spec.miner ?? `5Miner${n % 5}`,
    worker: `rig${n % 3}`,
    extranonce2,
    ntime,
    nonce: proof.nonce,
    versionBits: spec.versionBits ?? null,
    assignedDifficulty: spec.difficulty ?? D,
    shareDifficulty: null,
    hash: proof.hash,
    verdict: spec.verdict ?? 'accepted',
    isBlock: false,
  });
}

/**
 * Honest shares on four jobs (extranonce2s repeated three shares at a time, half version-rolled),
 * with forged ones among them, recorded through the ledger. Returns what the audit must name.
 */
async function fill(ledger: Ledger): Promise<{ expected: Expected[]; jobIds: number[]; shares: number }> {
  const records = [5, 9, 12, 3].map((n) => makeJob(n, { receivedAt: T0 }));
  const jobIds = records.map((record) => ledger.recordJob(record));
  const recorded: Promise<Expected | undefined>[] = [];
  // Not awaited one by one: the ledger numbers shares in the order they are recorded, and commits them together.
  const record = (share: ShareRecord, kind?: string): void => {
    recorded.push(
      ledger.recordShare(share).then((shareId) => (kind === undefined ? undefined : { shareId, kind })),
    );
  };
  for (let n = 0; n < 240; n++) {
    const j = n % 4;
    const honest = ground(records[j]!, jobIds[j]!, n, {
      extranonce2Seed: Math.floor(n / 12), // three shares of a job on each extranonce2
      versionBits: n % 2 === 0 ? ((n * 0x2001) << 13) & BIP320 : undefined,
    });
    record(honest);
    switch (n) {
      case 31: // a forged proof: the header does not hash to it
        record(
          { ...honest, time: T0 + n, nonce: honest.nonce, hash: proofHash(10_000 + n) },
          'hash-mismatch',
        );
        break;
      case 57: {
        // Another proof on the honest share's extranonce2 (a merkle root the audit has cached), its nonce moved.
        const proof = ground(records[j]!, jobIds[j]!, 1000 + n, { extranonce2Seed: Math.floor(n / 12) });
        record({ ...proof, nonce: (proof.nonce + 1) >>> 0 }, 'hash-mismatch');
        break;
      }
      case 90: // credited far above the work it shows
        record(
          ground(records[j]!, jobIds[j]!, 1000 + n, { extranonce2Seed: 2000, difficulty: 2 ** 40 }),
          'below-assigned-difficulty',
        );
        break;
      case 120: // refused as low difficulty, though it met what it was assigned
        record(
          ground(records[j]!, jobIds[j]!, 1000 + n, { extranonce2Seed: 3000, verdict: 'low-difficulty' }),
          'refused-valid-share',
        );
        // and one rightly refused: no failure
        record(
          ground(records[j]!, jobIds[j]!, 2000 + n, {
            extranonce2Seed: 3001,
            difficulty: 2 ** 40,
            verdict: 'low-difficulty',
          }),
        );
        break;
      case 150: // an extranonce2 shorter than the job gave
        record(
          {
            ...ground(records[j]!, jobIds[j]!, 1000 + n, { extranonce2Seed: 4000 }),
            extranonce2: Buffer.alloc(7),
          },
          'malformed',
        );
        break;
      case 199: // accepted without a job; and a refused one without a job, skipped
        record(
          makeShare(1000 + n, null, { time: T0 + n, verdict: 'accepted', hash: proofHash(20_000 + n) }),
          'missing-job',
        );
        record(makeShare(2000 + n, null, { time: T0 + n, verdict: 'unknown-job', hash: null }));
        break;
    }
  }
  // Outside the window: never read.
  record({ ...ground(records[0]!, jobIds[0]!, 5000, { extranonce2Seed: 5000 }), time: WINDOW.to });
  const expected = (await Promise.all(recorded)).filter((e) => e !== undefined);
  return { expected, jobIds, shares: recorded.length - 1 };
}

/** The report without its timing, which differs between runs. */
function content(report: AuditReport): Omit<AuditReport, 'elapsedMs' | 'sharesPerSecond'> {
  const { elapsedMs: _elapsed, sharesPerSecond: _rate, ...rest } = report;
  return rest;
}

function named(report: AuditReport): Expected[] {
  return report.failures.map(({ shareId, kind }) => ({ shareId, kind }));
}

describe('the audit over threads', () => {
  test('reports what the calling thread alone reports, every forged and tampered share named in ledger order', async () => {
    const path = join(ledgerDir(), 'ledger.sqlite');
    const writer = await openSqliteLedger(path);
    const { expected, jobIds, shares } = await fill(writer);
    const [first] = await writer.shares(WINDOW);
    await writer.close();

    // Tampered in the file: an accepted row copied (its unique index dropped), a job deleted.
    const db = new Database(path);
    db.pragma('foreign_keys = OFF');
    db.exec('DROP INDEX shares_credited_hash');
    const copied = Number(
      db
        .prepare(
          `INSERT INTO shares (time, miner, worker, upstream, upstream_session, job_id, extranonce2, ntime, nonce,
             version_bits, assigned_difficulty, share_difficulty, hash, verdict, upstream_verdict, upstream_error, is_block)
           SELECT time + 300, miner, worker, upstream, upstream_session, job_id, extranonce2, ntime, nonce, version_bits,
             assigned_difficulty, share_difficulty, hash, verdict, upstream_verdict, upstream_error, is_block
           FROM shares WHERE id = ?`,
        )
        .run(first!.id).lastInsertRowid,
    );
    const gone = db
      .prepare<[number], { id: number; verdict: string }>(
        'SELECT id, verdict FROM shares WHERE job_id = ? ORDER BY id',
      )
      .all(jobIds[3]!);
    db.prepare('DELETE FROM jobs WHERE id = ?').run(jobIds[3]!);
    db.close();
    const jobless = new Set(gone.map((row) => row.id));
    const all = [
      // A share on the deleted job is named for that alone.
      ...expected.filter((e) => !jobless.has(e.shareId)),
      ...gone.map((row) => ({ shareId: row.id, kind: 'missing-job' })),
      { shareId: copied, kind: 'duplicate-credit' },
    ].sort((a, b) => a.shareId - b.shareId);

    const reader = await openLedgerReader(`sqlite:${path}`);
    opened.push(reader);
    const single = await auditWindow(reader, WINDOW, { threads: 0 });
    expect(named(single)).toEqual(all);
    expect(single.sharesChecked).toBe(shares + 1);
    expect(single.ok).toBe(false);
    // Small pages over two threads: pages finish out of order, jobs and roots are cached per thread.
    for (const options of [{ threads: 2, pageShares: 7 }, { threads: 2 }, { threads: 1, pageShares: 64 }]) {
      expect(content(await auditWindow(reader, WINDOW, options)), JSON.stringify(options)).toEqual(
        content(single),
      );
    }
  });

  test('hashrelay audit --threads gives the same JSON report as --threads 0; --threads must be a count', async () => {
    const path = join(ledgerDir(), 'ledger.sqlite');
    const writer = await openSqliteLedger(path);
    const { expected } = await fill(writer);
    await writer.close();
    const args = [
      '--ledger',
      `sqlite:${path}`,
      '--from',
      String(WINDOW.from),
      '--to',
      String(WINDOW.to),
      '--json',
    ];
    const run = async (extra: string[]) => {
      const result = await runAuditCommand([...args, ...extra], {
        connectChain: () => Promise.reject(new Error('no chain')),
      });
      expect(result.code).toBe(1);
      const {
        elapsedMs: _e,
        sharesPerSecond: _r,
        ...report
      } = JSON.parse(result.stdout!) as Record<string, unknown>;
      return report;
    };
    const inline = await run(['--threads', '0']);
    expect((inline['failures'] as Expected[]).map(({ shareId, kind }) => ({ shareId, kind }))).toEqual(
      expected,
    );
    expect(await run(['--threads', '2', '--quiet'])).toEqual(inline);
    const bad = await runAuditCommand([...args, '--threads', 'two'], {
      connectChain: () => Promise.reject(new Error('no chain')),
    });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--threads two is not a number of threads/);
  });

  test.skipIf(postgres === null)(
    `over PostgreSQL, threads and pages report what the calling thread does${skipNote(typeof found === 'string' ? found : null)}`,
    async () => {
      const schema = postgres!.freshSchema();
      const writer = await openPgLedger(postgres!.url, { schema });
      opened.push(writer);
      const { expected, shares } = await fill(writer);
      const reader = await openLedgerReader(postgres!.urlFor(schema));
      opened.push(reader);
      const single = await auditWindow(reader, WINDOW, { threads: 0 });
      expect(named(single)).toEqual([...expected].sort((a, b) => a.shareId - b.shareId));
      expect(single.sharesChecked).toBe(shares);
      expect(content(await auditWindow(reader, WINDOW, { threads: 2, pageShares: 5 }))).toEqual(
        content(single),
      );
    },
  );
});

describe('audit progress', () => {
  test('drawn on a terminal, cleared at the end; nothing on a pipe or with --quiet', () => {
    const written: string[] = [];
    let clock = 0;
    const terminal = { isTTY: true, write: (text: string) => written.push(text) };
    const progress = auditProgress(terminal, false, () => clock);
    clock = 1000;
    progress.update(100_000, 1_000_000);
    clock = 1100; // too soon to redraw
    progress.update(110_000, 1_000_000);
    clock = 2000;
    progress.update(1_000_000, 1_000_000);
    progress.end();
    expect(written).toEqual([
      `\r\x1b[2K${progressLine(100_000, 1_000_000, 1000)}`,
      `\r\x1b[2K${progressLine(1_000_000, 1_000_000, 2000)}`,
      '\r\x1b[2K',
    ]);
    expect(progressLine(100_000, 1_000_000, 1000)).toBe(
      'audit 100000 / 1000000 shares (10.0 %)  100.0 k shares/s  about 9 s left',
    );
    for (const [stream, quiet] of [
      [{ isTTY: false, write: (text: string) => written.push(text) }, false],
      [terminal, true],
    ] as const) {
      written.length = 0;
      const silent = auditProgress(stream, quiet, () => clock);
      silent.update(5, 10);
      silent.end();
      expect(written).toEqual([]);
    }
  });
});
