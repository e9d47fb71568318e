import { Keyring } from '@polkadot/keyring';
import type { KeyringPair } from '@polkadot/keyring/types';
import { cryptoWaitReady } from '@polkadot/util-crypto';
import { beforeAll, describe, expect, test } from 'vitest';
import { ChainError, type NetUid, type RevealVector, type WeightsVector } from '../src/chain/chain.js';
import { commitHash, randomSalt } from '../src/chain/commit-hash.js';
import type { Hotkey } from '../src/chain/hotkey.js';
import { epochIndex, MemoryChain, type SubnetConfig } from '../src/chain/memory-chain.js';

let alice: KeyringPair; // validator
let bob: KeyringPair; // validator
let charlie: KeyringPair; // miner
let dave: KeyringPair; // miner
let eve: KeyringPair; // never registered
let ferdie: KeyringPair; // subnet owner
beforeAll(async () => {
  await cryptoWaitReady();
  const ring = new Keyring({ type: 'sr25519', ss58Format: 42 });
  [alice, bob, charlie, dave, eve, ferdie] = [
    '//Alice',
    '//Bob',
    '//Charlie',
    '//Dave',
    '//Eve',
    '//Ferdie',
  ].map((uri) => ring.addFromUri(uri)) as [
    KeyringPair,
    KeyringPair,
    KeyringPair,
    KeyringPair,
    KeyringPair,
    KeyringPair,
  ];
});

const NETUID = 1;

/**
 * Subnet 1 with commit-reveal off, rate limit 10: alice uid 0 (permit, stake 1000), charlie 1
 * and dave 2 (miners), bob uid 3 (stake 1000, no permit), all registered at block 1.
 */
function setWeightsChain(config: Partial<SubnetConfig> = {}): MemoryChain {
  const chain = new MemoryChain();
  chain.addSubnet(NETUID, {
    tempo: 10,
    weightsRateLimit: 10,
    commitRevealEnabled: false,
    minAllowedWeights: 1,
    stakeThreshold: 500n,
    ...config,
  });
  chain.register(NETUID, alice.address, { stake: 1000n, validatorPermit: true });
  chain.register(NETUID, charlie.address, { stake: 0n, validatorPermit: false });
  chain.register(NETUID, dave.address, { stake: 0n, validatorPermit: false });
  chain.register(NETUID, bob.address, { stake: 1000n, validatorPermit: false });
  return chain;
}

const vector = (uids: number[], values: number[], versionKey = 0n): WeightsVector => ({
  uids,
  values,
  versionKey,
});

async function expectChainError(call: Promise<unknown>, name: string): Promise<ChainError> {
  const error: unknown = await call.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error, `expected ${name}`).toBeInstanceOf(ChainError);
  expect((error as ChainError).chainError).toBe(name);
  return error as ChainError;
}

function reveal(chain: MemoryChain, pair: KeyringPair, netuid: NetUid, v: RevealVector): Promise<unknown> {
  return chain.revealWeights(pair, netuid, v);
}

function hashOf(pair: KeyringPair, netuid: NetUid, v: RevealVector): Uint8Array {
  return commitHash(pair.address as Hotkey, netuid, v.uids, v.values, v.salt, v.versionKey);
}

describe('set_weights', () => {
  test('a valid vector is stored max-upscaled and sets LastUpdate at the including block', async () => {
    const chain = setWeightsChain();
    chain.advance(10); // block 11: 11 − 1 ≥ 10
    const inclusion = await chain.setWeights(alice, NETUID, vector([1, 2], [100, 50]));
    expect(inclusion).toEqual({ block: 11, blockHash: chain.blockHash(11) });
    expect(await chain.weightsOf(NETUID, 1)).toEqual(new Map()); // charlie set none
    expect(await chain.weightsOf(NETUID, 0)).toEqual(
      new Map([
        [1, 65535],
        [2, 32768],
      ]),
    );
    const metagraph = await chain.metagraph(NETUID);
    expect(metagraph.blockHash).toBe(inclusion.blockHash);
    expect(metagraph.neurons.find((n) => n.uid === 0)?.lastUpdate).toBe(11);
  });

  test('rate limit: registration counts as an update, the boundary block passes, each post restarts it', async () => {
    const chain = setWeightsChain();
    chain.advance(9); // block 10: 10 − 1 = 9 < 10
    const tooFast = await expectChainError(
      chain.setWeights(alice, NETUID, vector([1], [1])),
      'SettingWeightsTooFast',
    );
    expect(tooFast.retryable).toBe(true);
    chain.advance(1);
    await chain.setWeights(alice, NETUID, vector([1], [1]));
    chain.advance(9);
    await expectChainError(chain.setWeights(alice, NETUID, vector([2], [1])), 'SettingWeightsTooFast');
    chain.advance(1);
    await chain.setWeights(alice, NETUID, vector([2], [1]));
    expect(await chain.weightsOf(NETUID, 0)).toEqual(new Map([[2, 65535]]));
  });

  test('every check reports its named error', async () => {
    const chain = setWeightsChain({ weightsVersion: 5n, minAllowedWeights: 3, maxWeightsLimit: 32767 });
    chain.addSubnet(0, { commitRevealEnabled: false });
    chain.addSubnet(2); // runtime defaults: commit-reveal on
    chain.advance(10);
    const ok = vector([1, 2, 3], [1, 1, 1], 5n);
    const cases: [Promise<unknown>, string][] = [
      [chain.setWeights(alice, 2, ok), 'CommitRevealEnabled'],
      [chain.setWeights(alice, 0, ok), 'CanNotSetRootNetworkWeights'],
      [chain.setWeights(alice, NETUID, vector([1, 2], [1], 5n)), 'WeightVecNotEqualSize'],
      [chain.commitWeights(alice, 9, new Uint8Array(32)), 'MechanismDoesNotExist'],
      [
        chain.setWeights(alice, NETUID, vector([1, 1, 1, 1, 1], [1, 1, 1, 1, 1], 5n)),
        'UidsLengthExceedUidsInSubNet',
      ],
      [chain.setWeights(eve, NETUID, ok), 'HotKeyNotRegisteredInSubNet'],
      [chain.setWeights(charlie, NETUID, ok), 'NotEnoughStakeToSetWeights'],
      [chain.setWeights(alice, NETUID, vector([1, 2, 3], [1, 1, 1], 4n)), 'IncorrectWeightVersionKey'],
      [chain.setWeights(bob, NETUID, ok), 'NeuronNoValidatorPermit'],
      [chain.setWeights(alice, NETUID, vector([1, 1, 2], [1, 1, 1], 5n)), 'DuplicateUids'],
      [chain.setWeights(alice, NETUID, vector([1, 2, 7], [1, 1, 1], 5n)), 'UidVecContainInvalidOne'],
      [chain.setWeights(alice, NETUID, vector([1, 2], [1, 1], 5n)), 'WeightVecLengthIsLow'],
      [chain.setWeights(alice, NETUID, vector([1, 2, 3], [65535, 65535, 0], 5n)), 'MaxWeightExceeded'],
    ];
    for (const [call, name] of cases) await expectChainError(call, name);
    // Nothing above changed state: the valid vector still goes through, then the rate limit bites.
    await chain.setWeights(alice, NETUID, ok);
    await expectChainError(chain.setWeights(alice, NETUID, ok), 'SettingWeightsTooFast');
  });

  test('errors come in the runtime order when a call breaks several rules', async () => {
    const chain = setWeightsChain({ weightsVersion: 5n, minAllowedWeights: 3 });
    chain.addSubnet(0, { commitRevealEnabled: false });
    // Not advanced: everyone is inside the rate limit.
    const order: [Promise<unknown>, string][] = [
      // Unknown subnet: the flag's storage default (true) answers first.
      [chain.setWeights(eve, 42, vector([1, 2], [1])), 'CommitRevealEnabled'],
      [chain.setWeights(eve, 0, vector([1, 2], [1])), 'CanNotSetRootNetworkWeights'],
      [chain.setWeights(eve, NETUID, vector([1, 2], [1])), 'WeightVecNotEqualSize'],
      [
        chain.setWeights(eve, NETUID, vector([1, 1, 1, 1, 1], [1, 1, 1, 1, 1])),
        'UidsLengthExceedUidsInSubNet',
      ],
      [chain.setWeights(eve, NETUID, vector([1], [1])), 'HotKeyNotRegisteredInSubNet'],
      // charlie: low stake, old version key, too fast, no permit.
      [chain.setWeights(charlie, NETUID, vector([2], [1], 1n)), 'NotEnoughStakeToSetWeights'],
      // bob: old version key, too fast, no permit.
      [chain.setWeights(bob, NETUID, vector([2], [1], 1n)), 'IncorrectWeightVersionKey'],
      // bob: too fast and no permit → the rate limit comes first.
      [chain.setWeights(bob, NETUID, vector([2], [1], 5n)), 'SettingWeightsTooFast'],
    ];
    for (const [call, name] of order) await expectChainError(call, name);
    chain.advance(10);
    // bob: no permit, duplicate and invalid uids, too short.
    await expectChainError(
      chain.setWeights(bob, NETUID, vector([2, 2, 9], [1, 1, 1], 5n)),
      'NeuronNoValidatorPermit',
    );
    // alice: duplicate and invalid uids, too short.
    await expectChainError(chain.setWeights(alice, NETUID, vector([9, 9], [1, 1], 5n)), 'DuplicateUids');
    // alice: invalid uid and too short.
    await expectChainError(
      chain.setWeights(alice, NETUID, vector([9, 1], [1, 1], 5n)),
      'UidVecContainInvalidOne',
    );
  });

  test('self-weights, the owner and the version key follow the runtime exemptions', async () => {
    const chain = setWeightsChain({
      minAllowedWeights: 3,
      maxWeightsLimit: 20000,
      ownerHotkey: ferdie.address as Hotkey,
    });
    const ownerUid = chain.register(NETUID, ferdie.address, { stake: 0n, validatorPermit: false });
    chain.advance(10);
    // bob has no permit, but a single weight on itself is allowed (and escapes the length and max-share checks).
    await chain.setWeights(bob, NETUID, vector([3], [7]));
    expect(await chain.weightsOf(NETUID, 3)).toEqual(new Map([[3, 65535]]));
    // The owner needs neither stake nor a permit.
    await chain.setWeights(ferdie, NETUID, vector([1, 2, 3, 0], [1, 1, 1, 1]));
    expect((await chain.weightsOf(NETUID, ownerUid)).size).toBe(4);
    // WeightsVersionKey 0 accepts any version key.
    await chain.setWeights(alice, NETUID, vector([1, 2, 3, 4], [1, 1, 1, 1], 123n));
  });

  test('MinAllowedWeights counts against min(n, MinAllowedWeights)', async () => {
    const chain = setWeightsChain({ minAllowedWeights: 1024 });
    chain.advance(10);
    await expectChainError(
      chain.setWeights(alice, NETUID, vector([1, 2, 3], [1, 1, 1])),
      'WeightVecLengthIsLow',
    );
    await chain.setWeights(alice, NETUID, vector([0, 1, 2, 3], [1, 1, 1, 1]));
  });

  test('a deregistered uid is invalid until its slot is taken again', async () => {
    const chain = setWeightsChain();
    chain.advance(10);
    chain.deregister(NETUID, dave.address);
    await expectChainError(
      chain.setWeights(alice, NETUID, vector([1, 2], [1, 1])),
      'UidVecContainInvalidOne',
    );
    expect(chain.register(NETUID, eve.address, { stake: 0n, validatorPermit: false })).toBe(2);
    await chain.setWeights(alice, NETUID, vector([1, 2], [1, 1]));
  });
});

describe('commit-reveal', () => {
  // Subnet 1, tempo 10: epoch(block) = (block + 2) / 11, so epoch 1 is blocks 9–19.
  function commitRevealChain(config: Partial<SubnetConfig> = {}): MemoryChain {
    const chain = new MemoryChain();
    chain.addSubnet(NETUID, { tempo: 10, weightsRateLimit: 3, minAllowedWeights: 1, ...config });
    chain.register(NETUID, alice.address, { stake: 1000n, validatorPermit: true });
    chain.register(NETUID, charlie.address, { stake: 0n, validatorPermit: false });
    chain.register(NETUID, dave.address, { stake: 0n, validatorPermit: false });
    return chain;
  }

  test('the epoch formula matches subtensor get_epoch_index', () => {
    expect([0, 8, 9, 19, 20].map((block) => epochIndex(block, 1, 10))).toEqual([0, 0, 1, 1, 2]);
    expect(epochIndex(0, 0, 0)).toBe(1);
    expect(epochIndex(359, 0, 360)).toBe(0);
    expect(epochIndex(360, 0, 360)).toBe(1);
  });

  test('commit, reveal too early, advance, reveal: the weights land', async () => {
    const chain = commitRevealChain();
    chain.advance(4); // block 5, epoch 0
    const v: RevealVector = { uids: [1, 2], values: [65535, 21845], salt: randomSalt(), versionKey: 0n };
    const committed = await chain.commitWeights(alice, NETUID, hashOf(alice, NETUID, v));
    expect(committed.block).toBe(5);
    // Commit counts as the weights update for the rate limit.
    expect((await chain.metagraph(NETUID)).neurons[0]?.lastUpdate).toBe(5);
    chain.advance(3); // block 8, still epoch 0
    const early = await expectChainError(reveal(chain, alice, NETUID, v), 'RevealTooEarly');
    expect(early.retryable).toBe(true);
    chain.advance(1); // block 9, epoch 1
    await reveal(chain, alice, NETUID, v);
    expect(await chain.weightsOf(NETUID, 0)).toEqual(
      new Map([
        [1, 65535],
        [2, 21845],
      ]),
    );
    // The reveal does not move LastUpdate; the commit is used up.
    expect((await chain.metagraph(NETUID)).neurons[0]?.lastUpdate).toBe(5);
    await expectChainError(reveal(chain, alice, NETUID, v), 'NoWeightsCommitFound');
  });

  test('a reveal after its epoch is expired', async () => {
    const chain = commitRevealChain();
    chain.advance(4);
    const v: RevealVector = { uids: [1], values: [1], salt: [1, 2, 3], versionKey: 0n };
    await chain.commitWeights(alice, NETUID, hashOf(alice, NETUID, v));
    chain.advance(15); // block 20, epoch 2
    await expectChainError(reveal(chain, alice, NETUID, v), 'ExpiredWeightCommit');
  });

  test('a reveal must hash to a pending commit of the same hotkey', async () => {
    const chain = commitRevealChain();
    chain.advance(4);
    const v: RevealVector = { uids: [1, 2], values: [10, 20], salt: [7, 7], versionKey: 0n };
    await chain.commitWeights(alice, NETUID, hashOf(alice, NETUID, v));
    chain.advance(4);
    await expectChainError(
      reveal(chain, alice, NETUID, { ...v, salt: [7, 8] }),
      'InvalidRevealCommitHashNotMatch',
    );
    await expectChainError(
      reveal(chain, alice, NETUID, { ...v, values: [10, 21] }),
      'InvalidRevealCommitHashNotMatch',
    );
    await expectChainError(
      reveal(chain, alice, NETUID, { ...v, versionKey: 1n }),
      'InvalidRevealCommitHashNotMatch',
    );
    await expectChainError(reveal(chain, charlie, NETUID, v), 'NoWeightsCommitFound');
    await reveal(chain, alice, NETUID, v);
  });

  test('a reveal that fails the set_weights checks leaves its commit pending; revealing drops older commits', async () => {
    const chain = commitRevealChain({ weightsRateLimit: 0 });
    chain.advance(4);
    const invalid: RevealVector = { uids: [1, 9], values: [1, 1], salt: [1], versionKey: 0n };
    const valid: RevealVector = { uids: [1, 2], values: [1, 1], salt: [2], versionKey: 0n };
    await chain.commitWeights(alice, NETUID, hashOf(alice, NETUID, invalid));
    await chain.commitWeights(alice, NETUID, hashOf(alice, NETUID, valid));
    chain.advance(4);
    await expectChainError(reveal(chain, alice, NETUID, invalid), 'UidVecContainInvalidOne');
    await expectChainError(reveal(chain, alice, NETUID, invalid), 'UidVecContainInvalidOne'); // still pending
    await reveal(chain, alice, NETUID, valid);
    await expectChainError(reveal(chain, alice, NETUID, invalid), 'NoWeightsCommitFound');
  });

  test('commit limits: rate limit, ten unrevealed, disabled subnets', async () => {
    const chain = commitRevealChain();
    const hash = new Uint8Array(32);
    // Registered at block 1, rate limit 3.
    chain.advance(1);
    await expectChainError(chain.commitWeights(alice, NETUID, hash), 'CommittingWeightsTooFast');
    await expectChainError(chain.commitWeights(eve, NETUID, hash), 'HotKeyNotRegisteredInSubNet');
    await expectChainError(chain.setWeights(alice, NETUID, vector([1], [1])), 'CommitRevealEnabled');

    chain.setSubnetConfig(NETUID, { weightsRateLimit: 0 });
    for (let i = 0; i < 10; i++)
      await chain.commitWeights(alice, NETUID, Uint8Array.of(i, ...new Uint8Array(31)));
    await expectChainError(chain.commitWeights(alice, NETUID, hash), 'TooManyUnrevealedCommits');
    // Once they expire (epoch 2 from a commit in epoch 0), there is room again.
    chain.advance(20);
    await chain.commitWeights(alice, NETUID, hash);

    chain.setSubnetConfig(NETUID, { commitRevealEnabled: false });
    await expectChainError(chain.commitWeights(alice, NETUID, hash), 'CommitRevealDisabled');
    const v: RevealVector = { uids: [1], values: [1], salt: [], versionKey: 0n };
    await expectChainError(reveal(chain, alice, NETUID, v), 'CommitRevealDisabled');
    await chain.setWeights(alice, NETUID, vector([1], [1]));
  });
});

describe('mainnet rules (spec 424/425)', () => {
  // Subnet 1 added at block 1, tempo 10: LastEpochBlock 0 (staggered by netuid 1 % 10), so
  // SubnetEpochIndex goes 0 → 1 at block 10, → 2 at block 20, …
  function mainnetChain(config: Partial<SubnetConfig> = {}): MemoryChain {
    const chain = new MemoryChain({ rules: 'mainnet' });
    chain.addSubnet(NETUID, {
      tempo: 10,
      weightsRateLimit: 3,
      minAllowedWeights: 1,
      stakeThreshold: 500n,
      ...config,
    });
    chain.register(NETUID, alice.address, { stake: 1000n, validatorPermit: true });
    chain.register(NETUID, charlie.address, { stake: 0n, validatorPermit: false });
    chain.register(NETUID, dave.address, { stake: 0n, validatorPermit: false });
    return chain;
  }

  async function poolError(call: Promise<unknown>, name: string, code: number): Promise<ChainError> {
    const error = await expectChainError(call, name);
    expect(error.message).toContain(
      `rejected by the transaction pool: 1010: Invalid Transaction: Custom error: ${code}`,
    );
    return error;
  }

  test('epochs fire every tempo blocks from LastEpochBlock, or earlier at PendingEpochAt', async () => {
    const chain = mainnetChain();
    expect(await chain.epochSchedule(NETUID)).toEqual({
      source: 'SubnetEpochIndex',
      block: 1,
      epoch: 0,
      nextEpochStart: 10,
      epochLength: 10,
    });
    chain.advance(8);
    expect((await chain.epochSchedule(NETUID)).epoch).toBe(0);
    chain.advance(1);
    expect(await chain.epochSchedule(NETUID)).toMatchObject({ block: 10, epoch: 1, nextEpochStart: 20 });
    chain.triggerEpoch(NETUID, 14);
    expect((await chain.epochSchedule(NETUID)).nextEpochStart).toBe(14);
    chain.advance(4);
    expect(await chain.epochSchedule(NETUID)).toMatchObject({ block: 14, epoch: 2, nextEpochStart: 24 });
    chain.deferEpoch(NETUID, 24);
    chain.advance(10);
    expect(await chain.epochSchedule(NETUID)).toMatchObject({ block: 24, epoch: 2, nextEpochStart: 25 });
    chain.advance(1);
    expect((await chain.epochSchedule(NETUID)).epoch).toBe(3);
    // A past block's schedule: its epoch then, and when the next one really fired.
    expect(await chain.epochSchedule(NETUID, { block: 12, blockHash: chain.blockHash(12) })).toMatchObject({
      epoch: 1,
      nextEpochStart: 14,
    });
    // The old formula counts tempo + 1 blocks per epoch: it has parted from the counter already.
    expect(epochIndex(25, NETUID, 10)).toBe(2);
  });

  test('weight calls are refused at the pool as Custom error N, named and marked retryable or not', async () => {
    const chain = mainnetChain();
    chain.advance(4); // past the rate limit from registration
    const hash = (who: KeyringPair, v: RevealVector): Uint8Array =>
      commitHash(who.address as Hotkey, NETUID, v.uids, v.values, v.salt, v.versionKey);
    const v: RevealVector = { ...vector([1, 2], [65535, 30000]), salt: randomSalt(8) };

    // 1: stake below StakeThreshold; an unregistered hotkey has none either.
    const low = await poolError(
      chain.commitWeights(charlie, NETUID, hash(charlie, v)),
      'StakeAmountTooLow',
      1,
    );
    expect(low.retryable).toBe(false);
    await poolError(chain.commitWeights(eve, NETUID, hash(eve, v)), 'StakeAmountTooLow', 1);
    // With no threshold, registration is left to dispatch, by its dispatch name.
    chain.setSubnetConfig(NETUID, { stakeThreshold: 0n });
    await expectChainError(chain.commitWeights(eve, NETUID, hash(eve, v)), 'HotKeyNotRegisteredInSubNet');
    chain.setSubnetConfig(NETUID, { stakeThreshold: 500n });

    // 16: nothing committed to reveal.
    expect((await poolError(reveal(chain, alice, NETUID, v), 'CommitNotFound', 16)).retryable).toBe(false);

    await chain.commitWeights(alice, NETUID, hash(alice, v)); // block 5, epoch 0
    // 6: rate limit.
    const v2: RevealVector = { ...v, salt: randomSalt(8) };
    expect(
      (await poolError(chain.commitWeights(alice, NETUID, hash(alice, v2)), 'RateLimitExceeded', 6))
        .retryable,
    ).toBe(true);
    // 17: too early — and the very same reveal passes once the epoch fires.
    chain.advance(4); // block 9
    const early = await poolError(reveal(chain, alice, NETUID, v), 'CommitBlockNotInRevealRange', 17);
    expect(early.retryable).toBe(true);
    expect(await chain.weightsOf(NETUID, 0)).toEqual(new Map());
    chain.advance(1); // block 10: epoch 1
    await reveal(chain, alice, NETUID, v);
    expect(await chain.weightsOf(NETUID, 0)).toEqual(
      new Map([
        [1, 65535],
        [2, 30000],
      ]),
    );

    // 17 also when too late: the pool looks at the whole queue, expired commits included.
    const v3: RevealVector = { ...v, salt: randomSalt(8) };
    await chain.commitWeights(alice, NETUID, hash(alice, v3)); // block 10, epoch 1
    chain.advance(20); // block 30: epoch 3
    await poolError(reveal(chain, alice, NETUID, v3), 'CommitBlockNotInRevealRange', 17);
  });

  test('under legacy rules the same early reveal fails at dispatch as RevealTooEarly', async () => {
    const chain = new MemoryChain();
    chain.addSubnet(NETUID, { tempo: 10, weightsRateLimit: 3, minAllowedWeights: 1 });
    chain.register(NETUID, alice.address, { stake: 1000n, validatorPermit: true });
    chain.register(NETUID, charlie.address, { stake: 0n, validatorPermit: false });
    chain.advance(4);
    const v: RevealVector = { ...vector([1], [65535]), salt: randomSalt(8) };
    await chain.commitWeights(
      alice,
      NETUID,
      commitHash(alice.address as Hotkey, NETUID, v.uids, v.values, v.salt, 0n),
    );
    const error = await expectChainError(reveal(chain, alice, NETUID, v), 'RevealTooEarly');
    expect(error.message).not.toContain('Custom error');
    expect(await chain.epochSchedule(NETUID)).toMatchObject({
      source: 'formula',
      epoch: 0,
      nextEpochStart: 9,
      epochLength: 11,
    });
  });
});

describe('commitments', () => {
  test('round trip, size bound, registration and the per-epoch space limit', async () => {
    const chain = setWeightsChain();
    const url = 'stratum+tcp://validator.example:3333';
    const inclusion = await chain.publishCommitment(alice, NETUID, url);
    expect(await chain.commitments(NETUID)).toEqual(
      new Map([[alice.address, { hotkey: alice.address, text: url, block: inclusion.block }]]),
    );
    await chain.publishCommitment(alice, NETUID, 'é'.repeat(64)); // exactly 128 bytes
    expect((await chain.commitments(NETUID)).get(alice.address as Hotkey)?.text).toBe('é'.repeat(64));
    await expectChainError(chain.publishCommitment(alice, NETUID, '€'.repeat(43)), 'CommitmentTooLarge');
    await expectChainError(chain.publishCommitment(eve, NETUID, url), 'AccountNotAllowedCommit');
    await expectChainError(chain.publishCommitment(alice, 9, url), 'AccountNotAllowedCommit');
    // 3100 bytes per epoch, each call counting at least 100: 100 + 128 used, 28 more fit.
    for (let i = 0; i < 28; i++) await chain.publishCommitment(alice, NETUID, `v${i}`);
    await expectChainError(chain.publishCommitment(alice, NETUID, url), 'SpaceLimitExceeded');
    chain.advance(11); // next epoch
    await chain.publishCommitment(alice, NETUID, url);
    expect((await chain.commitments(NETUID)).get(alice.address as Hotkey)?.text).toBe(url);
  });
});

describe('blocks and lifecycle', () => {
  test('subscribeBlocks delivers the current block, then each new one, until unsubscribed', async () => {
    const chain = new MemoryChain({ startBlock: 100 });
    const seen: number[] = [];
    let first!: () => void;
    const delivered = new Promise<void>((resolve) => (first = resolve));
    const unsubscribe = await chain.subscribeBlocks((block) => {
      seen.push(block);
      first();
    });
    await delivered;
    chain.advance(3);
    unsubscribe();
    chain.advance();
    expect(seen).toEqual([100, 101, 102, 103]);
    expect(await chain.currentBlock()).toBe(104);
  });

  test('automatic blocks arrive through the subscription', async () => {
    const chain = new MemoryChain();
    const blocks: number[] = [];
    const twoNewBlocks = new Promise<void>((resolve) => {
      void chain.subscribeBlocks((block) => {
        blocks.push(block);
        if (blocks.length === 3) resolve();
      });
    });
    chain.startAutoBlocks(5);
    await twoNewBlocks;
    await chain.close();
    expect(blocks).toEqual([1, 2, 3]);
  });

  test('signers in another SS58 format are the same hotkey', async () => {
    const chain = setWeightsChain();
    chain.advance(10);
    const polkadotFormat = new Keyring({ type: 'sr25519', ss58Format: 0 }).addFromUri('//Alice');
    expect(polkadotFormat.address).not.toBe(alice.address);
    await chain.setWeights(polkadotFormat, NETUID, vector([1], [1]));
    expect(await chain.weightsOf(NETUID, 0)).toEqual(new Map([[1, 65535]]));
  });

  test('the metagraph reports the subnet at the current block', async () => {
    const chain = setWeightsChain({
      ownerHotkey: ferdie.address as Hotkey,
      weightsVersion: 3n,
      maxWeightsLimit: 40000,
    });
    chain.setStake(NETUID, charlie.address, 42n);
    chain.setPermit(NETUID, charlie.address, true);
    chain.advance(5);
    const metagraph = await chain.metagraph(NETUID);
    expect(metagraph).toMatchObject({
      netuid: NETUID,
      block: 6,
      blockHash: chain.blockHash(6),
      ownerHotkey: ferdie.address,
      tempo: 10,
      weightsRateLimit: 10,
      weightsVersion: 3n,
      commitRevealEnabled: false,
      commitRevealPeriod: 1,
      maxWeightsLimit: 40000,
      minAllowedWeights: 1,
      stakeThreshold: 500n,
    });
    expect(
      metagraph.neurons.map((n) => [n.uid, n.hotkey, n.totalStake, n.validatorPermit, n.lastUpdate]),
    ).toEqual([
      [0, alice.address, 1000n, true, 1],
      [1, charlie.address, 42n, true, 1],
      [2, dave.address, 0n, false, 1],
      [3, bob.address, 1000n, false, 1],
    ]);
    expect(chain.blockHash(6)).not.toBe(chain.blockHash(7));
    await expectChainError(chain.metagraph(9), 'SubnetNotExists');
    await expectChainError(chain.weightsOf(9, 0), 'SubnetNotExists');
  });

  test('a closed chain refuses calls', async () => {
    const chain = setWeightsChain();
    await chain.close();
    await expectChainError(chain.currentBlock(), 'Disconnected');
    await expectChainError(chain.setWeights(alice, NETUID, vector([1], [1])), 'Disconnected');
    expect(() => chain.advance()).toThrow(ChainError);
  });

  test('malformed vectors are refused before they reach the chain', async () => {
    const chain = setWeightsChain();
    await expect(chain.setWeights(alice, NETUID, vector([70000], [1]))).rejects.toThrow(
      /uids\[0\] = 70000 is not a u16/,
    );
    await expect(chain.setWeights(alice, NETUID, vector([1], [1.5]))).rejects.toThrow(/values\[0\] = 1.5/);
    await expect(chain.setWeights(alice, NETUID, vector([1], [1], -1n))).rejects.toThrow(/not a u64/);
    await expect(chain.commitWeights(alice, NETUID, new Uint8Array(31))).rejects.toThrow(/32 bytes/);
    expect(() => chain.register(NETUID, alice.address, { stake: 0n, validatorPermit: false })).toThrow(
      /already registered/,
    );
    expect(() => chain.register(NETUID, 'nonsense', { stake: 0n, validatorPermit: false })).toThrow(
      /not an SS58 address/,
    );
  });
});

describe('a full happy path', () => {
  test('two validators publish endpoints, commit, reveal and the weights are on chain', async () => {
    const chain = new MemoryChain();
    chain.addSubnet(NETUID, {
      tempo: 10,
      weightsRateLimit: 5,
      weightsVersion: 2n,
      minAllowedWeights: 2,
      maxWeightsLimit: 45000,
      ownerHotkey: ferdie.address as Hotkey,
      stakeThreshold: 100n,
    });
    const validators = [alice, bob];
    for (const validator of validators)
      chain.register(NETUID, validator.address, { stake: 1000n, validatorPermit: true });
    const miners = [charlie, dave].map((miner) =>
      chain.register(NETUID, miner.address, { stake: 0n, validatorPermit: false }),
    );
    chain.register(NETUID, ferdie.address, { stake: 0n, validatorPermit: false });

    for (const [i, validator] of validators.entries()) {
      await chain.publishCommitment(validator, NETUID, `stratum+tcp://validator-${i}.example:3333`);
    }
    const endpoints = await chain.commitments(NETUID);
    expect([...endpoints.keys()].sort()).toEqual([alice.address, bob.address].sort());

    chain.advance(5); // block 6: past the rate limit, epoch 0
    const metagraph = await chain.metagraph(NETUID);
    const reveals = new Map<KeyringPair, RevealVector>();
    for (const validator of validators) {
      const v: RevealVector = {
        uids: miners,
        values: [65535, 40000],
        salt: randomSalt(),
        versionKey: metagraph.weightsVersion,
      };
      reveals.set(validator, v);
      await chain.commitWeights(validator, NETUID, hashOf(validator, NETUID, v));
    }
    // Wait for epoch 1 by blocks, as a validator following subscribeBlocks would.
    while (epochIndex(await chain.currentBlock(), NETUID, metagraph.tempo) < 1) chain.advance();
    for (const [validator, v] of reveals) await reveal(chain, validator, NETUID, v);
    for (const uid of [0, 1]) {
      expect(await chain.weightsOf(NETUID, uid)).toEqual(
        new Map([
          [miners[0]!, 65535],
          [miners[1]!, 40000],
        ]),
      );
    }
  });
});
