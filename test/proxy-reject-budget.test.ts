import { describe, expect, test } from 'vitest';
import type { LocalVerdict } from '../src/ledger/ledger.js';
import { RejectBudget, type RejectBudgetOptions } from '../proxy/reject-budget.js';
import { CpuMiner } from './peers/cpu-miner.js';
import { RawStratumClient } from './peers/raw-client.js';
import { EVERYTHING } from './support/ledger-contract.js';
import { testScope } from './support/scope.js';

const DIFFICULTY = 2 ** -16;
const scope = testScope({ difficulty: DIFFICULTY });

const BUDGET: RejectBudgetOptions = {
  windowSeconds: 60,
  minRejects: 20,
  maxInvalidRatio: 0.9,
  throttleMs: 20,
  disconnectRejects: 60,
  recordedRejectsPerHour: 25,
  summarySeconds: 0.2,
};

/** Room for a fast junk miner: only the reject budget may stop it, not the message-rate limit. */
const LIMITS = {
  messagesPerSecond: 10_000,
  messageBurst: 10_000,
  rejectBudget: BUDGET,
};

describe('reject budget over real sockets', () => {
  test('a miner sending junk is throttled, then closed; its rows stay within budget plus summaries; the honest miner mines on', async () => {
    const pool = await scope.pool();
    const running = await scope.proxy([pool.port], { limits: LIMITS });
    const honest = await CpuMiner.connect({ port: running.port, username: 'erin.rig1' });
    scope.defer(() => honest.close());
    await honest.waitFor((m) => m.acceptedCount >= 2, 20_000, 'honest shares');

    const junk = await RawStratumClient.connect(running.port);
    scope.defer(() => junk.close());
    await junk.subscribe();
    expect(await junk.authorize('mallory.junk')).toBe(true);
    await junk.waitFor((c) => c.jobs.length > 0, 5000, 'a job');
    const job = junk.lastJob;
    const extranonce2 = Buffer.alloc(junk.extranonce2Size);
    // Distinct shares (no duplicates), each almost surely under the difficulty: the junk a flooder sends.
    const sent = 2000;
    for (let nonce = 0; nonce < sent; nonce++)
      void junk.submit({ worker: 'mallory.junk', jobId: job.jobId, extranonce2, ntime: job.ntime, nonce });
    await junk.waitFor((c) => c.closed, 20_000, 'the junk miner is closed');

    const disconnects = await running.proxy.metrics.disconnectsTotal.get();
    expect(disconnects.values.find((v) => v.labels.reason === 'rejects')?.value).toBe(1);
    const throttled = (await running.proxy.metrics.submitsThrottled.get()).values[0]?.value ?? 0;
    expect(throttled).toBeGreaterThan(0);

    // Every judged junk share is either a row of its own (at most the budget) or counted in a summary.
    const judged = (await running.proxy.metrics.shares.get()).values.find(
      (v) => v.labels.verdict === 'low-difficulty',
    )!.value;
    expect(judged).toBeLessThan(sent); // closed before it was through
    await running.ledger.flush();
    await expect
      .poll(
        async () => {
          const summaries = await running.ledger.rejectSummaries(EVERYTHING);
          const rows = (await running.ledger.shares(EVERYTHING)).filter((s) => s.miner === 'mallory');
          return { rows: rows.length, summarised: summaries.reduce((sum, s) => sum + s.shares, 0) };
        },
        { timeout: 5000, interval: 100 },
      )
      .toEqual({ rows: BUDGET.recordedRejectsPerHour, summarised: judged - BUDGET.recordedRejectsPerHour });
    const summaries = await running.ledger.rejectSummaries(EVERYTHING);
    expect(new Set(summaries.map((s) => `${s.miner}/${s.worker}/${s.verdict}`))).toEqual(
      new Set(['mallory/mallory.junk/low-difficulty']),
    );

    const before = honest.acceptedCount;
    await honest.waitFor((m) => m.acceptedCount >= before + 3, 20_000, 'honest miner undisturbed');
    expect(honest.connected).toBe(true);
    expect(honest.rejectedCount).toBe(0);
  });

  test('a junk miner that waits for each answer is slowed by the throttle, and still closed', async () => {
    const pool = await scope.pool();
    const running = await scope.proxy([pool.port], {
      limits: { ...LIMITS, rejectBudget: { ...BUDGET, throttleMs: 100 } },
    });
    const junk = await RawStratumClient.connect(running.port);
    scope.defer(() => junk.close());
    await junk.subscribe();
    await junk.authorize('mallory.slow');
    await junk.waitFor((c) => c.jobs.length > 0, 5000, 'a job');
    const job = junk.lastJob;
    const extranonce2 = Buffer.alloc(junk.extranonce2Size);
    const answeredIn: number[] = [];
    const closed = junk.waitFor((c) => c.closed, 60_000, 'closed').then(() => 'closed');
    for (let nonce = 0; nonce < 200; nonce++) {
      const started = performance.now();
      const answer = junk.submit({
        worker: 'mallory.slow',
        jobId: job.jobId,
        extranonce2,
        ntime: job.ntime,
        nonce,
      });
      if ((await Promise.race([answer.then(() => 'answered'), closed])) === 'closed') break;
      answeredIn.push(performance.now() - started);
    }
    expect(junk.closed).toBe(true);
    // Until minRejects answers come at once; past it each waits out the throttle.
    expect(answeredIn.slice(BUDGET.minRejects + 1).every((ms) => ms >= 95)).toBe(true);
  });
});

describe('reject budget: honest miners are left alone', () => {
  const at = (seconds: number): number => 1_000_000 + seconds * 1000;

  function run(budget: RejectBudget, verdicts: readonly LocalVerdict[], start: number, perSecond: number) {
    return verdicts.map((verdict, i) => budget.screen(verdict, false, at(start + i / perSecond)));
  }

  test('a burst of stale shares after a new block neither throttles nor closes', () => {
    const budget = new RejectBudget(BUDGET, at(0));
    run(budget, Array<LocalVerdict>(100).fill('accepted'), 0, 10);
    const burst = run(budget, Array<LocalVerdict>(500).fill('stale'), 10, 1000);
    expect(burst.every((s) => s.delayMs === 0 && s.disconnect === undefined)).toBe(true);
    // They still spend the recording budget: junk of any verdict keeps the ledger bounded.
    expect(burst.filter((s) => s.record)).toHaveLength(BUDGET.recordedRejectsPerHour);
  });

  test('a miner with some low-difficulty shares among good ones is never throttled', () => {
    const budget = new RejectBudget(BUDGET, at(0));
    const verdicts = Array.from({ length: 5000 }, (_, i): LocalVerdict =>
      i % 4 === 0 ? 'low-difficulty' : 'accepted',
    );
    const screened = run(budget, verdicts, 0, 50);
    expect(screened.every((s) => s.delayMs === 0 && s.disconnect === undefined)).toBe(true);
  });

  test('forwarded shares are always recorded one by one, and the recording budget refills', () => {
    const budget = new RejectBudget({ ...BUDGET, recordedRejectsPerHour: 2 }, at(0));
    expect(run(budget, ['duplicate', 'duplicate', 'duplicate'], 0, 1).map((s) => s.record)).toEqual([
      true,
      true,
      false,
    ]);
    expect(budget.screen('stale', true, at(3)).record).toBe(true);
    expect(budget.screen('duplicate', false, at(3 + 1800)).record).toBe(true); // half an hour: one more
  });
});
