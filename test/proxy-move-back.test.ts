import { describe, expect, test } from 'vitest';
import { parseUpstreamUrl } from '../src/config/endpoints.js';
import type { UpstreamSpec } from '../proxy/proxy.js';
import type { CpuMiner } from './peers/cpu-miner.js';
import type { TestPool } from './peers/test-pool.js';
import { ledgerShares, TEST_UPSTREAM } from './support/proxy-harness.js';
import { testScope } from './support/scope.js';

const scope = testScope({ difficulty: 2 ** -20 });

/** The same URL the harness configured, so the link keeps its session (no reconnect). */
function spec(index: number, pool: TestPool): UpstreamSpec {
  return {
    name: `pool${index}`,
    url: parseUpstreamUrl(`stratum+tcp://farm.proxy${index}:x@127.0.0.1:${pool.port}`),
    weight: 1,
  };
}

function accepted(miner: CpuMiner): number {
  return miner.submits.filter((s) => s.reply === true).length;
}

function notifiedJobIds(miner: CpuMiner): string[] {
  return miner.log
    .filter((line) => line.direction === 'in' && line.method === 'mining.notify')
    .map((line) => (JSON.parse(line.line) as { params: unknown[] }).params[0] as string);
}

describe('a miner moved back to an upstream whose job has not changed', () => {
  test('is never sent work it already covered: no duplicates, each return a fresh job', async () => {
    const a = await scope.pool({ name: 'A' });
    const b = await scope.pool({ name: 'B' });
    // A pool that sends no new job while the miner is away is not taken for a silent one.
    const running = await scope.proxy([a.port, b.port], {
      upstream: { ...TEST_UPSTREAM, silenceSeconds: 600 },
    });
    // Restarts extranonce2 at 0 on every new job id, as cpuminer and cgminer do.
    const miner = await scope.miner(running.port, { username: 'cpu.rig', restartExtranonce2: true });
    const order = [
      [spec(1, b), spec(0, a)],
      [spec(0, a), spec(1, b)],
    ];
    let target = 4;
    await miner.waitFor((m) => accepted(m) >= target, 30_000, 'shares on A');
    // A → B → A → B → A, while neither pool sends a new job.
    for (let move = 0; move < 4; move++) {
      running.proxy.setUpstreams(order[move % 2]!);
      target += 6;
      await miner.waitFor(
        (m) => accepted(m) + m.submits.filter((s) => typeof s.reply === 'object').length >= target,
        30_000,
        `shares after move ${move + 1}`,
      );
    }
    miner.pause();
    await miner.waitFor((m) => m.submits.every((s) => s.reply !== undefined), 10_000, 'answers');

    // One session per pool and one job each: every return was to the very same upstream job.
    expect([a.connections.length, b.connections.length]).toEqual([1, 1]);
    expect(a.currentJob.epoch).toBe(1);
    const refused = miner.submits.filter((s) => s.reply !== true);
    expect(refused).toEqual([]);
    const verdicts = (await ledgerShares(running.ledger)).map((share) => share.verdict);
    expect(verdicts.filter((verdict) => verdict !== 'accepted')).toEqual([]);
    expect(a.rejectedCount + b.rejectedCount).toBe(0);
    expect(a.acceptedCount).toBeGreaterThan(0);
    expect(b.acceptedCount).toBeGreaterThan(0);
    // Every placement was a job id the miner had not been sent before.
    const ids = notifiedJobIds(miner);
    expect(ids.length).toBe(5);
    expect(new Set(ids).size).toBe(ids.length);
  }, 120_000);
});
