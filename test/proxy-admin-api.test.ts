import type http from 'node:http';
import { describe, expect, test } from 'vitest';
import { silentLogger } from '../src/log/logger.js';
import { startAdminServer } from '../proxy/admin-server.js';
import type { ProxyState } from '../proxy/proxy.js';
import { testScope } from './support/scope.js';

const scope = testScope({ difficulty: 2 ** -16 });
const TOKEN = 'correct-horse-battery-staple';

async function adminFor(
  running: { proxy: { metrics: { registry: import('prom-client').Registry }; state(): ProxyState } },
  token?: string,
): Promise<{ url: string; drains: number[] }> {
  const drains: number[] = [];
  const server: http.Server = await startAdminServer({
    host: '127.0.0.1',
    port: 0,
    registry: running.proxy.metrics.registry,
    ready: () => true,
    logger: silentLogger(),
    token,
    api: { state: () => running.proxy.state(), drain: () => drains.push(Date.now()) },
  });
  scope.defer(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });
  const address = server.address() as { port: number };
  return { url: `http://127.0.0.1:${address.port}`, drains };
}

describe('admin API', () => {
  test('needs the bearer token; shows upstreams with target and realised split; drains on request', async () => {
    const a = await scope.pool({ name: 'A' });
    const b = await scope.pool({ name: 'B' });
    const running = await scope.proxy([a.port, b.port], {
      upstreams: [
        { url: `stratum+tcp://farm.a:secret@127.0.0.1:${a.port}`, name: 'A', weight: 3 },
        { url: `stratum+tcp://farm.b:secret@127.0.0.1:${b.port}`, name: 'B', weight: 1 },
      ],
      routing: { mode: 'weighted', minDwellSeconds: 1, windowSeconds: 60 },
    });
    const { url, drains } = await adminFor(running, TOKEN);
    await scope.miner(running.port, { username: 'p.rig', sniff: false });
    await a.waitFor(() => a.acceptedCount + b.acceptedCount >= 4, 30_000, 'some shares upstream');

    expect((await fetch(`${url}/api/state`)).status).toBe(401);
    expect((await fetch(`${url}/api/state`, { headers: { authorization: 'Bearer nope' } })).status).toBe(401);
    const response = await fetch(`${url}/api/state`, { headers: { authorization: `Bearer ${TOKEN}` } });
    expect(response.status).toBe(200);
    const text = await response.text();
    expect(text).not.toContain('secret'); // pool passwords never leave the process
    const state = JSON.parse(text) as ProxyState;
    expect(state.routing).toBe('weighted');
    expect(state.miners).toBe(1);
    expect(state.upstreams.map((u) => [u.name, u.target, u.healthy])).toEqual([
      ['A', 0.75, true],
      ['B', 0.25, true],
    ]);
    const realised = state.upstreams.map((u) => u.realised ?? -1);
    expect(realised.every((r) => r >= 0 && r <= 1)).toBe(true);
    expect(realised[0]! + realised[1]!).toBeCloseTo(1, 9);

    expect(drains).toEqual([]);
    const drain = await fetch(`${url}/api/drain`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}` },
    });
    expect(drain.status).toBe(202);
    expect(drains).toHaveLength(1);
    // /metrics stays open to Prometheus without a token.
    expect((await fetch(`${url}/metrics`)).status).toBe(200);
  });

  test('without a configured token the API is off and says how to turn it on', async () => {
    const a = await scope.pool({ name: 'A' });
    const running = await scope.proxy([a.port]);
    const { url } = await adminFor(running);
    const response = await fetch(`${url}/api/state`, { headers: { authorization: 'Bearer anything' } });
    expect(response.status).toBe(403);
    expect(await response.text()).toContain('HASHRELAY_ADMIN_TOKEN');
  });
});
