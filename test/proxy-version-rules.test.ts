import { describe, expect, test } from 'vitest';
import type { CpuMiner } from './peers/cpu-miner.js';
import type { TestPool } from './peers/test-pool.js';
import { TEST_UPSTREAM } from './support/proxy-harness.js';
import { testScope } from './support/scope.js';

const DIFFICULTY = 2 ** -16;
const BIP320_MASK = 0x1fffe000;
/** A job version signalling on bit 28, inside BIP 320's mask (regtest's templates; a soft-fork deployment). */
const SIGNALLING_VERSION = 0x30000000;
const BIT_28 = 0x10000000;

const scope = testScope({ difficulty: DIFFICULTY });
/** Pool and miners at one difficulty, so every share the proxy accepts goes up; no silence timeout. */
const proxyConfig = { upstream: { ...TEST_UPSTREAM, silenceSeconds: 600 } };

/** Stops hashing and waits until every share sent has its answer, at the miner and at the pool. */
async function settle(miner: CpuMiner, pool: TestPool): Promise<void> {
  miner.pause();
  await miner.waitFor((m) => m.submits.every((submit) => submit.reply !== undefined), 10_000, 'answers');
  await pool.waitFor((p) => p.shares.length >= miner.acceptedCount, 10_000, 'accepted shares forwarded');
}

describe.each(['or', 'bip310'] as const)(
  'version rolling against a pool that builds nVersion by %s',
  (versionRule) => {
    test('a job version with a bit inside the mask: the bit leaves the miner mask, and every share the proxy accepts the pool accepts', async () => {
      const pool = await scope.pool({ version: SIGNALLING_VERSION, versionRule, versionMask: BIP320_MASK });
      const running = await scope.proxy([pool.port], proxyConfig);
      const miner = await scope.miner(running.port, { versionRolling: { mask: BIP320_MASK } });
      await miner.waitFor((m) => m.acceptedCount >= 30, 60_000, '30 shares accepted by the proxy');
      await settle(miner, pool);

      expect(miner.versionMask).toBe(BIP320_MASK & ~BIT_28);
      expect(pool.rejectedCount).toBe(0);
      expect(pool.acceptedCount).toBeGreaterThanOrEqual(30);
      // The miner really rolled, and every header kept the job's bit.
      const versions = new Set(pool.shares.map((share) => share.version));
      expect(versions.size).toBeGreaterThan(1);
      for (const version of versions) expect(version! & BIT_28).toBe(BIT_28);
    });
  },
);

describe('version rolling when the job version changes', () => {
  test('set_version_mask with the narrowed mask goes out before the job that needs it, and back again', async () => {
    const pool = await scope.pool({ versionRule: 'or', versionMask: BIP320_MASK });
    const running = await scope.proxy([pool.port], proxyConfig);
    const miner = await scope.miner(running.port, { versionRolling: { mask: BIP320_MASK } });
    await miner.waitFor((m) => m.acceptedCount >= 5, 60_000, 'shares on the plain version');
    expect(miner.versionMask).toBe(BIP320_MASK);

    await pool.newJob({ clean: true, version: SIGNALLING_VERSION });
    await miner.waitFor((m) => m.versionMask === (BIP320_MASK & ~BIT_28), 10_000, 'narrowed mask');
    let before = miner.acceptedCount;
    await miner.waitFor((m) => m.acceptedCount >= before + 10, 60_000, 'shares on the signalling version');
    // The miner is answered once the ledger has its share; the pool may not have judged it yet,
    // and the clean job below would make it stale there: wait for the pool's own count.
    await pool.waitFor(
      (p) => p.shares.filter((share) => share.accepted && share.version! & BIT_28).length >= 10,
      10_000,
      'signalling shares accepted by the pool',
    );
    await pool.newJob({ clean: true, version: 0x20000000 });
    await miner.waitFor((m) => m.versionMask === BIP320_MASK, 10_000, 'mask widened again');
    before = miner.acceptedCount;
    await miner.waitFor((m) => m.acceptedCount >= before + 5, 60_000, 'shares on the plain version again');
    await settle(miner, pool);

    // Each mask change reaches the miner before the notify of the job it is for.
    const received = miner.received.map((entry) => entry.line);
    const narrowed = received.findIndex((line) =>
      line.includes('"mining.set_version_mask","params":["0fffe000"]'),
    );
    const signalling = received.findIndex(
      (line) => line.includes('"mining.notify"') && line.includes('"30000000"'),
    );
    expect(narrowed).toBeGreaterThan(-1);
    expect(narrowed).toBeLessThan(signalling);
    const widened = received.findIndex(
      (line, i) => i > signalling && line.includes('"mining.set_version_mask","params":["1fffe000"]'),
    );
    const plain = received.findIndex(
      (line, i) => i > signalling && line.includes('"mining.notify"') && line.includes('"20000000"'),
    );
    expect(widened).toBeGreaterThan(signalling);
    expect(widened).toBeLessThan(plain);

    // Only shares on replaced jobs (forwarded stale, as the pool may still take them) were refused.
    expect(pool.shares.filter((share) => !share.accepted).every((share) => share.errorCode === 21)).toBe(
      true,
    );
    const onSignalling = pool.shares.filter((share) => share.accepted && share.version! & BIT_28);
    expect(onSignalling.length).toBeGreaterThanOrEqual(10);
  });
});
