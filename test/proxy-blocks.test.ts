import { Writable } from 'node:stream';
import pino from 'pino';
import { describe, expect, test } from 'vitest';
import type { ProxyConfigInput } from '../src/config/proxy-config.js';
import { difficultyToTarget, targetToNbits } from '../src/work/target.js';
import { toDifficulty } from '../src/work/types.js';
import { sha256d, displayHex } from './peers/pow.js';
import { ledgerShares, startProxy, TEST_UPSTREAM, testConfig } from './support/proxy-harness.js';
import { testScope } from './support/scope.js';

/** Regtest's nbits: difficulty ~4.7e-10, so every share meets it. */
const REGTEST_NBITS = 0x207fffff;
const MINER_DIFFICULTY = 2 ** -18;

const scope = testScope({ difficulty: MINER_DIFFICULTY });

/** A fixed miner difficulty; the test pool sends no job while nobody submits, so no silence timeout. */
function minerDifficulty(difficulty: number): Pick<ProxyConfigInput, 'vardiff' | 'upstream'> {
  return {
    upstream: { ...TEST_UPSTREAM, silenceSeconds: 600 },
    vardiff: {
      initialDifficulty: difficulty,
      minDifficulty: 2 ** -32,
      maxDifficulty: 2 ** 32,
      targetShareSeconds: 3.3,
      retargetSeconds: 100_000,
      burstShares: 0,
      honourMinerFloor: false,
    },
  };
}

/** A proxy whose log lines are kept (as parsed JSON) for the test to read. */
async function loggedProxy(ports: number[], overrides: Partial<ProxyConfigInput>) {
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString('utf8').split('\n'))
        if (line !== '') lines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  const running = await startProxy(testConfig(ports, overrides), pino({ level: 'info' }, sink));
  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => (stopping ??= running.stop());
  scope.defer(stop);
  return { running, lines, stop };
}

describe('blocks and the shares a pool will reject', () => {
  test('regtest behind a ckpool-like pool: no share under the pool difficulty goes up unless it is a block the pool counts; the pool is not failed over', async () => {
    // ckpool floors network difficulty at 1: on regtest a share under difficulty 1 is no block to it.
    const pool = await scope.pool({
      nbits: REGTEST_NBITS,
      difficulty: 2 ** -12,
      networkDifficultyFloor: 1,
      errorStyle: 'ckpool',
    });
    const running = await scope.proxy([pool.port], minerDifficulty(MINER_DIFFICULTY));
    const miner = await scope.miner(running.port);
    await miner.waitFor((m) => m.acceptedCount >= 60, 90_000, '60 shares accepted by the proxy');
    await pool.waitFor((p) => p.shares.length >= 1, 30_000, 'a share forwarded');

    expect(pool.rejectedCount).toBe(0);
    expect(pool.connections.length).toBe(1);
    await running.ledger.flush();
    const shares = await ledgerShares(running.ledger);
    // Under difficulty 1 nothing here is a block for a real network: none is recorded as one.
    expect(shares.filter((share) => share.isBlock)).toEqual([]);
  });

  test.each(['stratum', 'ckpool'] as const)(
    'a real block under the pool difficulty goes up and is logged whole; the pool (%s wording) rejecting it as low difficulty does not fail the pool over; block logs are summarised',
    async (errorStyle) => {
      // A chain whose blocks are 16 times harder than the miner's shares, and a pool 1024 times harder.
      const networkDifficulty = 2 ** -14;
      const pool = await scope.pool({
        nbits: targetToNbits(difficultyToTarget(toDifficulty(networkDifficulty))),
        difficulty: 2 ** -8,
        errorStyle,
      });
      const { running, lines, stop } = await loggedProxy([pool.port], {
        ...minerDifficulty(MINER_DIFFICULTY),
        blocks: { minDifficulty: 2 ** -20, loggedPerMinute: 3 },
      });
      const miner = await scope.miner(running.port);
      await pool.waitFor((p) => p.blocks.length >= 6, 90_000, 'six blocks at the pool');
      miner.pause();
      await miner.waitFor((m) => m.submits.every((submit) => submit.reply !== undefined), 10_000, 'answers');
      await running.ledger.flush();
      const blocks = (await ledgerShares(running.ledger)).filter((share) => share.isBlock);
      await pool.waitFor((p) => p.blocks.length >= blocks.length, 10_000, 'every block answered');

      // Every block the proxy saw reached the pool, which saw the same header hash.
      const atPool = new Set(pool.blocks.map((share) => share.hash));
      for (const block of blocks) expect(atPool.has(displayHex(block.hash!))).toBe(true);
      // The pool refused most as shares (under its difficulty), and the proxy kept it.
      expect(pool.shares.some((share) => share.isBlock && !share.accepted)).toBe(true);
      expect(pool.connections.length).toBe(1);
      const rejects = (await running.proxy.metrics.upstreamRejects.get()).values;
      expect(rejects.some((r) => r.labels.reason === 'low-difficulty' && r.labels.blamed === 'false')).toBe(
        true,
      );
      expect(rejects.filter((r) => r.labels.blamed === 'true')).toEqual([]);

      await stop();
      const found = lines.filter((line) => line.msg === 'block found');
      // Three a minute are logged whole (more only if the test ran past a minute's turn).
      expect(found.length).toBeGreaterThanOrEqual(3);
      for (const line of found) {
        // The whole header is there, and it hashes to the block.
        const header = Buffer.from(line.header as string, 'hex');
        expect(header.length).toBe(80);
        expect(displayHex(sha256d(header))).toBe(line.hash);
        expect(atPool.has(line.hash as string)).toBe(true);
        expect(typeof line.coinbase).toBe('string');
        expect(line.submit).toBeDefined();
      }
      const summaries = lines.filter((line) => line.msg === 'blocks found (summary)');
      const summarised = summaries.reduce((sum, line) => sum + (line.blocks as number), 0);
      expect(summarised).toBeGreaterThan(0);
      expect(found.length + summarised).toBe(blocks.length);
    },
  );
});
