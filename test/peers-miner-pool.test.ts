/**
 * The test peers against each other, with no proxy between: a CpuMiner mining real sha256d
 * shares and a TestPool checking them with bitcoinjs-lib, over real sockets on 127.0.0.1.
 */
import { afterEach, describe, expect, test } from 'vitest';
import { CpuMiner, type CpuMinerOptions, type MinerSubmit } from './peers/cpu-miner.js';
import { inOrder, messageSequence, MINER_HANDSHAKE_SEQUENCE } from './peers/sniffer.js';
import { TestPool, type TestPoolOptions } from './peers/test-pool.js';

/** About 16 384 hashes a share: several shares a second from one CpuMiner. */
const FAST = 2 ** -18;

const cleanups: (() => Promise<void>)[] = [];

afterEach(async () => {
  await Promise.all(cleanups.splice(0).map((cleanup) => cleanup()));
});

async function startPool(options: TestPoolOptions = {}): Promise<TestPool> {
  const pool = await TestPool.start({ difficulty: FAST, ...options });
  cleanups.push(() => pool.stop());
  return pool;
}

async function connectMiner(pool: TestPool, options: Partial<CpuMinerOptions> = {}): Promise<CpuMiner> {
  const miner = await CpuMiner.connect({ port: pool.port, username: 'alice', ...options });
  cleanups.push(() => miner.close());
  return miner;
}

/** Stops hashing and waits for every reply still owed, so counts can be compared. */
async function settle(miner: CpuMiner): Promise<void> {
  miner.pause();
  await miner.waitFor((m) => m.submits.every((submit) => submit.reply !== undefined), 5000, 'all replies');
}

const shareKey = (share: { jobId: string; extranonce2: string; nonce: number; hash?: string | undefined }) =>
  `${share.jobId}/${share.extranonce2}/${share.nonce}/${share.hash ?? ''}`;

describe('CpuMiner against TestPool', () => {
  test('shares are accepted and both sides count the same', async () => {
    const pool = await startPool();
    const miner = await connectMiner(pool);
    await miner.waitFor((m) => m.acceptedCount >= 5, 8000, '5 accepted shares');
    await settle(miner);

    expect(miner.violations).toEqual([]);
    expect(miner.rejectedCount).toBe(0);
    expect(pool.rejectedCount).toBe(0);
    expect(pool.acceptedCount).toBe(miner.acceptedCount);
    expect(pool.shares.map(shareKey)).toEqual(miner.submits.map(shareKey));
    for (const share of pool.shares) {
      expect(share).toMatchObject({
        accepted: true,
        worker: 'alice',
        difficulty: FAST,
        versionBits: undefined,
      });
      expect(share.shareDifficulty).toBeGreaterThanOrEqual(FAST);
      expect(share.version).toBe(0x20000000);
    }
    expect(miner.hashes).toBeGreaterThan(0);
  });

  test('the handshake and first work arrive in order: configure, subscribe, authorize, set_difficulty, notify', async () => {
    const pool = await startPool();
    const miner = await connectMiner(pool, { versionRolling: { mask: 0x1fffe000 } });
    await pool.waitFor(
      (p) => p.connections[0]?.log.some((entry) => entry.method === 'mining.notify') === true,
    );

    const poolSide = messageSequence(pool.connections[0]!.log);
    expect(poolSide.slice(0, 8)).toEqual([
      'in mining.configure',
      'out reply mining.configure',
      'in mining.subscribe',
      'out reply mining.subscribe',
      'in mining.authorize',
      'out reply mining.authorize',
      'out mining.set_difficulty',
      'out mining.notify',
    ]);
    await miner.waitFor((m) => m.jobsReceived >= 1);
    expect(inOrder(messageSequence(miner.log), MINER_HANDSHAKE_SEQUENCE)).toBe(true);
    const notify = pool.connections[0]!.log.find((entry) => entry.method === 'mining.notify')!;
    expect((JSON.parse(notify.line) as { params: unknown[] }).params[8]).toBe(true);
  });

  test('version rolling is negotiated as pool mask & miner mask and used in shares', async () => {
    const pool = await startPool({ versionMask: 0x07ffe000 });
    const miner = await connectMiner(pool, { versionRolling: { mask: 0x1fffe000 } });
    expect(miner.versionMask).toBe(0x07ffe000);
    expect(pool.connections[0]!.versionRollingMask).toBe(0x07ffe000);
    await miner.waitFor(
      (m) => m.submits.filter((s) => s.reply === true && (s.versionBits ?? 0) !== 0).length >= 3,
      8000,
      '3 accepted shares with rolled versions',
    );
    await settle(miner);

    expect(miner.rejectedCount).toBe(0);
    for (const submit of miner.submits) {
      expect(submit.versionBits).toBeDefined();
      expect((submit.versionBits! & ~0x07ffe000) >>> 0).toBe(0);
    }
    const submitLines = pool.connections[0]!.log.filter(
      (e) => e.direction === 'in' && e.method === 'mining.submit',
    );
    for (const entry of submitLines)
      expect((JSON.parse(entry.line) as { params: unknown[] }).params).toHaveLength(6);
    const rolled = pool.shares.filter((share) => share.versionBits !== 0);
    expect(rolled.length).toBeGreaterThanOrEqual(3);
    for (const share of rolled) {
      expect(share.accepted).toBe(true);
      expect(share.version).toBe((0x20000000 | share.versionBits!) >>> 0);
    }
  });

  test('set_version_mask applies at once to later shares', async () => {
    const pool = await startPool();
    const miner = await connectMiner(pool, { versionRolling: { mask: 0x1fffe000 } });
    await miner.waitFor((m) => m.acceptedCount >= 1, 8000);
    await settle(miner);
    const before = miner.submits.length;

    await pool.setVersionMask(0x0001e000);
    await miner.waitFor((m) => m.versionMask === 0x0001e000);
    miner.resume();
    await miner.waitFor((m) => m.submits.slice(before).filter((s) => s.reply === true).length >= 3, 8000);
    await settle(miner);

    expect(miner.violations).toEqual([]);
    expect(miner.rejectedCount).toBe(0);
    for (const submit of miner.submits.slice(before))
      expect((submit.versionBits! & ~0x0001e000) >>> 0).toBe(0);
  });

  test('set_difficulty applies from the next job, on both sides', async () => {
    const pool = await startPool();
    const miner = await connectMiner(pool);
    await miner.waitFor((m) => m.acceptedCount >= 2, 8000);
    const harder = FAST * 2;
    const { job } = await pool.setDifficulty(harder);
    await miner.waitFor(
      (m) => m.submits.some((s) => s.jobId === job.jobId && s.reply === true),
      8000,
      'a share on the job after set_difficulty',
    );
    await settle(miner);

    const received = messageSequence(miner.received);
    const at = received.lastIndexOf('in mining.set_difficulty');
    expect(received[at + 1]).toBe('in mining.notify');
    expect(miner.currentJob).toEqual({ jobId: job.jobId, difficulty: harder });
    const expected = (submit: { jobId: string }) => (submit.jobId === job.jobId ? harder : FAST);
    for (const submit of miner.submits) expect(submit.difficulty).toBe(expected(submit));
    for (const share of pool.shares) {
      expect(share.accepted).toBe(true);
      expect(share.difficulty).toBe(expected(share));
    }
  });

  test.each([4, 8])('extranonce2 size %i', async (extranonce2Size) => {
    const pool = await startPool({ extranonce2Size });
    const miner = await connectMiner(pool);
    expect(miner.extranonce2Size).toBe(extranonce2Size);
    await miner.waitFor((m) => m.acceptedCount >= 2, 8000);
    await settle(miner);
    expect(miner.rejectedCount).toBe(0);
    for (const share of pool.shares) expect(share.extranonce2).toHaveLength(2 * extranonce2Size);
  });

  test('set_extranonce takes effect from the next job', async () => {
    const pool = await startPool({ extranonce1Size: 4, extranonce2Size: 8 });
    const miner = await connectMiner(pool, { extranonceSubscribe: true });
    await miner.waitFor((m) => m.acceptedCount >= 1, 8000);
    const connection = pool.connections[0]!;
    expect(connection.extranonceSubscribed).toBe(true);

    const { job } = await pool.setExtranonce(connection, 'aabbccddee', 7);
    await miner.waitFor((m) => m.submits.some((s) => s.jobId === job.jobId && s.reply === true), 8000);
    await settle(miner);

    expect(miner.violations).toEqual([]);
    expect(miner.extranonce1).toBe('aabbccddee');
    expect(miner.rejectedCount).toBe(0);
    for (const submit of miner.submits) {
      expect(submit.extranonce2).toHaveLength(submit.jobId === job.jobId ? 14 : 16);
    }
  });

  test('several workers on one connection, a refused worker, suggest_difficulty and show_message', async () => {
    const pool = await startPool({ authorize: (username) => username !== 'mallory' });
    const miner = await connectMiner(pool, { workers: ['w1', 'mallory', 'w2'], suggestDifficulty: 0.5 });
    expect(miner.authorizedWorkers).toEqual(['w1', 'w2']);
    const connection = pool.connections[0]!;
    expect([...connection.workers]).toEqual(['w1', 'w2']);
    expect(connection.suggestedDifficulty).toBe(0.5);

    await miner.waitFor((m) => m.acceptedCount >= 4, 8000);
    await pool.showMessage('maintenance at noon');
    await miner.waitFor((m) => m.messages.includes('maintenance at noon'));
    await settle(miner);
    expect(new Set(pool.shares.map((share) => share.worker))).toEqual(new Set(['w1', 'w2']));
    expect(pool.rejectedCount).toBe(0);
  });

  test('reject-all mode answers every share false with error 20', async () => {
    const pool = await startPool();
    pool.setMode('reject-all');
    const miner = await connectMiner(pool);
    await miner.waitFor((m) => m.rejectedCount >= 3, 8000);
    await settle(miner);

    expect(miner.acceptedCount).toBe(0);
    for (const submit of miner.submits) expect(submit.reply).toMatchObject({ code: 20 });
    expect(pool.acceptedCount).toBe(0);
    expect(pool.rejectedCount).toBe(miner.rejectedCount);
  });

  test('silent mode answers nothing and sends nothing, but keeps the socket open', async () => {
    const pool = await startPool();
    const miner = await connectMiner(pool);
    await miner.waitFor((m) => m.acceptedCount >= 1, 8000);
    await settle(miner);
    const answered = miner.submits.length;
    const sharesBefore = pool.shares.length;

    pool.setMode('silent');
    const { job: unseen } = await pool.newJob();
    miner.resume();
    await miner.waitFor((m) => m.submits.length >= answered + 2, 8000, 'submits while silent');
    miner.pause();
    const silentSubmits = miner.submits.length;
    const submitsLogged = (p: TestPool) =>
      p.connections[0]!.log.filter((e) => e.direction === 'in' && e.method === 'mining.submit').length;
    // Every submit must reach the pool while it is still silent.
    await pool.waitFor((p) => submitsLogged(p) === silentSubmits, 5000, 'submits read while silent');

    // Back to normal: TCP keeps order, so once this job arrives any reply sent earlier would have too.
    pool.setMode('normal');
    const { job: after } = await pool.newJob();
    await miner.waitFor((m) => m.currentJob?.jobId === after.jobId);

    expect(miner.connected).toBe(true);
    expect(pool.connections[0]!.closed).toBe(false);
    expect(miner.submits.slice(answered, silentSubmits).every((s) => s.reply === undefined)).toBe(true);
    const notified = miner.received
      .filter((entry) => entry.method === 'mining.notify')
      .map((entry) => (JSON.parse(entry.line) as { params: unknown[] }).params[0]);
    expect(notified).toContain(after.jobId);
    expect(notified).not.toContain(unseen.jobId);
    expect(pool.shares).toHaveLength(sharesBefore);
  });

  test('frozen mode (SIGSTOP) reads nothing and sends nothing; thawed, it answers what waited', async () => {
    const pool = await startPool();
    const miner = await connectMiner(pool);
    await miner.waitFor((m) => m.acceptedCount >= 1, 20_000);
    await settle(miner);
    const answered = miner.submits.length;
    const submitsRead = (p: TestPool) =>
      p.connections[0]!.log.filter((e) => e.direction === 'in' && e.method === 'mining.submit').length;
    const readBefore = submitsRead(pool);

    pool.setMode('frozen');
    const { job: unseen } = await pool.newJob();
    miner.resume();
    await miner.waitFor((m) => m.submits.length >= answered + 2, 20_000, 'submits while frozen');
    miner.pause();
    const frozenSubmits = miner.submits.length;
    // A round trip through the miner's event loop: anything the pool would do has had its chance.
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(submitsRead(pool)).toBe(readBefore);
    expect(miner.submits.slice(answered).every((s) => s.reply === undefined)).toBe(true);

    pool.setMode('normal');
    await miner.waitFor(
      (m) => m.submits.every((s) => s.reply !== undefined),
      20_000,
      'answers after thawing',
    );
    expect(submitsRead(pool)).toBe(readBefore + frozenSubmits - answered);
    expect(miner.connected).toBe(true);
    const notified = miner.received
      .filter((entry) => entry.method === 'mining.notify')
      .map((entry) => (JSON.parse(entry.line) as { params: unknown[] }).params[0]);
    expect(notified).not.toContain(unseen.jobId);
  }, 120_000);

  test('deaf mode keeps sending jobs but answers nothing, handshakes included', async () => {
    const pool = await startPool({ jobRefreshMs: 100 });
    const miner = await connectMiner(pool);
    await miner.waitFor((m) => m.acceptedCount >= 1, 20_000);
    await settle(miner);
    const answered = miner.submits.length;

    pool.setMode('deaf');
    const jobsBefore = pool.jobs.length;
    miner.resume();
    await miner.waitFor((m) => m.submits.length >= answered + 3, 20_000, 'submits while deaf');
    miner.pause();
    await pool.waitFor((p) => p.jobs.length >= jobsBefore + 3, 20_000, 'jobs while deaf');
    await miner.waitFor((m) => m.currentJob?.jobId === pool.currentJob.job.jobId, 20_000, 'jobs keep coming');
    expect(miner.submits.slice(answered).every((s) => s.reply === undefined)).toBe(true);
    expect(pool.shares.length).toBe(answered);
    const second = await CpuMiner.connect({ port: pool.port, username: 'bob', handshakeTimeoutMs: 500 }).then(
      (connected) => {
        cleanups.push(() => connected.close());
        return 'connected';
      },
      (error: unknown) => (error as Error).message,
    );
    expect(second).not.toBe('connected');
  }, 120_000);

  test('client.reconnect without parameters brings the miner back to the same pool', async () => {
    const pool = await startPool();
    const miner = await connectMiner(pool);
    await miner.waitFor((m) => m.acceptedCount >= 1, 8000);

    await pool.reconnect();
    await pool.waitFor(
      (p) => p.connections.length === 2 && p.connections[0]!.closed,
      5000,
      'a second connection',
    );
    const second = pool.connections[1]!;
    await pool.waitFor((p) => p.shares.some((s) => s.connectionId === second.id && s.accepted), 8000);

    expect(miner.reconnects).toMatchObject([{ host: '127.0.0.1', port: pool.port, requested: true }]);
    expect(miner.connectCount).toBe(2);
    expect(second.workers.has('alice')).toBe(true);
    expect(second.extranonce1).not.toBe(pool.connections[0]!.extranonce1);
  });

  test('client.reconnect with host and port moves the miner to another pool', async () => {
    const first = await startPool({ name: 'first' });
    const second = await startPool({ name: 'second' });
    const miner = await connectMiner(first);
    await miner.waitFor((m) => m.acceptedCount >= 1, 8000);

    await first.reconnect({ host: '127.0.0.1', port: second.port, waitSeconds: 0 });
    await second.waitFor((p) => p.acceptedCount >= 2, 8000, 'shares at the second pool');

    expect(miner.endpoint).toEqual({ host: '127.0.0.1', port: second.port });
    await first.waitFor((p) => p.connections[0]!.closed);
    const onSecond: MinerSubmit[] = miner.submits.filter((s) => s.sentAt >= miner.reconnects[0]!.at);
    expect(onSecond.length).toBeGreaterThanOrEqual(2);
  });
});
