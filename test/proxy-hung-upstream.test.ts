import { describe, expect, test } from 'vitest';
import type { ProxyConfigInput } from '../src/config/proxy-config.js';
import type { CpuMiner } from './peers/cpu-miner.js';
import type { TestPool } from './peers/test-pool.js';
import { ledgerShares, TEST_UPSTREAM, type RunningProxy } from './support/proxy-harness.js';
import { testScope } from './support/scope.js';

/**
 * Pools that hang rather than die: frozen (SIGSTOP), or deaf (jobs keep coming, submits are
 * never answered). Both must be failed over like a dead pool, the shares in flight counted as
 * lost, and a failed primary must be probed often enough that failback follows its recovery.
 */
const DIFFICULTY = 2 ** -16;
const scope = testScope({ difficulty: DIFFICULTY });

function upstreamSettings(settings: Record<string, number>): Partial<ProxyConfigInput> {
  return { upstream: { ...TEST_UPSTREAM, ...settings } };
}

async function minersOn(running: RunningProxy): Promise<CpuMiner[]> {
  return [
    await scope.miner(running.port, { username: 'alice.rig1' }),
    await scope.miner(running.port, { username: 'bob.rig1', versionRolling: { mask: 0xffffffff } }),
  ];
}

/** Stops hashing and waits until every submit has its answer from the proxy. */
async function settled(miners: CpuMiner[]): Promise<void> {
  for (const m of miners) m.pause();
  for (const m of miners)
    await m.waitFor((x) => x.submits.every((s) => s.reply !== undefined), 15_000, 'all submits answered');
}

async function lostShares(running: RunningProxy, upstream: string): Promise<Map<string, number>> {
  const metric = await running.proxy.metrics.upstreamSharesLost.get();
  const byReason = new Map<string, number>();
  for (const value of metric.values)
    if (value.labels.upstream === upstream) byReason.set(String(value.labels.reason), value.value);
  return byReason;
}

/** Lost shares agree across the metric, the admin state and the ledger's `no-answer` verdicts. */
async function expectLostSharesCounted(running: RunningProxy, upstream: string): Promise<number> {
  await running.ledger.flush();
  const byReason = await lostShares(running, upstream);
  const total = [...byReason.values()].reduce((sum, n) => sum + n, 0);
  const state = running.proxy.state().upstreams.find((u) => u.name === upstream)!;
  expect(state.lostShares).toBe(total);
  const unanswered = (await ledgerShares(running.ledger)).filter(
    (s) => s.upstream === upstream && s.upstreamVerdict === 'no-answer',
  );
  expect(unanswered.length).toBe((byReason.get('timeout') ?? 0) + (byReason.get('session_closed') ?? 0));
  return total;
}

/** Sessions of `upstream` given up for unanswered submits (hashrelay_upstream_failures_total). */
async function unansweredFailures(running: RunningProxy, upstream: string): Promise<number> {
  const failures = await running.proxy.metrics.upstreamFailovers.get();
  const hit = failures.values.find((v) => v.labels.upstream === upstream && v.labels.reason === 'unanswered');
  return hit?.value ?? 0;
}

function expectNoMinerReconnected(miners: CpuMiner[]): void {
  for (const m of miners) {
    // Every move was a clean notify on the same connection.
    expect(m.reconnects).toEqual([]);
    expect(m.violations).toEqual([]);
  }
}

/** Accepted shares on connections other than `original` (a session opened after the failure). */
function acceptedOnNewSessions(pool: TestPool, original: number): number {
  return pool.shares.filter((s) => s.accepted && s.connectionId !== original).length;
}

describe('hung upstreams are failed over; failback follows recovery', () => {
  test('a frozen primary (SIGSTOP) is failed over once a submit goes unanswered, and failed back when it thaws', async () => {
    const poolA = await scope.pool({ name: 'A' });
    const poolB = await scope.pool({ name: 'B' });
    // Silence and the per-share timeout are far beyond the waits: only the answer rule can act.
    const running = await scope.proxy(
      [poolA.port, poolB.port],
      upstreamSettings({
        silenceSeconds: 600,
        submitTimeoutSeconds: 120,
        submitAnswerSeconds: 2,
        maxUnansweredSubmits: 1000,
        probeSeconds: 1,
      }),
    );
    const miners = await minersOn(running);
    for (const m of miners) await m.waitFor((x) => x.acceptedCount >= 3, 20_000, 'shares on A');
    expect(poolA.connections.length).toBe(1);
    const original = poolA.connections[0]!.id;

    poolA.setMode('frozen');
    await poolB.waitFor((p) => p.acceptedCount >= 6, 30_000, 'shares moved to B');
    expect(running.proxy.state().upstreams.find((u) => u.name === 'pool0')!.healthy).toBe(false);
    // Later probes that find it still frozen fail their handshake; the first failure was this.
    expect(await unansweredFailures(running, 'pool0')).toBeGreaterThan(0);

    poolA.setMode('normal');
    await poolA.waitFor(
      (p) => acceptedOnNewSessions(p, original) >= 4,
      15_000,
      'failback to A after it thaws',
    );
    await settled(miners);
    expectNoMinerReconnected(miners);
    // The failover is what made the in-flight shares unanswered: at least one is counted.
    expect(await expectLostSharesCounted(running, 'pool0')).toBeGreaterThan(0);
  });

  test('a primary that keeps sending jobs but never answers submits is failed over; lost shares are counted', async () => {
    const poolA = await scope.pool({ name: 'A', jobRefreshMs: 300 });
    const poolB = await scope.pool({ name: 'B' });
    // Jobs every 300 ms keep it from ever being silent; a few timed-out submits in a row must do.
    const running = await scope.proxy(
      [poolA.port, poolB.port],
      upstreamSettings({
        silenceSeconds: 5,
        submitTimeoutSeconds: 1,
        maxUnansweredSubmits: 3,
        submitAnswerSeconds: 600,
        probeSeconds: 1,
      }),
    );
    const miners = await minersOn(running);
    for (const m of miners) await m.waitFor((x) => x.acceptedCount >= 3, 20_000, 'shares on A');

    poolA.setMode('deaf');
    await poolB.waitFor((p) => p.acceptedCount >= 6, 30_000, 'shares moved to B');
    const a = running.proxy.state().upstreams.find((u) => u.name === 'pool0')!;
    expect(a.healthy).toBe(false);
    // Unanswered submits, or a later probe that got no handshake: either way the operator sees why.
    expect(a.lastFailure).toMatch(/unanswered|silent/);
    await settled(miners);
    expectNoMinerReconnected(miners);
    const byReason = await lostShares(running, 'pool0');
    expect(byReason.get('timeout')).toBeGreaterThanOrEqual(3);
    expect(await expectLostSharesCounted(running, 'pool0')).toBeGreaterThanOrEqual(3);
    expect(await unansweredFailures(running, 'pool0')).toBeGreaterThan(0);
  });

  test('a primary that comes back is probed and failed back within a few probe intervals, whatever the backoff', async () => {
    const poolA = await scope.pool({ name: 'A' });
    const poolB = await scope.pool({ name: 'B' });
    const probeSeconds = 1;
    // A 30 s backoff stands for one grown over a long outage: failback must not wait for it.
    const running = await scope.proxy(
      [poolA.port, poolB.port],
      upstreamSettings({ backoffMinSeconds: 30, backoffMaxSeconds: 60, probeSeconds }),
    );
    const miners = await minersOn(running);
    for (const m of miners) await m.waitFor((x) => x.acceptedCount >= 3, 20_000, 'shares on A');

    const portA = poolA.port;
    await poolA.stop();
    await poolB.waitFor((p) => p.acceptedCount >= 6, 20_000, 'shares moved to B');
    const poolA2 = await scope.pool({ name: 'A-again', port: portA });
    // A bound on the wait, not a latency assertion: three probe intervals and a handshake.
    await poolA2.waitFor((p) => p.acceptedCount >= 4, 3 * probeSeconds * 1000 + 5000, 'failback to A');
    await settled(miners);
    expectNoMinerReconnected(miners);
  });
});
