import { describe, expect, test } from 'vitest';
import { RawStratumClient, type RawShare } from './peers/raw-client.js';
import { craftShare } from './support/craft-share.js';
import { ledgerShares, type RunningProxy } from './support/proxy-harness.js';
import { testScope } from './support/scope.js';

// A proof of work is credited at most once, whatever job id it comes back under: the attacks of
// issue 10 (a pool re-sending a job, a session reconnecting with its old extranonce) replayed
// over real sockets, with the ledger and the pool's own counts as witnesses.

const DIFFICULTY = 2 ** -16;
const scope = testScope({ difficulty: DIFFICULTY });

async function attacker(port: number): Promise<RawStratumClient> {
  const client = await RawStratumClient.connect(port);
  scope.defer(() => client.close());
  await client.subscribe();
  expect(await client.authorize('mallory.rig1')).toBe(true);
  await client.waitFor((c) => c.jobs.length > 0, 5000, 'first job');
  return client;
}

/** Submits `count` fresh valid shares on the client's latest job; every one must be credited. */
async function creditedShares(client: RawStratumClient, count: number): Promise<RawShare[]> {
  const shares: RawShare[] = [];
  for (let i = 0; i < count; i++) {
    const share = craftShare(client, { worker: 'mallory.rig1' });
    const answer = await client.submit(share);
    expect(answer.error).toBeNull();
    shares.push(share);
  }
  return shares;
}

/** Resubmits each share under the client's newest job id; returns the error codes answered. */
async function replayUnderNewestJob(
  client: RawStratumClient,
  shares: readonly RawShare[],
): Promise<(number | undefined)[]> {
  const jobId = client.lastJob.jobId;
  const codes: (number | undefined)[] = [];
  for (const share of shares) {
    expect(share.jobId).not.toBe(jobId);
    const answer = await client.submit({ ...share, jobId });
    codes.push(answer.error?.code);
  }
  return codes;
}

/** Credited rows, and distinct proofs among them, in the ledger. */
async function credit(running: RunningProxy): Promise<{ rows: number; proofs: number }> {
  await running.ledger.flush();
  const accepted = (await ledgerShares(running.ledger)).filter((share) => share.verdict === 'accepted');
  const proofs = new Set(accepted.map((share) => Buffer.from(share.hash!).toString('hex')));
  return { rows: accepted.length, proofs: proofs.size };
}

async function newJobReaches(client: RawStratumClient, action: () => Promise<unknown>): Promise<void> {
  const before = client.jobs.length;
  await action();
  await client.waitFor((c) => c.jobs.length > before, 5000, 'the re-sent job');
}

function failovers(running: RunningProxy): Promise<number> {
  return running.proxy.metrics.upstreamFailovers
    .get()
    .then((metric) => metric.values.reduce((sum, value) => sum + value.value, 0));
}

describe('each proof of work is credited once', () => {
  test.each([
    ['the same job id again (a periodic refresh)', { newId: false, clean: false }],
    ['the same job under a new id (after set_difficulty)', { newId: true, clean: false }],
    ['the same job flagged clean, same prevhash (a re-announce)', { newId: true, clean: true }],
  ])(
    'pool re-sends %s: resubmitted proofs are duplicates, never credited or forwarded',
    async (_, resend) => {
      const pool = await scope.pool();
      const running = await scope.proxy([pool.port]);
      const client = await attacker(running.port);
      const shares = await creditedShares(client, 5);
      await pool.waitFor((p) => p.acceptedCount === 5, 5000, 'the pool to take the 5 originals');

      for (let round = 0; round < 3; round++) {
        await newJobReaches(client, () => pool.resendJob(resend));
        expect(await replayUnderNewestJob(client, shares)).toEqual([22, 22, 22, 22, 22]);
      }

      expect(await credit(running)).toEqual({ rows: 5, proofs: 5 });
      await running.ledger.flush();
      // Copies were never forwarded: the pool saw each proof once and rejected nothing.
      expect(pool.shares).toHaveLength(5);
      expect(pool.rejectedCount).toBe(0);
      expect(await failovers(running)).toBe(0);
      expect(running.proxy.state().upstreams[0]!.healthy).toBe(true);
    },
  );

  test('an upstream session that reconnects with its old extranonce: old proofs stay duplicates', async () => {
    const pool = await scope.pool({ reuseExtranonce1: true });
    const running = await scope.proxy([pool.port]);
    const client = await attacker(running.port);
    const shares = await creditedShares(client, 4);

    // The pool drops the proxy's session; the proxy reconnects and is given the same extranonce1
    // and, the block unchanged, the same job content: every old proof is valid work again.
    await newJobReaches(client, () => pool.dropConnections());
    expect(await replayUnderNewestJob(client, shares)).toEqual([22, 22, 22, 22]);
    expect(await credit(running)).toEqual({ rows: 4, proofs: 4 });
    // New work on the new session is still credited.
    await creditedShares(client, 2);
    expect(await credit(running)).toEqual({ rows: 6, proofs: 6 });
  });

  test('a new block ends the scope: old proofs are stale, new proofs are credited', async () => {
    const pool = await scope.pool();
    const running = await scope.proxy([pool.port]);
    const client = await attacker(running.port);
    const shares = await creditedShares(client, 2);
    const late = [
      craftShare(client, { worker: 'mallory.rig1' }),
      craftShare(client, { worker: 'mallory.rig1' }),
    ];
    await newJobReaches(client, () => pool.newJob({ clean: true }));
    // Found before the block changed, submitted after: stale; copies of credited ones: duplicates.
    for (const share of late) expect((await client.submit(share)).error?.code).toBe(21);
    for (const share of shares) expect((await client.submit(share)).error?.code).toBe(22);
    await creditedShares(client, 2);
    expect(await credit(running)).toEqual({ rows: 4, proofs: 4 });
  });

  test('an honest miner beside a replaying one keeps its pool and its credit', async () => {
    const pool = await scope.pool();
    const running = await scope.proxy([pool.port]);
    const honest = await scope.miner(running.port, { username: 'alice.rig1' });
    const client = await attacker(running.port);
    const shares = await creditedShares(client, 5);
    // Twenty-five copies in a row: more than maxConsecutiveRejects (5 in tests) if they went up.
    for (let round = 0; round < 5; round++) {
      await newJobReaches(client, () => pool.resendJob({ newId: true }));
      await replayUnderNewestJob(client, shares);
    }
    await honest.waitFor((m) => m.acceptedCount >= 3, 30_000, 'honest shares');
    expect(await failovers(running)).toBe(0);
    expect(pool.rejectedCount).toBe(0);
    const { rows, proofs } = await credit(running);
    expect(rows).toBeGreaterThanOrEqual(5 + 3);
    expect(rows).toBe(proofs);
  });
});
