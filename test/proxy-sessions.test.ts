import { execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import { describe, expect, test } from 'vitest';
import { ledgerShares } from './support/proxy-harness.js';
import { testScope } from './support/scope.js';

const scope = testScope({ difficulty: 2 ** -16 });

describe('upstream sessions and difficulty', () => {
  test('miners beyond a session’s capacity open another session to the same pool; all shares land', async () => {
    const pool = await scope.pool();
    const running = await scope.proxy([pool.port], {
      upstream: {
        connectTimeoutSeconds: 2,
        silenceSeconds: 30,
        submitTimeoutSeconds: 5,
        maxConsecutiveRejects: 5,
        backoffMinSeconds: 0.2,
        backoffMaxSeconds: 1,
        maxMinersPerSession: 2,
        jobsKept: 16,
      },
    });
    const miners = [];
    for (const name of ['a', 'b', 'c', 'd', 'e'])
      miners.push(await scope.miner(running.port, { username: `${name}.rig`, sniff: false }));
    await pool.waitFor(
      (p) => p.connections.filter((c) => !c.closed).length >= 3,
      10_000,
      'three upstream sessions',
    );
    for (const m of miners) await m.waitFor((x) => x.acceptedCount >= 2, 30_000, 'every miner mining');
    for (const m of miners) m.pause();
    for (const m of miners) await m.waitFor((x) => x.submits.every((s) => s.reply !== undefined), 10_000);
    await new Promise((resolve) => setTimeout(resolve, 300));
    // Distinct miners never collide: every share the pool saw is distinct and accepted or stale.
    expect(pool.shares.filter((s) => !s.accepted && s.errorCode !== 21)).toEqual([]);
    await running.ledger.flush();
    const shares = await ledgerShares(running.ledger);
    expect(new Set(shares.map((s) => s.upstreamSession)).size).toBeGreaterThanOrEqual(3);
    expect(shares.filter((s) => s.upstreamVerdict === 'accepted').length).toBe(pool.acceptedCount);
  });

  test('vardiff raises a fast miner’s difficulty at a job boundary; each share is credited at its job’s difficulty', async () => {
    const pool = await scope.pool({ difficulty: 2 ** -20 });
    const running = await scope.proxy([pool.port], {
      vardiff: {
        initialDifficulty: 2 ** -20,
        minDifficulty: 2 ** -24,
        maxDifficulty: 1,
        targetShareSeconds: 2,
        retargetSeconds: 1,
        honourMinerFloor: false,
      },
    });
    const miner = await scope.miner(running.port, { username: 'zed.rig', sniff: false });
    await miner.waitFor((m) => m.acceptedCount >= 10, 20_000, 'shares at the starting difficulty');
    await new Promise((resolve) => setTimeout(resolve, 1100));
    await pool.newJob({ clean: false });
    await miner.waitFor(
      (m) => m.submits.some((s) => s.difficulty > 2 ** -20 && s.reply === true),
      30_000,
      'a share at a raised difficulty',
    );
    miner.pause();
    await miner.waitFor((m) => m.submits.every((s) => s.reply !== undefined), 10_000);
    await running.ledger.flush();
    const byNonce = new Map(
      (await ledgerShares(running.ledger)).map((s) => [`${s.proxyJobId}/${s.nonce}/${s.ntime}`, s]),
    );
    for (const submit of miner.submits.filter((s) => s.reply === true)) {
      expect(byNonce.get(`${submit.jobId}/${submit.nonce}/${submit.ntime}`)?.assignedDifficulty).toBe(
        submit.difficulty,
      );
    }
    expect(new Set(miner.submits.map((s) => s.difficulty)).size).toBeGreaterThan(1);
  });
});

describe('TLS listener', () => {
  test('a miner can subscribe over TLS', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'hashrelay-tls-'));
    const cert = join(dir, 'cert.pem');
    const key = join(dir, 'key.pem');
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-keyout',
        key,
        '-out',
        cert,
        '-days',
        '1',
        '-subj',
        '/CN=localhost',
      ],
      { stdio: 'ignore' },
    );
    const pool = await scope.pool();
    const running = await scope.proxy([pool.port], {
      listen: [{ address: '127.0.0.1:0', tls: { cert, key } }],
    });
    const socket = tls.connect({ host: '127.0.0.1', port: running.port, rejectUnauthorized: false });
    scope.defer(() => {
      socket.destroy();
      return Promise.resolve();
    });
    await new Promise<void>((resolve) => socket.once('secureConnect', resolve));
    socket.write('{"id":1,"method":"mining.subscribe","params":["tls-test"]}\n');
    const line = await new Promise<string>((resolve) => {
      let buffered = '';
      socket.on('data', (chunk: Buffer) => {
        buffered += chunk.toString();
        if (buffered.includes('\n')) resolve(buffered.slice(0, buffered.indexOf('\n')));
      });
    });
    const reply = JSON.parse(line) as { id: number; result: [unknown, string, number] };
    expect(reply.id).toBe(1);
    expect(reply.result[2]).toBe(4);
  });
});

describe('upstream extranonce changes', () => {
  test('mining.set_extranonce from the pool: new jobs fold the new extranonce, miners mine on undisturbed', async () => {
    const pool = await scope.pool({ extranonce1Size: 4, extranonce2Size: 8 });
    const running = await scope.proxy([pool.port]);
    const miner = await scope.miner(running.port, { username: 'una.rig' });
    await pool.waitFor((p) => p.acceptedCount >= 2, 20_000);
    const connection = pool.connections.find((c) => !c.closed)!;
    await pool.setExtranonce(connection, 'aabbccddee', 7);
    await pool.newJob({ clean: true });
    const before = pool.acceptedCount;
    await pool.waitFor((p) => p.acceptedCount >= before + 3, 20_000, 'shares under the new extranonce');
    const recent = pool.shares.filter((s) => s.accepted).slice(-3);
    for (const share of recent) expect(share.extranonce2.length).toBe(14); // 7 bytes: pad 1 + slot 2 + miner 4
    expect(miner.reconnects).toEqual([]);
    expect(pool.shares.filter((s) => !s.accepted && s.errorCode !== 21)).toEqual([]);
  });
});
