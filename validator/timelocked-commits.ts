import { performance } from 'node:perf_hooks';
import type { KeyringPair } from '@polkadot/keyring/types';
import { Gauge, Registry } from 'prom-client';
import {
  chainError,
  type Chain,
  type Inclusion,
  type Metagraph,
  type NetUid,
  type Uid,
  type WeightsVector,
} from '../src/chain/chain.js';
import { QUICKNET, type DrandBeacon } from '../src/chain/timelock.js';
import { encryptWeightsPayload, REVEAL_MARGIN_BLOCKS, revealRound } from '../src/chain/timelocked-weights.js';
import { maxUpscaleU16 } from '../src/chain/weight-limits.js';
import type { Logger } from '../src/log/logger.js';

/**
 * Drand-timelocked weight commits ("v4", what the Python SDK sends; CHAIN.md): the vector is
 * encrypted to the drand round due early in the reveal epoch and committed with
 * `commit_timelocked_weights`; the runtime opens and applies it itself when the pulse arrives.
 * Nothing secret is kept and no reveal is sent, so the validator may be down at reveal time.
 * This module chooses between direct weights, hash commits and timelocked commits, sends the
 * timelocked commits, and afterwards checks on chain that each was revealed.
 */

/** `weights.commitMode`: follow the runtime, or force one kind of commit. */
export const COMMIT_MODE_SETTINGS = ['auto', 'hash', 'timelocked'] as const;
export type CommitModeSetting = (typeof COMMIT_MODE_SETTINGS)[number];
/** How weights go on chain: `set_weights` (commit-reveal off), hash commit-reveal, or timelocked commits. */
export const COMMIT_MODES = ['direct', 'hash', 'timelocked'] as const;
export type CommitMode = (typeof COMMIT_MODES)[number];

/**
 * The first and the one-past-last block of the epoch a commit is revealed in: one sent at a block
 * (planned), or one included (by the chain's epoch schedule at its block).
 */
export type RevealWindow = (
  at: number | Inclusion,
) => Promise<{ readonly start: number; readonly end: number }>;

export interface TimelockedCommitsOptions {
  readonly chain: Chain;
  readonly signer: KeyringPair;
  readonly netuid: NetUid;
  readonly logger: Logger;
  readonly setting?: CommitModeSetting;
  /** The beacon to lock to; quicknet, whose pulses subtensor stores (others only in tests). */
  readonly beacon?: DrandBeacon;
  readonly registry?: Registry;
}

/** A timelocked commit sent and not yet seen revealed. */
export interface SentTimelockedCommit {
  readonly vector: WeightsVector;
  readonly revealRound: bigint;
  readonly commitBlock: number;
  readonly revealFrom: number;
  readonly revealUntil: number;
}

export type TimelockedCheck =
  | { readonly kind: 'revealed'; readonly commit: SentTimelockedCommit; readonly block: number }
  | { readonly kind: 'not-revealed'; readonly commit: SentTimelockedCommit; readonly block: number };

export class TimelockedCommits {
  readonly setting: CommitModeSetting;
  private readonly chain: Chain;
  private readonly signer: KeyringPair;
  private readonly netuid: NetUid;
  private readonly log: Logger;
  private readonly beacon: DrandBeacon;
  private readonly modeGauge: Gauge<'mode'>;
  private mode: CommitMode | undefined;
  private sent: SentTimelockedCommit[] = [];

  constructor(options: TimelockedCommitsOptions) {
    this.chain = options.chain;
    this.signer = options.signer;
    this.netuid = options.netuid;
    this.log = options.logger;
    this.setting = options.setting ?? 'auto';
    this.beacon = options.beacon ?? QUICKNET;
    this.modeGauge = new Gauge({
      name: 'hashrelay_validator_commit_mode',
      help: 'How weights go on chain: 1 for the mode in use (direct set_weights, hash commit-reveal, drand-timelocked commits).',
      labelNames: ['mode'],
      registers: [options.registry ?? new Registry()],
    });
    for (const mode of COMMIT_MODES) this.modeGauge.set({ mode }, 0);
  }

  /**
   * The mode for this post: direct when the subnet has commit-reveal off; otherwise timelocked
   * where the runtime has v4's `commit_timelocked_weights` (or when forced and it has any
   * timelocked call), else hash. Logged and set on the gauge when it changes.
   */
  async choose(metagraph: Metagraph): Promise<CommitMode> {
    let mode: CommitMode;
    let reason: string;
    if (!metagraph.commitRevealEnabled) {
      [mode, reason] = ['direct', `subnet ${this.netuid} has commit-reveal off`];
    } else if (this.setting === 'hash') {
      [mode, reason] = ['hash', 'weights.commitMode is hash'];
    } else {
      const { call } = await this.chain.timelockRuntime();
      if (this.setting === 'timelocked') {
        if (call === undefined) {
          throw chainError(
            'UnsupportedRuntime',
            'weights.commitMode is timelocked but this runtime has no timelocked commit call: set it to auto or hash',
          );
        }
        [mode, reason] = ['timelocked', `weights.commitMode is timelocked (${call})`];
      } else if (call === 'commit_timelocked_weights') {
        [mode, reason] = [
          'timelocked',
          'the runtime takes drand-timelocked commits (commit_timelocked_weights)',
        ];
      } else {
        [mode, reason] = ['hash', 'the runtime has no commit_timelocked_weights'];
      }
    }
    if (mode !== this.mode) {
      this.mode = mode;
      for (const each of COMMIT_MODES) this.modeGauge.set({ mode: each }, each === mode ? 1 : 0);
      this.log.info(
        { commitMode: mode, setting: this.setting, reason },
        `weights go on chain by ${describe(mode)}`,
      );
    }
    return mode;
  }

  /** Encrypts the vector to the reveal epoch's drand round and commits it. */
  async commit(
    metagraph: Metagraph,
    vector: WeightsVector,
    window: RevealWindow,
  ): Promise<{ inclusion: Inclusion; commit: SentTimelockedCommit }> {
    const runtime = await this.chain.timelockRuntime();
    if (runtime.call === undefined) {
      throw chainError(
        'UnsupportedRuntime',
        'this runtime has no timelocked commit call: set weights.commitMode to hash',
      );
    }
    const planned = await window(runtime.block);
    let round = revealRound({ ...runtime, revealEpochStartBlock: planned.start }, this.beacon);
    if (round < runtime.lastStoredRound) {
      this.log.warn(
        {
          revealRound: String(round),
          lastStoredRound: String(runtime.lastStoredRound),
          block: runtime.block,
        },
        "the chain's clock is behind its drand pulses: locking to the last stored round (weights reveal as soon as the reveal epoch starts)",
      );
      round = runtime.lastStoredRound;
    }
    const started = performance.now();
    const ciphertext = encryptWeightsPayload(
      {
        // Spec-293 runtimes (commit_crv3_weights only) decode the legacy payload without the hotkey.
        hotkey: runtime.call === 'commit_timelocked_weights' ? this.signer.publicKey : undefined,
        ...vector,
      },
      round,
      this.beacon,
    );
    const encryptMs = performance.now() - started;
    const inclusion = await this.chain.commitTimelockedWeights(this.signer, this.netuid, {
      ciphertext,
      revealRound: round,
      commitRevealVersion: runtime.commitRevealVersion ?? 4,
    });
    const landed = await window(inclusion);
    const commit: SentTimelockedCommit = {
      vector,
      revealRound: round,
      commitBlock: inclusion.block,
      revealFrom: landed.start,
      revealUntil: landed.end,
    };
    this.sent.push(commit);
    this.log.info(
      {
        block: inclusion.block,
        call: runtime.call,
        revealRound: String(round),
        revealFromBlock: landed.start,
        revealUntilBlock: landed.end,
        bytes: ciphertext.length,
        encryptMs: Math.round(encryptMs * 10) / 10,
        uids: vector.uids,
        values: vector.values,
        tempo: metagraph.tempo,
      },
      'weights committed, drand-timelocked: the chain reveals them itself',
    );
    return { inclusion, commit };
  }

  /** Timelocked commits sent and not yet seen revealed. */
  pending(): readonly SentTimelockedCommit[] {
    return this.sent;
  }

  /** Whether a sent commit's pulse should be on chain by `block` (time to look). */
  checkDue(block: number): boolean {
    return this.sent.some((commit) => block >= commit.revealFrom + REVEAL_MARGIN_BLOCKS);
  }

  /**
   * Looks at the validator's weights on chain: a commit is revealed once they equal its vector;
   * one still unseen when its reveal epoch has ended was not applied (pulse missing, or the
   * weights refused at reveal, e.g. a lost validator permit).
   */
  async check(block: number, uid: Uid | undefined): Promise<TimelockedCheck[]> {
    const due = this.sent.filter((commit) => block >= commit.revealFrom + REVEAL_MARGIN_BLOCKS);
    if (due.length === 0) return [];
    const onChain = uid === undefined ? new Map<Uid, number>() : await this.chain.weightsOf(this.netuid, uid);
    const outcomes: TimelockedCheck[] = [];
    for (const commit of due) {
      if (sameWeights(onChain, commit.vector)) {
        outcomes.push({ kind: 'revealed', commit, block });
        this.log.info(
          {
            commitBlock: commit.commitBlock,
            revealRound: String(commit.revealRound),
            block,
            uids: commit.vector.uids,
          },
          'timelocked weights revealed on chain',
        );
      } else if (block >= commit.revealUntil) {
        outcomes.push({ kind: 'not-revealed', commit, block });
        this.log.error(
          {
            commitBlock: commit.commitBlock,
            revealRound: String(commit.revealRound),
            revealFromBlock: commit.revealFrom,
            revealUntilBlock: commit.revealUntil,
            block,
            advice:
              "the chain did not apply them: check the subnet's drand pulses (Drand.LastStoredRound) reach the reveal round, " +
              'that this hotkey kept its validator permit and stake, or set weights.commitMode to hash',
          },
          'timelocked weights were not revealed in their reveal epoch',
        );
      }
    }
    const settled = new Set(outcomes.map((outcome) => outcome.commit));
    this.sent = this.sent.filter((commit) => !settled.has(commit));
    return outcomes;
  }
}

/** What the operator can do about a refused timelocked commit (undefined: not one of its errors). */
export function timelockedAdvice(name: string): string | undefined {
  switch (name) {
    case 'IncorrectCommitRevealVersion':
      return "the chain's CommitRevealWeightsVersion changed since it was read: the next attempt reads it again; if it repeats, upgrade hashrelay";
    case 'InvalidRevealRound':
      return "the reveal round was already on chain (the chain's clock or block time is off?): the next attempt picks a new one";
    case 'UnsupportedRuntime':
      return 'this runtime lacks a call hashrelay needs: set weights.commitMode to auto or hash, or check the endpoint';
    default:
      return undefined;
  }
}

function describe(mode: CommitMode): string {
  switch (mode) {
    case 'direct':
      return 'set_weights';
    case 'hash':
      return 'hash commit-reveal';
    case 'timelocked':
      return 'drand-timelocked commits';
  }
}

/** The chain stores values scaled so the largest is 65535 (`max_upscale_to_u16`). */
function sameWeights(onChain: ReadonlyMap<Uid, number>, vector: WeightsVector): boolean {
  const values = maxUpscaleU16(vector.values);
  return onChain.size === vector.uids.length && vector.uids.every((uid, i) => onChain.get(uid) === values[i]);
}
