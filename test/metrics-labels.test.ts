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
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => undefined);
});

describe('capped credited-work labels', () => {
  test('the config defaults to 1000 miners and 1000 workers', () => {
    const config = parseProxyConfig({
      listen: ['127.0.0.1:0'],
      upstreams: ['stratum+tcp://a:x@127.0.0.1:1'],
    });
    expect(config.metricsLabels).toEqual({ maxMiners: 1000, maxWorkers: 1000 });
  });

  test('1000 distinct miners keep their label; the 1001st and later are summed under _other', async () => {
    const metrics = new ProxyMetrics(new Registry(), { defaultMetrics: false });
    const caps = { maxMiners: 1000, maxWorkers: 1000 };
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
    for (const worker of ['alice.rig1', 'bob.rig2']) {
      const client = await RawStratumClient.connect(running.port);
      cleanups.push(() => client.close());
      await client.subscribe();
      expect(await client.authorize(worker)).toBe(true);
      await client.waitFor((c) => c.jobs.length > 0 && c.difficulties.length > 0, 10_000, 'a job');
      const low = await client.submit(craftShare(client, { low: true, worker }));
      expect(low.error?.code).toBe(23); // rejected shares are not credited
      expect((await client.submit(craftShare(client, { worker }))).result).toBe(true);
    }

    const registry = running.proxy.metrics.registry;
    const miners = await seriesOf(registry, 'hashrelay_miner_credited_difficulty_total', 'miner');
    const workers = await seriesOf(registry, 'hashrelay_worker_credited_difficulty_total', 'worker');
    expect(Object.fromEntries(miners)).toEqual({ alice: difficulty, [OTHER_LABEL]: difficulty });
    expect(Object.fromEntries(workers)).toEqual({ 'alice.rig1': difficulty, 'bob.rig2': difficulty });
  });
});
