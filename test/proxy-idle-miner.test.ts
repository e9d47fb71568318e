import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, test } from 'vitest';
import { RawStratumClient } from './peers/raw-client.js';
import { craftShare } from './support/craft-share.js';
import { memoryLogger, type LogLine } from './support/memory-logger.js';
import { AuthorizedWorkers } from '../proxy/authorized-workers.js';
import { ledgerShares, startProxy, testConfig } from './support/proxy-harness.js';
import { testScope } from './support/scope.js';

/**
 * A miner holds what an idle one needs and makes the rest at its first share or first line of
 * its own (share claims, reject counts, its child logger; one idle timer restarted per message):
 * what it reports must be the same as when all of it was made up front.
 */

const DIFFICULTY = 2 ** -18;
const scope = testScope({ difficulty: DIFFICULTY });

async function proxyWithLog(overrides: Parameters<typeof testConfig>[1] = {}) {
  const pool = await scope.pool();
  const { logger, lines } = memoryLogger();
  const running = await startProxy(
    testConfig([pool.port], {
      vardiff: {
        initialDifficulty: DIFFICULTY,
        minDifficulty: DIFFICULTY,
        retargetSeconds: 100_000,
        burstShares: 0,
        noShareTargets: 0,
        firstShareTargets: 0,
      },
      ...overrides,
    }),
    logger,
  );
  scope.defer(() => running.stop());
  return { running, lines };
}

async function miner(port: number, worker: string): Promise<RawStratumClient> {
  const client = await RawStratumClient.connect(port);
  scope.defer(() => client.close());
  await client.subscribe();
  expect(await client.authorize(worker)).toBe(true);
  await client.waitFor((c) => c.jobs.length > 0, 10_000, 'a job');
  return client;
}

const lineOf = (lines: readonly LogLine[], msg: string, connection?: unknown): LogLine | undefined =>
  lines.find((line) => line.msg === msg && (connection === undefined || line.connection === connection));

async function lineAppears(lines: readonly LogLine[], msg: string, connection?: unknown): Promise<LogLine> {
  for (let waited = 0; waited < 15_000; waited += 20) {
    const line = lineOf(lines, msg, connection);
    if (line !== undefined) return line;
    await sleep(20);
  }
  throw new Error(`no '${msg}' line for connection ${String(connection)}`);
}

describe('an idle miner allocates lazily, and reports as before', () => {
  test('connect, authorize and disconnect lines carry the connection and remote; the first shares are counted', async () => {
    const { running, lines } = await proxyWithLog();
    const client = await miner(running.port, 'dave.rig1');

    const connected = await lineAppears(lines, 'miner connected');
    expect(connected).toMatchObject({
      level: 30,
      remote: expect.stringMatching(/^127\.0\.0\.1:\d+$/) as unknown,
    });
    const authorized = await lineAppears(lines, 'miner authorized', connected.connection);
    expect(authorized).toMatchObject({ remote: connected.remote, worker: 'dave.rig1', credited: 'dave' });

    expect((await client.submit(craftShare(client))).result).toBe(true);
    expect((await client.submit(craftShare(client, { low: true }))).error).not.toBeNull();
    const tally = running.proxy.workerStats.of(connected.connection as number, 'dave.rig1');
    expect(tally.accepted).toBe(1);
    expect(Object.fromEntries(tally.rejected)).toEqual({ 'low-difficulty': 1 });
    expect(tally.minutes).toBeDefined();

    await client.close();
    const gone = await lineAppears(lines, 'miner disconnected', connected.connection);
    expect(gone).toMatchObject({
      remote: connected.remote,
      reason: 'closed by miner',
      identity: 'dave.rig1',
      accepted: 1,
      rejected: { 'low-difficulty': 1 },
    });
  });

  test('a miner that never submits says the same three lines, with empty counts', async () => {
    const { running, lines } = await proxyWithLog();
    const client = await miner(running.port, 'erin.rig1');
    const connected = await lineAppears(lines, 'miner connected');
    await client.close();
    const gone = await lineAppears(lines, 'miner disconnected', connected.connection);
    expect(gone).toMatchObject({ remote: connected.remote, accepted: 0, rejected: {} });
    expect(lineOf(lines, 'miner authorized', connected.connection)).toMatchObject({
      remote: connected.remote,
    });
  });

  test('workers authorized after the first are credited to their own identities; others are refused', async () => {
    const { running } = await proxyWithLog();
    const client = await miner(running.port, 'hal.rig1');
    expect(await client.authorize('ivy.rig2')).toBe(true);
    expect(await client.authorize('hal.rig3')).toBe(true);
    for (const worker of ['hal.rig1', 'ivy.rig2', 'hal.rig3'])
      expect((await client.submit(craftShare(client, { worker }))).result).toBe(true);
    expect((await client.submit(craftShare(client, { worker: 'joe.rig4' }))).error).not.toBeNull();
    expect([...running.proxy.liveWorkers()].map(({ worker, identity }) => [worker, identity])).toEqual([
      ['hal.rig1', 'hal'],
      ['ivy.rig2', 'ivy'],
      ['hal.rig3', 'hal'],
    ]);
    await running.ledger.flush();
    const credited = (await ledgerShares(running.ledger)).map((share) => [share.worker, share.miner]);
    expect(credited).toEqual([
      ['hal.rig1', 'hal'],
      ['ivy.rig2', 'ivy'],
      ['hal.rig3', 'hal'],
    ]);
  });

  test('AuthorizedWorkers keeps Map semantics: order of first authorize, a new identity in place', () => {
    const workers = new AuthorizedWorkers();
    expect([workers.size, workers.has('a'), workers.get('a')]).toEqual([0, false, undefined]);
    workers.set('a.1', 'a');
    workers.set('b.1', 'b');
    workers.set('c.1', 'c');
    workers.set('a.1', 'x');
    workers.set('b.1', 'y');
    expect([...workers]).toEqual([
      ['a.1', 'x'],
      ['b.1', 'y'],
      ['c.1', 'c'],
    ]);
    expect([workers.size, workers.has('c.1'), workers.get('b.1'), workers.has('d.1')]).toEqual([
      3,
      true,
      'y',
      false,
    ]);
  });

  test('the idle timer restarts at each message: a talking miner outlives idleSeconds, then goes idle', async () => {
    const idleSeconds = 2;
    const { running, lines } = await proxyWithLog({ limits: { idleSeconds, maxConnectionsPerAddress: 0 } });
    const talking = await miner(running.port, 'fay.rig1');
    const silent = await miner(running.port, 'gus.rig1');

    const talk = { on: true };
    const talker = (async () => {
      while (talk.on && !talking.closed) {
        await talking.request('mining.extranonce.subscribe', []);
        await sleep(250);
      }
    })();
    await silent.waitFor((c) => c.closed, 15_000, 'the silent miner closed for idleness');
    // Twice idleSeconds of talking after the silent one went: the restarted timer never fired.
    await sleep(2 * idleSeconds * 1000);
    expect(talking.closed).toBe(false);
    talk.on = false;
    await talker;
    await talking.waitFor((c) => c.closed, 15_000, 'the talking miner closed once quiet');
    const reasons = lines.filter((line) => line.msg === 'miner disconnected').map((line) => line.reason);
    expect(reasons).toEqual([`idle for ${idleSeconds} s`, `idle for ${idleSeconds} s`]);
  });
});
