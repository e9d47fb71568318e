import { setTimeout as delay } from 'node:timers/promises';
import { describe, expect, test } from 'vitest';
import type { ProxyConfigInput } from '../src/config/proxy-config.js';
import type { PoolMessage } from '../src/stratum/index.js';
import { RawStratumClient } from './peers/raw-client.js';
import { freePort } from './support/ports.js';
import { TEST_UPSTREAM } from './support/proxy-harness.js';
import { testScope } from './support/scope.js';

const DIFFICULTY = 2 ** -18;
const GRACE_SECONDS = 1;
const scope = testScope({ difficulty: DIFFICULTY });

function outagePolicy(whenNoUpstream: 'disconnect' | 'wait'): Partial<ProxyConfigInput> {
  return { upstream: { ...TEST_UPSTREAM, noUpstreamGraceSeconds: GRACE_SECONDS, whenNoUpstream } };
}

async function rawMiner(port: number): Promise<RawStratumClient> {
  const client = await RawStratumClient.connect(port);
  scope.defer(() => client.close());
  return client;
}

function shownMessages(client: RawStratumClient): string[] {
  return client.messages
    .filter(
      (m): m is Extract<PoolMessage, { kind: 'client.show_message' }> => m.kind === 'client.show_message',
    )
    .map((m) => m.text);
}

describe('no upstream reachable (a mistyped pool host)', () => {
  test('past the grace, a waiting miner is shown why and disconnected; newcomers are refused at subscribe', async () => {
    const deadPort = await freePort();
    const { port, proxy } = await scope.proxy([deadPort], outagePolicy('disconnect'));

    const waiting = await rawMiner(port);
    await waiting.subscribe();
    expect(await waiting.authorize('alice.rig1')).toBe(true);
    await waiting.waitFor((c) => c.closed, 15_000, 'the waiting miner to be disconnected');
    expect(waiting.jobs).toEqual([]);
    expect(shownMessages(waiting).join()).toMatch(/no upstream pool reachable.*backup pool/);

    const newcomer = await rawMiner(port);
    const reply = await newcomer.request('mining.subscribe', ['asic/1.0']);
    expect(reply.result).toBeNull();
    expect(JSON.stringify(reply.error)).toMatch(/no upstream pool reachable/);
    await newcomer.waitFor((c) => c.closed, 5000, 'the newcomer to be closed');

    const metrics = await proxy.metrics.registry.metrics();
    expect(metrics).toMatch(/hashrelay_miners_turned_away_total\{stage="waiting"\} 1/);
    expect(metrics).toMatch(/hashrelay_miners_turned_away_total\{stage="subscribe"\} 1/);
    expect(metrics).toMatch(/hashrelay_miner_disconnects_total\{reason="no_upstream"\} 2/);
  });

  test('whenNoUpstream wait: the miner stays connected past the grace', async () => {
    const deadPort = await freePort();
    const { port } = await scope.proxy([deadPort], outagePolicy('wait'));
    const miner = await rawMiner(port);
    await miner.subscribe();
    expect(await miner.authorize('alice.rig1')).toBe(true);
    await delay(GRACE_SECONDS * 3000);
    expect(miner.closed).toBe(false);
    const another = await rawMiner(port);
    await another.subscribe();
    expect(await another.authorize('bob.rig1')).toBe(true);
  });

  test('with the upstream up nothing changes; when it goes away for longer than the grace, miners are turned away, and admitted when it is back', async () => {
    const pool = await scope.pool();
    const { port } = await scope.proxy([pool.port], outagePolicy('disconnect'));
    const miner = await rawMiner(port);
    await miner.subscribe();
    expect(await miner.authorize('alice.rig1')).toBe(true);
    await miner.waitFor((c) => c.jobs.length > 0, 10_000, 'a job');
    await delay(GRACE_SECONDS * 3000);
    expect(miner.closed).toBe(false);
    expect(shownMessages(miner)).toEqual([]);

    const poolPort = pool.port;
    await pool.stop();
    await miner.waitFor((c) => c.closed, 15_000, 'the miner to be turned away');
    expect(shownMessages(miner).join()).toMatch(/no upstream pool reachable/);

    await scope.pool({ port: poolPort });
    const back = await rawMiner(port);
    // Refused until the proxy has reconnected to the pool; then admitted and given work.
    const admitted = async (): Promise<boolean> => {
      const probe = await rawMiner(port);
      const reply = await probe.request('mining.subscribe', ['asic/1.0']);
      return reply.error === null;
    };
    while (!(await admitted())) await delay(200);
    await back.subscribe();
    expect(await back.authorize('alice.rig1')).toBe(true);
    await back.waitFor((c) => c.jobs.length > 0, 10_000, 'work after the upstream is back');
  });
});
