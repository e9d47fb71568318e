import type { KeyringPair } from '@polkadot/keyring/types';
import { beforeAll, describe, expect, test } from 'vitest';
import { ChainError } from '../src/chain/chain.js';
import { epochStart } from '../src/chain/epoch.js';
import { epochIndex, MemoryChain, type MemoryChainOptions } from '../src/chain/memory-chain.js';
import { encryptWeightsPayload, type WeightsPayload } from '../src/chain/timelocked-weights.js';
import { QUICKNET_ROUND_1000, testBeacon } from './support/drand-beacon.js';
import { devKeys } from './support/keys.js';

let alice: KeyringPair; // validator
let bob: KeyringPair; // another validator
let charlie: KeyringPair; // miner
beforeAll(async () => {
  [alice, bob, charlie] = (await devKeys('Alice', 'Bob', 'Charlie')) as [
    KeyringPair,
    KeyringPair,
    KeyringPair,
  ];
});

const NETUID = 2;
const TEMPO = 10;

/** Subnet 2, tempo 10, commit-reveal on (reveal one epoch later): alice 0 and bob 1 validators, charlie 2. */
function timelockChain(options: MemoryChainOptions = {}): MemoryChain {
  // Legacy epochs (the formula) with v4's call: mainnet between commit_timelocked_weights and spec 423.
  const chain = new MemoryChain({ timelockCall: 'commit_timelocked_weights', ...options });
  chain.addSubnet(NETUID, { tempo: TEMPO, weightsRateLimit: 5, minAllowedWeights: 1, commitRevealPeriod: 1 });
  chain.register(NETUID, alice.address, { stake: 1000n, validatorPermit: true });
  chain.register(NETUID, bob.address, { stake: 1000n, validatorPermit: true });
  chain.register(NETUID, charlie.address, { stake: 0n, validatorPermit: false });
  chain.advance(5);
  return chain;
}

const weights = (signer: KeyringPair, hotkey = signer.publicKey): WeightsPayload => ({
  hotkey,
  uids: [1, 2],
  values: [65535, 21845],
  versionKey: 0n,
});

/** Blocks until the first block of the epoch after the current one. */
async function toNextEpoch(chain: MemoryChain): Promise<number> {
  const block = await chain.currentBlock();
  const next = epochIndex(block, NETUID, TEMPO) + 1;
  let target = block;
  while (epochIndex(target, NETUID, TEMPO) < next) target++;
  return target - block;
}

async function chainErrorOf(call: Promise<unknown>): Promise<string> {
  const error: unknown = await call.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ChainError);
  return (error as ChainError).chainError;
}

describe('MemoryChain drand-timelocked commits', () => {
  test('the round-1000 quicknet pulse opens the commit in the reveal epoch and sets exactly its weights', async () => {
    const chain = timelockChain();
    const runtime = await chain.timelockRuntime();
    expect(runtime).toMatchObject({ call: 'commit_timelocked_weights', commitRevealVersion: 4 });
    await chain.commitTimelockedWeights(alice, NETUID, {
      ciphertext: encryptWeightsPayload(weights(alice), QUICKNET_ROUND_1000.round),
      revealRound: QUICKNET_ROUND_1000.round,
      commitRevealVersion: 4,
    });
    chain.advance(await toNextEpoch(chain));
    // The reveal epoch has begun but round 1000 is not on chain: nothing yet, still waiting.
    expect(await chain.weightsOf(NETUID, 0)).toEqual(new Map());
    expect(chain.timelockedReveals()).toEqual([]);
    chain.storePulse(QUICKNET_ROUND_1000.round, QUICKNET_ROUND_1000.signature);
    chain.advance(1);
    expect(await chain.weightsOf(NETUID, 0)).toEqual(
      new Map([
        [1, 65535],
        [2, 21845],
      ]),
    );
    expect(chain.timelockedReveals()).toMatchObject([
      { hotkey: alice.address, revealRound: 1000n, failure: undefined },
    ]);
  });

  test('a commit whose pulse never comes in the reveal epoch is dropped unrevealed', async () => {
    const chain = timelockChain();
    await chain.commitTimelockedWeights(alice, NETUID, {
      ciphertext: encryptWeightsPayload(weights(alice), 1000n),
      revealRound: 1000n,
      commitRevealVersion: 4,
    });
    chain.advance(await toNextEpoch(chain));
    chain.advance(await toNextEpoch(chain));
    chain.storePulse(QUICKNET_ROUND_1000.round, QUICKNET_ROUND_1000.signature);
    chain.advance(1);
    expect(await chain.weightsOf(NETUID, 0)).toEqual(new Map());
    expect(chain.timelockedReveals()).toEqual([]);
  });

  test('pulses from a source arrive as the clock passes their round; a payload naming another hotkey is not applied', async () => {
    const beacon = testBeacon();
    const startTimestampMs = (beacon.genesisTime + 3 * 5000) * 1000;
    const chain = timelockChain({ drand: beacon, startTimestampMs, blockTimeMs: 12_000 });
    const { lastStoredRound, blockTimestampMs } = await chain.timelockRuntime();
    expect(lastStoredRound).toBe(BigInt(Math.floor((blockTimestampMs / 1000 - beacon.genesisTime) / 3)));
    const round = lastStoredRound + 20n; // four blocks of 12 s from now
    await chain.commitTimelockedWeights(alice, NETUID, {
      ciphertext: encryptWeightsPayload(weights(alice), round, beacon),
      revealRound: round,
      commitRevealVersion: 4,
    });
    await chain.commitTimelockedWeights(bob, NETUID, {
      ciphertext: encryptWeightsPayload(weights(bob, alice.publicKey), round, beacon),
      revealRound: round,
      commitRevealVersion: 4,
    });
    chain.advance((await toNextEpoch(chain)) + 5);
    expect(await chain.weightsOf(NETUID, 0)).toEqual(
      new Map([
        [1, 65535],
        [2, 21845],
      ]),
    );
    expect(await chain.weightsOf(NETUID, 1)).toEqual(new Map());
    expect(chain.timelockedReveals().map((reveal) => [reveal.hotkey, reveal.failure])).toEqual([
      [alice.address, undefined],
      [bob.address, 'the payload names another hotkey'],
    ]);
  });

  test('refused as the runtime refuses: a stale round, a wrong version, a runtime without the call', async () => {
    const beacon = testBeacon();
    const chain = timelockChain({ drand: beacon, startTimestampMs: (beacon.genesisTime + 30_000) * 1000 });
    const { lastStoredRound } = await chain.timelockRuntime();
    const commit = (revealRound: bigint, commitRevealVersion = 4) => ({
      ciphertext: encryptWeightsPayload(weights(alice), revealRound, beacon),
      revealRound,
      commitRevealVersion,
    });
    expect(
      await chainErrorOf(chain.commitTimelockedWeights(alice, NETUID, commit(lastStoredRound - 1n))),
    ).toBe('InvalidRevealRound');
    expect(
      await chainErrorOf(chain.commitTimelockedWeights(alice, NETUID, commit(lastStoredRound + 40n, 3))),
    ).toBe('IncorrectCommitRevealVersion');
    const old = timelockChain({ timelockCall: undefined });
    expect(await chainErrorOf(old.commitTimelockedWeights(alice, NETUID, commit(1000n)))).toBe(
      'UnsupportedRuntime',
    );
    expect((await old.timelockRuntime()).call).toBeUndefined();
  });

  test('commit_crv3_weights runtimes take the legacy payload and state no version', async () => {
    const chain = timelockChain({ timelockCall: 'commit_crv3_weights' });
    expect(await chain.timelockRuntime()).toMatchObject({
      call: 'commit_crv3_weights',
      commitRevealVersion: undefined,
    });
    await chain.commitTimelockedWeights(alice, NETUID, {
      ciphertext: encryptWeightsPayload({ ...weights(alice), hotkey: undefined }, 1000n),
      revealRound: 1000n,
      commitRevealVersion: 0,
    });
    chain.storePulse(QUICKNET_ROUND_1000.round, QUICKNET_ROUND_1000.signature);
    chain.advance(await toNextEpoch(chain));
    expect((await chain.weightsOf(NETUID, 0)).get(2)).toBe(21845);
  });

  test('mainnet rules: commit_timelocked_weights, pool refusals as Custom error codes, reveal in the SubnetEpochIndex epoch', async () => {
    expect((await new MemoryChain().timelockRuntime()).call).toBe('commit_crv3_weights'); // spec 293
    const beacon = testBeacon();
    const chain = new MemoryChain({
      rules: 'mainnet',
      drand: beacon,
      startTimestampMs: (beacon.genesisTime + 30_000) * 1000,
    });
    chain.addSubnet(NETUID, {
      tempo: TEMPO,
      weightsRateLimit: 5,
      minAllowedWeights: 1,
      stakeThreshold: 500n,
    });
    chain.register(NETUID, alice.address, { stake: 1000n, validatorPermit: true });
    chain.register(NETUID, bob.address, { stake: 1000n, validatorPermit: true });
    chain.register(NETUID, charlie.address, { stake: 0n, validatorPermit: false });
    chain.triggerEpoch(NETUID, 4); // the counter's epochs now differ from the formula's
    chain.advance(6);
    const { call, lastStoredRound } = await chain.timelockRuntime();
    expect(call).toBe('commit_timelocked_weights');
    const commit = (signer: KeyringPair, revealRound: bigint) => ({
      ciphertext: encryptWeightsPayload(weights(signer), revealRound, beacon),
      revealRound,
      commitRevealVersion: 4,
    });
    const refusal = async (promise: Promise<unknown>): Promise<string> => {
      const error = await promise.then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(ChainError);
      return `${(error as ChainError).chainError}: ${(error as ChainError).message}`;
    };
    expect(
      await refusal(chain.commitTimelockedWeights(charlie, NETUID, commit(charlie, lastStoredRound + 40n))),
    ).toMatch(/^StakeAmountTooLow: .*Custom error: 1\b/);
    expect(
      await refusal(chain.commitTimelockedWeights(alice, NETUID, commit(alice, lastStoredRound - 1n))),
    ).toMatch(/^InvalidRevealRound: .*Custom error: 15\b/);
    const inclusion = await chain.commitTimelockedWeights(alice, NETUID, commit(alice, lastStoredRound + 1n));
    const schedule = await chain.epochSchedule(NETUID, inclusion);
    const revealFrom = epochStart(schedule, schedule.epoch + 1);
    expect(epochIndex(revealFrom, NETUID, TEMPO)).toBe(epochIndex(revealFrom - 1, NETUID, TEMPO)); // not a formula boundary
    chain.advance(revealFrom - 1 - (await chain.currentBlock()));
    expect(await chain.weightsOf(NETUID, 0)).toEqual(new Map()); // pulse on chain, reveal epoch not begun
    chain.advance(1);
    expect(chain.timelockedReveals()).toMatchObject([
      { hotkey: alice.address, block: revealFrom, failure: undefined },
    ]);
    expect((await chain.weightsOf(NETUID, 0)).get(1)).toBe(65535);
  });
});
