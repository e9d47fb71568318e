import { Keyring } from '@polkadot/keyring';
import type { KeyringPair } from '@polkadot/keyring/types';
import { cryptoWaitReady } from '@polkadot/util-crypto';
import { beforeAll, describe, expect, test } from 'vitest';
import { MemoryChain } from '../src/chain/memory-chain.js';
import type { LedgerReader } from '../src/ledger/ledger.js';
import { silentLogger } from '../src/log/logger.js';
import { FarmChainView, raoToText, type FarmChainStatus } from '../miner-agent/chain-view.js';
import type { PendingCommit } from '../validator/pending-commits.js';
import { BlockClock } from '../validator/scoring.js';
import { ValidatorStatusView, type ValidatorStatus } from '../validator/status-view.js';
import type { TickReport, WeightPoster } from '../validator/weight-poster.js';

const NETUID = 1;
let big: KeyringPair; // validator, stake 3000
let small: KeyringPair; // validator, stake 1000
let farm: KeyringPair;
let other: KeyringPair; // another farm
beforeAll(async () => {
  await cryptoWaitReady();
  const ring = new Keyring({ type: 'sr25519', ss58Format: 42 });
  [big, small, farm, other] = ['//Alice', '//Bob', '//Charlie', '//Dave'].map((uri) =>
    ring.addFromUri(uri),
  ) as [KeyringPair, KeyringPair, KeyringPair, KeyringPair];
});

describe("the farm's chain view", () => {
  test('shows the weight each validator holds on the farm, and incentive and emission as the metagraph has them', async () => {
    const chain = new MemoryChain({ startBlock: 1 });
    chain.addSubnet(NETUID, {
      tempo: 10,
      weightsRateLimit: 1,
      commitRevealEnabled: false,
      minAllowedWeights: 1,
    });
    chain.register(NETUID, big.address, { stake: 3000n * 10n ** 9n, validatorPermit: true });
    chain.register(NETUID, small.address, { stake: 1000n * 10n ** 9n, validatorPermit: true });
    const farmUid = chain.register(NETUID, farm.address, { stake: 0n, validatorPermit: false });
    const otherUid = chain.register(NETUID, other.address, { stake: 0n, validatorPermit: false });
    chain.advance(2); // past the weights rate limit since registration
    await chain.setWeights(big, NETUID, {
      uids: [farmUid, otherUid],
      values: [65535, 65535],
      versionKey: 0n,
    });
    await chain.setWeights(small, NETUID, { uids: [farmUid], values: [65535], versionKey: 0n });
    const view = new FarmChainView({
      chain,
      netuid: NETUID,
      hotkey: farm.address,
      refreshBlocks: 1,
      logger: silentLogger(),
    });
    await view.refresh();
    const status = view.snapshot() as FarmChainStatus;
    const metagraph = await chain.metagraph(NETUID);
    const own = metagraph.neurons.find((n) => n.hotkey === farm.address)!;
    expect(status.uid).toBe(farmUid);
    expect(status.incentive).toBe(own.incentive);
    expect(status.emissionRao).toBe(own.emission!.toString());
    // Half of the big validator's weight and all of the small one's: 0.75 × ½ + 0.25 × 1.
    expect(status.incentive).toBeCloseTo(0.625, 12);
    for (const validator of status.validators) {
      const held = await chain.weightsOf(NETUID, validator.uid);
      expect(validator.weightToFarm).toBe(held.get(farmUid));
    }
    expect(status.validators.map((v) => [v.hotkey, v.stake, v.weightShare])).toEqual([
      [big.address, '3000', 0.5],
      [small.address, '1000', 1],
    ]);
    expect(raoToText(1_500_000_001n)).toBe('1.500000001');
  });
});

describe("the validator's posts", () => {
  const commit: PendingCommit = {
    hotkey: 'validator' as PendingCommit['hotkey'],
    netuid: NETUID,
    uids: [3, 4],
    values: [65535, 20000],
    salt: [1, 2, 3],
    versionKey: 0n,
    hash: '0xabc',
    submittedAtBlock: 20,
    commitBlock: 20,
    commitEpoch: 2,
  };
  const view = (): ValidatorStatusView =>
    new ValidatorStatusView({
      chain: new MemoryChain(),
      netuid: NETUID,
      hotkey: 'validator',
      ledger: {} as LedgerReader,
      clock: new BlockClock(),
      poster: { pendingCommits: () => [commit] } as unknown as WeightPoster,
      intervalBlocks: undefined,
      connections: () => new Map(),
      logger: silentLogger(),
    });
  const inclusion = { block: 20, blockHash: '0x00' };
  const vector = { uids: commit.uids, values: commit.values, versionKey: 0n };
  const scores = {} as never;

  test('a commit is pending with its vector hidden, then landed with it once revealed', () => {
    const validator = view();
    validator.observe({
      block: 20,
      reveals: [],
      post: { kind: 'committed', vector, scores, inclusion, commit },
    });
    const pending = validator.snapshot() as ValidatorStatus;
    expect(pending.posts).toEqual([
      expect.objectContaining({ kind: 'commit', status: 'pending reveal', uids: null, values: null }),
    ]);
    expect(JSON.stringify(pending)).not.toContain('20000'); // the committed vector is not out before its reveal
    expect(pending.pendingCommits).toEqual([{ hash: '0xabc', commitEpoch: 2, revealEpoch: 3 }]);

    const revealed: TickReport = {
      block: 31,
      reveals: [{ kind: 'revealed', commit, inclusion: { block: 31, blockHash: '0x01' } }],
      post: { kind: 'waiting', reason: 'interval', nextBlock: 40 },
    };
    validator.observe(revealed);
    expect((validator.snapshot() as ValidatorStatus).posts).toEqual([
      expect.objectContaining({ kind: 'commit', status: 'landed', uids: [3, 4], values: [65535, 20000] }),
    ]);
  });

  test('an expired commit stays hidden; a set lands at once; a repeated failure is listed once', () => {
    const validator = view();
    validator.observe({
      block: 20,
      reveals: [],
      post: { kind: 'committed', vector, scores, inclusion, commit },
    });
    validator.observe({
      block: 45,
      reveals: [{ kind: 'expired', commit, epoch: 4 }],
      post: { kind: 'set', vector, scores, inclusion: { block: 45, blockHash: '0x02' } },
    });
    const failure = {
      kind: 'failed',
      error: 'NeuronNoValidatorPermit',
      message: 'no permit',
      retryable: false,
      advice: 'get a permit',
      nextBlock: 60,
    } as const;
    validator.observe({ block: 50, reveals: [], post: failure });
    validator.observe({ block: 55, reveals: [], post: failure });
    const { posts } = validator.snapshot() as ValidatorStatus;
    expect(posts.map((p) => [p.block, p.kind, p.status, p.uids])).toEqual([
      [50, 'failed', 'failed', null],
      [45, 'set', 'landed', [3, 4]],
      [20, 'commit', 'expired', null],
    ]);
  });
});
