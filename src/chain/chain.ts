import type { KeyringPair } from '@polkadot/keyring/types';
import type { EpochSchedule } from './epoch.js';
import type { Hotkey } from './hotkey.js';

/**
 * What hashrelay needs from a subtensor chain (CHAIN.md). Two implementations: the
 * `@polkadot/api` client (`polkadot-chain.ts`) and an in-memory chain with the same rules
 * (`memory-chain.ts`) for tests and for running without a chain.
 */

/** A subnet id (u16). */
export type NetUid = number;
/** A neuron's position in a subnet (u16). */
export type Uid = number;

/** One registered neuron of a subnet, as the metagraph reports it at one block. */
export interface Neuron {
  readonly uid: Uid;
  readonly hotkey: Hotkey;
  readonly coldkey: string;
  readonly validatorPermit: boolean;
  /** The chain's own `totalStake` in its smallest unit (alpha + root TAO × TaoWeight, inherited). */
  readonly totalStake: bigint;
  /** Block of the neuron's last weights (or of its registration). */
  readonly lastUpdate: number;
  /** The neuron's incentive at the last epoch, 0 to 1 (the chain's u16 over 65535); undefined where not read. */
  readonly incentive?: number;
  /** What the neuron earned at the last epoch, in the subnet's smallest unit (alpha rao); undefined where not read. */
  readonly emission?: bigint;
}

/** A subnet's neurons and the hyperparameters scoring and posting depend on, read at one block. */
export interface Metagraph {
  readonly netuid: NetUid;
  readonly block: number;
  readonly blockHash: string;
  readonly neurons: readonly Neuron[];
  readonly ownerHotkey: Hotkey | undefined;
  readonly tempo: number;
  /** Blocks between two weight posts of one validator (`WeightsSetRateLimit`). */
  readonly weightsRateLimit: number;
  /** `WeightsVersionKey`: a posted version_key must be at least this. */
  readonly weightsVersion: bigint;
  readonly commitRevealEnabled: boolean;
  /** Reveal in epoch `commit epoch + commitRevealPeriod` (`RevealPeriodEpochs`). */
  readonly commitRevealPeriod: number;
  /** `MaxWeightsLimit`: the largest weight share allowed, as a u16 fraction of 65535. */
  readonly maxWeightsLimit: number;
  /** `MinAllowedWeights`: a vector must hold at least min(n, this) entries. */
  readonly minAllowedWeights: number;
  /** `StakeThreshold` (global): the stake a hotkey needs to set weights; undefined where not read. */
  readonly stakeThreshold?: bigint;
}

/** A commitment a hotkey published on a subnet (`Commitments.CommitmentOf`), decoded to text. */
export interface Commitment {
  readonly hotkey: Hotkey;
  readonly text: string;
  /** Block at which it was set. */
  readonly block: number;
}

/** A submitted extrinsic, included in a block without a dispatch error. */
export interface Inclusion {
  readonly block: number;
  readonly blockHash: string;
}

export interface WeightsVector {
  readonly uids: readonly Uid[];
  /** u16 values, as `convert_weights_and_uids_for_emit` produces them. */
  readonly values: readonly number[];
  readonly versionKey: bigint;
}

export interface RevealVector extends WeightsVector {
  readonly salt: readonly number[];
}

/** The extrinsics that carry a drand-timelocked commit: v4's, and the older one spec 293 has. */
export type TimelockedCommitCall = 'commit_timelocked_weights' | 'commit_crv3_weights';

/** What drand-timelocked commits need from the runtime, read at the best block. */
export interface TimelockRuntime {
  /** The timelocked-commit extrinsic the runtime's metadata offers; undefined: none. */
  readonly call: TimelockedCommitCall | undefined;
  /** `CommitRevealWeightsVersion`, which a commit must state; undefined where the runtime has none. */
  readonly commitRevealVersion: number | undefined;
  /** `Drand.LastStoredRound`: the chain refuses a reveal round below it. */
  readonly lastStoredRound: bigint;
  readonly block: number;
  /** `Timestamp.Now` at that block, ms. */
  readonly blockTimestampMs: number;
  /** The chain's block time (Aura slot duration), ms. */
  readonly blockTimeMs: number;
}

/** A drand-timelocked weights commit (`timelocked-weights.ts` builds the ciphertext). */
export interface TimelockedCommit {
  /** tle ciphertext of the SCALE weights payload, at most 5000 bytes. */
  readonly ciphertext: Uint8Array;
  /** The drand round whose pulse opens it. */
  readonly revealRound: bigint;
  /** Must equal the chain's `CommitRevealWeightsVersion` (ignored by `commit_crv3_weights`). */
  readonly commitRevealVersion: number;
}

/**
 * A chain error decoded to the runtime's name (`SettingWeightsTooFast`, `CommitRevealEnabled`,
 * ...). `retryable` says whether the same call can succeed later unchanged (rate limits, a
 * dropped connection), as opposed to a call that is wrong (no permit, bad vector).
 */
export class ChainError extends Error {
  readonly chainError: string;
  readonly retryable: boolean;
  constructor(chainError: string, message: string, retryable: boolean) {
    super(`${chainError}: ${message}`);
    this.chainError = chainError;
    this.retryable = retryable;
  }
}

/** Errors a later attempt of the same call can get past. */
export const RETRYABLE_CHAIN_ERRORS: ReadonlySet<string> = new Set([
  'SettingWeightsTooFast',
  'RevealTooEarly',
  'CommittingWeightsTooFast',
  'TxRateLimitExceeded',
  'RateLimitExceeded',
  'Disconnected',
  'Timeout',
  'Priority',
  'Stale',
]);

export function chainError(name: string, message: string): ChainError {
  return new ChainError(name, message, RETRYABLE_CHAIN_ERRORS.has(name));
}

export interface Chain {
  /** The best block's number. */
  currentBlock(): Promise<number>;
  /** Calls back with each new best block number until the returned function is called. */
  subscribeBlocks(onBlock: (block: number) => void): Promise<() => void>;
  /** The subnet's metagraph at the best block (one consistent block). */
  metagraph(netuid: NetUid): Promise<Metagraph>;
  /** Every commitment published on the subnet, by hotkey. */
  commitments(netuid: NetUid): Promise<Map<Hotkey, Commitment>>;
  /** Publish `text` as the signer's commitment on the subnet (a validator's endpoint). */
  publishCommitment(signer: KeyringPair, netuid: NetUid, text: string): Promise<Inclusion>;
  setWeights(signer: KeyringPair, netuid: NetUid, vector: WeightsVector): Promise<Inclusion>;
  /** Hash commit-reveal ("v2"): the blake2b-256 hash of the vector (see `commitHash`). */
  commitWeights(signer: KeyringPair, netuid: NetUid, commitHash: Uint8Array): Promise<Inclusion>;
  revealWeights(signer: KeyringPair, netuid: NetUid, vector: RevealVector): Promise<Inclusion>;
  /** The runtime's drand-timelocked commit support and clock. */
  timelockRuntime(): Promise<TimelockRuntime>;
  /** A drand-timelocked commit (`TimelockRuntime.call`); the runtime reveals it itself. */
  commitTimelockedWeights(signer: KeyringPair, netuid: NetUid, commit: TimelockedCommit): Promise<Inclusion>;
  /**
   * The subnet's epoch schedule at the best block, or at an included extrinsic's block: the
   * runtime's `SubnetEpochIndex` where it has one, else the old formula (`epoch.ts`).
   */
  epochSchedule(netuid: NetUid, at?: Inclusion): Promise<EpochSchedule>;
  /** The weights a uid holds on chain (`Weights(netuid, uid)`), u16 values by uid. */
  weightsOf(netuid: NetUid, uid: Uid): Promise<Map<Uid, number>>;
  close(): Promise<void>;
}
