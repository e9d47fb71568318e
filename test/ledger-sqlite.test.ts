import { rmSync, statSync } from 'node:fs';
import type { Worker } from 'node:worker_threads';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, afterEach, describe, expect, test, vi } from 'vitest';
import { LedgerError } from '../src/ledger/ledger-error.js';
import { SCHEMA_VERSION } from '../src/ledger/sqlite-ledger-schema.js';
import {
  openSqliteLedger,
  type SqliteLedger,
  type SqliteLedgerOptions,
} from '../src/ledger/sqlite-ledger.js';
import { describeLedgerContract, EVERYTHING, ledgerError } from './support/ledger-contract.js';
import {
  ledgerDir,
  makeJob,
  makeShare,
  proofHash,
  removeLedgerDirs,
  seededBytes,
} from './support/ledger-records.js';

/** What every backend promises (test/support/ledger-contract.ts), then what only SQLite does. */
describeLedgerContract({
  name: 'SQLite',
  fresh: freshPath,
  open: (path, options) => openSqliteLedger(path, options),
});

const opened: SqliteLedger[] = [];
afterEach(async () => {
  await Promise.allSettled(opened.splice(0).map((ledger) => ledger.close()));
});
afterAll(removeLedgerDirs);

function freshPath(): string {
  return join(ledgerDir(), 'ledger.sqlite');
}

async function open(path = freshPath(), options?: SqliteLedgerOptions): Promise<SqliteLedger> {
  const ledger = await openSqliteLedger(path, options);
  opened.push(ledger);
  return ledger;
}

describe('SQLite ledger: the file', () => {
  test('ids are dense: numbered from 1, and after the largest in the file when it is reopened', async () => {
    const path = freshPath();
    const first = await open(path);
    const jobIds = [makeJob(0), makeJob(1)].map((job) => first.recordJob(job));
    expect(jobIds).toEqual([1, 2]);
    const ids = await Promise.all([0, 1, 2].map((n) => first.recordShare(makeShare(n, jobIds[0]!))));
    expect(ids).toEqual([1, 2, 3]);
    await first.close();

    const second = await open(path);
    expect(second.recordJob(makeJob(2))).toBe(3);
    expect(await second.recordShare(makeShare(3, 1))).toBe(4);
    expect((await second.shares(EVERYTHING)).map((s) => s.id)).toEqual([1, 2, 3, 4]);
  });

  test('text holds any string, U+0000 included', async () => {
    const ledger = await open();
    const jobId = ledger.recordJob(makeJob(2, { upstreamJobId: 'a\u0000b' }));
    const share = makeShare(9, jobId, { upstream: 'x\u0000y', worker: '\u0000' });
    const id = await ledger.recordShare(share);
    expect(await ledger.shares(EVERYTHING)).toEqual([{ id, upstreamError: null, ...share }]);
    expect((await ledger.job(jobId))?.upstreamJobId).toBe('a\u0000b');
  });

  test('the file is a WAL-mode hashrelay ledger with the agreed tables and indexes', async () => {
    const path = freshPath();
    const ledger = await open(path);
    await ledger.flush();
    const db = new Database(path, { readonly: true });
    try {
      expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
      expect(db.pragma('user_version', { simple: true })).toBe(SCHEMA_VERSION);
      expect(db.pragma('application_id', { simple: true })).toBe(0x68726c67);
      const indexes = db
        .prepare<[], string>("SELECT name FROM sqlite_schema WHERE type = 'index' AND tbl_name = 'shares'")
        .pluck()
        .all();
      expect(indexes.sort()).toEqual([
        'shares_credited_hash',
        'shares_job',
        'shares_miner_time',
        'shares_time',
        'shares_upstream_time',
      ]);
    } finally {
      db.close();
    }
  });
});

test('the writer thread checkpoints the WAL into the database file while the ledger is open', async () => {
  const path = freshPath();
  const ledger = await open(path, { checkpointIntervalMs: 20 });
  await ledger.flush();
  const before = statSync(path).size;
  const jobId = ledger.recordJob(makeJob(1));
  await Promise.all(Array.from({ length: 3000 }, (_, n) => ledger.recordShare(makeShare(n, jobId))));
  await vi.waitFor(
    () => {
      expect(statSync(path).size).toBeGreaterThan(before + 100_000);
    },
    { timeout: 5000, interval: 20 },
  );
});

describe('SQLite ledger: failures reject every waiting share and never hang', () => {
  async function failedByRemoval(remove: (path: string) => void): Promise<void> {
    const path = freshPath();
    const ledger = await open(path, { maxBatchRecords: 10 });
    const jobId = ledger.recordJob(makeJob(1));
    await ledger.recordShare(makeShare(0, jobId));

    remove(path);
    const pending = Array.from({ length: 100 }, (_, n) => ledger.recordShare(makeShare(n + 1, jobId)));
    const results = await Promise.allSettled(pending);
    expect(results.every((r) => r.status === 'rejected')).toBe(true);
    const reasons = results.map((r) => (r as PromiseRejectedResult).reason as LedgerError);
    // The batch being committed says what happened and what to do; the ones behind it say why they failed.
    expect(reasons[0]!.code).toBe('LEDGER_COMMIT_FAILED');
    expect(reasons[0]!.message).toMatch(/was removed or replaced while the ledger had it open/);
    expect(reasons[0]!.message).toMatch(/restart the process/);
    expect(reasons[99]!.code).toBe('LEDGER_FAILED');
    expect(reasons[99]!.message).toMatch(/removed or replaced/);

    // From now on every call fails at once, with the same reason.
    await ledgerError(ledger.recordShare(makeShare(200, jobId)), 'LEDGER_FAILED');
    expect(() => ledger.recordJob(makeJob(2))).toThrow(LedgerError);
    ledger.recordUpstreamVerdict({ shareId: 1, verdict: 'accepted', error: null });
    expect(ledger.stats().verdictsDropped).toBe(1);
    await ledgerError(ledger.flush(), 'LEDGER_FAILED');
    await ledgerError(ledger.minerTotals(EVERYTHING), 'LEDGER_FAILED');
    await ledgerError(ledger.close(), 'LEDGER_FAILED');
    await ledgerError(ledger.close(), 'LEDGER_FAILED');

    // The threads are gone, so the lock is free: the file can be opened again.
    const again = await open(path);
    again.recordJob(makeJob(3));
    await again.flush();
  }

  test('the database file is deleted under the ledger', async () => {
    await failedByRemoval((path) => {
      rmSync(path);
    });
  });

  test('the WAL file is deleted under the ledger', async () => {
    await failedByRemoval((path) => {
      rmSync(`${path}-wal`);
    });
  });

  test('a commit timeout tells the operator the disk may be hung', async () => {
    const ledger = await open(freshPath(), { commitTimeoutMs: 1 });
    const jobId = ledger.recordJob(makeJob(1));
    const pending = Array.from({ length: 5000 }, (_, n) => ledger.recordShare(makeShare(n, jobId)));
    const error = await ledgerError(pending[0]!, 'LEDGER_COMMIT_FAILED');
    expect(error.message).toMatch(/took longer than 1 ms; the disk may be hung/);
    const results = await Promise.allSettled(pending);
    expect(results.every((r) => r.status === 'rejected')).toBe(true);
    await ledgerError(ledger.close(), 'LEDGER_FAILED');
  });

  // White-box: no public call kills a thread, so reach for the Worker as an OOM or a crash would.
  const workerOf = (ledger: SqliteLedger, thread: 'writer' | 'reader'): Promise<Worker> => {
    const inside = ledger as unknown as {
      writer: { worker: Worker };
      reader: Promise<{ worker: Worker }>;
    };
    return thread === 'writer' ? Promise.resolve(inside.writer.worker) : inside.reader.then((r) => r.worker);
  };

  // White-box too: a thread is a whole V8 isolate (~10 MiB), and a proxy never queries.
  test('no reader thread runs until the first query', async () => {
    const ledger = await open();
    const inside = ledger as unknown as { reader: Promise<{ worker: Worker }> | null };
    const jobId = ledger.recordJob(makeJob(1));
    await ledger.recordShare(makeShare(0, jobId));
    await ledger.pruneBefore(0, 10);
    expect(inside.reader).toBeNull();
    expect(await ledger.shares(EVERYTHING)).toHaveLength(1);
    expect(inside.reader).not.toBeNull();
    expect((await inside.reader!).worker.threadId).not.toBe((await workerOf(ledger, 'writer')).threadId);
  });

  test('the database thread dies: waiting shares reject, later calls fail at once', async () => {
    const ledger = await open();
    const jobId = ledger.recordJob(makeJob(1));
    await ledger.recordShare(makeShare(0, jobId));
    const pending = Array.from({ length: 1000 }, (_, n) => ledger.recordShare(makeShare(n + 1, jobId)));
    await (await workerOf(ledger, 'writer')).terminate();
    const results = await Promise.allSettled(pending);
    expect(results.every((r) => r.status === 'rejected')).toBe(true);
    const error = await ledgerError(pending[0]!, 'LEDGER_FAILED');
    expect(error.message).toMatch(/writer thread\) exited unexpectedly with code 1; restart the process/);
    await ledgerError(ledger.recordShare(makeShare(5000, jobId)), 'LEDGER_FAILED');
    await ledgerError(ledger.close(), 'LEDGER_FAILED');
  });

  test('the reader thread dies: its query rejects, the next query gets a new reader', async () => {
    const ledger = await open();
    const jobId = ledger.recordJob(makeJob(1));
    await ledger.recordShare(makeShare(0, jobId));
    expect(await ledger.shares(EVERYTHING)).toHaveLength(1);
    const reader = await workerOf(ledger, 'reader');
    const query = ledger.shares(EVERYTHING);
    await reader.terminate();
    const error = await ledgerError(query, 'LEDGER_QUERY_FAILED');
    expect(error.message).toMatch(/reader thread\) exited unexpectedly .*; the next query starts another/);
    expect(await ledger.shares(EVERYTHING)).toHaveLength(1);
    expect(await ledger.recordShare(makeShare(1, jobId))).toBe(2);
  });
});

describe('SQLite ledger: one writer per file', () => {
  test('a second open of the same file fails with LEDGER_LOCKED until the first closes', async () => {
    const path = freshPath();
    const first = await open(path);
    const error = await ledgerError(openSqliteLedger(path), 'LEDGER_LOCKED');
    expect(error.message).toMatch(/already open for writing/);
    expect(error.message).toMatch(/a ledger file of its own/);
    await first.close();
    await open(path);
  });

  test('a ledger from before the credit-once rule: later copies of a credited proof become duplicates', async () => {
    const path = join(ledgerDir(), 'old.sqlite');
    const ledger = await open(path);
    const jobId = ledger.recordJob(makeJob(1));
    const ids = await Promise.all(
      [0, 1, 2].map((n) =>
        ledger.recordShare(makeShare(n, jobId, { hash: proofHash(7), verdict: 'accepted' })),
      ),
    );
    await ledger.close();
    // What version 1 allowed: the same proof credited three times (the index is the rule).
    const db = new Database(path);
    expect(db.prepare('SELECT verdict FROM shares ORDER BY id').pluck().all()).toEqual([
      'accepted',
      'duplicate',
      'duplicate',
    ]);
    db.exec(
      "DROP TABLE reject_summaries; DROP INDEX shares_credited_hash; UPDATE shares SET verdict = 'accepted'; PRAGMA user_version = 1",
    );
    db.close();
    const migrated = await open(path);
    const verdicts = (await migrated.shares(EVERYTHING)).map((share) => [share.id, share.verdict]);
    expect(verdicts).toEqual([
      [ids[0], 'accepted'],
      [ids[1], 'duplicate'],
      [ids[2], 'duplicate'],
    ]);
  });

  test('a schema-2 ledger (before reject summaries) is migrated in place, its rows kept', async () => {
    const path = freshPath();
    const first = await open(path);
    const jobId = first.recordJob(makeJob(1));
    const id = await first.recordShare(makeShare(1, jobId));
    await first.close();
    // Back to what schema 2 wrote: no reject_summaries table.
    const db = new Database(path);
    db.exec('DROP TABLE reject_summaries');
    db.pragma('user_version = 2');
    db.close();
    const again = await open(path);
    expect((await again.shares(EVERYTHING)).map((share) => share.id)).toEqual([id]);
    again.recordRejectSummary({
      from: 1,
      to: 2,
      miner: 'm',
      worker: 'w',
      upstream: 'u',
      verdict: 'stale',
      shares: 3,
    });
    await again.flush();
    expect(await again.rejectSummaries(EVERYTHING)).toHaveLength(1);
  });

  test('a file that is not a ledger, or from a newer hashrelay, is refused', async () => {
    const dir = ledgerDir();
    const foreign = new Database(join(dir, 'foreign.sqlite'));
    foreign.exec('CREATE TABLE t (x)');
    foreign.close();
    const notLedger = await ledgerError(openSqliteLedger(join(dir, 'foreign.sqlite')), 'LEDGER_OPEN_FAILED');
    expect(notLedger.message).toMatch(/not a hashrelay ledger/);

    const newer = await open(join(dir, 'newer.sqlite'));
    await newer.close();
    const db = new Database(join(dir, 'newer.sqlite'));
    db.pragma('user_version = 99');
    db.close();
    const tooNew = await ledgerError(openSqliteLedger(join(dir, 'newer.sqlite')), 'LEDGER_OPEN_FAILED');
    expect(tooNew.message).toContain(`schema version 99, newer than this hashrelay's ${SCHEMA_VERSION};`);
  });

  test('a missing directory is a clear open error', async () => {
    const error = await ledgerError(
      openSqliteLedger(join(ledgerDir(), 'no', 'such', 'dir', 'ledger.sqlite')),
      'LEDGER_OPEN_FAILED',
    );
    expect(error.message).toMatch(/directory does not exist/);
  });
});

test('seededBytes is deterministic (the durability test rebuilds shares from their number)', () => {
  expect(seededBytes(4, 250)).toEqual(Uint8Array.from([250, 1, 8, 15]));
});
