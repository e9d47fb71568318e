import { describe, expect, test } from 'vitest';
import { RejectStandings } from '../proxy/reject-standings.js';
import { RawStratumClient } from './peers/raw-client.js';
import { craftShare } from './support/craft-share.js';
import { EVERYTHING } from './support/ledger-contract.js';
import type { RunningProxy } from './support/proxy-harness.js';
import { counterValue } from './support/metric-value.js';
import { testScope } from './support/scope.js';

const DIFFICULTY = 2 ** -16;
const scope = testScope({ difficulty: DIFFICULTY });

/** A long window, so nothing decays while a test runs; no throttle delay, to keep it quick. */
const BUDGET = {
  windowSeconds: 600,
  minRejects: 20,
  maxInvalidRatio: 0.9,
  throttleMs: 0,
  disconnectRejects: 60,
  recordedRejectsPerHour: 25,
  summarySeconds: 0.2,
};

/** Room for a fast junk miner: only the reject budget may stop it, not the message-rate limit. */
const LIMITS = { messagesPerSecond: 10_000, messageBurst: 10_000, rejectBudget: BUDGET };

const ATTACKER = '127.0.0.2';
const OTHER_HOST = '127.0.0.3';

/** Connects from `address`; undefined when the proxy refuses the connection before any request. */
async function dial(port: number, address: string): Promise<RawStratumClient> {
  const client = await RawStratumClient.connect(port, '127.0.0.1', address);
  scope.defer(() => client.close());
  return client;
}

/** Subscribes and authorizes `worker`; whether the authorize was accepted (false if refused or closed). */
async function handshake(client: RawStratumClient, worker: string): Promise<boolean> {
  const closed = client.waitFor((c) => c.closed, 10_000, 'closed').then(() => false);
  const authorized = (async () => {
    await client.subscribe();
    if (!(await client.authorize(worker))) return false;
    await client.waitFor((c) => c.jobs.length > 0 && c.difficulties.length > 0, 5000, 'a job');
    return true;
  })();
  return Promise.race([authorized, closed]);
}

/** An honest miner: a connection that submits valid shares and expects each credited. */
async function honestMiner(port: number, address: string, worker: string): Promise<RawStratumClient> {
  const client = await dial(port, address);
  expect(await handshake(client, worker)).toBe(true);
  await submitValid(client, worker);
  return client;
}

async function submitValid(client: RawStratumClient, worker: string): Promise<void> {
  const answer = await client.submit(craftShare(client, { worker }));
  expect(answer.error ?? null).toBeNull();
  expect(answer.result).toBe(true);
}

/** Sends junk (shares under the difficulty) until the proxy closes the connection. */
async function junkUntilClosed(client: RawStratumClient, worker: string, count: number): Promise<void> {
  for (let i = 0; i < count; i++)
    void client.submit(craftShare(client, { worker, low: true })).catch(() => undefined);
  await client.waitFor((c) => c.closed, 20_000, `${worker} closed for junk`);
}

async function judgedJunk(running: RunningProxy): Promise<number> {
  const values = (await running.proxy.metrics.shares.get()).values;
  return values.find((v) => v.labels.verdict === 'low-difficulty')?.value ?? 0;
}

async function creditedRows(running: RunningProxy, worker: string): Promise<number> {
  await running.ledger.flush();
  const shares = await running.ledger.shares(EVERYTHING);
  return shares.filter((s) => s.worker === worker && s.verdict === 'accepted').length;
}

describe('reject budgets carried across connections', () => {
  test('a junk worker that reconnects is refused at authorize; honest workers on its address and elsewhere are credited', async () => {
    const pool = await scope.pool();
    const running = await scope.proxy([pool.port], { limits: LIMITS });
    const neighbour = await honestMiner(running.port, ATTACKER, 'hal.rig');
    const elsewhere = await honestMiner(running.port, OTHER_HOST, 'grace.rig');

    const first = await dial(running.port, ATTACKER);
    expect(await handshake(first, 'mallory.junk')).toBe(true);
    await junkUntilClosed(first, 'mallory.junk', 3 * BUDGET.disconnectRejects);
    const judgedBefore = await judgedJunk(running);
    expect(judgedBefore).toBeGreaterThanOrEqual(BUDGET.disconnectRejects);

    // The same worker from the same address comes straight back: its spent budget came with it.
    const again = await dial(running.port, ATTACKER);
    expect(await handshake(again, 'mallory.junk')).toBe(false);
    const refusal = again.log.find((l) => l.direction === 'in' && l.line.includes('reject budget'));
    expect(refusal?.line).toContain('mallory.junk');
    expect(await judgedJunk(running)).toBe(judgedBefore);

    // Neither the honest worker behind the attacker's address nor one elsewhere is disturbed.
    await submitValid(neighbour, 'hal.rig');
    await submitValid(elsewhere, 'grace.rig');
    const fresh = await honestMiner(running.port, ATTACKER, 'hal.rig2');
    await submitValid(fresh, 'hal.rig2');
    expect(neighbour.closed || elsewhere.closed || fresh.closed).toBe(false);
    expect(await creditedRows(running, 'hal.rig')).toBe(2);
    expect(await creditedRows(running, 'grace.rig')).toBe(2);
    expect(await creditedRows(running, 'hal.rig2')).toBe(2);
  });

  test('a junk miner that takes a new worker name each time is refused at connect once its address has spent its allowance', async () => {
    const pool = await scope.pool();
    const running = await scope.proxy([pool.port], { limits: LIMITS });
    const registry = running.proxy.metrics.registry;
    const neighbour = await honestMiner(running.port, ATTACKER, 'hal.rig');

    let refusedAt: number | undefined;
    for (let i = 0; i < 30 && refusedAt === undefined; i++) {
      const attacker = await dial(running.port, ATTACKER);
      if (!(await handshake(attacker, `mallory.w${i}`))) {
        refusedAt = i;
        const shown = attacker.log.find(
          (l) => l.direction === 'in' && l.line.includes('client.show_message'),
        );
        expect(shown?.line).toContain('reject budget');
        break;
      }
      await junkUntilClosed(attacker, `mallory.w${i}`, 3 * BUDGET.disconnectRejects);
    }
    // The address's allowance (10× a worker's by default) is spent after about ten workers' worth.
    expect(refusedAt).toBeDefined();
    expect(refusedAt!).toBeLessThanOrEqual(12);
    expect(
      await counterValue(registry, 'hashrelay_connections_refused_total', { reason: 'reject_budget' }),
    ).toBeGreaterThanOrEqual(1);

    // The honest worker already connected from that address keeps being credited; another host connects.
    await submitValid(neighbour, 'hal.rig');
    const elsewhere = await honestMiner(running.port, OTHER_HOST, 'grace.rig');
    await submitValid(elsewhere, 'grace.rig');
    expect(neighbour.closed || elsewhere.closed).toBe(false);
    expect(await creditedRows(running, 'hal.rig')).toBe(2);
    expect(await creditedRows(running, 'grace.rig')).toBe(2);
  });
});

describe('reject standings stay bounded', () => {
  const OPTIONS = { ...BUDGET, perAddressMultiple: 10, rememberedStandings: 1000 };

  test('honest churn from many addresses is forgotten once settled', () => {
    const standings = new RejectStandings({ ...OPTIONS, rememberedStandings: 100_000 });
    for (let i = 0; i < 20_000; i++)
      standings.screen(`10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`, 'rig', 'accepted', false, 1000);
    expect(standings.size).toBeLessThan(2 * 4096);
  });

  test('past the bound the least recently used go, and a worker that keeps submitting is kept', () => {
    const standings = new RejectStandings(OPTIONS);
    const junk = (worker: string): void => {
      for (let i = 0; i < BUDGET.disconnectRejects; i++)
        standings.screen('192.0.2.7', worker, 'low-difficulty', false, 1000);
    };
    junk('mallory.kept');
    expect(standings.workerBarred('192.0.2.7', 'mallory.kept', 1000)).toContain('reject budget');
    for (let i = 0; i < 5000; i++) {
      standings.screen(`198.51.${(i >> 8) & 255}.${i & 255}`, `w${i}`, 'low-difficulty', false, 1000);
      if (i % 100 === 0) standings.screen('192.0.2.7', 'mallory.kept', 'low-difficulty', false, 1000);
    }
    expect(standings.size).toBeLessThanOrEqual(OPTIONS.rememberedStandings);
    expect(standings.workerBarred('192.0.2.7', 'mallory.kept', 1000)).toContain('mallory.kept');
  });
});
