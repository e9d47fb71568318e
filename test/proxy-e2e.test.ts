import { describe, expect, test } from 'vitest';
import { CpuMiner } from './peers/cpu-miner.js';
import { ledgerShares, shareKey } from './support/proxy-harness.js';
import { testScope } from './support/scope.js';

const DIFFICULTY = 2 ** -16;
const scope = testScope({ difficulty: DIFFICULTY });
const pool = scope.pool;
const proxyFor = scope.proxy;
const miner = scope.miner;

/** Waits until every submit a miner sent has its answer. */
async function settled(miners: CpuMiner[]): Promise<void> {
  for (const m of miners) m.pause();
  for (const m of miners)
    await m.waitFor((x) => x.submits.every((s) => s.reply !== undefined), 10_000, 'all submits answered');
}

describe('proxy end to end: CPU miners → proxy → test pools', () => {
  test('every share the pool accepts was accepted by the proxy and is in the ledger; counts match', async () => {
    const poolA = await pool({ name: 'A' });
    const running = await proxyFor([poolA.port]);
    const miners = [
      await miner(running.port, { username: 'alice.rig1' }),
      await miner(running.port, { username: 'bob.rig1', versionRolling: { mask: 0x1fffe000 } }),
      await miner(running.port, { username: 'carol.rig1', workers: ['carol.a', 'carol.b'] }),
    ];
    for (const m of miners) await m.waitFor((x) => x.acceptedCount >= 5, 20_000, 'five accepted shares');
    await poolA.newJob({ clean: true });
    for (const m of miners) await m.waitFor((x) => x.acceptedCount >= 8, 20_000, 'shares on the new job');
    await settled(miners);
    await running.ledger.flush();
    await new Promise((resolve) => setTimeout(resolve, 300)); // last upstream answers
    await running.ledger.flush();

    const shares = await ledgerShares(running.ledger);
    const byKey = new Map(
      shares.map((s) => [
        shareKey(s.proxyJobId ?? '', Buffer.from(s.extranonce2).toString('hex').slice(-8), s.ntime, s.nonce),
        s,
      ]),
    );
    let minerAccepted = 0;
    for (const m of miners) {
      expect(m.violations).toEqual([]);
      for (const submit of m.submits) {
        if (submit.reply !== true) continue;
        minerAccepted += 1;
        const stored = byKey.get(shareKey(submit.jobId, submit.extranonce2, submit.ntime, submit.nonce));
        expect(
          stored,
          `share ${submit.jobId}/${submit.nonce} acknowledged but not in the ledger`,
        ).toBeDefined();
        expect(stored!.verdict).toBe('accepted');
        expect(stored!.assignedDifficulty).toBe(submit.difficulty);
      }
    }
    const ledgerAccepted = shares.filter((s) => s.verdict === 'accepted');
    expect(ledgerAccepted.length).toBe(minerAccepted);
    // Every share the pool accepted is in the ledger, accepted locally, with the pool's answer.
    const byUpstreamKey = new Map(
      shares.map((s) => [`${Buffer.from(s.extranonce2).toString('hex')}/${s.ntime}/${s.nonce}`, s]),
    );
    for (const poolShare of poolA.shares) {
      const stored = byUpstreamKey.get(`${poolShare.extranonce2}/${poolShare.ntime}/${poolShare.nonce}`);
      expect(stored, 'a share the pool saw is missing from the ledger').toBeDefined();
      expect(stored!.upstreamVerdict).toBe(poolShare.accepted ? 'accepted' : 'rejected');
      if (poolShare.accepted) expect(stored!.verdict).toBe('accepted');
      // The only upstream rejection possible here: a share in flight when the pool cleaned its jobs.
      else expect(poolShare.errorCode).toBe(21);
    }
    expect(shares.filter((s) => s.upstreamVerdict === 'accepted').length).toBe(poolA.acceptedCount);
    expect(shares.filter((s) => s.upstreamVerdict === 'rejected').length).toBe(poolA.rejectedCount);
    // Difficulty is the pool's, so every locally accepted share went upstream (besides them, a
    // share found just before a clean job may go up as stale for the pool to judge).
    const forwardedAccepted = poolA.shares.filter(
      (s) => byUpstreamKey.get(`${s.extranonce2}/${s.ntime}/${s.nonce}`)?.verdict === 'accepted',
    );
    expect(forwardedAccepted.length).toBe(minerAccepted);
    // The version-rolling miner's shares reached the pool with their version bits.
    expect(poolA.shares.some((s) => s.accepted && s.versionBits !== undefined)).toBe(true);
    // Credit follows the authorized identity, not whatever worker string is sent.
    const miners_ = new Set(ledgerAccepted.map((s) => s.miner));
    expect(miners_).toEqual(new Set(['alice', 'bob', 'carol']));
    // Aggregation on one upstream session: one pool connection for three miners.
    expect(poolA.connections.length).toBe(1);
  });

  test('failover to the backup by a clean notify, and back when the primary recovers, without disconnecting miners', async () => {
    const poolA = await pool({ name: 'A' });
    const poolB = await pool({ name: 'B' });
    const running = await proxyFor([poolA.port, poolB.port]);
    const miners = [
      await miner(running.port, { username: 'alice.rig1' }),
      await miner(running.port, { username: 'bob.rig1', versionRolling: { mask: 0xffffffff } }),
    ];
    for (const m of miners) await m.waitFor((x) => x.acceptedCount >= 3, 20_000, 'shares on A');
    expect(poolB.acceptedCount).toBe(0);

    const portA = poolA.port;
    await poolA.stop();
    await poolB.waitFor((p) => p.acceptedCount >= 6, 20_000, 'shares moved to B');
    const acceptedByA = poolA.acceptedCount;

    const poolA2 = await pool({ name: 'A-again', port: portA });
    await poolA2.waitFor((p) => p.acceptedCount >= 4, 30_000, 'shares back on A');
    await settled(miners);
    await new Promise((resolve) => setTimeout(resolve, 300));
    await running.ledger.flush();

    for (const m of miners) {
      // No reconnects: every move was a clean notify on the same connection.
      expect(m.reconnects).toEqual([]);
      expect(m.violations).toEqual([]);
    }
    const shares = await ledgerShares(running.ledger);
    const upstreamAccepted = shares.filter((s) => s.upstreamVerdict === 'accepted');
    expect(upstreamAccepted.filter((s) => s.upstream === 'pool0').length).toBe(
      acceptedByA + poolA2.acceptedCount,
    );
    expect(upstreamAccepted.filter((s) => s.upstream === 'pool1').length).toBe(poolB.acceptedCount);
    for (const s of upstreamAccepted) expect(s.verdict).toBe('accepted');
  });
});
