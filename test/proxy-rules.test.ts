import { describe, expect, test } from 'vitest';
import type { StratumResponse } from '../src/stratum/messages.js';
import { CpuMiner } from './peers/cpu-miner.js';
import { RawStratumClient } from './peers/raw-client.js';
import { inOrder, messageSequence, MINER_HANDSHAKE_SEQUENCE } from './peers/sniffer.js';
import { craftShare } from './support/craft-share.js';
import { ledgerShares, TEST_UPSTREAM } from './support/proxy-harness.js';
import { testScope } from './support/scope.js';

const DIFFICULTY = 2 ** -16;
const scope = testScope({ difficulty: DIFFICULTY });
const pool = scope.pool;
const proxyFor = scope.proxy;
async function raw(port: number, worker = 'dave.rig1'): Promise<RawStratumClient> {
  const client = await RawStratumClient.connect(port);
  scope.defer(() => client.close());
  await client.subscribe();
  expect(await client.authorize(worker)).toBe(true);
  await client.waitFor((c) => c.jobs.length > 0, 5000, 'first job');
  return client;
}

const craft = craftShare;

function errorCode(response: StratumResponse): number | undefined {
  return response.error?.code;
}

describe('share rules at the proxy (raw client, real pool behind)', () => {
  test('message order: subscribe → authorize → set_difficulty → notify', async () => {
    const poolA = await pool();
    const running = await proxyFor([poolA.port]);
    const client = await RawStratumClient.connect(running.port);
    scope.defer(() => client.close());
    expect(await client.configureVersionRolling(0xffffffff)).toBe(0x1fffe000);
    await client.subscribe();
    await client.authorize('dave.rig1');
    await client.waitFor((c) => c.jobs.length > 0);
    expect(inOrder(messageSequence(client.log), MINER_HANDSHAKE_SEQUENCE)).toBe(true);
    expect(client.extranonce2Size).toBe(4);
    expect(client.lastJob.cleanJobs).toBe(true);
  });

  test('every rejection reason gets its code, and the ledger records the verdict', async () => {
    const poolA = await pool();
    // The test pool sends no job for a while: a quiet pool must not look silent and be failed
    // over mid-test (a failover's clean notify would stand in for the pool's clean job).
    const running = await proxyFor([poolA.port], { upstream: { ...TEST_UPSTREAM, silenceSeconds: 120 } });
    const client = await raw(running.port);

    const good = craft(client);
    expect(errorCode(await client.submit(good))).toBeUndefined();
    expect(errorCode(await client.submit(good))).toBe(22); // duplicate
    expect(errorCode(await client.submit(craft(client, { low: true })))).toBe(23);
    expect(errorCode(await client.submit({ ...craft(client), jobId: 'nope' }))).toBe(21);
    expect(errorCode(await client.submit({ ...craft(client), worker: 'mallory' }))).toBe(24);
    expect(errorCode(await client.submit({ ...craft(client), extranonce2: Buffer.alloc(3) }))).toBe(20);
    const late = craft(client);
    expect(errorCode(await client.submit({ ...late, ntime: late.ntime + 7001 }))).toBe(20);
    expect(errorCode(await client.submit({ ...craft(client), versionBits: 0x00002000 }))).toBe(20); // rolling never negotiated

    // Stale: a share on a job replaced by a clean one.
    const before = client.jobs.length;
    const old = craft(client);
    await poolA.newJob({ clean: true });
    await client.waitFor((c) => c.jobs.length > before && c.lastJob.cleanJobs);
    expect(errorCode(await client.submit(old))).toBe(21);

    await running.ledger.flush();
    const verdicts = (await ledgerShares(running.ledger)).map((s) => s.verdict);
    expect(verdicts).toEqual([
      'accepted',
      'duplicate',
      'low-difficulty',
      'unknown-job',
      'bad-extranonce2-size',
      'ntime-out-of-window',
      'version-bits-outside-mask',
      'stale',
    ]);
  });

  test('submit before subscribe is refused with 25; unknown methods get an error, not a disconnect', async () => {
    const poolA = await pool();
    const running = await proxyFor([poolA.port]);
    const client = await RawStratumClient.connect(running.port);
    scope.defer(() => client.close());
    const early = await client.submit({
      worker: 'x',
      jobId: '1',
      extranonce2: Buffer.alloc(4),
      ntime: 0,
      nonce: 0,
    });
    expect(errorCode(early)).toBe(25);
    const unknown = await client.request('mining.get_transactions', []);
    expect(errorCode(unknown)).toBe(-32601);
    expect(client.closed).toBe(false);
  });

  test('bad input closes only the offender: overlong lines, floods, garbage; the honest miner keeps mining', async () => {
    const poolA = await pool();
    const running = await proxyFor([poolA.port], {
      limits: {
        maxLineBytes: 4096,
        messagesPerSecond: 20,
        messageBurst: 40,
        maxInvalidMessages: 5,
        handshakeSeconds: 30,
        idleSeconds: 600,
        maxConnections: 100,
        maxPendingWriteBytes: 1 << 20,
      },
    });
    const honest = await CpuMiner.connect({ port: running.port, username: 'erin.rig1' });
    scope.defer(() => honest.close());
    await honest.waitFor((m) => m.acceptedCount >= 2, 20_000);

    const longLine = await RawStratumClient.connect(running.port);
    longLine.sendLine(`{"id":1,"method":"mining.subscribe","params":["${'a'.repeat(5000)}"]}`);
    await longLine.waitFor((c) => c.closed, 5000, 'overlong line closes');

    const flood = await RawStratumClient.connect(running.port);
    for (let i = 0; i < 200; i++)
      flood.sendLine(`{"id":${i},"method":"mining.extranonce.subscribe","params":[]}`);
    await flood.waitFor((c) => c.closed, 5000, 'flood closes');

    const garbage = await RawStratumClient.connect(running.port);
    garbage.sendLine('{"id": 1, "method": "mining.subscribe", "params": [');
    await garbage.waitFor(
      (c) => c.log.some((l) => l.direction === 'in' && l.line.includes('-32700')),
      5000,
      'parse error answer',
    );
    expect(garbage.closed).toBe(false);
    for (let i = 0; i < 6; i++) garbage.sendLine('not json');
    await garbage.waitFor((c) => c.closed, 5000, 'too many invalid messages closes');

    const before = honest.acceptedCount;
    await honest.waitFor((m) => m.acceptedCount >= before + 2, 20_000, 'honest miner undisturbed');
    expect(honest.reconnects).toEqual([]);
    expect(honest.violations).toEqual([]);
  });

  test('an upstream whose extranonce2 is too small is refused; the next one is used', async () => {
    const small = await pool({ extranonce2Size: 4 });
    const fine = await pool({ extranonce2Size: 8 });
    const running = await proxyFor([small.port, fine.port]);
    const miner = await CpuMiner.connect({ port: running.port, username: 'fay.rig1' });
    scope.defer(() => miner.close());
    await fine.waitFor((p) => p.acceptedCount >= 2, 20_000, 'shares on the second pool');
    expect(small.acceptedCount).toBe(0);
  });
});

describe('upstream behaviour', () => {
  test('set_difficulty applies from the next job; the pool judges at its new difficulty', async () => {
    const poolA = await pool({ difficulty: 2 ** -18 });
    const running = await proxyFor([poolA.port]);
    const miner = await CpuMiner.connect({ port: running.port, username: 'gus.rig1' });
    scope.defer(() => miner.close());
    await poolA.waitFor((p) => p.acceptedCount >= 2, 20_000);
    await poolA.setDifficulty(2 ** -15);
    await miner.waitFor((m) => m.acceptedCount >= 12, 30_000, 'more shares');
    await miner.waitFor((m) => m.submits.every((s) => s.reply !== undefined), 10_000);
    // Shares below the pool's new difficulty are credited locally but not forwarded.
    await running.ledger.flush();
    const shares = await ledgerShares(running.ledger);
    expect(shares.some((s) => s.upstreamVerdict === 'not-forwarded' && s.verdict === 'accepted')).toBe(true);
    expect(poolA.rejectedCount).toBe(0);
  });

  test('set_version_mask reaches version-rolling miners and their shares stay valid upstream', async () => {
    const poolA = await pool({ versionMask: 0x1fffe000 });
    const running = await proxyFor([poolA.port]);
    const miner = await CpuMiner.connect({
      port: running.port,
      username: 'hal.rig1',
      versionRolling: { mask: 0xffffffff },
    });
    scope.defer(() => miner.close());
    await poolA.waitFor((p) => p.acceptedCount >= 2, 20_000);
    await poolA.setVersionMask(0x00ffe000);
    await miner.waitFor((m) => m.versionMask === 0x00ffe000, 10_000, 'narrower mask at the miner');
    const before = poolA.acceptedCount;
    await poolA.waitFor((p) => p.acceptedCount >= before + 3, 20_000);
    expect(
      poolA.shares
        .filter((s) => !s.accepted)
        .map((s) => s.errorCode)
        .filter((c) => c !== 21),
    ).toEqual([]);
    expect(miner.violations).toEqual([]);
  });

  test('client.reconnect, with and without a target: the proxy reconnects, miners stay connected', async () => {
    const poolA = await pool();
    const poolB = await pool();
    const running = await proxyFor([poolA.port]);
    const miner = await CpuMiner.connect({ port: running.port, username: 'ivy.rig1' });
    scope.defer(() => miner.close());
    await poolA.waitFor((p) => p.acceptedCount >= 1, 20_000);
    await poolA.reconnect();
    await poolA.waitFor(
      (p) => p.connections.filter((c) => !c.closed).length === 1 && p.connections.length === 2,
      10_000,
      'reconnected',
    );
    const before = poolA.acceptedCount;
    await poolA.waitFor((p) => p.acceptedCount > before, 20_000, 'shares after reconnect');
    await poolA.reconnect({ host: '127.0.0.1', port: poolB.port, waitSeconds: 0 });
    await poolB.waitFor((p) => p.acceptedCount >= 1, 20_000, 'shares at the reconnect target');
    expect(miner.reconnects).toEqual([]);
  });

  test('an upstream that rejects valid shares, or falls silent, is failed over', async () => {
    const poolA = await pool();
    const poolB = await pool();
    const running = await proxyFor([poolA.port, poolB.port]);
    const miner = await CpuMiner.connect({ port: running.port, username: 'jay.rig1' });
    scope.defer(() => miner.close());
    await poolA.waitFor((p) => p.acceptedCount >= 1, 20_000);
    poolA.setMode('reject-all');
    await poolB.waitFor((p) => p.acceptedCount >= 2, 30_000, 'failover after rejections');
    poolB.setMode('silent');
    poolA.setMode('normal');
    // A is back (its session reconnected after the rejections); B's silence moves miners to A.
    const before = poolA.acceptedCount;
    await poolA.waitFor((p) => p.acceptedCount > before, 30_000, 'failover after silence');
    expect(miner.reconnects).toEqual([]);
  });
});
