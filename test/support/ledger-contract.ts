import fc from 'fast-check';
import { afterEach, describe, expect, test } from 'vitest';
import type {
  Ledger,
  LocalVerdict,
  RejectSummary,
  ShareRecord,
  TimeWindow,
  UpstreamVerdict,
  WorkTotals,
} from '../../src/ledger/ledger.js';
import { LedgerError, type LedgerErrorCode } from '../../src/ledger/ledger-error.js';
import { LOCAL_VERDICTS, UPSTREAM_VERDICTS } from '../../src/ledger/verdicts.js';
import { makeJob, makeShare, proofHash, seededBytes } from './ledger-records.js';

/**
 * What every ledger backend promises, as one suite each backend's test file runs
 * (ledger-sqlite.test.ts, ledger-postgres.test.ts): the records come back as given, totals
 * agree with a model, a burst is group-committed, bad records are refused alone, a commit that
 * cannot finish fails the ledger without leaving anyone waiting, and close flushes.
 */

export const EVERYTHING: TimeWindow = { from: 0, to: Number.MAX_SAFE_INTEGER };

/** The stats both backends keep. */
export interface ContractStats {
  readonly commits: number;
  readonly jobsCommitted: number;
  readonly sharesCommitted: number;
  readonly verdictsCommitted: number;
  readonly verdictsDropped: number;
  readonly largestCommit: number;
  readonly queuedRecords: number;
  readonly committingRecords: number;
}

export interface ContractLedger extends Ledger {
  stats(): ContractStats;
}

/** The options both backends take. */
export interface ContractOptions {
  readonly maxBatchRecords?: number;
  readonly commitTimeoutMs?: number;
}

export interface LedgerBackend {
  readonly name: string;
  /** A place for a new, empty ledger: a file path, a schema. */
  fresh(): string;
  open(place: string, options?: ContractOptions): Promise<ContractLedger>;
}

/** Awaits a promise expected to reject with a LedgerError and returns that error. */
export async function ledgerError(promise: Promise<unknown>, code: LedgerErrorCode): Promise<LedgerError> {
  const error: unknown = await promise.then(
    () => new Error('expected a rejection'),
    (reason: unknown) => reason,
  );
  expect(error).toBeInstanceOf(LedgerError);
  expect((error as LedgerError).code).toBe(code);
  return error as LedgerError;
}

function increasing(ids: readonly number[]): boolean {
  return ids.every((id, i) => Number.isSafeInteger(id) && id > 0 && (i === 0 || id > ids[i - 1]!));
}

export function describeLedgerContract(backend: LedgerBackend): void {
  const opened: Ledger[] = [];
  afterEach(async () => {
    await Promise.allSettled(opened.splice(0).map((ledger) => ledger.close()));
  });

  async function open(place = backend.fresh(), options?: ContractOptions): Promise<ContractLedger> {
    const ledger = await backend.open(place, options);
    opened.push(ledger);
    return ledger;
  }

  describe(`${backend.name} ledger: round trip`, () => {
    test('reject summaries come back by window; a bad one is refused alone; health is ok', async () => {
      const ledger = await open();
      const summaries: RejectSummary[] = [
        {
          from: 1000,
          to: 2000,
          miner: 'm',
          worker: 'm.w',
          upstream: 'u',
          verdict: 'low-difficulty',
          shares: 7,
        },
        { from: 2000, to: 3000, miner: 'm', worker: 'm.w', upstream: 'u', verdict: 'duplicate', shares: 1 },
        {
          from: 5000,
          to: 6000,
          miner: 'n\u00e9',
          worker: 'x',
          upstream: '',
          verdict: 'stale',
          shares: 2 ** 40,
        },
      ];
      for (const summary of summaries) ledger.recordRejectSummary(summary);
      expect(() => {
        ledger.recordRejectSummary({ ...summaries[0]!, shares: 0 });
      }).toThrow(/summary.shares/);
      await ledger.flush();
      expect(await ledger.rejectSummaries(EVERYTHING)).toEqual(summaries);
      expect(await ledger.rejectSummaries({ from: 2000, to: 5000 })).toEqual([summaries[1]]);
      expect(ledger.health()).toEqual({ state: 'ok' });
    });

    test('jobs and shares come back with every field, bytes as plain Uint8Array', async () => {
      const ledger = await open();
      const jobs = [makeJob(0), makeJob(12), makeJob(5, { merkleBranch: [] })];
      const jobIds = jobs.map((job) => ledger.recordJob(job));
      expect(increasing(jobIds)).toBe(true);

      const shares: ShareRecord[] = [
        makeShare(0, jobIds[0]!), // hashed, versionBits null
        makeShare(1, jobIds[1]!), // hashed, versionBits set
        makeShare(4, null, {
          verdict: 'unknown-job',
          assignedDifficulty: 0,
          upstreamVerdict: 'not-forwarded',
        }),
        makeShare(999, jobIds[2]!), // a block
        makeShare(7, jobIds[0]!, { versionBits: 0xffffffff, nonce: 0xffffffff, ntime: 0 }),
      ];
      expect(shares[2]!.hash).toBeNull();
      expect(shares[3]!.isBlock).toBe(true);
      const ids = await Promise.all(shares.map((share) => ledger.recordShare(share)));
      expect(increasing(ids)).toBe(true);

      for (const [i, job] of jobs.entries()) {
        expect(await ledger.job(jobIds[i]!)).toEqual({ id: jobIds[i], ...job });
      }
      expect(await ledger.job(jobIds[2]! + 1)).toBeUndefined();
      expect(await ledger.job(1.5)).toBeUndefined();

      const stored = await ledger.shares(EVERYTHING);
      expect(stored).toEqual(shares.map((share, i) => ({ id: ids[i], upstreamError: null, ...share })));
      const first = stored[0]!;
      expect(Buffer.isBuffer(first.extranonce2)).toBe(false);
      expect(first.extranonce2).toBeInstanceOf(Uint8Array);
      expect(first.hash!.buffer.byteLength).toBe(32);
    });

    test('odd but legal values survive: empty extranonce2, Unicode names, extreme numbers', async () => {
      const ledger = await open();
      const jobId = ledger.recordJob(makeJob(2, { extranonce2Size: 0, coinb1: new Uint8Array(0) }));
      const shares = [
        makeShare(4, jobId, { extranonce2: new Uint8Array(0), worker: 'rig-⛏️-矿机', miner: '' }),
        makeShare(5, null, { shareDifficulty: 0, versionBits: 0, time: 0 }),
        makeShare(9, jobId, { assignedDifficulty: 1e-9, shareDifficulty: 1.5e300, upstream: 'x"y\\z{,}' }),
        makeShare(14, jobId, { extranonce2: seededBytes(255, 1), shareDifficulty: Infinity }),
        makeShare(15, jobId, { assignedDifficulty: 0.1, worker: 'NULL', miner: ' padded ' }),
        makeShare(16, jobId, { assignedDifficulty: 2 ** 70 + 2 ** 18, time: Number.MAX_SAFE_INTEGER - 1 }),
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

    test('reopened, the ledger keeps what it had and numbers new records after every old id', async () => {
      const place = backend.fresh();
      const first = await open(place);
      const jobId = first.recordJob(makeJob(1));
      const oldIds = await Promise.all([0, 1, 2].map((n) => first.recordShare(makeShare(n, jobId))));
      await first.close();

      const second = await open(place);
      const newJob = second.recordJob(makeJob(2));
      expect(newJob).toBeGreaterThan(jobId);
      const newId = await second.recordShare(makeShare(3, jobId));
      expect(newId).toBeGreaterThan(Math.max(...oldIds));
      expect((await second.shares(EVERYTHING)).map((s) => s.id)).toEqual([...oldIds, newId]);
      expect(await second.job(jobId)).toEqual({ id: jobId, ...makeJob(1) });
    });
  });

  describe(`${backend.name} ledger: totals`, () => {
    const base = 1_700_000_000_000;
    const window = { from: base + 1000, to: base + 5000 }; // 4 seconds

    async function worked(): Promise<ContractLedger> {
      const ledger = await open();
      const jobId = ledger.recordJob(makeJob(1));
      const at = (
        ms: number,
        miner: string,
        worker: string,
        upstream: string,
        overrides: Partial<ShareRecord>,
      ) =>
        makeShare(0, jobId, { time: base + ms, miner, worker, upstream, hash: proofHash(ms), ...overrides });
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
        at(3000, 'alice', 'rig2', 'Y', {
          verdict: 'stale',
          assignedDifficulty: 8,
          upstreamVerdict: 'pending',
        }),
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

    test('windows are half-open: [from, to), with bounds that need not be integers', async () => {
      const ledger = await worked();
      const times = async (w: TimeWindow): Promise<number[]> =>
        (await ledger.shares(w)).map((share) => share.time - base);
      expect(await times(window)).toEqual([1000, 1999, 2500, 3000, 4999]);
      expect(await times({ from: base + 999, to: base + 1000 })).toEqual([999]);
      expect(await times({ from: base + 5000, to: base + 5001 })).toEqual([5000]);
      expect(await times({ from: base + 1001, to: base + 1999 })).toEqual([]);
      expect(await times({ from: base + 998.5, to: base + 999.5 })).toEqual([999]);
      expect(await times({ from: base + 4999.5, to: base + 5000.5 })).toEqual([5000]);
      expect(await times({ from: -1e300, to: base + 1000 })).toEqual([999]);
      expect(await times({ from: base + 5000, to: 1e300 })).toEqual([5000]);
      expect(await ledger.minerTotals({ from: base + 1001, to: base + 1999 })).toEqual([]);
      const [edge] = await ledger.upstreamTotals({ from: base + 5000, to: base + 6000 });
      expect(edge).toMatchObject({ upstream: 'X', creditedDifficulty: 1024, hashrate: 1024 * 2 ** 32 });
    });

    test('a proof is credited once: a copy is stored as a duplicate, in one batch or across batches', async () => {
      const ledger = await open();
      const jobId = ledger.recordJob(makeJob(1));
      const proof = (n: number, hash: Uint8Array): ShareRecord =>
        makeShare(n, jobId, { hash, verdict: 'accepted', upstreamVerdict: 'not-forwarded' });
      // Same batch (queued in one tick), then a later batch, then a copy that was refused anyway.
      await Promise.all([
        ledger.recordShare(proof(0, proofHash(100))),
        ledger.recordShare(proof(1, proofHash(100))),
      ]);
      await ledger.recordShare(proof(2, proofHash(100)));
      await ledger.recordShare({ ...proof(3, proofHash(100)), verdict: 'low-difficulty' });
      await ledger.recordShare(proof(4, proofHash(101)));
      const stored = await ledger.shares(EVERYTHING);
      expect(stored.map((share) => share.verdict)).toEqual([
        'accepted',
        'duplicate',
        'duplicate',
        'low-difficulty',
        'accepted',
      ]);
      const totals = await ledger.minerTotals(EVERYTHING);
      const credited = totals.reduce((sum, row) => sum + row.creditedDifficulty, 0);
      expect(credited).toBe(stored[0]!.assignedDifficulty + stored[4]!.assignedDifficulty);
    });

    test('upstream verdict updates land with their error text; the last one for a share wins', async () => {
      const ledger = await worked();
      const stored = await ledger.shares(window);
      expect(stored.map((s) => [s.upstreamVerdict, s.upstreamError])).toEqual([
        ['accepted', null],
        ['rejected', 'low difficulty share'],
        ['not-forwarded', null],
        ['no-answer', 'timeout after 10 s'],
        ['pending', null],
      ]);
      const last = stored[4]!.id;
      ledger.recordUpstreamVerdict({ shareId: last, verdict: 'no-answer', error: 'first' });
      ledger.recordUpstreamVerdict({ shareId: last, verdict: 'rejected', error: 'second' });
      await ledger.flush();
      expect((await ledger.shares(window))[4]).toMatchObject({
        upstreamVerdict: 'rejected',
        upstreamError: 'second',
      });
    });

    test('rejects a window that is empty or not finite', async () => {
      const ledger = await open();
      await expect(ledger.minerTotals({ from: 10, to: 10 })).rejects.toThrow(RangeError);
      await expect(ledger.shares({ from: 0, to: Number.NaN })).rejects.toThrow(/window must be finite/);
    });
  });

  describe(`${backend.name} ledger: totals agree with a model over random shares and windows`, () => {
    const share = fc.record({
      time: fc.integer({ min: 0, max: 10_000 }),
      miner: fc.constantFrom('alice', 'bob', 'carol', 'Zed', 'émile'),
      worker: fc.constantFrom('rig1', 'rig2', 'Rig1'),
      upstream: fc.constantFrom('X', 'Y', 'Z', 'x'),
      verdict: fc.constantFrom(...LOCAL_VERDICTS),
      upstreamVerdict: fc.constantFrom(...UPSTREAM_VERDICTS),
      // Powers of two add exactly in any order, so the backend's sum and the model's agree to the bit.
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
      // Code-unit order equals byte order here (no astral characters): what both backends sort by.
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
      const [fields] = fc.sample(fc.array(share, { minLength: 800, maxLength: 800 }), {
        seed: 14,
        numRuns: 1,
      });
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

  describe(`${backend.name} ledger: group commit`, () => {
    test('10,000 shares queued in one tick all resolve, durably, in a handful of commits', async () => {
      const place = backend.fresh();
      const ledger = await open(place);
      const jobId = ledger.recordJob(makeJob(1));
      const pending = Array.from({ length: 10_000 }, (_, n) => ledger.recordShare(makeShare(n, jobId)));
      expect(ledger.stats().queuedRecords).toBe(10_001);
      const ids = await Promise.all(pending);
      expect(increasing(ids)).toBe(true);

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

      const reopened = await open(place);
      const stored = await reopened.shares(EVERYTHING);
      expect(stored.map((s) => s.id)).toEqual(ids);
      expect(stored[9_999]).toEqual({ id: ids[9_999], upstreamError: null, ...makeShare(9_999, jobId) });
      const [totals] = await reopened.upstreamTotals({ from: 0, to: 1_700_000_000_003 });
      expect(totals).toMatchObject({ upstream: 'pool-0', sharesByVerdict: { accepted: 1 } });
    });

    test('a small batch cap splits a burst, and a job always commits before the shares naming it', async () => {
      const ledger = await open(backend.fresh(), { maxBatchRecords: 7 });
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

  describe(`${backend.name} ledger: bad records are refused alone`, () => {
    test('a share naming a job this ledger never issued rejects; the ledger goes on', async () => {
      const ledger = await open();
      const jobId = ledger.recordJob(makeJob(1));
      await expect(ledger.recordShare(makeShare(0, jobId + 1))).rejects.toThrow(
        new RegExp(`share.jobId ${jobId + 1} is not a job id`),
      );
      await expect(ledger.recordShare(makeShare(0, jobId, { time: 1.5 }))).rejects.toThrow(/share.time/);
      await expect(ledger.recordShare(makeShare(0, jobId, { hash: new Uint8Array(31) }))).rejects.toThrow(
        /share.hash must be 32 bytes/,
      );
      await expect(ledger.recordShare(makeShare(0, jobId, { nonce: 2 ** 32 }))).rejects.toThrow(
        /share.nonce/,
      );
      await expect(
        ledger.recordShare(makeShare(0, jobId, { extranonce2: new Uint8Array(256) })),
      ).rejects.toThrow(/share.extranonce2 must be at most 255 bytes/);
      await expect(ledger.recordShare(makeShare(0, jobId, { assignedDifficulty: -1 }))).rejects.toThrow(
        /share.assignedDifficulty/,
      );
      const id = await ledger.recordShare(makeShare(0, jobId));
      expect((await ledger.shares(EVERYTHING)).map((s) => s.id)).toEqual([id]);
    });

    test('a bad job throws and uses no id; a verdict for an unknown share throws', async () => {
      const ledger = await open();
      const before = ledger.recordJob(makeJob(0));
      expect(() => ledger.recordJob(makeJob(1, { prevhash: new Uint8Array(31) }))).toThrow(/job.prevhash/);
      expect(() => ledger.recordJob(makeJob(2, { merkleBranch: [new Uint8Array(33)] }))).toThrow(
        /job.merkleBranch\[0\]/,
      );
      expect(ledger.recordJob(makeJob(3))).toBe(before + 1);
      expect(() => {
        ledger.recordUpstreamVerdict({ shareId: 1, verdict: 'accepted', error: null });
      }).toThrow(/update.shareId 1/);
    });
  });

  describe(`${backend.name} ledger: failures reject every waiting share and never hang`, () => {
    test('a commit that outlives the commit timeout fails the ledger instead of hanging', async () => {
      const ledger = await open(backend.fresh(), { commitTimeoutMs: 1 });
      const jobId = ledger.recordJob(makeJob(1));
      const pending = Array.from({ length: 5000 }, (_, n) => ledger.recordShare(makeShare(n, jobId)));
      const error = await ledgerError(pending[0]!, 'LEDGER_COMMIT_FAILED');
      expect(error.message).toMatch(/took longer than 1 ms/);
      expect(error.message).toMatch(/restart the process/);
      const results = await Promise.allSettled(pending);
      expect(results.every((r) => r.status === 'rejected')).toBe(true);
      await ledgerError(ledger.recordShare(makeShare(6000, jobId)), 'LEDGER_FAILED');
      expect(() => ledger.recordJob(makeJob(2))).toThrow(LedgerError);
      await ledgerError(ledger.flush(), 'LEDGER_FAILED');
      await ledgerError(ledger.minerTotals(EVERYTHING), 'LEDGER_FAILED');
      await ledgerError(ledger.close(), 'LEDGER_FAILED');
    });

    test('close flushes first; later calls say the ledger is closed; close twice is fine', async () => {
      const place = backend.fresh();
      const ledger = await open(place);
      const jobId = ledger.recordJob(makeJob(1));
      const pending = Array.from({ length: 50 }, (_, n) => ledger.recordShare(makeShare(n, jobId)));
      const closing = ledger.close();
      expect(ledger.close()).toBe(closing);
      await closing;
      expect(await Promise.all(pending)).toHaveLength(50);
      const refused = await ledgerError(ledger.recordShare(makeShare(99, jobId)), 'LEDGER_CLOSED');
      expect(refused.message).toMatch(/is closed/);
      await ledgerError(ledger.shares(EVERYTHING), 'LEDGER_CLOSED');
      ledger.recordUpstreamVerdict({ shareId: 1, verdict: 'accepted', error: null }); // dropped, not thrown
      expect(ledger.stats().verdictsDropped).toBe(1);
      await ledger.flush();
      await ledger.close();

      const reopened = await open(place);
      expect(await reopened.shares(EVERYTHING)).toHaveLength(50);
    });

    test('options must be positive integers', async () => {
      await expect(backend.open(backend.fresh(), { maxBatchRecords: 0 })).rejects.toThrow(
        /options.maxBatchRecords must be a positive integer/,
      );
    });
  });
}
