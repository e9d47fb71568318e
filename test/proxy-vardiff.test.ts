import { describe, expect, test } from 'vitest';
import type { ProxyConfigInput } from '../src/config/proxy-config.js';
import type { CpuMiner } from './peers/cpu-miner.js';
import { RawStratumClient } from './peers/raw-client.js';
import type { TestPool } from './peers/test-pool.js';
import { TEST_UPSTREAM } from './support/proxy-harness.js';
import { testScope } from './support/scope.js';

const scope = testScope({ difficulty: 2 ** -24 });

/**
 * Production vardiff (initial 65536), with a difficulty floor a CPU miner can reach; a pool that
 * sends no new job is not taken for a silent one.
 */
function productionVardiff(targetShareSeconds: number): Pick<ProxyConfigInput, 'vardiff' | 'upstream'> {
  return {
    upstream: { ...TEST_UPSTREAM, silenceSeconds: 600 },
    vardiff: {
      initialDifficulty: 65536,
      minDifficulty: 2 ** -32,
      maxDifficulty: 2 ** 40,
      targetShareSeconds,
      retargetSeconds: 30,
      honourMinerFloor: true,
    },
  };
}

function received(miner: CpuMiner, method: string): unknown[][] {
  return miner.log
    .filter((line) => line.direction === 'in' && line.method === method)
    .map((line) => (JSON.parse(line.line) as { params: unknown[] }).params);
}

function notifiesSent(pool: TestPool): number {
  return pool.connections
    .flatMap((connection) => connection.log)
    .filter((line) => line.direction === 'out' && line.method === 'mining.notify').length;
}

describe('vardiff: a new miner gets work it can solve', () => {
  test('a miner far below its difficulty is brought down on a timer, with no new upstream job', async () => {
    const pool = await scope.pool();
    const running = await scope.proxy([pool.port], productionVardiff(0.5));
    const miner = await scope.miner(running.port, { username: 'cpu.rig', restartExtranonce2: true });
    await miner.waitFor((m) => m.submits.some((s) => s.reply === true), 60_000, 'a first accepted share');
    const difficulties = received(miner, 'mining.set_difficulty').map((params) => params[0] as number);
    expect(difficulties[0]).toBe(65536);
    expect(difficulties.length).toBeGreaterThan(1);
    for (let i = 1; i < difficulties.length; i++) expect(difficulties[i]).toBeLessThan(difficulties[i - 1]!);
    // Each new difficulty comes with a job of its own (difficulty applies from the next job).
    const jobIds = received(miner, 'mining.notify').map((params) => params[0] as string);
    expect(jobIds.length).toBeGreaterThanOrEqual(difficulties.length);
    expect(new Set(jobIds).size).toBe(jobIds.length);
    // The pool sent its one job on one connection: every step down came from the proxy's timer.
    expect(pool.connections.length).toBe(1);
    expect(notifiesSent(pool)).toBe(1);
    const first = miner.submits.find((s) => s.reply === true)!;
    expect(difficulties).toContain(first.difficulty);
    expect(first.difficulty).toBeLessThan(65536);
    expect(miner.submits.filter((s) => s.reply !== true && s.reply !== undefined)).toEqual([]);
  }, 90_000);

  test('mining.suggest_difficulty is the starting difficulty', async () => {
    const pool = await scope.pool();
    const running = await scope.proxy([pool.port], productionVardiff(3.3));
    const suggested = 3 * 2 ** -18;
    const miner = await scope.miner(running.port, { username: 'cpu.rig', suggestDifficulty: suggested });
    await miner.waitFor((m) => m.jobsReceived >= 1, 10_000, 'a first job');
    expect(received(miner, 'mining.set_difficulty')[0]).toEqual([suggested]);
    await miner.waitFor((m) => m.submits.some((s) => s.reply === true), 30_000, 'a first accepted share');
    expect(miner.submits[0]!.difficulty).toBe(suggested);
  });

  test('minimum-difficulty (BIP 310) is the starting difficulty', async () => {
    const pool = await scope.pool();
    const running = await scope.proxy([pool.port], productionVardiff(3.3));
    const client = await RawStratumClient.connect(running.port);
    scope.defer(() => client.close());
    const reply = await client.request('mining.configure', [
      ['minimum-difficulty'],
      { 'minimum-difficulty.value': 0.5 },
    ]);
    expect(reply.result).toEqual({ 'minimum-difficulty': true });
    await client.subscribe();
    expect(await client.authorize('cpu.rig')).toBe(true);
    await client.waitFor((c) => c.jobs.length >= 1, 10_000, 'a first job');
    expect(client.difficulties[0]).toBe(0.5);
  });

  test('a difficulty asked for after work was sent applies at once, by a fresh job; only the first time', async () => {
    const pool = await scope.pool();
    const production = productionVardiff(3.3);
    const running = await scope.proxy([pool.port], {
      ...production,
      vardiff: { ...production.vardiff, noShareTargets: 0, firstShareTargets: 0 },
    });
    const client = await RawStratumClient.connect(running.port);
    scope.defer(() => client.close());
    await client.subscribe();
    expect(await client.authorize('cpu.rig')).toBe(true);
    await client.waitFor((c) => c.jobs.length >= 1, 10_000, 'a first job');
    await client.request('mining.suggest_difficulty', [0.25]);
    await client.waitFor((c) => c.jobs.length >= 2, 10_000, 'a fresh job at the asked difficulty');
    expect(client.difficulties).toEqual([65536, 0.25]);
    expect(client.jobs[1]!.jobId).not.toBe(client.jobs[0]!.jobId);
    expect(client.jobs[1]!.cleanJobs).toBe(true);
    // Asking again and again (each fresh job costs a ledger row) does not mint more jobs.
    for (let i = 0; i < 20; i++)
      await client.request('mining.suggest_difficulty', [i % 2 === 0 ? 0.5 : 0.125]);
    expect(client.jobs.length).toBe(2);
    await pool.newJob();
    await client.waitFor((c) => c.jobs.length >= 3, 10_000, 'the next pool job');
    expect(client.difficulties.at(-1)).toBe(0.125);
  });

  test('each listener may have its own starting difficulty; the plain address form still works', async () => {
    const pool = await scope.pool();
    const running = await scope.proxy([pool.port], {
      ...productionVardiff(3.3),
      listen: ['127.0.0.1:0', { address: '127.0.0.1:0', initialDifficulty: 2 ** -16 }],
    });
    const [high, low] = running.ports;
    const big = await scope.miner(high!, { username: 'asic.rig', startPaused: true });
    const small = await scope.miner(low!, { username: 'cpu.rig' });
    await big.waitFor((m) => m.jobsReceived >= 1, 10_000, 'a job on the default port');
    await small.waitFor((m) => m.submits.some((s) => s.reply === true), 30_000, 'a share on the low port');
    expect(received(big, 'mining.set_difficulty')[0]).toEqual([65536]);
    expect(received(small, 'mining.set_difficulty')[0]).toEqual([2 ** -16]);
    expect(small.submits[0]!.difficulty).toBe(2 ** -16);
  });
});

describe('vardiff: a connection far above its target rate', () => {
  test('is raised at once, before the flood limit would close it (a farm session at a validator)', async () => {
    const pool = await scope.pool();
    const production = productionVardiff(3.3);
    // Default limits (50 messages/s, burst 200). At 2^-24 a CPU miner finds hundreds of shares
    // a second: without the early raise it is closed for flooding within a second or two.
    const running = await scope.proxy([pool.port], {
      ...production,
      vardiff: { ...production.vardiff, initialDifficulty: 2 ** -24 },
    });
    const miner = await scope.miner(running.port, { username: 'farm.session' });
    await miner.waitFor(
      (m) => received(m, 'mining.set_difficulty').length >= 2,
      30_000,
      'a raised difficulty',
    );
    const difficulties = received(miner, 'mining.set_difficulty').map((params) => params[0] as number);
    expect(difficulties[0]).toBe(2 ** -24);
    expect(difficulties[1]).toBeGreaterThanOrEqual(2 ** -24 * 16);
    // It keeps mining on the same connection, credited at the raised difficulty, long past the
    // point where the flood limit's burst would have run out.
    const raisedAt = Date.now();
    await new Promise((resolve) => setTimeout(resolve, 6_000));
    expect(miner.connected).toBe(true);
    expect(miner.reconnects).toEqual([]);
    const raised = miner.submits.filter((s) => s.sentAt > raisedAt && s.reply === true);
    expect(raised.length).toBeGreaterThan(0);
    for (const share of raised) expect(share.difficulty).toBeGreaterThan(2 ** -24);
    expect(miner.submits.filter((s) => s.reply !== true && s.reply !== undefined)).toEqual([]);
  }, 60_000);
});
