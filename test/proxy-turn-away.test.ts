import { describe, expect, test } from 'vitest';
import { RawStratumClient } from './peers/raw-client.js';
import { craftShare } from './support/craft-share.js';
import { counterValue } from './support/metric-value.js';
import { testScope } from './support/scope.js';

const DIFFICULTY = 2 ** -16;
const scope = testScope({ difficulty: DIFFICULTY });

const ATTACKER = '127.0.0.2';
const OTHER_HOST = '127.0.0.3';
const STORM = 20;

async function dial(port: number, address: string): Promise<RawStratumClient> {
  const client = await RawStratumClient.connect(port, '127.0.0.1', address);
  scope.defer(() => client.close());
  return client;
}

async function creditedShare(client: RawStratumClient, worker: string): Promise<void> {
  const answer = await client.submit(craftShare(client, { worker }));
  expect(answer.error ?? null).toBeNull();
  expect(answer.result).toBe(true);
}

describe('turning away a connection storm', () => {
  test('of a storm over the per-address rate the first refused is told why and the rest are closed at once; another host mines on', async () => {
    const pool = await scope.pool();
    const running = await scope.proxy([pool.port], {
      limits: { newConnectionsPerAddressPerSecond: 0.01, newConnectionBurstPerAddress: 2 },
    });
    const registry = running.proxy.metrics.registry;
    const honest = await dial(running.port, OTHER_HOST);
    await honest.subscribe();
    expect(await honest.authorize('grace.rig')).toBe(true);
    await honest.waitFor((c) => c.jobs.length > 0 && c.difficulties.length > 0, 5000, 'honest job');
    await creditedShare(honest, 'grace.rig');

    // The burst is let in; then a storm of connections from the same host, all at once.
    for (let i = 0; i < 2; i++) await dial(running.port, ATTACKER);
    const storm = await Promise.all(Array.from({ length: STORM }, () => dial(running.port, ATTACKER)));
    await Promise.all(
      storm.map((client) => client.waitFor((c) => c.closed, 10_000, 'storm connection closed')),
    );
    const told = storm.filter((client) =>
      client.log.some((l) => l.direction === 'in' && l.line.includes('too many new connections')),
    );
    expect(told.length).toBeGreaterThanOrEqual(1);
    // Writing the reason, ending and timing out each of a storm is work the proxy can skip.
    expect(told.length).toBeLessThan(STORM / 2);
    expect(
      await counterValue(registry, 'hashrelay_connections_refused_total', { reason: 'rate_per_address' }),
    ).toBe(STORM);

    // The other host is undisturbed, and connects afresh.
    await creditedShare(honest, 'grace.rig');
    const fresh = await dial(running.port, OTHER_HOST);
    await fresh.subscribe();
    expect(await fresh.authorize('grace.rig2')).toBe(true);
    await fresh.waitFor((c) => c.jobs.length > 0 && c.difficulties.length > 0, 5000, 'fresh job');
    await creditedShare(fresh, 'grace.rig2');
    expect(honest.closed || fresh.closed).toBe(false);
  });
});
