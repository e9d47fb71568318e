import { Registry } from 'prom-client';
import { afterEach, describe, expect, test } from 'vitest';
import { parseProxyConfig } from '../src/config/proxy-config.js';
import { OTHER_LABEL, ProxyMetrics } from '../src/metrics/proxy-metrics.js';
import { RawStratumClient } from './peers/raw-client.js';
import { TestPool } from './peers/test-pool.js';
import { craftShare } from './support/craft-share.js';
import { startProxy, testConfig } from './support/proxy-harness.js';

/** The per-miner and per-worker credited work counters, and the cap that keeps their series bounded. */

type Series = Map<string, number>;

async function seriesOf(registry: Registry, name: string, label: string): Promise<Series> {
  const metric = (await registry.getMetricsAsJSON()).find((m) => m.name === name);
  if (metric === undefined) throw new Error(`${name} is not registered`);
  const values = (metric as unknown as { values: { labels: Record<string, string>; value: number }[] })
    .values;
  return new Map(values.map((v) => [v.labels[label] ?? '', v.value]));
}

const cleanups: (() => Promise<void>)[] = [];

/** Connects as `worker`, has a low share rejected (not credited), then one share accepted. */
async function creditOneShare(port: number, worker: string): Promise<void> {
  const client = await RawStratumClient.connect(port);
  cleanups.push(() => client.close());
  await client.subscribe();
  expect(await client.authorize(worker)).toBe(true);
  await client.waitFor((c) => c.jobs.length > 0 && c.difficulties.length > 0, 10_000, 'a job');
  const low = await client.submit(craftShare(client, { low: true, worker }));
  expect(low.error?.code).toBe(23); // rejected shares are not credited
  expect((await client.submit(craftShare(client, { worker }))).result).toBe(true);
}
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => undefined);
});

describe('capped credited-work labels', () => {
  test('the config defaults to 1000 miners and 1000 workers, idle after 600 s', () => {
    const config = parseProxyConfig({
      listen: ['127.0.0.1:0'],
      upstreams: ['stratum+tcp://a:x@127.0.0.1:1'],
    });
    expect(config.metricsLabels).toEqual({ maxMiners: 1000, maxWorkers: 1000, idleSeconds: 600 });
  });

  test('1000 distinct miners keep their label; the 1001st and later are summed under _other', async () => {
    const metrics = new ProxyMetrics(new Registry(), { defaultMetrics: false });
    const caps = { maxMiners: 1000, maxWorkers: 1000, idleSeconds: 600 };
    for (let i = 0; i < 1000; i++) metrics.credit(`m${i}`, `m${i}.rig`, 1, caps);
    metrics.credit('m1000', 'm1000.rig', 2, caps);
    metrics.credit('m1001', 'm1001.rig', 3, caps);
    metrics.credit('m0', 'm0.rig', 4, caps); // already kept: still its own series

    for (const [name, label, suffix] of [
      ['hashrelay_miner_credited_difficulty_total', 'miner', ''],
      ['hashrelay_worker_credited_difficulty_total', 'worker', '.rig'],
    ] as const) {
      const series = await seriesOf(metrics.registry, name, label);
      expect(series.size, name).toBe(1001);
      expect(series.get(OTHER_LABEL), name).toBe(5);
      expect(series.get(`m0${suffix}`), name).toBe(5);
      expect(series.get(`m999${suffix}`), name).toBe(1);
      expect(series.has(`m1000${suffix}`), name).toBe(false);
    }
    const total = await seriesOf(metrics.registry, 'hashrelay_credited_difficulty_total', '');
    expect(total.get('')).toBe(1000 + 2 + 3 + 4);
  });

  test('the proxy credits accepted shares per miner and per worker, under its configured caps', async () => {
    const difficulty = 2 ** -16;
    const pool = await TestPool.start({ difficulty, sniff: false });
    cleanups.push(() => pool.stop());
    const running = await startProxy(
      testConfig([pool.port], { metricsLabels: { maxMiners: 1, maxWorkers: 2 } }),
    );
    cleanups.push(() => running.stop());

    // One accepted share each, in order, so which identity is kept under the cap of one is known.
    for (const worker of ['alice.rig1', 'bob.rig2']) await creditOneShare(running.port, worker);

    const registry = running.proxy.metrics.registry;
    const miners = await seriesOf(registry, 'hashrelay_miner_credited_difficulty_total', 'miner');
    const workers = await seriesOf(registry, 'hashrelay_worker_credited_difficulty_total', 'worker');
    expect(Object.fromEntries(miners)).toEqual({ alice: difficulty, [OTHER_LABEL]: difficulty });
    expect(Object.fromEntries(workers)).toEqual({ 'alice.rig1': difficulty, 'bob.rig2': difficulty });
  });
});

describe('label slots go to credited work: idle ones are given up', () => {
  const WORKERS = 'hashrelay_worker_credited_difficulty_total';
  const MINERS = 'hashrelay_miner_credited_difficulty_total';
  const minute = 60_000;

  // Sybil accounts, one worker name each: fair shares cannot tell them from honest miners.
  test("an attacker's 1000 worker names, credited once each, give way to a late honest worker once idle", async () => {
    const metrics = new ProxyMetrics(new Registry(), { defaultMetrics: false });
    const caps = { maxMiners: 1000, maxWorkers: 1000, idleSeconds: 600 };
    for (let i = 0; i < 1000; i++) metrics.credit(`evil${i}`, `evil${i}.x`, 1, caps, 0);

    metrics.credit('alice', 'alice.rig', 2, caps, 5 * minute); // the attacker's names are not idle yet
    expect((await seriesOf(metrics.registry, WORKERS, 'worker')).get(OTHER_LABEL)).toBe(2);

    metrics.credit('alice', 'alice.rig', 3, caps, 11 * minute);
    const workers = await seriesOf(metrics.registry, WORKERS, 'worker');
    expect(workers.get('alice.rig')).toBe(3);
    expect(workers.has('evil0.x'), 'the longest idle name gave up its slot').toBe(false);
    expect(workers.get('evil1.x')).toBe(1);
    expect(workers.size).toBe(1000 + 1); // the cap and _other: still bounded
    // The honest worker keeps its slot while it works, however many names wait.
    for (let i = 1000; i < 3000; i++) metrics.credit(`evil${i}`, `evil${i}.x`, 1, caps, 12 * minute);
    metrics.credit('alice', 'alice.rig', 1, caps, 12 * minute);
    expect((await seriesOf(metrics.registry, WORKERS, 'worker')).get('alice.rig')).toBe(4);
  });

  test('100,000 miner names credited once do not keep a late honest miner out', async () => {
    const metrics = new ProxyMetrics(new Registry(), { defaultMetrics: false });
    const caps = { maxMiners: 1000, maxWorkers: 1000, idleSeconds: 600 };
    for (let i = 0; i < 100_000; i++) metrics.credit(`evil${i}`, `evil${i}.x`, 1, caps, 0);
    metrics.credit('alice', 'alice.rig', 5, caps, 11 * minute);
    const miners = await seriesOf(metrics.registry, MINERS, 'miner');
    expect(miners.get('alice')).toBe(5);
    expect(miners.size).toBe(1000 + 1);
    expect(miners.get(OTHER_LABEL)).toBe(99_000);
  });

  test('a miner crediting all its names without pause holds no more than its fair share of worker slots', async () => {
    const metrics = new ProxyMetrics(new Registry(), { defaultMetrics: false });
    const caps = { maxMiners: 1000, maxWorkers: 4, idleSeconds: 600 };
    const evil = ['evil.0', 'evil.1', 'evil.2', 'evil.3', 'evil.4', 'evil.5'];
    for (let minuteNow = 0; minuteNow < 30; minuteNow++) {
      for (const worker of evil) metrics.credit('evil', worker, 1, caps, minuteNow * minute);
      for (const worker of ['alice.r0', 'alice.r1', 'alice.r2'].slice(0, minuteNow))
        metrics.credit('alice', worker, 1, caps, minuteNow * minute);
    }
    const workers = await seriesOf(metrics.registry, WORKERS, 'worker');
    const kept = [...workers.keys()].filter((worker) => worker !== OTHER_LABEL).sort();
    // Two miners share four slots: two each, and the third honest name is summed under _other.
    expect(kept.filter((worker) => worker.startsWith('alice.'))).toEqual(['alice.r0', 'alice.r1']);
    expect(kept.filter((worker) => worker.startsWith('evil.'))).toHaveLength(2);
    expect(workers.get('alice.r0')).toBe(29);
  });

  test('over the proxy: a worker idle past metricsLabels.idleSeconds gives its slot to the next credited one', async () => {
    const difficulty = 2 ** -16;
    const pool = await TestPool.start({ difficulty, sniff: false });
    cleanups.push(() => pool.stop());
    const idleSeconds = 0.5;
    const running = await startProxy(
      testConfig([pool.port], { metricsLabels: { maxMiners: 1, maxWorkers: 1, idleSeconds } }),
    );
    cleanups.push(() => running.stop());
    const registry = running.proxy.metrics.registry;

    await creditOneShare(running.port, 'evil.sybil1');
    expect(Object.fromEntries(await seriesOf(registry, WORKERS, 'worker'))).toEqual({
      'evil.sybil1': difficulty,
    });

    // (Before idleSeconds, alice would be _other: the unit tests above show it on a set clock.)
    await new Promise((resolve) => setTimeout(resolve, idleSeconds * 1000 * 2));
    await creditOneShare(running.port, 'alice.rig1');
    expect(Object.fromEntries(await seriesOf(registry, WORKERS, 'worker'))).toEqual({
      'alice.rig1': difficulty,
    });
    expect(Object.fromEntries(await seriesOf(registry, MINERS, 'miner'))).toEqual({ alice: difficulty });
  });
});
