import { Keyring } from '@polkadot/keyring';
import { cryptoWaitReady } from '@polkadot/util-crypto';
import { describe, expect, test } from 'vitest';
import { parseUpstreamUrl } from '../src/config/endpoints.js';
import type { ProxyConfigInput } from '../src/config/proxy-config.js';
import { signAuthorize, verifyAuthorize } from '../src/chain/authorize-proof.js';
import type { UpstreamSpec } from '../proxy/proxy.js';
import { RawStratumClient } from './peers/raw-client.js';
import type { TestPool } from './peers/test-pool.js';
import { craftShare } from './support/craft-share.js';
import { TEST_UPSTREAM, weightedRouting } from './support/proxy-harness.js';
import { testScope } from './support/scope.js';

const DIFFICULTY = 2 ** -16;
const scope = testScope({ difficulty: DIFFICULTY });

function spec(name: string, pool: TestPool, weight = 1): UpstreamSpec {
  return { name, url: parseUpstreamUrl(`stratum+tcp://farm.${name}:x@127.0.0.1:${pool.port}`), weight };
}

async function rawMiner(port: number): Promise<RawStratumClient> {
  const client = await RawStratumClient.connect(port);
  scope.defer(() => client.close());
  await client.subscribe();
  expect(await client.authorize('dave.rig1')).toBe(true);
  await client.waitFor((c) => c.jobs.length > 0, 5000, 'first job');
  return client;
}

const quickRetire: Partial<ProxyConfigInput> = { upstream: { ...TEST_UPSTREAM, retireSeconds: 3 } };

describe('the upstream set changes at runtime without dropping a miner', () => {
  test('a removed upstream hands its miners over by a clean notify and still gets shares on its jobs', async () => {
    const a = await scope.pool({ name: 'A' });
    const b = await scope.pool({ name: 'B' });
    const running = await scope.proxy([a.port], quickRetire);
    const client = await rawMiner(running.port);
    const jobOnA = client.jobs.length - 1;
    // Found on A's job before the switch, submitted after it (within retireSeconds).
    const late = craftShare(client, { jobIndex: jobOnA });

    running.proxy.setUpstreams([spec('B', b)]);
    await client.waitFor((c) => c.jobs.length > jobOnA + 1, 5000, 'a job from B');
    expect(client.lastJob.cleanJobs).toBe(true);
    expect(b.connections.some((c) => c.subscribed)).toBe(true);

    // A share the miner found on A's job, sent after the switch, still goes to A.
    expect((await client.submit(late)).result).toBe(true);
    await a.waitFor((p) => p.acceptedCount === 1, 5000, 'the late share at A');
    const fresh = await client.submit(craftShare(client));
    expect(fresh.result).toBe(true);
    await b.waitFor((p) => p.acceptedCount === 1, 5000, 'the new share at B');
    expect(a.acceptedCount).toBe(1);

    // After the grace period A's session closes; the miner's connection never did.
    await a.waitFor((p) => p.connections.every((c) => c.closed), 10_000, 'A closed after retireSeconds');
    expect(client.closed).toBe(false);
    expect(running.proxy.links.map((link) => link.name)).toEqual(['B']);
    const metrics = await running.proxy.metrics.registry.metrics();
    expect(metrics).not.toMatch(/hashrelay_upstream_up\{upstream="pool0"\}/);
    expect(metrics).toMatch(/hashrelay_upstream_up\{upstream="B"\} 1/);
  });

  test('a new endpoint under the same name reconnects there and the miner follows', async () => {
    const a = await scope.pool({ name: 'A' });
    const c = await scope.pool({ name: 'C' });
    const running = await scope.proxy([a.port], quickRetire);
    const client = await rawMiner(running.port);
    const jobs = client.jobs.length;
    running.proxy.setUpstreams([{ ...spec('pool0', c) }]);
    await client.waitFor((m) => m.jobs.length > jobs, 5000, 'a job from C');
    await a.waitFor((p) => p.connections.every((conn) => conn.closed), 5000, 'A closed at once');
    expect((await client.submit(craftShare(client))).result).toBe(true);
    await c.waitFor((p) => p.acceptedCount === 1, 5000, 'share at C');
    expect(client.closed).toBe(false);
  });

  test('signed credentials are made for each session and verify at the pool', async () => {
    await cryptoWaitReady();
    const ring = new Keyring({ type: 'sr25519', ss58Format: 42 });
    const miner = ring.addFromUri('//FarmHotkey');
    const validator = ring.addFromUri('//Validator').address;
    const authorizations: { username: string; password: string }[] = [];
    const v = await scope.pool({
      name: 'V',
      authorize: (username, password) => {
        authorizations.push({ username, password });
        return true;
      },
    });
    const running = await scope.proxy([], quickRetire);
    running.proxy.setUpstreams([
      {
        ...spec(validator, v),
        credentials: () => signAuthorize(miner, validator, Math.floor(Date.now() / 1000), 'farm1'),
      },
    ]);
    const client = await rawMiner(running.port);
    await v.reconnect(); // the pool asks for a new session: it must carry a new signature
    await v.waitFor(() => authorizations.length >= 2, 5000, 'a second authorize');
    const checks = await Promise.all(
      authorizations.map((a) => verifyAuthorize(a.username, a.password, validator, Date.now() / 1000)),
    );
    for (const check of checks)
      expect(check).toMatchObject({ ok: true, hotkey: miner.address, worker: 'farm1' });
    const signatures = checks.map((check) => (check.ok ? check.signature : ''));
    expect(new Set(signatures).size).toBe(signatures.length);
    // Shares upstream are submitted under the signed username.
    await client.waitFor((m) => m.jobs.length >= 2, 5000, 'a job from the new session');
    expect((await client.submit(craftShare(client))).result).toBe(true);
    await v.waitFor((p) => p.acceptedCount === 1, 5000, 'share at V');
    expect(v.shares[0]!.worker).toBe(`${miner.address}.farm1`);
  });

  test('weights change at runtime: an upstream weighted 0 gets no new work', async () => {
    const a = await scope.pool({ name: 'A', difficulty: 2 ** -18 });
    const b = await scope.pool({ name: 'B', difficulty: 2 ** -18 });
    const running = await scope.proxy([], {
      ...quickRetire,
      upstreams: [],
      ...weightedRouting(2 ** -18),
    });
    running.proxy.setUpstreams([spec('A', a), spec('B', b)]);
    for (const name of ['p', 'q']) await scope.miner(running.port, { username: `${name}.rig`, sniff: false });
    await b.waitFor((p) => p.acceptedCount >= 3, 30_000, 'work on B');
    running.proxy.setUpstreams([spec('A', a, 1), spec('B', b, 0)]);
    await new Promise((resolve) => setTimeout(resolve, 1500)); // shares in flight on B's jobs land
    const onB = b.acceptedCount;
    const onA = a.acceptedCount;
    await a.waitFor((p) => p.acceptedCount >= onA + 15, 30_000, 'work on A');
    expect(b.acceptedCount).toBe(onB);
    const metrics = await running.proxy.metrics.registry.metrics();
    expect(metrics).toMatch(/hashrelay_split_target_ratio\{upstream="B"\} 0/);
    expect(metrics).toMatch(/hashrelay_split_target_ratio\{upstream="A"\} 1/);
  });
});
