import { describe, expect, test } from 'vitest';
import type { ProxyConfigInput } from '../src/config/proxy-config.js';
import { weightedRouting } from './support/proxy-harness.js';
import { testScope } from './support/scope.js';

const DIFFICULTY = 2 ** -18;
const scope = testScope({ difficulty: DIFFICULTY });

function weighted(ports: number[], weights: number[]): Partial<ProxyConfigInput> {
  return {
    upstreams: ports.map((port, i) => ({
      url: `stratum+tcp://farm.w${i}:x@127.0.0.1:${port}`,
      name: `pool${i}`,
      weight: weights[i]!,
    })),
    ...weightedRouting(DIFFICULTY),
  };
}

describe('weighted routing (static weights)', () => {
  test('credited work splits by weight across two pools, miners moved by clean notifies only', async () => {
    const a = await scope.pool({ name: 'A' });
    const b = await scope.pool({ name: 'B' });
    const running = await scope.proxy([a.port, b.port], weighted([a.port, b.port], [3, 1]));
    const miners = [];
    for (const name of ['p', 'q', 'r', 's'])
      miners.push(await scope.miner(running.port, { username: `${name}.rig`, sniff: false }));
    await a.waitFor(() => a.acceptedCount + b.acceptedCount >= 200, 60_000, '120 shares upstream');
    for (const m of miners) m.pause();
    for (const m of miners) await m.waitFor((x) => x.submits.every((s) => s.reply !== undefined), 10_000);
    const total = a.acceptedCount + b.acceptedCount;
    const shareA = a.acceptedCount / total;
    // Equal difficulty everywhere, so share counts are work; CPU miners are noisy over ~100 shares.
    expect(shareA).toBeGreaterThan(0.6);
    expect(shareA).toBeLessThan(0.9);
    expect(b.acceptedCount).toBeGreaterThan(0);
    for (const m of miners) expect(m.reconnects).toEqual([]);
    await running.ledger.flush();
    const totals = await running.ledger.upstreamTotals({ from: 0, to: Date.now() + 1 });
    expect(new Set(totals.map((t) => t.upstream))).toEqual(new Set(['pool0', 'pool1']));
  });

  test('a weighted upstream that goes away has its share taken by the others', async () => {
    const a = await scope.pool({ name: 'A' });
    const b = await scope.pool({ name: 'B' });
    const running = await scope.proxy([a.port, b.port], weighted([a.port, b.port], [1, 1]));
    for (const name of ['t', 'u']) await scope.miner(running.port, { username: `${name}.rig`, sniff: false });
    await b.waitFor((p) => p.acceptedCount >= 3, 30_000, 'shares on B');
    const port = b.port;
    await b.stop();
    const before = a.acceptedCount;
    await a.waitFor((p) => p.acceptedCount >= before + 10, 30_000, 'all work on A');
    // B comes back on the same address: the link reconnects and B gets its share again.
    const back = await scope.pool({ name: 'B again', port });
    await back.waitFor((p) => p.acceptedCount >= 5, 30_000, 'work on B after recovery');
    expect(running.proxy.state().upstreams.every((u) => u.healthy)).toBe(true);
  });
});
