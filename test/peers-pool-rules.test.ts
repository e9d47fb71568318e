/**
 * TestPool's share rules, driven over a raw socket with hand-ground shares so that each reply
 * code is provoked on purpose; and CpuMiner's checks, driven by a scripted pool that misbehaves.
 */
import { createServer, type AddressInfo, type Socket } from 'node:net';
import { afterEach, describe, expect, test } from 'vitest';
import { LineFramer } from '../src/stratum/index.js';
import type { Job } from '../src/work/job.js';
import { CpuMiner } from './peers/cpu-miner.js';
import { grindNonce, headerTemplate, rolledVersion, targetForDifficulty } from './peers/pow.js';
import { RawStratumClient, type RawShare } from './peers/raw-client.js';
import { TestPool, type TestPoolOptions } from './peers/test-pool.js';

/** About 4 096 hashes a share: grinding one takes a few milliseconds. */
const EASY = 2 ** -20;

const cleanups: (() => Promise<void>)[] = [];

afterEach(async () => {
  await Promise.all(cleanups.splice(0).map((cleanup) => cleanup()));
});

async function startPool(options: TestPoolOptions = {}): Promise<TestPool> {
  const pool = await TestPool.start({ difficulty: EASY, ...options });
  cleanups.push(() => pool.stop());
  return pool;
}

async function rawClient(pool: TestPool): Promise<RawStratumClient> {
  const client = await RawStratumClient.connect(pool.port);
  cleanups.push(() => client.close());
  return client;
}

/** Subscribed and authorized as `alice`, with the first job in hand. */
async function readyClient(pool: TestPool, versionMask?: number): Promise<RawStratumClient> {
  const client = await rawClient(pool);
  if (versionMask !== undefined) await client.configureVersionRolling(versionMask);
  await client.subscribe();
  expect(await client.authorize('alice')).toBe(true);
  await client.waitFor((c) => c.jobs.length >= 1);
  return client;
}

interface GrindOptions {
  /** Default: meets the difficulty. */
  readonly accept?: (value: bigint) => boolean;
  readonly extranonce2?: Uint8Array;
  readonly mask?: number;
  readonly versionBits?: number;
  readonly ntime?: number;
  readonly worker?: string;
}

/** A share on `job` whose hash passes `accept`, hashed the miner's way (node:crypto). */
function grind(client: RawStratumClient, job: Job, difficulty: number, options: GrindOptions = {}): RawShare {
  const target = targetForDifficulty(difficulty);
  const extranonce2 = options.extranonce2 ?? new Uint8Array(client.extranonce2Size);
  const version =
    options.versionBits === undefined
      ? job.version
      : rolledVersion(job.version, options.mask ?? 0xffffffff, options.versionBits);
  const ntime = options.ntime ?? job.ntime;
  const header = headerTemplate(job, client.extranonce1, extranonce2, version, ntime);
  const { nonce } = grindNonce(header, options.accept ?? ((value) => value <= target));
  return {
    worker: options.worker ?? 'alice',
    jobId: job.jobId,
    extranonce2,
    ntime,
    nonce,
    ...(options.versionBits === undefined ? {} : { versionBits: options.versionBits }),
  };
}

describe('TestPool share rules over a raw socket', () => {
  test('a good share is accepted and recorded with its hash and difficulty', async () => {
    const pool = await startPool();
    const client = await readyClient(pool);
    const reply = await client.submit(grind(client, client.lastJob, EASY));
    expect(reply).toMatchObject({ result: true, error: null });
    expect(pool.shares).toMatchObject([
      { accepted: true, difficulty: EASY, worker: 'alice', isBlock: false },
    ]);
    expect(pool.shares[0]!.hash).toMatch(/^[0-9a-f]{64}$/);
  });

  test('submit before subscribe → 25, unknown worker → 24', async () => {
    const pool = await startPool();
    const early = await rawClient(pool);
    const reply = await early.submit({
      worker: 'alice',
      jobId: pool.currentJob.job.jobId,
      extranonce2: new Uint8Array(8),
      ntime: pool.currentJob.job.ntime,
      nonce: 0,
    });
    expect(reply.error?.code).toBe(25);
    expect(reply.result).toBe(false);

    const client = await readyClient(pool);
    const share = grind(client, client.lastJob, EASY, { worker: 'bob' });
    expect((await client.submit(share)).error?.code).toBe(24);
    expect(pool.shares.map((s) => s.errorCode)).toEqual([25, 24]);
  });

  test('a share on a job issued before a clean job is stale → 21, as is an unknown job', async () => {
    const pool = await startPool();
    const client = await readyClient(pool);
    const old = client.lastJob;
    const staleShare = grind(client, old, EASY);

    const { job: fresh } = await pool.newJob({ clean: true });
    await client.waitFor((c) => c.lastJob.jobId === fresh.jobId);
    expect(fresh.cleanJobs).toBe(true);
    expect(Buffer.from(fresh.prevhash).equals(old.prevhash)).toBe(false);

    expect((await client.submit(staleShare)).error?.code).toBe(21);
    expect((await client.submit({ ...staleShare, jobId: 'ffffff' })).error?.code).toBe(21);
    expect((await client.submit(grind(client, fresh, EASY))).result).toBe(true);
  });

  test('a job issued before a non-clean job stays valid', async () => {
    const pool = await startPool();
    const client = await readyClient(pool);
    const old = client.lastJob;
    const { job } = await pool.newJob({ clean: false });
    await client.waitFor((c) => c.lastJob.jobId === job.jobId);
    expect(Buffer.from(job.prevhash).equals(old.prevhash)).toBe(true);
    expect((await client.submit(grind(client, old, EASY))).result).toBe(true);
  });

  test('the same share twice → 22', async () => {
    const pool = await startPool();
    const client = await readyClient(pool);
    const share = grind(client, client.lastJob, EASY);
    expect((await client.submit(share)).result).toBe(true);
    expect((await client.submit(share)).error?.code).toBe(22);
    expect(pool.acceptedCount).toBe(1);
    expect(pool.rejectedCount).toBe(1);
  });

  test('a hash above the target → 23', async () => {
    const pool = await startPool();
    const client = await readyClient(pool);
    const target = targetForDifficulty(EASY);
    const share = grind(client, client.lastJob, EASY, { accept: (value) => value > target });
    const reply = await client.submit(share);
    expect(reply.error?.code).toBe(23);
    const record = pool.shares[0]!;
    expect(record.accepted).toBe(false);
    expect(record.shareDifficulty).toBeLessThan(EASY);
  });

  test('a share is judged at the difficulty in force when its job was sent', async () => {
    const pool = await startPool();
    const client = await readyClient(pool);
    const old = client.lastJob;
    const hard = 2 ** -8;
    const { job: after } = await pool.setDifficulty(hard);
    await client.waitFor((c) => c.lastJob.jobId === after.jobId);
    expect(client.difficulties).toEqual([EASY, hard]);

    const easyTarget = targetForDifficulty(EASY);
    const hardTarget = targetForDifficulty(hard);
    const easyOnly = (value: bigint) => value <= easyTarget && value > hardTarget;
    expect((await client.submit(grind(client, old, EASY, { accept: easyOnly }))).result).toBe(true);
    expect((await client.submit(grind(client, after, EASY, { accept: easyOnly }))).error?.code).toBe(23);
    expect(pool.shares.map((share) => share.difficulty)).toEqual([EASY, hard]);
  });

  test('wrong extranonce2 size, ntime outside the window, version bits outside the mask → 20', async () => {
    const pool = await startPool({ versionMask: 0x1fffe000 });
    const plain = await readyClient(pool);
    const job = plain.lastJob;
    const code = async (client: RawStratumClient, share: RawShare) =>
      (await client.submit(share)).error?.code;

    expect(await code(plain, grind(plain, job, EASY, { extranonce2: new Uint8Array(4) }))).toBe(20);
    expect(await code(plain, grind(plain, job, EASY, { ntime: job.ntime - 1 }))).toBe(20);
    expect(await code(plain, grind(plain, job, EASY, { ntime: job.ntime + 7001 }))).toBe(20);
    expect(await code(plain, grind(plain, job, EASY, { ntime: job.ntime + 7000 }))).toBeUndefined();
    // Version bits without mining.configure.
    expect(await code(plain, grind(plain, job, EASY, { versionBits: 0x2000, mask: 0x1fffe000 }))).toBe(20);

    const rolling = await readyClient(pool, 0xffffffff);
    expect(pool.connections[1]!.versionRollingMask).toBe(0x1fffe000);
    const rollingJob = rolling.lastJob;
    expect(await code(rolling, grind(rolling, rollingJob, EASY, { versionBits: 0x40000000 }))).toBe(20);
    expect(
      await code(rolling, grind(rolling, rollingJob, EASY, { versionBits: 0x1fffe000, mask: 0x1fffe000 })),
    ).toBeUndefined();
    expect(pool.shares.filter((s) => s.accepted).map((s) => s.version)).toEqual([0x20000000, 0x3fffe000]);
  });

  test('unknown methods get an error and the connection carries on; each connection gets its own extranonce1', async () => {
    const pool = await startPool();
    const client = await rawClient(pool);
    const reply = await client.request('mining.bogus', []);
    expect(reply.error?.code).toBe(-32601);
    await client.subscribe();
    const other = await readyClient(pool);
    expect(Buffer.from(client.extranonce1).equals(other.extranonce1)).toBe(false);
    expect(client.extranonce1).toHaveLength(4);
  });
});

describe('CpuMiner checks what it receives', () => {
  test('a misbehaving pool is recorded as violations', async () => {
    const server = createServer((socket: Socket) => {
      const framer = new LineFramer();
      const send = (message: unknown) => socket.write(`${JSON.stringify(message)}\n`);
      socket.on('data', (chunk: Buffer) => {
        for (const line of framer.push(chunk).lines) {
          const request = JSON.parse(line) as { id: number; method: string };
          if (request.method === 'mining.subscribe') {
            send({ id: request.id, result: [[], '01020304', 0], error: null });
          } else if (request.method === 'mining.authorize') {
            send({ id: request.id, result: true, error: null });
            send({ id: null, method: 'mining.set_difficulty', params: [0] });
            send({
              id: null,
              method: 'mining.notify',
              params: ['1', 'ab', '', '', [], '20000000', '1d00ffff', '66000000', true],
            });
            send({ id: 999, result: true, error: null });
            send({ id: null, method: 'mining.set_extranonce', params: ['0102', 4] });
          }
        }
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    cleanups.push(
      () =>
        new Promise<void>((resolve) => {
          server.close(() => {
            resolve();
          });
        }),
    );
    const miner = await CpuMiner.connect({ port: (server.address() as AddressInfo).port, username: 'alice' });
    cleanups.push(() => miner.close());

    await miner.waitFor((m) => m.violations.length >= 5);
    const messages = miner.violations.map((v) => v.message).join('\n');
    expect(messages).toMatch(/extranonce2_size 0/);
    expect(messages).toMatch(/mining\.set_difficulty: param 0 \(difficulty\) must be a positive number/);
    expect(messages).toMatch(/mining\.notify: param 1 \(prevhash\)/);
    expect(messages).toMatch(/reply to id 999/);
    expect(messages).toMatch(/did not subscribe/);
  });
});
