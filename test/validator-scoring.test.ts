import { join } from 'node:path';
import type { KeyringPair } from '@polkadot/keyring/types';
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import type { Metagraph } from '../src/chain/chain.js';
import type { Hotkey } from '../src/chain/hotkey.js';
import { MemoryChain } from '../src/chain/memory-chain.js';
import type { LocalVerdict } from '../src/ledger/ledger.js';
import { openSqliteLedger, type SqliteLedger } from '../src/ledger/sqlite-ledger.js';
import { BlockClock, ledgerScorer, scoreWindow, scoringWindow } from '../validator/scoring.js';
import { ledgerDir, makeJob, makeShare, removeLedgerDirs } from './support/ledger-records.js';
import { devKeys } from './support/keys.js';

const NETUID = 3;
const T0 = 1_790_000_000_000;

let owner: KeyringPair;
let validator: KeyringPair;
let minerA: KeyringPair;
let minerB: KeyringPair;
let minerC: KeyringPair;
let stranger: KeyringPair;

beforeAll(async () => {
  [owner, validator, minerA, minerB, minerC, stranger] = (await devKeys(
    'Owner',
    'Validator',
    'A',
    'B',
    'C',
    'Stranger',
  )) as [KeyringPair, KeyringPair, KeyringPair, KeyringPair, KeyringPair, KeyringPair];
});

const opened: SqliteLedger[] = [];
afterEach(async () => {
  await Promise.allSettled(opened.splice(0).map((ledger) => ledger.close()));
});
afterAll(removeLedgerDirs);

async function freshLedger(): Promise<SqliteLedger> {
  const ledger = await openSqliteLedger(join(ledgerDir(), 'ledger.sqlite'));
  opened.push(ledger);
  return ledger;
}

/** owner uid 0, validator 1, A 2, B 3, C 4 (C never mines). */
async function metagraph(options: { ownerRegistered?: boolean } = {}): Promise<Metagraph> {
  const chain = new MemoryChain();
  chain.addSubnet(NETUID, { ownerHotkey: owner.address as Hotkey });
  const keys = [owner, validator, minerA, minerB, minerC].filter(
    (key) => key !== owner || (options.ownerRegistered ?? true),
  );
  for (const key of keys)
    chain.register(NETUID, key.address, { stake: 1n, validatorPermit: key === validator });
  return chain.metagraph(NETUID);
}

interface ShareSpec {
  at: number;
  miner: string;
  worker: string;
  difficulty: number;
  verdict?: LocalVerdict;
}

async function record(ledger: SqliteLedger, specs: readonly ShareSpec[]): Promise<void> {
  const jobId = ledger.recordJob(makeJob(1));
  await Promise.all(
    specs.map((spec, n) =>
      ledger.recordShare(
        makeShare(n, jobId, {
          time: spec.at,
          miner: spec.miner,
          worker: spec.worker,
          assignedDifficulty: spec.difficulty,
          verdict: spec.verdict ?? 'accepted',
        }),
      ),
    ),
  );
}

describe('scoreWindow', () => {
  test('credited difficulty per registered hotkey, summed over workers; everything else earns nothing', async () => {
    const ledger = await freshLedger();
    const mg = await metagraph();
    await record(ledger, [
      { at: T0 + 1, miner: minerA.address, worker: `${minerA.address}.rig1`, difficulty: 8 },
      { at: T0 + 2, miner: minerA.address, worker: `${minerA.address}.rig1`, difficulty: 8 },
      { at: T0 + 3, miner: minerA.address, worker: `${minerA.address}.rig2`, difficulty: 16 },
      { at: T0 + 4, miner: minerB.address, worker: minerB.address, difficulty: 4 },
      // Not credited: judged bad, outside the window, or not a registered hotkey.
      { at: T0 + 5, miner: minerB.address, worker: minerB.address, difficulty: 1024, verdict: 'stale' },
      {
        at: T0 + 6,
        miner: minerB.address,
        worker: minerB.address,
        difficulty: 512,
        verdict: 'low-difficulty',
      },
      { at: T0 - 1, miner: minerA.address, worker: minerA.address, difficulty: 2048 },
      { at: T0 + 60_000, miner: minerA.address, worker: minerA.address, difficulty: 4096 },
      { at: T0 + 7, miner: `unverified:${minerC.address}`, worker: `${minerC.address}.x`, difficulty: 100 },
      { at: T0 + 8, miner: `unverified:${stranger.address}`, worker: stranger.address, difficulty: 200 },
      { at: T0 + 9, miner: stranger.address, worker: stranger.address, difficulty: 50 },
    ]);
    const scores = await scoreWindow(ledger, { from: T0, to: T0 + 60_000 }, mg);
    expect(scores.burn).toBe(false);
    expect(scores.ownerUid).toBe(0);
    expect(new Map(scores.scores)).toEqual(
      new Map([
        [2, 32],
        [3, 4],
      ]),
    );
    expect([...scores.scores.keys()]).toEqual([2, 3]); // uid order, whatever order the ledger reports
    expect(scores.creditedDifficulty).toBe(36);
    expect(scores.uncredited).toEqual({ marked: 300, notInMetagraph: 50 });
  });

  test("nobody earned anything: the owner's uid alone, flagged as a burn", async () => {
    const ledger = await freshLedger();
    await record(ledger, [
      { at: T0 + 1, miner: `unverified:farm`, worker: 'farm.1', difficulty: 64 },
      { at: T0 + 2, miner: minerA.address, worker: minerA.address, difficulty: 64, verdict: 'duplicate' },
    ]);
    const scores = await scoreWindow(ledger, { from: T0, to: T0 + 1000 }, await metagraph());
    expect(scores).toMatchObject({ burn: true, ownerUid: 0, creditedDifficulty: 0 });
    expect(new Map(scores.scores)).toEqual(new Map([[0, 1]]));
    expect(scores.uncredited.marked).toBe(64);

    const noOwner = await scoreWindow(
      ledger,
      { from: T0, to: T0 + 1000 },
      await metagraph({ ownerRegistered: false }),
    );
    expect(noOwner).toMatchObject({ burn: true, ownerUid: undefined });
    expect(noOwner.scores.size).toBe(0);
  });
});

describe('block windows', () => {
  test('seen blocks give their arrival time; others are interpolated or extrapolated at 12 s', () => {
    const clock = new BlockClock();
    expect(() => clock.timeOf(1)).toThrow(/no block seen yet/);
    clock.observe(100, T0);
    clock.observe(110, T0 + 100_000);
    clock.observe(100, T0 + 999); // a re-org repeats a number: the first arrival stands
    clock.observe(105, T0 + 40_000); // out of order is fine
    expect(clock.timeOf(100)).toBe(T0);
    expect(clock.timeOf(105)).toBe(T0 + 40_000);
    expect(clock.timeOf(108)).toBe(T0 + 40_000 + (60_000 * 3) / 5);
    expect(clock.timeOf(90)).toBe(T0 - 120_000);
    expect(clock.timeOf(112)).toBe(T0 + 124_000);
    expect(scoringWindow(clock, { from: 100, to: 110 })).toEqual({ from: T0, to: T0 + 100_000 });
    expect(() => scoringWindow(clock, { from: 110, to: 110 })).toThrow(/is empty/);
  });

  test('keeps only the newest blocks', () => {
    const clock = new BlockClock(1000, 10);
    for (let block = 1; block <= 100; block++) clock.observe(block, block * 1000);
    expect(clock.size).toBe(11);
    expect(clock.timeOf(50)).toBe(50_000); // extrapolated from block 90, same slope
  });

  test('a ledger scorer counts the shares between the two blocks', async () => {
    const ledger = await freshLedger();
    const clock = new BlockClock();
    for (let block = 10; block <= 20; block++) clock.observe(block, T0 + (block - 10) * 12_000);
    await record(ledger, [
      { at: T0 - 1, miner: minerA.address, worker: minerA.address, difficulty: 1000 }, // before block 10
      { at: T0, miner: minerA.address, worker: minerA.address, difficulty: 3 },
      { at: T0 + 119_999, miner: minerB.address, worker: minerB.address, difficulty: 5 },
      { at: T0 + 120_000, miner: minerB.address, worker: minerB.address, difficulty: 1000 }, // block 20: next window
    ]);
    const scores = await ledgerScorer(ledger, clock)(await metagraph(), { from: 10, to: 20 });
    expect(scores.window).toEqual({ from: T0, to: T0 + 120_000 });
    expect(new Map(scores.scores)).toEqual(
      new Map([
        [2, 3],
        [3, 5],
      ]),
    );
  });
});
