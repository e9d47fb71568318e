import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, test } from 'vitest';
import type { ProxyConfigInput } from '../src/config/proxy-config.js';
import { RawStratumClient } from './peers/raw-client.js';
import { CliProcess, type LogEvent } from './support/cli-process.js';
import { freePort } from './support/ports.js';
import { TEST_UPSTREAM } from './support/proxy-harness.js';
import { testScope } from './support/scope.js';

const DIFFICULTY = 2 ** -18;
const TOKEN = 'reload-admin-token-0123456789';
const scope = testScope({ difficulty: DIFFICULTY });
const processes: CliProcess[] = [];
afterEach(async () => {
  for (const running of processes.splice(0)) await running.stop();
});

interface Farm {
  readonly proxy: CliProcess;
  readonly port: number;
  readonly adminPort: number;
  /** Rewrites the config file (the running proxy reads it on reload). */
  write(config: Partial<ProxyConfigInput> | string): void;
}

/** `hashrelay proxy --config FILE` with the admin API on, as an operator runs it. */
async function startFarm(upstreamPort: number): Promise<Farm> {
  const dir = mkdtempSync(join(tmpdir(), 'hashrelay-reload-'));
  const path = join(dir, 'proxy.json');
  const [listen, adminPort] = [await freePort(), await freePort()];
  const base: ProxyConfigInput = {
    listen: [`127.0.0.1:${listen}`],
    ledger: `sqlite:${join(dir, 'ledger.sqlite')}`,
    metrics: `127.0.0.1:${adminPort}`,
    upstream: TEST_UPSTREAM,
    vardiff: {
      initialDifficulty: DIFFICULTY,
      minDifficulty: 2 ** -32,
      retargetSeconds: 100_000,
      burstShares: 0,
    },
  };
  const write = (config: Partial<ProxyConfigInput> | string): void => {
    writeFileSync(path, typeof config === 'string' ? config : JSON.stringify({ ...base, ...config }));
  };
  write({ upstreams: [{ url: `stratum+tcp://farm:x@127.0.0.1:${upstreamPort}`, name: 'first' }] });
  const proxy = CliProcess.start(['proxy', '--config', path], { HASHRELAY_ADMIN_TOKEN: TOKEN });
  processes.push(proxy);
  await proxy.waitForEvent((event) => event.msg === 'listening for miners', 'the listener');
  await proxy.waitForEvent((event) => event.msg === 'upstream up', 'the upstream');
  return { proxy, port: listen, adminPort, write };
}

async function postReload(farm: Farm): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(`http://127.0.0.1:${farm.adminPort}/api/reload`, {
    method: 'POST',
    headers: { authorization: `Bearer ${TOKEN}` },
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

const reloaded = (event: LogEvent): boolean => event.msg === 'configuration reloaded';
const disconnects = (farm: Farm): LogEvent[] =>
  farm.proxy.events.filter((event) => event.msg === 'miner disconnected');

describe('live configuration', () => {
  test('SIGHUP: a new upstream set and vardiff apply with the miner kept; a bad file keeps the running config', async () => {
    const [first, second] = [await scope.pool({ name: 'first' }), await scope.pool({ name: 'second' })];
    const farm = await startFarm(first.port);
    const miner = await scope.miner(farm.port, { username: 'alice.rig1', sniff: false });
    await miner.waitFor((m) => m.acceptedCount >= 3, 30_000, 'shares through the first pool');
    expect(first.acceptedCount).toBeGreaterThan(0);

    farm.write({
      upstreams: [{ url: `stratum+tcp://farm:x@127.0.0.1:${second.port}`, name: 'second' }],
      vardiff: {
        initialDifficulty: DIFFICULTY * 4,
        minDifficulty: 2 ** -32,
        retargetSeconds: 100_000,
        burstShares: 0,
      },
    });
    const mark = farm.proxy.events.length;
    farm.proxy.child.kill('SIGHUP');
    const done = await farm.proxy.waitForEvent(reloaded, 'the reload', { from: mark });
    expect(done.applied).toEqual(expect.arrayContaining(['upstreams', 'vardiff.initialDifficulty']));
    expect(done.refused).toEqual([]);

    // The connected miner moved to the second pool by a clean notify, on the same connection.
    const acceptedBefore = second.acceptedCount;
    await miner.waitFor(
      () => second.acceptedCount > acceptedBefore,
      30_000,
      'shares through the second pool',
    );
    expect(miner.connected).toBe(true);
    expect(disconnects(farm)).toEqual([]);
    // A newcomer starts at the new initial difficulty.
    const newcomer = await RawStratumClient.connect(farm.port);
    scope.defer(() => newcomer.close());
    await newcomer.subscribe();
    expect(await newcomer.authorize('bob.rig1')).toBe(true);
    await newcomer.waitFor((c) => c.difficulties.length > 0, 10_000, 'a difficulty');
    expect(newcomer.difficulties[0]).toBe(DIFFICULTY * 4);

    farm.write('{ "upstreams": [ broken');
    const badMark = farm.proxy.events.length;
    farm.proxy.child.kill('SIGHUP');
    const kept = await farm.proxy.waitForEvent(
      (event) => event.msg === 'configuration not reloaded: keeping the running one',
      'the refusal of a bad file',
      { from: badMark },
    );
    expect(String(kept.error)).toMatch(/not valid JSON/);
    const acceptedAfterBadFile = second.acceptedCount;
    await miner.waitFor(() => second.acceptedCount > acceptedAfterBadFile, 30_000, 'work going on');
    expect(farm.proxy.running).toBe(true);
    expect(disconnects(farm)).toEqual([]);
    expect(farm.proxy.nonJsonLines).toEqual([]);
  });

  test('POST /api/reload answers what applied and what needs a restart; a bad file is a 400 and changes nothing', async () => {
    const [first, second] = [await scope.pool({ name: 'first' }), await scope.pool({ name: 'second' })];
    const farm = await startFarm(first.port);
    const miner = await scope.miner(farm.port, { username: 'alice.rig1', sniff: false });
    await miner.waitFor((m) => m.acceptedCount >= 2, 30_000, 'shares');

    const elsewhere = await freePort();
    farm.write({
      listen: [`127.0.0.1:${elsewhere}`],
      upstreams: [
        { url: `stratum+tcp://farm:x@127.0.0.1:${first.port}`, name: 'first', weight: 1 },
        { url: `stratum+tcp://farm:x@127.0.0.1:${second.port}`, name: 'second', weight: 3 },
      ],
      limits: { maxConnectionsPerAddress: 50 },
    });
    const answer = await postReload(farm);
    expect(answer.status).toBe(200);
    expect(answer.body).toMatchObject({
      ok: true,
      applied: expect.arrayContaining(['upstreams']) as unknown,
    });
    expect(answer.body.applied).toEqual(expect.arrayContaining(['limits.maxConnectionsPerAddress']));
    expect(answer.body.refused).toEqual([
      { key: 'listen', reason: expect.stringMatching(/restart/) as unknown },
    ]);
    const state = (await (
      await fetch(`http://127.0.0.1:${farm.adminPort}/api/state`, {
        headers: { authorization: `Bearer ${TOKEN}` },
      })
    ).json()) as { upstreams: { name: string; weight: number }[] };
    expect(state.upstreams.map((u) => [u.name, u.weight])).toEqual([
      ['first', 1],
      ['second', 3],
    ]);
    // Still listening where it was: the refused change did not apply.
    const probe = await RawStratumClient.connect(farm.port);
    scope.defer(() => probe.close());
    await probe.subscribe();

    farm.write('not json at all');
    const bad = await postReload(farm);
    expect(bad.status).toBe(400);
    expect(bad.body).toMatchObject({ ok: false, error: expect.stringMatching(/not valid JSON/) as unknown });
    const after = (await (
      await fetch(`http://127.0.0.1:${farm.adminPort}/api/state`, {
        headers: { authorization: `Bearer ${TOKEN}` },
      })
    ).json()) as { upstreams: { name: string }[] };
    expect(after.upstreams.map((u) => u.name)).toEqual(['first', 'second']);
    expect(miner.connected).toBe(true);
    expect(disconnects(farm)).toEqual([]);
  });
});
