import type http from 'node:http';
import { describe, expect, test } from 'vitest';
import { silentLogger } from '../src/log/logger.js';
import { startAdminServer } from '../proxy/admin-server.js';
import { statusReport, type StatusReport } from '../proxy/status-report.js';
import { HASHES_PER_DIFFICULTY, hashrateOver, TimeBuckets, WorkerStats } from '../proxy/worker-stats.js';
import { RawStratumClient } from './peers/raw-client.js';
import { craftShare } from './support/craft-share.js';
import { ledgerShares, type RunningProxy } from './support/proxy-harness.js';
import { testScope } from './support/scope.js';

const DIFFICULTY = 2 ** -16;
const scope = testScope({ difficulty: DIFFICULTY });
const TOKEN = 'status-page-token-0123456789';
const POOL_PASSWORD = 'pool-password-never-shown';

async function adminFor(running: RunningProxy, options: { token?: string; publicStatus?: boolean }) {
  const server: http.Server = await startAdminServer({
    host: '127.0.0.1',
    port: 0,
    registry: running.proxy.metrics.registry,
    ready: () => true,
    logger: silentLogger(),
    token: options.token,
    publicStatus: options.publicStatus,
    status: () => statusReport({ role: 'proxy', proxy: running.proxy, metrics: running.proxy.metrics }),
    api: {
      state: () => running.proxy.state(),
      drain: () => undefined,
      reload: () => ({ ok: false, error: 'no' }),
    },
  });
  scope.defer(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });
  return `http://127.0.0.1:${(server.address() as { port: number }).port}`;
}

async function proxyWithSecrets(): Promise<RunningProxy> {
  const pool = await scope.pool({ name: 'A' });
  return scope.proxy([pool.port], {
    upstreams: [{ url: `stratum+tcp://farm.a:${POOL_PASSWORD}@127.0.0.1:${pool.port}`, name: 'A' }],
  });
}

async function rawMiner(port: number, worker: string): Promise<RawStratumClient> {
  const client = await RawStratumClient.connect(port);
  scope.defer(() => client.close());
  await client.subscribe();
  expect(await client.authorize(worker)).toBe(true);
  await client.waitFor((c) => c.jobs.length > 0 && c.difficulties.length > 0, 10_000, 'a job');
  return client;
}

async function status(url: string, token?: string): Promise<StatusReport> {
  const response = await fetch(`${url}/api/status`, {
    headers: token === undefined ? {} : { authorization: `Bearer ${token}` },
  });
  expect(response.status).toBe(200);
  return (await response.json()) as StatusReport;
}

function metricValue(text: string, name: string, labels: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${name}{${labels}}`));
  return line === undefined ? 0 : Number(line.split(' ').at(-1));
}

describe('status page JSON (GET /api/status)', () => {
  test("each worker's accepted, credited and rejected-by-reason equal the ledger's and /metrics'; a closed miner is listed as gone", async () => {
    const running = await proxyWithSecrets();
    const url = await adminFor(running, { token: TOKEN });
    const client = await rawMiner(running.port, 'alice.rig1');
    const good = craftShare(client, { worker: 'alice.rig1' });
    expect((await client.submit(good)).result).toBe(true);
    expect((await client.submit(good)).error?.code).toBe(22); // duplicate
    expect((await client.submit(craftShare(client, { low: true, worker: 'alice.rig1' }))).error?.code).toBe(
      23,
    );
    expect((await client.submit(craftShare(client, { worker: 'alice.rig1' }))).result).toBe(true);

    // The pool's answers come after the miner's: wait for both shares to be answered upstream.
    await expect
      .poll(async () =>
        metricValue(
          await (await fetch(`${url}/metrics`)).text(),
          'hashrelay_upstream_shares_total',
          'upstream="A",result="accepted"',
        ),
      )
      .toBe(2);
    const report = await status(url, TOKEN);
    expect(report.version).toBe(1);
    expect(report.role).toBe('proxy');
    const row = report.workers.find((w) => w.worker === 'alice.rig1')!;
    expect(row.goneAt).toBeNull();
    expect(row.upstream).toBe('A');
    const shares = (await ledgerShares(running.ledger)).filter((s) => s.worker === 'alice.rig1');
    const accepted = shares.filter((s) => s.verdict === 'accepted');
    expect(row.accepted).toBe(accepted.length);
    expect(row.creditedDifficulty).toBe(accepted.reduce((sum, s) => sum + s.assignedDifficulty, 0));
    const rejected: Record<string, number> = {};
    for (const s of shares.filter((s) => s.verdict !== 'accepted'))
      rejected[s.verdict] = (rejected[s.verdict] ?? 0) + 1;
    expect(row.rejected).toEqual(rejected);
    expect(row.rejected).toEqual({ duplicate: 1, 'low-difficulty': 1 });
    const metrics = await (await fetch(`${url}/metrics`)).text();
    expect(metricValue(metrics, 'hashrelay_worker_credited_difficulty_total', 'worker="alice.rig1"')).toBe(
      row.creditedDifficulty,
    );
    expect(metricValue(metrics, 'hashrelay_shares_total', 'verdict="duplicate"')).toBe(1);
    expect(row.lastShareAt).toBeGreaterThanOrEqual(row.connectedAt);
    expect(row.hashrate5m).toBeGreaterThan(0);
    expect(report.totals).toMatchObject({ miners: 1, workers: 1, accepted: 2, rejected: 2 });
    expect(report.upstreams.map((u) => [u.name, u.healthy])).toEqual([['A', true]]);
    const [upstream] = report.upstreams;
    expect(upstream!.answers.accepted).toBe(
      metricValue(metrics, 'hashrelay_upstream_shares_total', 'upstream="A",result="accepted"'),
    );
    const latencySum = metricValue(metrics, 'hashrelay_upstream_submit_latency_seconds_sum', 'upstream="A"');
    const latencyCount = metricValue(
      metrics,
      'hashrelay_upstream_submit_latency_seconds_count',
      'upstream="A"',
    );
    expect(upstream!.latencySeconds).toBe(latencyCount === 0 ? null : latencySum / latencyCount);

    await client.close();
    await expect
      .poll(async () => (await status(url, TOKEN)).workers.find((w) => w.worker === 'alice.rig1')?.goneAt, {
        timeout: 10_000,
      })
      .toBeTypeOf('number');
    const after = await status(url, TOKEN);
    expect(after.totals).toMatchObject({ miners: 0, workers: 0, workersGone: 1, accepted: 2 });
  });

  test('the token guards it unless admin.publicStatus; drain, reload and state never open; no secret in page or JSON', async () => {
    const running = await proxyWithSecrets();
    await rawMiner(running.port, 'bob.rig1');
    const guarded = await adminFor(running, { token: TOKEN });
    expect((await fetch(`${guarded}/api/status`)).status).toBe(401);
    expect((await fetch(`${guarded}/api/status`, { headers: { authorization: 'Bearer nope' } })).status).toBe(
      401,
    );
    // The page itself holds no data, so it loads (and asks for the token).
    const page = await fetch(`${guarded}/`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-security-policy')).toContain("script-src 'sha256-");

    const open = await adminFor(running, { token: TOKEN, publicStatus: true });
    const text = await (await fetch(`${open}/api/status`)).text();
    expect(JSON.parse(text)).toMatchObject({ version: 1 });
    for (const path of ['/api/state']) expect((await fetch(`${open}${path}`)).status).toBe(401);
    for (const path of ['/api/drain', '/api/reload'])
      expect((await fetch(`${open}${path}`, { method: 'POST' })).status).toBe(401);
    const html = await (await fetch(`${open}/`)).text();
    for (const secret of [POOL_PASSWORD, TOKEN]) {
      expect(text).not.toContain(secret);
      expect(html).not.toContain(secret);
    }

    const off = await adminFor(running, {});
    const refused = await fetch(`${off}/api/status`);
    expect(refused.status).toBe(403);
    expect(((await refused.json()) as { error: string }).error).toContain('admin.publicStatus');
  });
});

describe('worker tallies', () => {
  test('hashrate is credited difficulty × 2^32 over the window, no longer than the connection', () => {
    const stats = new WorkerStats();
    const start = 10 * 60_000;
    stats.share(1, 'w', 'accepted', 4, start + 1000);
    stats.share(1, 'w', 'accepted', 4, start + 61_000);
    stats.share(1, 'w', 'stale', 0, start + 62_000);
    const tally = stats.of(1, 'w');
    const now = start + 120_000;
    expect(hashrateOver(tally, 5, start, now)).toBe((8 * HASHES_PER_DIFFICULTY) / 120);
    // Seven minutes later the first two minutes have left the 5-minute window, not the hour.
    const later = start + 7 * 60_000 + 30_000;
    expect(hashrateOver(tally, 5, start, later)).toBe(0);
    expect(hashrateOver(tally, 60, start, later)).toBe((8 * HASHES_PER_DIFFICULTY) / 450);
    expect(Object.fromEntries(tally.rejected)).toEqual({ stale: 1 });
  });

  test('time buckets forget what is older than the ring', () => {
    const buckets = new TimeBuckets(1000, 3);
    buckets.add(1, 500);
    buckets.add(2, 1500);
    buckets.add(4, 3500);
    expect(buckets.sumOfLast(3, 3500)).toBe(6);
    expect(buckets.sumOfLast(5, 3500)).toBe(6); // the first bucket's 1 left the ring
    expect(buckets.series(3500)).toEqual([
      [1000, 2],
      [2000, 0],
      [3000, 4],
    ]);
  });
});
