import { rmSync, statSync } from 'node:fs';
import type { Worker } from 'node:worker_threads';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import fc from 'fast-check';
import { afterAll, afterEach, describe, expect, test, vi } from 'vitest';
import type {
  LocalVerdict,
  ShareRecord,
  TimeWindow,
  UpstreamVerdict,
  WorkTotals,
} from '../src/ledger/ledger.js';
import { LedgerError, type LedgerErrorCode } from '../src/ledger/ledger-error.js';
import {
  openSqliteLedger,
  type SqliteLedger,
  type SqliteLedgerOptions,
} from '../src/ledger/sqlite-ledger.js';
import { LOCAL_VERDICTS, UPSTREAM_VERDICTS } from '../src/ledger/verdicts.js';
import { ledgerDir, makeJob, makeShare, removeLedgerDirs, seededBytes } from './support/ledger-records.js';

const EVERYTHING: TimeWindow = { from: 0, to: Number.MAX_SAFE_INTEGER };

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

/** Awaits a promise expected to reject with a LedgerError and returns that error. */
async function ledgerError(promise: Promise<unknown>, code: LedgerErrorCode): Promise<LedgerError> {
  const error: unknown = await promise.then(
    () => new Error('expected a rejection'),
    (reason: unknown) => reason,
  );
  expect(error).toBeInstanceOf(LedgerError);
  expect((error as LedgerError).code).toBe(code);
  return error as LedgerError;
}

describe('SQLite ledger: round trip', () => {
  test('jobs and shares come back with every field, bytes as plain Uint8Array', async () => {
    const ledger = await open();
    const jobs = [makeJob(0), makeJob(12), makeJob(5, { merkleBranch: [] })];
    const jobIds = jobs.map((job) => ledger.recordJob(job));
    expect(jobIds).toEqual([1, 2, 3]);

    const shares: ShareRecord[] = [
      makeShare(0, jobIds[0]!), // hashed, versionBits null
      makeShare(1, jobIds[1]!), // hashed, versionBits set
      makeShare(4, null, { verdict: 'unknown-job', assignedDifficulty: 0, upstreamVerdict: 'not-forwarded' }),
      makeShare(999, jobIds[2]!), // a block
      makeShare(7, jobIds[0]!, { versionBits: 0xffffffff, nonce: 0xffffffff, ntime: 0 }),
    ];
    expect(shares[2]!.hash).toBeNull();
    expect(shares[3]!.isBlock).toBe(true);
    const ids = await Promise.all(shares.map((share) => ledger.recordShare(share)));
    expect(ids).toEqual([1, 2, 3, 4, 5]);

    for (const [i, job] of jobs.entries()) {
      expect(await ledger.job(jobIds[i]!)).toEqual({ id: jobIds[i], ...job });
    }
    expect(await ledger.job(4)).toBeUndefined();

    const stored = await ledger.shares(EVERYTHING);
    expect(stored).toEqual(shares.map((share, i) => ({ id: ids[i], upstreamError: null, ...share })));
    const first = stored[0]!;
    expect(Buffer.isBuffer(first.extranonce2)).toBe(false);
    expect(first.extranonce2).toBeInstanceOf(Uint8Array);
    expect(first.hash!.buffer.byteLength).toBe(32);
  });

  test('odd but legal values survive: empty extranonce2, Unicode names, nulls among non-nulls', async () => {
    const ledger = await open();
    const jobId = ledger.recordJob(makeJob(2, { extranonce2Size: 0, coinb1: new Uint8Array(0) }));
    const shares = [
      makeShare(4, jobId, { extranonce2: new Uint8Array(0), worker: 'rig-⛏️-矿机', miner: '' }),
      makeShare(5, null, { shareDifficulty: 0, versionBits: 0, time: 0 }),
      makeShare(9, jobId, { assignedDifficulty: 1e-9, shareDifficulty: 1.5e300, upstream: 'x\u0000y' }),
      makeShare(14, jobId, { extranonce2: seededBytes(255, 1) }),
    ];
    const ids = await Promise.all(shares.map((share) => ledger.recordShare(share)));
    expect(await ledger.shares(EVERYTHING)).toEqual(
      shares.map((share, i) => ({ id: ids[i], upstreamError: null, ...share })),
    );
    expect(await ledger.job(jobId)).toEqual({
      id: jobId,
      ...makeJob(2, { extranonce2Size: 0, coinb1: new Uint8Array(0) }),
    });
  });

  test('records its own copy of the bytes: a caller may reuse its buffers at once', async () => {
    const ledger = await open();
    const scratch = Buffer.from('00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff', 'hex');
    const job = makeJob(3, { prevhash: scratch, extranonce1: scratch.subarray(0, 4) });
    const jobId = ledger.recordJob(job);
    const share = makeShare(3, jobId, { extranonce2: scratch.subarray(4, 12), hash: scratch });
    const recorded = ledger.recordShare(share);
    const original = Uint8Array.from(scratch);
    scratch.fill(0xee);
    const id = await recorded;
    const [stored] = await ledger.shares(EVERYTHING);
    expect(stored).toMatchObject({ id, extranonce2: original.subarray(4, 12), hash: original });
    expect((await ledger.job(jobId))?.prevhash).toEqual(original);
    expect((await ledger.job(jobId))?.extranonce1).toEqual(original.subarray(0, 4));
  });

  test('ids continue after the largest in the file when it is reopened', async () => {
    const path = freshPath();
    const first = await open(path);
    const jobId = first.recordJob(makeJob(1));
    await Promise.all([0, 1, 2].map((n) => first.recordShare(makeShare(n, jobId))));
    await first.close();

    const second = await open(path);
    expect(second.recordJob(makeJob(2))).toBe(2);
    expect(await second.recordShare(makeShare(3, jobId))).toBe(4);
    expect((await second.shares(EVERYTHING)).map((s) => s.id)).toEqual([1, 2, 3, 4]);
  });

  test('the file is a WAL-mode hashrelay ledger with the agreed tables and indexes', async () => {
    const path = freshPath();
    const ledger = await open(path);
    await ledger.flush();
    const db = new Database(path, { readonly: true });
    try {
      expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
      expect(db.pragma('user_version', { simple: true })).toBe(1);
      expect(db.pragma('application_id', { simple: true })).toBe(0x68726c67);
      const indexes = db
        .prepare<[], string>("SELECT name FROM sqlite_schema WHERE type = 'index' AND tbl_name = 'shares'")
        .pluck()
        .all();
      expect(indexes.sort()).toEqual(['shares_miner_time', 'shares_time', 'shares_upstream_time']);
    } finally {
      db.close();
    }
  });
});

describe('SQLite ledger: totals', () => {
  const base = 1_700_000_000_000;
  const window = { from: base + 1000, to: base + 5000 }; // 4 seconds

  async function worked(): Promise<SqliteLedger> {
    const ledger = await open();
    const jobId = ledger.recordJob(makeJob(1));
    const at = (
      ms: number,
      miner: string,
      worker: string,
      upstream: string,
      overrides: Partial<ShareRecord>,
    ) => makeShare(0, jobId, { time: base + ms, miner, worker, upstream, ...overrides });
    const shares = [
      at(999, 'alice', 'rig1', 'X', { verdict: 'accepted', assignedDifficulty: 1024 }), // before the window
      at(1000, 'alice', 'rig1', 'X', {
        verdict: 'accepted',
        assignedDifficulty: 4,
        upstreamVerdict: 'pending',
      }),
      at(1999, 'alice', 'rig1', 'X', {
        verdict: 'accepted',
        assignedDifficulty: 4,
        upstreamVerdict: 'pending',
      }),
      at(2500, 'alice', 'rig2', 'Y', {
        verdict: 'low-difficulty',
        assignedDifficulty: 4,
        upstreamVerdict: 'not-forwarded',
      }),
      at(3000, 'alice', 'rig2', 'Y', { verdict: 'stale', assignedDifficulty: 8, upstreamVerdict: 'pending' }),
      at(4999, 'bob', 'rig1', 'X', {
        verdict: 'accepted',
        assignedDifficulty: 16,
        upstreamVerdict: 'pending',
      }),
      at(5000, 'bob', 'rig1', 'X', { verdict: 'accepted', assignedDifficulty: 1024 }), // at `to`: outside
    ];
    const ids = await Promise.all(shares.map((share) => ledger.recordShare(share)));
    ledger.recordUpstreamVerdict({ shareId: ids[1]!, verdict: 'accepted', error: null });
    ledger.recordUpstreamVerdict({ shareId: ids[2]!, verdict: 'rejected', error: 'low difficulty share' });
    ledger.recordUpstreamVerdict({ shareId: ids[4]!, verdict: 'no-answer', error: 'timeout after 10 s' });
    await ledger.flush();
    return ledger;
  }

  test('per miner and worker: credited difficulty, hashrate, counts by both verdicts', async () => {
    const ledger = await worked();
    expect(await ledger.minerTotals(window)).toEqual([
      {
        miner: 'alice',
        worker: 'rig1',
        creditedDifficulty: 8,
        hashrate: (8 * 2 ** 32) / 4,
        sharesByVerdict: { accepted: 2 },
        sharesByUpstreamVerdict: { accepted: 1, rejected: 1 },
      },
      {
        miner: 'alice',
        worker: 'rig2',
        creditedDifficulty: 0,
        hashrate: 0,
        sharesByVerdict: { 'low-difficulty': 1, stale: 1 },
        sharesByUpstreamVerdict: { 'not-forwarded': 1, 'no-answer': 1 },
      },
      {
        miner: 'bob',
        worker: 'rig1',
        creditedDifficulty: 16,
        hashrate: (16 * 2 ** 32) / 4,
        sharesByVerdict: { accepted: 1 },
        sharesByUpstreamVerdict: { pending: 1 },
      },
    ]);
  });

  test('per upstream', async () => {
    const ledger = await worked();
    expect(await ledger.upstreamTotals(window)).toEqual([
      {
        upstream: 'X',
        creditedDifficulty: 24,
        hashrate: (24 * 2 ** 32) / 4,
        sharesByVerdict: { accepted: 3 },
        sharesByUpstreamVerdict: { accepted: 1, rejected: 1, pending: 1 },
      },
      {
        upstream: 'Y',
        creditedDifficulty: 0,
        hashrate: 0,
        sharesByVerdict: { 'low-difficulty': 1, stale: 1 },
        sharesByUpstreamVerdict: { 'not-forwarded': 1, 'no-answer': 1 },
      },
    ]);
  });

  test('windows are half-open: [from, to)', async () => {
    const ledger = await worked();
    const times = async (w: TimeWindow): Promise<number[]> =>
      (await ledger.shares(w)).map((share) => share.time - base);
    expect(await times(window)).toEqual([1000, 1999, 2500, 3000, 4999]);
    expect(await times({ from: base + 999, to: base + 1000 })).toEqual([999]);
    expect(await times({ from: base + 5000, to: base + 5001 })).toEqual([5000]);
    expect(await times({ from: base + 1001, to: base + 1999 })).toEqual([]);
    expect(await ledger.minerTotals({ from: base + 1001, to: base + 1999 })).toEqual([]);
    const [edge] = await ledger.upstreamTotals({ from: base + 5000, to: base + 6000 });
    expect(edge).toMatchObject({ upstream: 'X', creditedDifficulty: 1024, hashrate: 1024 * 2 ** 32 });
  });

  test('upstream verdict updates land with their error text', async () => {
    const ledger = await worked();
    const stored = await ledger.shares(window);
    expect(stored.map((s) => [s.upstreamVerdict, s.upstreamError])).toEqual([
      ['accepted', null],
      ['rejected', 'low difficulty share'],
      ['not-forwarded', null],
      ['no-answer', 'timeout after 10 s'],
      ['pending', null],
    ]);
  });

  test('rejects a window that is empty or not finite', async () => {
    const ledger = await open();
    await expect(ledger.minerTotals({ from: 10, to: 10 })).rejects.toThrow(RangeError);
    await expect(ledger.shares({ from: 0, to: Number.NaN })).rejects.toThrow(/window must be finite/);
  });
});

describe('SQLite ledger: totals agree with a model over random shares and windows', () => {
  const miner = fc.constantFrom('alice', 'bob', 'carol');
  const worker = fc.constantFrom('rig1', 'rig2');
  const upstream = fc.constantFrom('X', 'Y', 'Z');
  const share = fc.record({
    time: fc.integer({ min: 0, max: 10_000 }),
    miner,
    worker,
    upstream,
    verdict: fc.constantFrom(...LOCAL_VERDICTS),
    upstreamVerdict: fc.constantFrom(...UPSTREAM_VERDICTS),
    // Powers of two add exactly in any order, so SQLite's sum and the model's agree to the bit.
    assignedDifficulty: fc.integer({ min: -10, max: 30 }).map((e) => 2 ** e),
  });

  interface Model {
    key: string;
    credited: number;
    byVerdict: Partial<Record<LocalVerdict, number>>;
    byUpstream: Partial<Record<UpstreamVerdict, number>>;
  }

  function model(
    records: readonly ShareRecord[],
    window: TimeWindow,
    keyOf: (share: ShareRecord) => string,
  ): Model[] {
    const groups = new Map<string, Model>();
    for (const r of records) {
      if (r.time < window.from || r.time >= window.to) continue;
      const key = keyOf(r);
      let group = groups.get(key);
      if (group === undefined) {
        group = { key, credited: 0, byVerdict: {}, byUpstream: {} };
        groups.set(key, group);
      }
      if (r.verdict === 'accepted') group.credited += r.assignedDifficulty;
      group.byVerdict[r.verdict] = (group.byVerdict[r.verdict] ?? 0) + 1;
      group.byUpstream[r.upstreamVerdict] = (group.byUpstream[r.upstreamVerdict] ?? 0) + 1;
    }
    return [...groups.values()].sort((a, b) => (a.key < b.key ? -1 : 1));
  }

  function expected(group: Model, window: TimeWindow): WorkTotals {
    return {
      creditedDifficulty: group.credited,
      hashrate: (group.credited * 2 ** 32) / ((window.to - window.from) / 1000),
      sharesByVerdict: group.byVerdict,
      sharesByUpstreamVerdict: group.byUpstream,
    };
  }

  test('minerTotals and upstreamTotals', async () => {
    const [fields] = fc.sample(fc.array(share, { minLength: 800, maxLength: 800 }), { seed: 14, numRuns: 1 });
    const ledger = await open();
    const jobId = ledger.recordJob(makeJob(1));
    const records = fields!.map((f, n) => makeShare(n, jobId, f));
    await Promise.all(records.map((r) => ledger.recordShare(r)));

    const windows = fc
      .tuple(fc.integer({ min: -100, max: 10_100 }), fc.integer({ min: 1, max: 12_000 }))
      .map(([from, length]) => ({ from, to: from + length }));
    await fc.assert(
      fc.asyncProperty(windows, async (w) => {
        const miners = model(records, w, (r) => `${r.miner}\u0000${r.worker}`);
        expect(await ledger.minerTotals(w)).toEqual(
          miners.map((g) => {
            const [m, k] = g.key.split('\u0000');
            return { miner: m, worker: k, ...expected(g, w) };
          }),
        );
        const upstreams = model(records, w, (r) => r.upstream);
        expect(await ledger.upstreamTotals(w)).toEqual(
          upstreams.map((g) => ({ upstream: g.key, ...expected(g, w) })),
        );
      }),
      { seed: 41, numRuns: 150 },
    );
  });
});

describe('SQLite ledger: group commit', () => {
  test('10,000 shares queued in one tick all resolve, durably, in a handful of commits', async () => {
    const path = freshPath();
    const ledger = await open(path);
    const jobId = ledger.recordJob(makeJob(1));
    const pending = Array.from({ length: 10_000 }, (_, n) => ledger.recordShare(makeShare(n, jobId)));
    expect(ledger.stats().queuedRecords).toBe(10_001);
    const ids = await Promise.all(pending);
    expect(ids).toEqual(Array.from({ length: 10_000 }, (_, i) => i + 1));

    const stats = ledger.stats();
    expect(stats).toMatchObject({
      jobsCommitted: 1,
      sharesCommitted: 10_000,
      queuedRecords: 0,
      committingRecords: 0,
    });
    expect(stats.commits).toBeGreaterThanOrEqual(3); // at most 5000 records a commit
    expect(stats.commits).toBeLessThanOrEqual(5);
    expect(stats.largestCommit).toBe(5000);
    await ledger.close();

    const reopened = await open(path);
    const [totals] = await reopened.upstreamTotals(EVERYTHING);
    const stored = await reopened.shares(EVERYTHING);
    expect(stored).toHaveLength(10_000);
    expect(stored[9_999]).toEqual({ id: 10_000, upstreamError: null, ...makeShare(9_999, jobId) });
    expect(totals).toBeDefined();
  });

  test('a small batch cap splits a burst, and a job always commits before the shares naming it', async () => {
    const ledger = await open(freshPath(), { maxBatchRecords: 7 });
    const pending: Promise<number>[] = [];
    let jobId = 0;
    for (let n = 0; n < 500; n++) {
      if (n % 50 === 0) jobId = ledger.recordJob(makeJob(n));
      pending.push(ledger.recordShare(makeShare(n, jobId)));
    }
    await Promise.all(pending);
    const stats = ledger.stats();
    expect(stats.largestCommit).toBeLessThanOrEqual(7);
    expect(stats.commits).toBeGreaterThanOrEqual(Math.ceil(510 / 7));
    expect(stats).toMatchObject({ jobsCommitted: 10, sharesCommitted: 500 });
  });

  test('flush waits for everything queued, verdict updates included', async () => {
    const ledger = await open();
    const jobId = ledger.recordJob(makeJob(1));
    const id = await ledger.recordShare(makeShare(0, jobId));
    ledger.recordUpstreamVerdict({ shareId: id, verdict: 'accepted', error: null });
    expect(ledger.stats().queuedRecords).toBe(1);
    await ledger.flush();
    expect(ledger.stats()).toMatchObject({ verdictsCommitted: 1, queuedRecords: 0 });
    await ledger.flush(); // nothing queued: resolves at once
  });
});

test('the reader thread checkpoints the WAL into the database file while the ledger is open', async () => {
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

describe('SQLite ledger: bad records are refused alone', () => {
  test('a share naming a job this ledger never issued rejects; the ledger goes on', async () => {
    const ledger = await open();
    const jobId = ledger.recordJob(makeJob(1));
    await expect(ledger.recordShare(makeShare(0, jobId + 1))).rejects.toThrow(
      /share.jobId 2 is not a job id/,
    );
    await expect(ledger.recordShare(makeShare(0, jobId, { time: 1.5 }))).rejects.toThrow(/share.time/);
    await expect(ledger.recordShare(makeShare(0, jobId, { hash: new Uint8Array(31) }))).rejects.toThrow(
      /share.hash must be 32 bytes/,
    );
    await expect(ledger.recordShare(makeShare(0, jobId, { nonce: 2 ** 32 }))).rejects.toThrow(/share.nonce/);
    await expect(
      ledger.recordShare(makeShare(0, jobId, { extranonce2: new Uint8Array(256) })),
    ).rejects.toThrow(/share.extranonce2 must be at most 255 bytes/);
    await expect(ledger.recordShare(makeShare(0, jobId, { assignedDifficulty: -1 }))).rejects.toThrow(
      /share.assignedDifficulty/,
    );
    expect(await ledger.recordShare(makeShare(0, jobId))).toBe(1);
  });

  test('a bad job throws and uses no id; a verdict for an unknown share throws', async () => {
    const ledger = await open();
    expect(() => ledger.recordJob(makeJob(1, { prevhash: new Uint8Array(31) }))).toThrow(/job.prevhash/);
    expect(() => ledger.recordJob(makeJob(2, { merkleBranch: [new Uint8Array(33)] }))).toThrow(
      /job.merkleBranch\[0\]/,
    );
    expect(ledger.recordJob(makeJob(3))).toBe(1);
    expect(() => {
      ledger.recordUpstreamVerdict({ shareId: 1, verdict: 'accepted', error: null });
    }).toThrow(/update.shareId 1/);
  });
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

  test('a commit that outlives the commit timeout fails the ledger instead of hanging', async () => {
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
    const reader = await workerOf(ledger, 'reader');
    const query = ledger.shares(EVERYTHING);
    await reader.terminate();
    const error = await ledgerError(query, 'LEDGER_QUERY_FAILED');
    expect(error.message).toMatch(/reader thread\) exited unexpectedly .*; the next query starts another/);
    expect(await ledger.shares(EVERYTHING)).toHaveLength(1);
    expect(await ledger.recordShare(makeShare(1, jobId))).toBe(2);
  });

  test('close flushes first; later calls say the ledger is closed; close twice is fine', async () => {
    const path = freshPath();
    const ledger = await open(path);
    const jobId = ledger.recordJob(makeJob(1));
    const pending = Array.from({ length: 50 }, (_, n) => ledger.recordShare(makeShare(n, jobId)));
    const closing = ledger.close();
    expect(ledger.close()).toBe(closing);
    await closing;
    expect(await Promise.all(pending)).toHaveLength(50);
    const refused = await ledgerError(ledger.recordShare(makeShare(99, jobId)), 'LEDGER_CLOSED');
    expect(refused.message).toMatch(/is closed/);
    await ledgerError(ledger.shares(EVERYTHING), 'LEDGER_CLOSED');
    await ledger.flush();
    await ledger.close();

    const reopened = await open(path);
    expect(await reopened.shares(EVERYTHING)).toHaveLength(50);
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
    expect(tooNew.message).toMatch(/schema version 99, newer than this hashrelay's 1/);
  });

  test('a missing directory is a clear open error', async () => {
    const error = await ledgerError(
      openSqliteLedger(join(ledgerDir(), 'no', 'such', 'dir', 'ledger.sqlite')),
      'LEDGER_OPEN_FAILED',
    );
    expect(error.message).toMatch(/directory does not exist/);
  });

  test('options must be positive integers', async () => {
    await expect(openSqliteLedger(freshPath(), { maxBatchRecords: 0 })).rejects.toThrow(
      /options.maxBatchRecords must be a positive integer/,
    );
  });
});

test('seededBytes is deterministic (the durability test rebuilds shares from their number)', () => {
  expect(seededBytes(4, 250)).toEqual(Uint8Array.from([250, 1, 8, 15]));
});
