import type { KeyringPair } from '@polkadot/keyring/types';
import { u8aToHex } from '@polkadot/util';
import { blake2AsHex, decodeAddress, encodeAddress } from '@polkadot/util-crypto';
import {
  chainError,
  type Chain,
  type Commitment,
  type Inclusion,
  type Metagraph,
  type NetUid,
  type Neuron,
  type RevealVector,
  type TimelockRuntime,
  type TimelockedCommit,
  type TimelockedCommitCall,
  type Uid,
  type WeightsVector,
} from './chain.js';
import { poolChainError } from './chain-errors.js';
import { commitHash } from './commit-hash.js';
import { counterSchedule, epochIndex, formulaSchedule, type EpochSchedule } from './epoch.js';
import { roundAt, timelockDecrypt, TimelockError, type DrandBeacon } from './timelock.js';
import {
  decodeLegacyWeightsPayload,
  decodeWeightsPayload,
  MAX_TIMELOCKED_COMMIT_BYTES,
} from './timelocked-weights.js';
import type { Hotkey } from './hotkey.js';
import { isMaxWeightLimited, maxUpscaleU16 } from './weight-limits.js';

/**
 * An in-memory subtensor with the runtime's rules for weights, commit-reveal and commitments
 * (pallets/subtensor/src/subnets/weights.rs and pallets/commitments at runtime spec 425), for
 * tests and for running without a chain. Blocks advance only when told (`advance`) or on a
 * timer (`startAutoBlocks`). A call executes against the current block and its `Inclusion`
 * names that block, where a real chain would include it in the next one: rate limits here are
 * one block stricter, never more lenient. A failing call changes nothing, as a dispatch error
 * rolls back on chain.
 *
 * Two rule sets (`rules`): `legacy` is the spec-293 runtime (epochs by the old formula, weight
 * calls fail at dispatch with the pallet's error names); `mainnet` is spec 424/425 (epochs by
 * the `SubnetEpochIndex` counter, fired every `tempo` blocks from `LastEpochBlock` or at an
 * owner-set `PendingEpochAt`, and weight calls pre-checked at the transaction pool, refused as
 * `Custom error: N` before dispatch, as `SubtensorTransactionExtension` does). Timelocked
 * commits follow the rules too: `legacy` offers `commit_crv3_weights` (legacy payload), `mainnet`
 * `commit_timelocked_weights`, refused in the pool for stake (1), rate (6) or a stale round (15);
 * either reveals a commit from the first block of its reveal epoch by that rule set's epochs.
 */

/** Which runtime the memory chain behaves like. */
export type MemoryChainRules = 'legacy' | 'mainnet';

/** A subnet's hyperparameters; `addSubnet` fills what is left out with the runtime's defaults. */
export interface SubnetConfig {
  tempo: number;
  weightsRateLimit: number;
  weightsVersion: bigint;
  commitRevealEnabled: boolean;
  commitRevealPeriod: number;
  maxWeightsLimit: number;
  minAllowedWeights: number;
  ownerHotkey: Hotkey | undefined;
  /** `StakeThreshold`: the stake a hotkey needs to set weights (the subnet owner is exempt). */
  stakeThreshold: bigint;
  /** Alpha (rao) the subnet emits per block; miners' incentive shares 41 % of it. */
  emissionPerBlock: bigint;
}

/** Defaults of a newly registered subnet on the runtime (commit-reveal on, no weight cap). */
export const DEFAULT_SUBNET_CONFIG: Readonly<SubnetConfig> = {
  tempo: 360,
  weightsRateLimit: 100,
  weightsVersion: 0n,
  commitRevealEnabled: true,
  commitRevealPeriod: 1,
  maxWeightsLimit: 65535,
  minAllowedWeights: 1024,
  ownerHotkey: undefined,
  stakeThreshold: 0n,
  emissionPerBlock: 1_000_000_000n,
};

export interface RegisterOptions {
  /** Defaults to the hotkey itself: the memory chain has no coldkey accounts. */
  readonly coldkey?: string;
  readonly stake: bigint;
  readonly validatorPermit: boolean;
}

/** `WeightCommits` holds at most this many unrevealed commits per hotkey. */
export { epochIndex };

export const MAX_UNREVEALED_COMMITS = 10;
/** A `Data::Raw` commitment field holds at most 128 bytes. */
export const MAX_COMMITMENT_BYTES = 128;
/** pallet_commitments `MaxSpace` default: bytes a hotkey may commit per subnet per epoch. */
export const COMMITMENT_SPACE_PER_EPOCH = 3100;
/** Every `set_commitment` counts at least this many bytes against the space limit. */
const COMMITMENT_MIN_SPACE = 100;

const ROOT_NETUID = 0;
const U16_MAX = 65535;

interface NeuronState {
  readonly uid: Uid;
  readonly hotkey: Hotkey;
  readonly coldkey: string;
  stake: bigint;
  validatorPermit: boolean;
  lastUpdate: number;
  weights: Map<Uid, number>;
}

interface PendingCommit {
  readonly hash: string;
  readonly epoch: number;
  readonly block: number;
}

/**
 * Incentive as Yuma's rank without consensus clipping or bonds (a simplification, for the status
 * page): each permitted validator's weights, normalised, weighed by its share of their stake.
 */
function incentiveOf(slots: readonly (NeuronState | undefined)[]): Map<Uid, number> {
  const validators = slots.filter((slot): slot is NeuronState => slot?.validatorPermit === true);
  const stake = validators.reduce((total, v) => total + Number(v.stake), 0);
  const rank = new Map<Uid, number>();
  for (const validator of validators) {
    const total = [...validator.weights.values()].reduce((a, b) => a + b, 0);
    if (total === 0 || stake === 0) continue;
    for (const [uid, weight] of validator.weights)
      rank.set(uid, (rank.get(uid) ?? 0) + (Number(validator.stake) / stake) * (weight / total));
  }
  const sum = [...rank.values()].reduce((a, b) => a + b, 0);
  if (sum > 0) for (const [uid, value] of rank) rank.set(uid, value / sum);
  return rank;
}

/** A beacon the test can sign rounds of: the drand pulses this chain ingests as time passes. */
export interface DrandPulseSource extends DrandBeacon {
  sign(round: bigint): Uint8Array;
}

export interface MemoryChainOptions {
  startBlock?: number;
  /** The runtime to behave like (default `legacy`). */
  rules?: MemoryChainRules;
  /** Milliseconds per block (default 12 000, mainnet's). */
  blockTimeMs?: number;
  /** `Timestamp.Now` at the start block (default mid-2025). */
  startTimestampMs?: number;
  /**
   * The timelocked-commit call the runtime offers (default: v4's `commit_timelocked_weights` under
   * `mainnet` rules, spec 293's `commit_crv3_weights` under `legacy`) and `CommitRevealWeightsVersion` (4).
   */
  timelockCall?: TimelockedCommitCall | undefined;
  commitRevealVersion?: number;
  /** Pulses arrive as the chain's clock passes their round; without it only `storePulse` adds them. */
  drand?: DrandPulseSource;
}

/** What happened to one timelocked commit at its reveal (the runtime's `TimelockedWeightsRevealed` or a skip). */
export interface TimelockedReveal {
  readonly netuid: NetUid;
  readonly hotkey: Hotkey;
  readonly commitBlock: number;
  readonly revealRound: bigint;
  readonly block: number;
  /** Undefined when the weights were set; else why the runtime dropped the commit. */
  readonly failure: string | undefined;
}

interface TimelockedEntry {
  readonly who: Hotkey;
  readonly block: number;
  readonly ciphertext: Uint8Array;
  readonly revealRound: bigint;
}

interface SubnetState {
  readonly netuid: NetUid;
  config: SubnetConfig;
  /** Uid slots; a deregistered neuron leaves its slot empty until a registration takes it. */
  readonly slots: (NeuronState | undefined)[];
  readonly uidOf: Map<Hotkey, Uid>;
  readonly commits: Map<Hotkey, PendingCommit[]>;
  readonly commitments: Map<Hotkey, Commitment>;
  readonly commitmentSpace: Map<Hotkey, { epoch: number; used: number }>;
  /** `TimelockedWeightCommits`: by the epoch they were committed in. */
  readonly timelocked: Map<number, TimelockedEntry[]>;
  /** The `mainnet` rules' epoch scheduler state (unused under `legacy`). */
  readonly scheduler: EpochScheduler;
}

/** `LastEpochBlock`, `PendingEpochAt` (0: none) and `SubnetEpochIndex`, plus when epochs fired. */
interface EpochScheduler {
  lastEpochBlock: number;
  pendingEpochAt: number;
  epochIndex: number;
  /** Blocks at which an epoch fired, oldest first (to answer schedules at past blocks). */
  readonly fired: number[];
  readonly initialLastEpochBlock: number;
  /** Blocks at which a due epoch is put off by one block (the runtime's per-block epoch cap). */
  readonly deferred: Set<number>;
}

/** `CustomTransactionError` codes the pool answers weight calls with (common/src/transaction_error.rs). */
const POOL = {
  stakeTooLow: 1,
  rateLimit: 6,
  invalidRevealRound: 15,
  commitNotFound: 16,
  notInRevealRange: 17,
} as const;

export class MemoryChain implements Chain {
  private block: number;
  private readonly subnets = new Map<NetUid, SubnetState>();
  private readonly listeners = new Set<(block: number) => void>();
  private autoBlocks: NodeJS.Timeout | undefined;
  private closed = false;
  readonly rules: MemoryChainRules;
  private readonly startBlock: number;
  private readonly blockTimeMs: number;
  private readonly startTimestampMs: number;
  private readonly timelockCall: TimelockedCommitCall | undefined;
  private readonly commitRevealVersion: number;
  private readonly drand: DrandPulseSource | undefined;
  /** `Drand.Pulses` written explicitly (as chopsticks' dev_setStorage would). */
  private readonly pulses = new Map<bigint, Uint8Array>();
  private readonly reveals: TimelockedReveal[] = [];

  /** Starts at block 1: a `LastUpdate` of 0 means "never set" to the runtime. Rules default to `legacy`. */
  constructor(options: MemoryChainOptions = {}) {
    const start = options.startBlock ?? 1;
    if (!Number.isSafeInteger(start) || start < 0)
      throw new RangeError(`startBlock ${start} is not a block number`);
    this.block = start;
    this.rules = options.rules ?? 'legacy';
    this.startBlock = start;
    this.blockTimeMs = options.blockTimeMs ?? 12_000;
    this.startTimestampMs = options.startTimestampMs ?? 1_750_000_000_000;
    // Spec 293 has only commit_crv3_weights; mainnet runtimes have v4's commit_timelocked_weights.
    this.timelockCall =
      'timelockCall' in options
        ? options.timelockCall
        : this.rules === 'mainnet'
          ? 'commit_timelocked_weights'
          : 'commit_crv3_weights';
    this.commitRevealVersion = options.commitRevealVersion ?? 4;
    this.drand = options.drand;
  }

  // ---- blocks ----

  /** Produces `blocks` blocks, notifying subscribers of each. */
  advance(blocks = 1): number {
    this.ensureOpen();
    if (!Number.isSafeInteger(blocks) || blocks < 0) throw new RangeError(`cannot advance ${blocks} blocks`);
    for (let i = 0; i < blocks; i++) {
      this.block += 1;
      if (this.rules === 'mainnet') for (const subnet of this.subnets.values()) this.fireEpoch(subnet);
      // After the epoch fires: a commit reveals from the first block of its reveal epoch.
      this.revealTimelocked();
      for (const listener of [...this.listeners]) listener(this.block);
    }
    return this.block;
  }

  /** Produces a block every `intervalMs` until `stopAutoBlocks` or `close`; the timer does not hold the process open. */
  startAutoBlocks(intervalMs: number): void {
    this.ensureOpen();
    if (!(intervalMs > 0)) throw new RangeError(`block interval ${intervalMs} ms must be positive`);
    this.stopAutoBlocks();
    this.autoBlocks = setInterval(() => this.advance(1), intervalMs);
    this.autoBlocks.unref();
  }

  stopAutoBlocks(): void {
    if (this.autoBlocks !== undefined) clearInterval(this.autoBlocks);
    this.autoBlocks = undefined;
  }

  /** A made-up hash that is the same for the same block number. */
  blockHash(block: number): string {
    return blake2AsHex(`hashrelay-memory-chain:${block}`, 256);
  }

  currentBlock(): Promise<number> {
    return settle(() => {
      this.ensureOpen();
      return this.block;
    });
  }

  /** Like a new-heads subscription: the current block first (asynchronously), then each new one. */
  subscribeBlocks(onBlock: (block: number) => void): Promise<() => void> {
    return settle(() => {
      this.ensureOpen();
      const listener = (block: number): void => {
        onBlock(block);
      };
      this.listeners.add(listener);
      const current = this.block;
      queueMicrotask(() => {
        if (this.listeners.has(listener)) onBlock(current);
      });
      return () => {
        this.listeners.delete(listener);
      };
    });
  }

  close(): Promise<void> {
    this.stopAutoBlocks();
    this.listeners.clear();
    this.closed = true;
    return Promise.resolve();
  }

  // ---- set-up (what sudo, registration and staking do on a real chain) ----

  addSubnet(netuid: NetUid, config: Partial<SubnetConfig> = {}): void {
    this.ensureOpen();
    checkU16('netuid', netuid);
    if (this.subnets.has(netuid)) throw new Error(`subnet ${netuid} already exists`);
    const full: SubnetConfig = { ...DEFAULT_SUBNET_CONFIG, ...config };
    checkConfig(full);
    // register_network staggers subnets' first epochs by netuid (subnets/subnet.rs).
    const lastEpochBlock = Math.max(this.block - (netuid % Math.max(full.tempo, 1)), 0);
    this.subnets.set(netuid, {
      netuid,
      config: full,
      slots: [],
      uidOf: new Map(),
      commits: new Map(),
      commitments: new Map(),
      commitmentSpace: new Map(),
      timelocked: new Map(),
      scheduler: {
        lastEpochBlock,
        pendingEpochAt: 0,
        epochIndex: 0,
        fired: [],
        initialLastEpochBlock: lastEpochBlock,
        deferred: new Set(),
      },
    });
  }

  /**
   * Sets `PendingEpochAt`: under `mainnet` rules the subnet's next epoch fires at `block` if that
   * comes before its regular slot (an owner's `trigger_epoch`, or the per-block cap deferring an
   * epoch). No effect on `legacy` epochs.
   */
  triggerEpoch(netuid: NetUid, block: number): void {
    const subnet = this.subnetOrThrow(netuid);
    if (!Number.isSafeInteger(block) || block <= this.block)
      throw new RangeError(`an epoch can be triggered only at a future block, not ${block}`);
    subnet.scheduler.pendingEpochAt = block;
  }

  /**
   * Under `mainnet` rules, an epoch due at `block` does not fire there but one block later, as
   * when the runtime's per-block epoch cap defers it (`PendingEpochAt = block + 1`).
   */
  deferEpoch(netuid: NetUid, block: number): void {
    const subnet = this.subnetOrThrow(netuid);
    if (!Number.isSafeInteger(block) || block <= this.block)
      throw new RangeError(`only an epoch at a future block can be deferred, not ${block}`);
    subnet.scheduler.deferred.add(block);
  }

  /** Changes hyperparameters, as the subnet owner or sudo would. */
  setSubnetConfig(netuid: NetUid, patch: Partial<SubnetConfig>): void {
    const subnet = this.subnetOrThrow(netuid);
    const next = { ...subnet.config, ...patch };
    checkConfig(next);
    // set_tempo resets the cycle: the next epoch is a full tempo from now (utils/misc.rs).
    if (next.tempo !== subnet.config.tempo) subnet.scheduler.lastEpochBlock = this.block;
    subnet.config = next;
  }

  /** Registers a hotkey in the lowest free uid slot; like the runtime, sets its `LastUpdate` to now. */
  register(netuid: NetUid, hotkey: string, options: RegisterOptions): Uid {
    const subnet = this.subnetOrThrow(netuid);
    const key = toHotkey(hotkey);
    if (subnet.uidOf.has(key)) throw new Error(`${key} is already registered on subnet ${netuid}`);
    let uid = subnet.slots.findIndex((slot) => slot === undefined);
    if (uid < 0) uid = subnet.slots.length;
    if (uid > U16_MAX) throw new Error(`subnet ${netuid} has no free uid`);
    if (options.stake < 0n) throw new RangeError(`stake ${options.stake} is negative`);
    subnet.slots[uid] = {
      uid,
      hotkey: key,
      coldkey: options.coldkey ?? key,
      stake: options.stake,
      validatorPermit: options.validatorPermit,
      lastUpdate: this.block,
      weights: new Map(),
    };
    subnet.uidOf.set(key, uid);
    return uid;
  }

  setStake(netuid: NetUid, hotkey: string, stake: bigint): void {
    if (stake < 0n) throw new RangeError(`stake ${stake} is negative`);
    this.neuronOrThrow(netuid, hotkey).stake = stake;
  }

  setPermit(netuid: NetUid, hotkey: string, validatorPermit: boolean): void {
    this.neuronOrThrow(netuid, hotkey).validatorPermit = validatorPermit;
  }

  /** Frees the hotkey's uid slot (its weights and pending commits go with it; its commitment stays). */
  deregister(netuid: NetUid, hotkey: string): void {
    const subnet = this.subnetOrThrow(netuid);
    const neuron = this.neuronOrThrow(netuid, hotkey);
    subnet.slots[neuron.uid] = undefined;
    subnet.uidOf.delete(neuron.hotkey);
    subnet.commits.delete(neuron.hotkey);
  }

  // ---- reads ----

  metagraph(netuid: NetUid): Promise<Metagraph> {
    return settle(() => this.readMetagraph(netuid));
  }

  private readMetagraph(netuid: NetUid): Metagraph {
    const subnet = this.subnetOrThrow(netuid);
    const neurons: Neuron[] = [];
    const incentives = incentiveOf(subnet.slots);
    const minersPerTempo = (subnet.config.emissionPerBlock * BigInt(subnet.config.tempo) * 41n) / 100n;
    for (const slot of subnet.slots) {
      if (slot === undefined) continue;
      const incentive = incentives.get(slot.uid) ?? 0;
      neurons.push({
        uid: slot.uid,
        hotkey: slot.hotkey,
        coldkey: slot.coldkey,
        validatorPermit: slot.validatorPermit,
        totalStake: slot.stake,
        lastUpdate: slot.lastUpdate,
        incentive,
        emission: (BigInt(Math.floor(incentive * 1e9)) * minersPerTempo) / 1_000_000_000n,
      });
    }
    const { config } = subnet;
    return {
      netuid,
      block: this.block,
      blockHash: this.blockHash(this.block),
      neurons,
      ownerHotkey: config.ownerHotkey,
      tempo: config.tempo,
      weightsRateLimit: config.weightsRateLimit,
      weightsVersion: config.weightsVersion,
      commitRevealEnabled: config.commitRevealEnabled,
      commitRevealPeriod: config.commitRevealPeriod,
      maxWeightsLimit: config.maxWeightsLimit,
      minAllowedWeights: config.minAllowedWeights,
      stakeThreshold: config.stakeThreshold,
    };
  }

  commitments(netuid: NetUid): Promise<Map<Hotkey, Commitment>> {
    return settle(() => new Map(this.subnetOrThrow(netuid).commitments));
  }

  epochSchedule(netuid: NetUid, at?: Inclusion): Promise<EpochSchedule> {
    return settle(() => {
      const subnet = this.subnetOrThrow(netuid);
      const block = Math.min(at?.block ?? this.block, this.block);
      if (this.rules === 'legacy') return formulaSchedule(block, netuid, subnet.config.tempo);
      const { scheduler } = subnet;
      if (block === this.block) {
        return counterSchedule({
          block,
          subnetEpochIndex: scheduler.epochIndex,
          lastEpochBlock: scheduler.lastEpochBlock,
          pendingEpochAt: scheduler.pendingEpochAt,
          tempo: subnet.config.tempo,
        });
      }
      // A past block: its epoch from the firing history, its next start from what happened next.
      const firedBy = scheduler.fired.filter((fired) => fired <= block);
      const nextFired = scheduler.fired.find((fired) => fired > block);
      const past = counterSchedule({
        block,
        subnetEpochIndex: firedBy.length,
        lastEpochBlock: firedBy.at(-1) ?? scheduler.initialLastEpochBlock,
        pendingEpochAt: 0,
        tempo: subnet.config.tempo,
      });
      return nextFired === undefined ? past : { ...past, nextEpochStart: nextFired };
    });
  }

  weightsOf(netuid: NetUid, uid: Uid): Promise<Map<Uid, number>> {
    return settle(() => new Map(this.subnetOrThrow(netuid).slots[uid]?.weights));
  }

  timelockRuntime(): Promise<TimelockRuntime> {
    return settle(() => {
      this.ensureOpen();
      return {
        call: this.timelockCall,
        commitRevealVersion:
          this.timelockCall === 'commit_timelocked_weights' ? this.commitRevealVersion : undefined,
        lastStoredRound: this.lastStoredRound(),
        block: this.block,
        blockTimestampMs: this.timestampMs(this.block),
        blockTimeMs: this.blockTimeMs,
      };
    });
  }

  /** `Timestamp.Now` at `block`: the start timestamp plus whole block times. */
  timestampMs(block: number): number {
    return this.startTimestampMs + (block - this.startBlock) * this.blockTimeMs;
  }

  /** Writes a drand pulse (`Drand.Pulses`), as the Drand pallet or a test's dev_setStorage does. */
  storePulse(round: bigint, signature: Uint8Array): void {
    this.ensureOpen();
    this.pulses.set(round, signature.slice());
  }

  /** Every timelocked commit the chain has tried to reveal, in order. */
  timelockedReveals(): readonly TimelockedReveal[] {
    return this.reveals;
  }

  // ---- extrinsics ----

  /** `Commitments.set_commitment` with one `Raw` field holding `text`. */
  publishCommitment(signer: KeyringPair, netuid: NetUid, text: string): Promise<Inclusion> {
    return settle(() => this.doPublishCommitment(signer, netuid, text));
  }

  setWeights(signer: KeyringPair, netuid: NetUid, vector: WeightsVector): Promise<Inclusion> {
    return settle(() => this.doSetWeights(signer, netuid, vector));
  }

  commitWeights(signer: KeyringPair, netuid: NetUid, hash: Uint8Array): Promise<Inclusion> {
    return settle(() => this.doCommitWeights(signer, netuid, hash));
  }

  revealWeights(signer: KeyringPair, netuid: NetUid, vector: RevealVector): Promise<Inclusion> {
    return settle(() => this.doRevealWeights(signer, netuid, vector));
  }

  commitTimelockedWeights(signer: KeyringPair, netuid: NetUid, commit: TimelockedCommit): Promise<Inclusion> {
    return settle(() => this.doCommitTimelockedWeights(signer, netuid, commit));
  }

  private doPublishCommitment(signer: KeyringPair, netuid: NetUid, text: string): Inclusion {
    this.ensureOpen();
    const who = toHotkey(signer.address);
    const bytes = new TextEncoder().encode(text).length;
    if (bytes > MAX_COMMITMENT_BYTES) {
      // Not a runtime error: `Data::Raw` cannot hold it, so no client can even encode the call.
      throw chainError(
        'CommitmentTooLarge',
        `commitment is ${bytes} bytes of UTF-8; a Raw commitment field holds at most ${MAX_COMMITMENT_BYTES}`,
      );
    }
    const subnet = this.subnets.get(netuid);
    if (subnet === undefined || !subnet.uidOf.has(who)) {
      throw chainError('AccountNotAllowedCommit', `${who} is not registered on subnet ${netuid}`);
    }
    const epoch = this.epoch(subnet);
    const previous = subnet.commitmentSpace.get(who);
    const used = previous?.epoch === epoch ? previous.used : 0;
    const required = Math.max(bytes, COMMITMENT_MIN_SPACE);
    if (used + required > COMMITMENT_SPACE_PER_EPOCH) {
      throw chainError(
        'SpaceLimitExceeded',
        `${who} has used ${used} of ${COMMITMENT_SPACE_PER_EPOCH} commitment bytes this epoch; wait for the next epoch`,
      );
    }
    subnet.commitmentSpace.set(who, { epoch, used: used + required });
    subnet.commitments.set(who, { hotkey: who, text, block: this.block });
    return this.inclusion();
  }

  private doSetWeights(signer: KeyringPair, netuid: NetUid, vector: WeightsVector): Inclusion {
    this.ensureOpen();
    checkVector(vector);
    // The dispatchable checks the flag before anything else; a subnet that does not exist
    // reads the storage default, which is true, so it reports CommitRevealEnabled too.
    this.poolCheck('SubtensorModule.set_weights', signer, netuid, 'set');
    if (this.subnets.get(netuid)?.config.commitRevealEnabled ?? true) {
      throw chainError(
        'CommitRevealEnabled',
        `subnet ${netuid} takes weights by commit-reveal only; use commitWeights then revealWeights`,
      );
    }
    const apply = this.checkSetWeights(toHotkey(signer.address), netuid, vector);
    apply();
    return this.inclusion();
  }

  private doCommitWeights(signer: KeyringPair, netuid: NetUid, hash: Uint8Array): Inclusion {
    this.ensureOpen();
    if (hash.length !== 32) throw new RangeError(`a commit hash is 32 bytes, got ${hash.length}`);
    this.poolCheck('SubtensorModule.commit_weights', signer, netuid, 'commit');
    const who = toHotkey(signer.address);
    const subnet = this.subnets.get(netuid);
    if (subnet === undefined) throw chainError('MechanismDoesNotExist', `subnet ${netuid} does not exist`);
    if (!subnet.config.commitRevealEnabled) {
      throw chainError('CommitRevealDisabled', `subnet ${netuid} has commit-reveal off; use setWeights`);
    }
    const neuron = this.committer(subnet, netuid, who);
    const epoch = this.epoch(subnet);
    const pending = this.withoutExpired(subnet, subnet.commits.get(who) ?? []).live;
    if (pending.length >= MAX_UNREVEALED_COMMITS) {
      throw chainError(
        'TooManyUnrevealedCommits',
        `${who} has ${pending.length} unrevealed commits on subnet ${netuid}; reveal or let them expire first`,
      );
    }
    subnet.commits.set(who, [...pending, { hash: u8aToHex(hash), epoch, block: this.block }]);
    neuron.lastUpdate = this.block;
    return this.inclusion();
  }

  private doRevealWeights(signer: KeyringPair, netuid: NetUid, vector: RevealVector): Inclusion {
    this.ensureOpen();
    checkVector(vector);
    vector.salt.forEach((value, i) => {
      checkU16(`salt[${i}]`, value);
    });
    this.poolCheck('SubtensorModule.reveal_weights', signer, netuid, 'reveal', vector);
    const who = toHotkey(signer.address);
    const subnet = this.subnets.get(netuid);
    if (!(subnet?.config.commitRevealEnabled ?? true)) {
      throw chainError('CommitRevealDisabled', `subnet ${netuid} has commit-reveal off; use setWeights`);
    }
    const commits = subnet?.commits.get(who) ?? [];
    if (subnet === undefined || commits.length === 0) {
      throw chainError('NoWeightsCommitFound', `${who} has no pending weight commit on subnet ${netuid}`);
    }
    const { live, expired } = this.withoutExpired(subnet, commits);
    const hash = u8aToHex(
      commitHash(who, netuid, vector.uids, vector.values, vector.salt, vector.versionKey),
    );
    const position = live.findIndex((commit) => commit.hash === hash);
    if (position < 0) {
      if (expired.some((commit) => commit.hash === hash)) {
        throw chainError(
          'ExpiredWeightCommit',
          `the commit for this reveal was due in epoch ${expired.find((c) => c.hash === hash)!.epoch + subnet.config.commitRevealPeriod}; ` +
            `it is now epoch ${this.epoch(subnet)}`,
        );
      }
      if (live.length === 0) {
        throw chainError('NoWeightsCommitFound', `${who} has no unexpired weight commit on subnet ${netuid}`);
      }
      throw chainError(
        'InvalidRevealCommitHashNotMatch',
        `no pending commit of ${who} has hash ${hash}: uids, values, salt and version key must be exactly those committed`,
      );
    }
    const commit = live[position]!;
    const revealEpoch = commit.epoch + subnet.config.commitRevealPeriod;
    if (this.epoch(subnet) !== revealEpoch) {
      throw chainError(
        'RevealTooEarly',
        `commit from epoch ${commit.epoch} reveals in epoch ${revealEpoch}; it is epoch ${this.epoch(subnet)} (block ${this.block})`,
      );
    }
    const apply = this.checkSetWeights(who, netuid, vector);
    // Revealing one commit drops it and every older one.
    const remaining = live.slice(position + 1);
    if (remaining.length === 0) subnet.commits.delete(who);
    else subnet.commits.set(who, remaining);
    apply();
    return this.inclusion();
  }

  private doCommitTimelockedWeights(
    signer: KeyringPair,
    netuid: NetUid,
    commit: TimelockedCommit,
  ): Inclusion {
    this.ensureOpen();
    if (this.timelockCall === undefined) {
      throw chainError(
        'UnsupportedRuntime',
        'this runtime has no timelocked weight commits; use commitWeights',
      );
    }
    if (commit.ciphertext.length > MAX_TIMELOCKED_COMMIT_BYTES) {
      // Not a runtime error: the BoundedVec cannot hold it, so the call does not even decode.
      throw chainError(
        'CommitTooLarge',
        `commit is ${commit.ciphertext.length} bytes; at most ${MAX_TIMELOCKED_COMMIT_BYTES}`,
      );
    }
    const call = `SubtensorModule.${this.timelockCall}`;
    if (this.rules === 'mainnet') {
      // Mainnet's pool: stake and rate limit as for commit_weights, then the round (Custom error: 15).
      this.poolCheck(call, signer, netuid, 'commit');
      if (commit.revealRound < this.lastStoredRound()) {
        throw poolChainError(`1010: Invalid Transaction: Custom error: ${POOL.invalidRevealRound}`, call);
      }
    }
    const who = toHotkey(signer.address);
    const subnet = this.subnets.get(netuid);
    // Spec 293 checks stake, then the round, first too (SubtensorTransactionExtension), as dispatch errors.
    const poolNeuron = subnet?.slots[subnet.uidOf.get(who) ?? -1];
    if (subnet !== undefined && poolNeuron !== undefined && !this.stakePassed(subnet, poolNeuron)) {
      throw chainError(
        'NotEnoughStakeToSetWeights',
        `${who} has stake ${poolNeuron.stake}; weights need ${subnet.config.stakeThreshold}`,
      );
    }
    if (commit.revealRound < this.lastStoredRound()) {
      throw chainError(
        'InvalidRevealRound',
        `reveal round ${commit.revealRound} is below Drand.LastStoredRound ${this.lastStoredRound()}`,
      );
    }
    if (subnet === undefined) throw chainError('MechanismDoesNotExist', `subnet ${netuid} does not exist`);
    if (!subnet.config.commitRevealEnabled) {
      throw chainError('CommitRevealDisabled', `subnet ${netuid} has commit-reveal off; use setWeights`);
    }
    if (
      this.timelockCall === 'commit_timelocked_weights' &&
      commit.commitRevealVersion !== this.commitRevealVersion
    ) {
      throw chainError(
        'IncorrectCommitRevealVersion',
        `commit states version ${commit.commitRevealVersion}; the chain's CommitRevealWeightsVersion is ${this.commitRevealVersion}`,
      );
    }
    const neuron = this.committer(subnet, netuid, who);
    const epoch = this.epoch(subnet);
    const queue = subnet.timelocked.get(epoch) ?? [];
    if (queue.filter((entry) => entry.who === who).length >= MAX_UNREVEALED_COMMITS) {
      throw chainError(
        'TooManyUnrevealedCommits',
        `${who} has ${MAX_UNREVEALED_COMMITS} commits this epoch on subnet ${netuid}`,
      );
    }
    queue.push({
      who,
      block: this.block,
      ciphertext: commit.ciphertext.slice(),
      revealRound: commit.revealRound,
    });
    subnet.timelocked.set(epoch, queue);
    neuron.lastUpdate = this.block;
    return this.inclusion();
  }

  /**
   * `reveal_crv3_commits` at each block: commits of epoch `now − RevealPeriodEpochs` whose round's
   * pulse is on chain are decrypted and set as their hotkey's weights; those still waiting for
   * the pulse stay for the next block, and older epochs are dropped unrevealed.
   */
  private revealTimelocked(): void {
    for (const subnet of this.subnets.values()) {
      const now = this.epoch(subnet);
      const revealEpoch = now - subnet.config.commitRevealPeriod;
      for (const epoch of subnet.timelocked.keys()) if (epoch < revealEpoch) subnet.timelocked.delete(epoch);
      const entries = subnet.timelocked.get(revealEpoch);
      if (entries === undefined || revealEpoch < 0) continue;
      const waiting = entries.filter((entry) => {
        const signature = this.pulse(entry.revealRound);
        if (signature === undefined) return true;
        this.reveals.push({
          netuid: subnet.netuid,
          hotkey: entry.who,
          commitBlock: entry.block,
          revealRound: entry.revealRound,
          block: this.block,
          failure: this.applyTimelocked(subnet, entry, signature),
        });
        return false;
      });
      if (waiting.length > 0) subnet.timelocked.set(revealEpoch, waiting);
      else subnet.timelocked.delete(revealEpoch);
    }
  }

  /** Decrypts, decodes and sets one commit's weights; returns why not, if not. */
  private applyTimelocked(
    subnet: SubnetState,
    entry: TimelockedEntry,
    signature: Uint8Array,
  ): string | undefined {
    let plaintext: Uint8Array;
    try {
      plaintext = timelockDecrypt(entry.ciphertext, signature);
    } catch (error) {
      return error instanceof TimelockError ? `decryption failed: ${error.message}` : String(error);
    }
    // A runtime with only commit_crv3_weights predates the hotkey field (spec 293).
    const payload =
      this.timelockCall === 'commit_crv3_weights'
        ? decodeLegacyWeightsPayload(plaintext)
        : decodeWeightsPayload(plaintext);
    if (payload === undefined) return 'the payload decodes in neither form';
    if (payload.hotkey !== undefined && toHotkey(u8aToHex(payload.hotkey)) !== entry.who) {
      return 'the payload names another hotkey';
    }
    try {
      this.checkSetWeights(entry.who, subnet.netuid, payload)();
    } catch (error) {
      return (error as Error).message;
    }
    return undefined;
  }

  private pulse(round: bigint): Uint8Array | undefined {
    const stored = this.pulses.get(round);
    if (stored !== undefined) return stored;
    if (this.drand === undefined || round > this.drandRound()) return undefined;
    return this.drand.sign(round);
  }

  private lastStoredRound(): bigint {
    let last = this.drandRound();
    for (const round of this.pulses.keys()) if (round > last) last = round;
    return last;
  }

  /** The latest round the pulse source has published by this block's timestamp (0 without one). */
  private drandRound(): bigint {
    if (this.drand === undefined) return 0n;
    return roundAt(this.timestampMs(this.block) / 1000, this.drand);
  }

  // ---- rules ----

  /**
   * `internal_set_weights`: every check in the runtime's order; returns the state change to
   * make once the whole call has passed. Under commit-reveal the rate limit was applied at
   * commit time, so it is skipped here and `LastUpdate` is left at the commit block.
   */
  private checkSetWeights(who: Hotkey, netuid: NetUid, vector: WeightsVector): () => void {
    const { uids, values, versionKey } = vector;
    if (netuid === ROOT_NETUID) {
      throw chainError('CanNotSetRootNetworkWeights', 'netuid 0 is the root network; weights go to a subnet');
    }
    if (uids.length !== values.length) {
      throw chainError('WeightVecNotEqualSize', `${uids.length} uids but ${values.length} values`);
    }
    const subnet = this.subnets.get(netuid);
    if (subnet === undefined) throw chainError('MechanismDoesNotExist', `subnet ${netuid} does not exist`);
    const { config } = subnet;
    const n = subnet.slots.length;
    if (uids.length > n) {
      throw chainError('UidsLengthExceedUidsInSubNet', `${uids.length} uids, but subnet ${netuid} has ${n}`);
    }
    const uid = subnet.uidOf.get(who);
    if (uid === undefined) throw notRegistered(who, netuid);
    const neuron = subnet.slots[uid]!;
    const ownerUid = config.ownerHotkey === undefined ? undefined : subnet.uidOf.get(config.ownerHotkey);
    if (uid !== ownerUid && !this.stakePassed(subnet, neuron)) {
      throw chainError(
        'NotEnoughStakeToSetWeights',
        `${who} has stake ${neuron.stake}; setting weights needs ${config.stakeThreshold}`,
      );
    }
    if (config.weightsVersion !== 0n && versionKey < config.weightsVersion) {
      throw chainError(
        'IncorrectWeightVersionKey',
        `version key ${versionKey} is below subnet ${netuid}'s WeightsVersionKey ${config.weightsVersion}; upgrade the validator`,
      );
    }
    if (!config.commitRevealEnabled && !this.rateLimitPassed(subnet, neuron)) {
      throw chainError(
        'SettingWeightsTooFast',
        `uid ${uid} last set weights at block ${neuron.lastUpdate}; subnet ${netuid} allows one every ` +
          `${config.weightsRateLimit} blocks (now ${this.block})`,
      );
    }
    const selfWeight = uids.length === 1 && values.length === 1 && uids[0] === uid;
    if (!selfWeight && uid !== ownerUid && !neuron.validatorPermit) {
      throw chainError('NeuronNoValidatorPermit', `uid ${uid} has no validator permit on subnet ${netuid}`);
    }
    if (new Set(uids).size !== uids.length)
      throw chainError('DuplicateUids', `uids repeat: ${uids.join(', ')}`);
    const invalid = uids.find((target) => subnet.slots[target] === undefined);
    if (invalid !== undefined) {
      throw chainError('UidVecContainInvalidOne', `uid ${invalid} is not registered on subnet ${netuid}`);
    }
    const minLength = Math.min(n, config.minAllowedWeights);
    if (!selfWeight && values.length < minLength) {
      throw chainError(
        'WeightVecLengthIsLow',
        `${values.length} weights; subnet ${netuid} needs at least ${minLength} (min of n and MinAllowedWeights)`,
      );
    }
    const upscaled = maxUpscaleU16(values);
    if (
      !selfWeight &&
      config.maxWeightsLimit !== U16_MAX &&
      !isMaxWeightLimited(upscaled, config.maxWeightsLimit)
    ) {
      throw chainError(
        'MaxWeightExceeded',
        `a weight's share exceeds MaxWeightsLimit ${config.maxWeightsLimit}/65535 on subnet ${netuid}`,
      );
    }
    return () => {
      neuron.weights = new Map(uids.map((target, i) => [target, upscaled[i]!]));
      if (!config.commitRevealEnabled) neuron.lastUpdate = this.block;
    };
  }

  /** `check_weights_min_stake`: the subnet owner is exempt. */
  private stakePassed(subnet: SubnetState, neuron: NeuronState): boolean {
    const { ownerHotkey, stakeThreshold } = subnet.config;
    return neuron.hotkey === ownerHotkey || neuron.stake >= stakeThreshold;
  }

  /**
   * Under `mainnet` rules, the pool's pre-checks of a weight call (`CheckWeights` then
   * `CheckRateLimits`, guards/*.rs), refused as `Custom error: N` before anything dispatches.
   * Like the runtime, an unregistered hotkey is not refused here for that (its stake is 0, so a
   * subnet with a stake threshold refuses it as stake too low); dispatch names it.
   */
  private poolCheck(
    call: string,
    signer: KeyringPair,
    netuid: NetUid,
    kind: 'set' | 'commit' | 'reveal',
    reveal?: RevealVector,
  ): void {
    if (this.rules !== 'mainnet') return;
    const refuse = (code: number): never => {
      throw poolChainError(`1010: Invalid Transaction: Custom error: ${code}`, call);
    };
    const who = toHotkey(signer.address);
    const subnet = this.subnets.get(netuid);
    if (subnet === undefined) return; // dispatch reports the missing subnet
    const uid = subnet.uidOf.get(who);
    const neuron = uid === undefined ? undefined : subnet.slots[uid];
    const { config } = subnet;
    const isOwner = config.ownerHotkey !== undefined && config.ownerHotkey === who && neuron !== undefined;
    if (!isOwner && (neuron?.stake ?? 0n) < config.stakeThreshold) refuse(POOL.stakeTooLow);
    if (kind === 'reveal' && reveal !== undefined) {
      const hash = u8aToHex(
        commitHash(who, netuid, reveal.uids, reveal.values, reveal.salt, reveal.versionKey),
      );
      // The pool looks through the whole queue, expired commits included.
      const commit = subnet.commits.get(who)?.find((c) => c.hash === hash);
      if (commit === undefined) refuse(POOL.commitNotFound);
      if (this.epoch(subnet) !== commit!.epoch + config.commitRevealPeriod) refuse(POOL.notInRevealRange);
    }
    const rateLimited = kind === 'commit' || (kind === 'set' && !config.commitRevealEnabled);
    if (rateLimited && neuron !== undefined && !this.rateLimitPassed(subnet, neuron)) refuse(POOL.rateLimit);
  }

  /** `drain_pending`: fires the subnet's epoch in this block's `on_initialize` when it is due. */
  private fireEpoch(subnet: SubnetState): void {
    const { scheduler } = subnet;
    const { tempo } = subnet.config;
    if (tempo === 0) return;
    const pendingDue = scheduler.pendingEpochAt > 0 && this.block >= scheduler.pendingEpochAt;
    if (!pendingDue && this.block - scheduler.lastEpochBlock < tempo) return;
    if (scheduler.deferred.delete(this.block)) {
      scheduler.pendingEpochAt = this.block + 1;
      return;
    }
    scheduler.lastEpochBlock = this.block;
    scheduler.pendingEpochAt = 0;
    scheduler.epochIndex += 1;
    scheduler.fired.push(this.block);
  }

  /** A commit's sender: registered on the subnet and past the weights rate limit. */
  private committer(subnet: SubnetState, netuid: number, who: Hotkey): NeuronState {
    const uid = subnet.uidOf.get(who);
    if (uid === undefined) throw notRegistered(who, netuid);
    const neuron = subnet.slots[uid]!;
    if (!this.rateLimitPassed(subnet, neuron)) {
      throw chainError(
        'CommittingWeightsTooFast',
        `uid ${uid} last set or committed weights at block ${neuron.lastUpdate}; ` +
          `subnet ${netuid} allows one every ${subnet.config.weightsRateLimit} blocks (now ${this.block})`,
      );
    }
    return neuron;
  }

  /** `check_rate_limit`: a `LastUpdate` of 0 means never set. */
  private rateLimitPassed(subnet: SubnetState, neuron: NeuronState): boolean {
    return neuron.lastUpdate === 0 || this.block - neuron.lastUpdate >= subnet.config.weightsRateLimit;
  }

  /** The epoch of a call at the current block: the counter (`mainnet`) or the old formula (`legacy`). */
  private epoch(subnet: SubnetState): number {
    if (this.rules === 'mainnet') return subnet.scheduler.epochIndex;
    return epochIndex(this.block, subnet.netuid, subnet.config.tempo);
  }

  /** Commits past their reveal epoch are dropped from the front of the queue, as the runtime does. */
  private withoutExpired(
    subnet: SubnetState,
    commits: readonly PendingCommit[],
  ): { live: PendingCommit[]; expired: PendingCommit[] } {
    const now = this.epoch(subnet);
    let cut = 0;
    while (cut < commits.length && now > commits[cut]!.epoch + subnet.config.commitRevealPeriod) cut++;
    return { live: commits.slice(cut), expired: commits.slice(0, cut) };
  }

  private inclusion(): Inclusion {
    return { block: this.block, blockHash: this.blockHash(this.block) };
  }

  private subnetOrThrow(netuid: NetUid): SubnetState {
    this.ensureOpen();
    const subnet = this.subnets.get(netuid);
    if (subnet === undefined) throw chainError('SubnetNotExists', `subnet ${netuid} does not exist`);
    return subnet;
  }

  private neuronOrThrow(netuid: NetUid, hotkey: string): NeuronState {
    const subnet = this.subnetOrThrow(netuid);
    const key = toHotkey(hotkey);
    const uid = subnet.uidOf.get(key);
    if (uid === undefined) throw notRegistered(key, netuid);
    return subnet.slots[uid]!;
  }

  private ensureOpen(): void {
    if (this.closed) throw chainError('Disconnected', 'the memory chain was closed');
  }
}

/** Runs `fn` now; its result or its throw becomes the promise's outcome. */
function settle<T>(fn: () => T): Promise<T> {
  return new Promise<T>((resolve) => {
    resolve(fn());
  });
}

function notRegistered(who: Hotkey, netuid: NetUid): Error {
  return chainError('HotKeyNotRegisteredInSubNet', `${who} is not registered on subnet ${netuid}`);
}

/** Any SS58 form of a key → its generic-substrate (42) address, the form hotkeys are compared in. */
function toHotkey(address: string): Hotkey {
  try {
    return encodeAddress(decodeAddress(address), 42) as Hotkey;
  } catch (error) {
    throw new RangeError(`'${address}' is not an SS58 address: ${(error as Error).message}`);
  }
}

function checkVector(vector: WeightsVector): void {
  vector.uids.forEach((uid, i) => {
    checkU16(`uids[${i}]`, uid);
  });
  vector.values.forEach((value, i) => {
    checkU16(`values[${i}]`, value);
  });
  if (vector.versionKey < 0n || vector.versionKey >= 2n ** 64n) {
    throw new RangeError(`versionKey ${vector.versionKey} is not a u64`);
  }
}

function checkConfig(config: SubnetConfig): void {
  checkU16('tempo', config.tempo);
  checkU16('maxWeightsLimit', config.maxWeightsLimit);
  checkU16('minAllowedWeights', config.minAllowedWeights);
  if (!Number.isSafeInteger(config.weightsRateLimit) || config.weightsRateLimit < 0) {
    throw new RangeError(`weightsRateLimit ${config.weightsRateLimit} is not a block count`);
  }
  if (!Number.isSafeInteger(config.commitRevealPeriod) || config.commitRevealPeriod < 0) {
    throw new RangeError(`commitRevealPeriod ${config.commitRevealPeriod} is not an epoch count`);
  }
  if (config.weightsVersion < 0n) throw new RangeError(`weightsVersion ${config.weightsVersion} is negative`);
  if (config.ownerHotkey !== undefined) config.ownerHotkey = toHotkey(config.ownerHotkey);
}

function checkU16(name: string, value: number): void {
  if (!Number.isInteger(value) || value < 0 || value > U16_MAX)
    throw new RangeError(`${name} = ${value} is not a u16`);
}
