import type { KeyringPair } from '@polkadot/keyring/types';
import { u8aToHex } from '@polkadot/util';
import { decodeAddress, encodeAddress } from '@polkadot/util-crypto';
import { Counter, Gauge, Registry } from 'prom-client';
import {
  ChainError,
  chainError,
  type Chain,
  type Inclusion,
  type Metagraph,
  type NetUid,
  type Neuron,
  type WeightsVector,
} from '../src/chain/chain.js';
import { btcliRegister, btcliStakeAdd, UNKNOWN_WALLET, type WalletNames } from '../src/chain/btcli-advice.js';
import { commitHash, randomSalt } from '../src/chain/commit-hash.js';
import type { Hotkey } from '../src/chain/hotkey.js';
import { epochAt, epochStart, formulaEpochStart, type EpochSchedule } from '../src/chain/epoch.js';
import { maxUpscaleU16 } from '../src/chain/weight-limits.js';
import type { Logger } from '../src/log/logger.js';
import { PendingCommitStore, type PendingCommit } from './pending-commits.js';
import type { Scorer, WindowScores } from './scoring.js';
import {
  TimelockedCommits,
  timelockedAdvice,
  type CommitModeSetting,
  type RevealWindow,
  type SentTimelockedCommit,
  type TimelockedCheck,
} from './timelocked-commits.js';
import type { DrandBeacon } from '../src/chain/timelock.js';
import { toU16Vector, WeightsError } from './weights.js';

/**
 * Puts the validator's scores on chain, driven by the block subscription (`tick`). Each tick
 * first reveals commits whose reveal epoch has come, then, once the rate limit and the posting
 * interval allow (read from the metagraph; nothing is sent before), scores the blocks since
 * the previous post and sends `set_weights`, or `commit_weights` when the subnet runs hash
 * commit-reveal. A commit is written to the state directory before it is sent, so a restarted
 * validator still reveals it. Retryable chain errors back off (2, 4, 8, … blocks); others are
 * reported by name with what the operator can do, and tried again an epoch later.
 *
 * Reveal timing comes from the chain's own epoch schedule (`Chain.epochSchedule`: the
 * `SubnetEpochIndex` counter on spec ≥ 423, the old formula before), never from a local formula.
 * A reveal refused as not (yet) in its window — mainnet's pool answer `Custom error: 17` — keeps
 * its commit and is retried; a commit is forgotten only once the weights on chain show the
 * reveal landed, or its window has passed.
 */

export const WEIGHT_POST_RESULTS = [
  'set',
  'committed',
  'revealed',
  'dry_run',
  'expired',
  'retryable_error',
  'error',
] as const;
export type WeightPostResult = (typeof WEIGHT_POST_RESULTS)[number];

export class WeightMetrics {
  readonly posted: Counter<'result'>;
  /** Block of the last `set_weights` or reveal included: when weights last took effect. */
  readonly lastPostedBlock: Gauge;
  readonly pendingCommits: Gauge;
  readonly burns: Counter;

  constructor(registry: Registry = new Registry()) {
    const registers = [registry];
    this.posted = new Counter({
      name: 'hashrelay_weights_posted_total',
      help: 'Weight extrinsics and their outcomes, by result.',
      labelNames: ['result'],
      registers,
    });
    for (const result of WEIGHT_POST_RESULTS) this.posted.inc({ result }, 0);
    this.lastPostedBlock = new Gauge({
      name: 'hashrelay_weights_last_posted_block',
      help: 'Block of the last set_weights or reveal_weights included.',
      registers,
    });
    this.pendingCommits = new Gauge({
      name: 'hashrelay_weights_pending_commits',
      help: 'Weight commits waiting for their reveal epoch.',
      registers,
    });
    this.burns = new Counter({
      name: 'hashrelay_weights_burn_total',
      help: "Vectors that weighted the subnet owner's uid because no miner earned anything.",
      registers,
    });
  }
}

export interface WeightPosterOptions {
  readonly chain: Chain;
  /** The validator's hotkey. */
  readonly signer: KeyringPair;
  readonly netuid: NetUid;
  /** Where pending commits are kept across restarts. */
  readonly stateDir: string;
  readonly scorer: Scorer;
  readonly logger: Logger;
  /** Metrics, or a registry to make them on (otherwise a private one). */
  readonly metrics?: WeightMetrics;
  readonly registry?: Registry;
  /** Compute and log the vector on the posting schedule, never submit. */
  readonly dryRun?: boolean;
  /** The version key to post; default: the subnet's `WeightsVersionKey`. Below it, nothing is sent. */
  readonly versionKey?: bigint;
  /** Post at most once per this many blocks (and never faster than the rate limit). Default: the tempo. */
  readonly intervalBlocks?: number;
  /** The longest block range one post scores (after downtime). Default: twice the posting gap. */
  readonly maxWindowBlocks?: number;
  /** Cap on the retry backoff, blocks. Default 32. */
  readonly maxBackoffBlocks?: number;
  /** u16s of salt per commit. Default 8. */
  readonly saltLength?: number;
  /** Hash or drand-timelocked commits under commit-reveal: `auto` follows the runtime. Default auto. */
  readonly commitMode?: CommitModeSetting;
  /** The drand beacon timelocked commits lock to (default quicknet; tests bring their own). */
  readonly drandBeacon?: DrandBeacon;
  /** The wallet names to spell btcli commands in advice with. Default: placeholders. */
  readonly wallet?: WalletNames;
}

export interface SetOutcome {
  readonly kind: 'set';
  readonly vector: WeightsVector;
  readonly scores: WindowScores;
  readonly inclusion: Inclusion;
}

export interface CommittedOutcome {
  readonly kind: 'committed';
  readonly vector: WeightsVector;
  readonly scores: WindowScores;
  readonly inclusion: Inclusion;
  readonly commit: PendingCommit;
}

export interface TimelockedOutcome {
  readonly kind: 'timelocked';
  readonly vector: WeightsVector;
  readonly scores: WindowScores;
  readonly inclusion: Inclusion;
  readonly commit: SentTimelockedCommit;
}

export type PostOutcome =
  | { readonly kind: 'busy' }
  | { readonly kind: 'waiting'; readonly reason: WaitReason; readonly nextBlock: number }
  | { readonly kind: 'nothing-to-post'; readonly reason: string; readonly scores: WindowScores }
  | { readonly kind: 'dry-run'; readonly vector: WeightsVector; readonly scores: WindowScores }
  | SetOutcome
  | CommittedOutcome
  | TimelockedOutcome
  | PostFailure;

export interface PostFailure {
  readonly kind: 'failed';
  /** The chain error's name (`NeuronNoValidatorPermit`, ...), or what failed before the chain. */
  readonly error: string;
  readonly message: string;
  readonly retryable: boolean;
  readonly advice: string;
  /** The next block a post is tried. */
  readonly nextBlock: number;
}

export type WaitReason = 'rate-limit' | 'interval' | 'backoff' | 'error';

export type RevealOutcome =
  | { readonly kind: 'revealed'; readonly commit: PendingCommit; readonly inclusion: Inclusion }
  | { readonly kind: 'expired'; readonly commit: PendingCommit; readonly epoch: number }
  | {
      readonly kind: 'failed';
      readonly commit: PendingCommit;
      readonly error: string;
      readonly retryable: boolean;
      readonly advice: string;
      /** Dropped from the pending list (it can never be revealed). */
      readonly dropped: boolean;
    };

export interface TickReport {
  readonly block: number;
  readonly reveals: readonly RevealOutcome[];
  readonly post: PostOutcome;
  /** Timelocked commits seen revealed (or not, after their reveal epoch) at this tick. */
  readonly timelocked?: readonly TimelockedCheck[];
}

/** The extrinsic each way of posting sends (named in failure logs). */
const CALL_OF_MODE = {
  direct: 'set_weights',
  hash: 'commit_weights',
  timelocked: 'commit_timelocked_weights',
} as const;

/** Send errors after which the extrinsic may still have been included. */
const AMBIGUOUS = new Set(['Disconnected', 'Timeout']);
/** A reveal refused because the chain holds no such commit (dispatch name, mainnet pool name). */
const COMMIT_GONE = new Set(['NoWeightsCommitFound', 'CommitNotFound']);

export class WeightPoster {
  readonly metrics: WeightMetrics;
  readonly hotkey: Hotkey;
  private readonly chain: Chain;
  private readonly signer: KeyringPair;
  private readonly netuid: NetUid;
  private readonly scorer: Scorer;
  private readonly log: Logger;
  private readonly dryRun: boolean;
  private readonly versionKey: bigint | undefined;
  private readonly intervalBlocks: number | undefined;
  private readonly maxWindowBlocks: number | undefined;
  private readonly maxBackoffBlocks: number;
  private readonly saltLength: number;
  private readonly wallet: WalletNames;
  private readonly store: PendingCommitStore;
  private readonly timelocked: TimelockedCommits;
  private busy = false;
  /** No post is attempted (and no metagraph read for one) before this block. */
  private nextPostBlock = 0;
  private nextPostReason: WaitReason = 'interval';
  private postFailures = 0;
  private revealFailures = 0;
  private nextRevealBlock = 0;
  /** The chain's epoch schedule and reveal period at the last read, to know when a reveal is due. */
  private epochs: { schedule: EpochSchedule; period: number; tempo: number } | undefined;
  /** The end of the block range the last post (or dry run) scored. */
  private lastWindowTo: number | undefined;
  private lastDryRunBlock: number | undefined;

  private constructor(options: WeightPosterOptions, store: PendingCommitStore, hotkey: Hotkey) {
    this.chain = options.chain;
    this.signer = options.signer;
    this.netuid = options.netuid;
    this.scorer = options.scorer;
    this.log = options.logger;
    this.dryRun = options.dryRun ?? false;
    this.versionKey = options.versionKey;
    this.intervalBlocks = positive('intervalBlocks', options.intervalBlocks);
    this.maxWindowBlocks = positive('maxWindowBlocks', options.maxWindowBlocks);
    this.maxBackoffBlocks = positive('maxBackoffBlocks', options.maxBackoffBlocks) ?? 32;
    this.saltLength = positive('saltLength', options.saltLength) ?? 8;
    this.wallet = options.wallet ?? UNKNOWN_WALLET;
    this.metrics = options.metrics ?? new WeightMetrics(options.registry);
    this.store = store;
    this.hotkey = hotkey;
    this.timelocked = new TimelockedCommits({
      chain: options.chain,
      signer: options.signer,
      netuid: options.netuid,
      logger: options.logger,
      setting: options.commitMode,
      beacon: options.drandBeacon,
      registry: options.registry,
    });
    this.metrics.pendingCommits.set(store.list().length);
  }

  /** Opens the poster and the pending commits a previous run left in `stateDir`. */
  static async open(options: WeightPosterOptions): Promise<WeightPoster> {
    const hotkey = toHotkey(options.signer.address);
    const store = await PendingCommitStore.open(options.stateDir, options.netuid, hotkey);
    const poster = new WeightPoster(options, store, hotkey);
    if (store.list().length > 0) {
      options.logger.info(
        {
          pending: store.list().map((c) => ({ hash: c.hash, commitEpoch: c.commitEpoch })),
          file: store.path,
        },
        'weight commits from a previous run will be revealed in their epoch',
      );
    }
    return poster;
  }

  /** The end of the block range the last post (or dry run) scored: where the next window starts. */
  get lastScoredBlock(): number | undefined {
    return this.lastWindowTo;
  }

  /** Commits waiting for their reveal epoch, oldest first. */
  pendingCommits(): readonly PendingCommit[] {
    return this.store.list();
  }

  /**
   * One step at a new best block. Never throws: failures are in the report and the log. A tick
   * arriving while the previous one still runs does nothing (`busy`).
   */
  async tick(block: number): Promise<TickReport> {
    if (this.busy) return { block, reveals: [], post: { kind: 'busy' } };
    this.busy = true;
    try {
      return await this.step(block);
    } catch (error) {
      // Only a failing state-directory write gets here (after the chain call it recorded).
      return { block, reveals: [], post: this.failed(block, error, 'recording pending commits') };
    } finally {
      this.busy = false;
    }
  }

  private async step(block: number): Promise<TickReport> {
    const revealDue = this.revealDue(block);
    const timelockedDue = this.timelocked.checkDue(block);
    if (block < this.nextPostBlock && !revealDue && !timelockedDue) {
      return { block, reveals: [], post: this.waiting() };
    }
    let metagraph: Metagraph;
    let schedule: EpochSchedule;
    try {
      [metagraph, schedule] = await Promise.all([
        this.chain.metagraph(this.netuid),
        this.chain.epochSchedule(this.netuid),
      ]);
    } catch (error) {
      return { block, reveals: [], post: this.failed(block, error, 'reading the metagraph') };
    }
    this.epochs = { schedule, period: metagraph.commitRevealPeriod, tempo: metagraph.tempo };
    const reveals = revealDue ? await this.reveal(metagraph, schedule) : [];
    const timelocked = timelockedDue ? await this.checkTimelocked(metagraph) : [];
    const post = block < this.nextPostBlock ? this.waiting() : await this.post(metagraph);
    return { block, reveals, post, timelocked };
  }

  // ---- reveal ----

  private revealDue(block: number): boolean {
    const commits = this.store.list();
    if (commits.length === 0 || block < this.nextRevealBlock) return false;
    if (this.epochs === undefined) return true;
    const { schedule, period } = this.epochs;
    return commits.some((c) => block >= epochStart(schedule, c.commitEpoch + period));
  }

  private async reveal(metagraph: Metagraph, schedule: EpochSchedule): Promise<RevealOutcome[]> {
    const outcomes: RevealOutcome[] = [];
    // The epoch of the best block by the chain's own counter (or formula, on old runtimes).
    const epoch = schedule.epoch;
    const myUid = metagraph.neurons.find((neuron) => neuron.hotkey === this.hotkey)?.uid;
    for (const commit of [...this.store.list()]) {
      const revealEpoch = commit.commitEpoch + metagraph.commitRevealPeriod;
      // A commit whose inclusion block is unknown may have landed one epoch later than assumed.
      const lastEpoch = revealEpoch + (commit.commitBlock === null ? 1 : 0);
      if (epoch < revealEpoch) continue;
      if (epoch > lastEpoch) {
        // An earlier attempt whose answer was lost may have landed after all.
        if ((await this.landed(commit, myUid)) === true) {
          outcomes.push(
            await this.revealed(commit, { block: metagraph.block, blockHash: metagraph.blockHash }),
          );
          continue;
        }
        await this.store.remove(commit.hash);
        this.metrics.posted.inc({ result: 'expired' });
        this.log.warn(
          { hash: commit.hash, commitEpoch: commit.commitEpoch, revealEpoch, epoch, block: metagraph.block },
          'weight commit expired before it could be revealed; its weights are lost (was the validator down?)',
        );
        outcomes.push({ kind: 'expired', commit, epoch });
        continue;
      }
      let inclusion: Inclusion;
      try {
        inclusion = await this.chain.revealWeights(this.signer, this.netuid, {
          uids: commit.uids,
          values: commit.values,
          salt: commit.salt,
          versionKey: commit.versionKey,
        });
      } catch (error) {
        // "No such commit" after an attempt whose answer was lost: the weights tell if it landed.
        const gone = error instanceof ChainError && COMMIT_GONE.has(error.chainError);
        if (gone && (await this.landed(commit, myUid)) === true) {
          outcomes.push(
            await this.revealed(commit, { block: metagraph.block, blockHash: metagraph.blockHash }),
          );
        } else {
          outcomes.push(await this.revealFailed(schedule, commit, error));
        }
        continue;
      }
      // Included without a dispatch error: count it only if its weights show (else report it; the
      // commit is consumed on chain either way).
      if ((await this.landed(commit, myUid)) === false) {
        outcomes.push(
          await this.revealFailed(
            schedule,
            commit,
            chainError(
              'RevealNotApplied',
              `reveal included at block ${inclusion.block}, but the weights on chain differ`,
            ),
          ),
        );
        continue;
      }
      outcomes.push(await this.revealed(commit, inclusion));
    }
    this.metrics.pendingCommits.set(this.store.list().length);
    return outcomes;
  }

  /**
   * Whether the chain's weights for this validator are the commit's vector (as the runtime
   * stores it, max-upscaled): true, false, or undefined when they cannot be read (or the
   * hotkey has no uid to read them at).
   */
  private async landed(commit: PendingCommit, uid: number | undefined): Promise<boolean | undefined> {
    if (uid === undefined) return undefined;
    let onChain: Map<number, number>;
    try {
      onChain = await this.chain.weightsOf(this.netuid, uid);
    } catch {
      return undefined;
    }
    const upscaled = maxUpscaleU16(commit.values);
    return (
      onChain.size === commit.uids.length &&
      commit.uids.every((target, i) => onChain.get(target) === upscaled[i])
    );
  }

  private async revealed(commit: PendingCommit, inclusion: Inclusion): Promise<RevealOutcome> {
    await this.store.remove(commit.hash);
    this.revealFailures = 0;
    this.metrics.posted.inc({ result: 'revealed' });
    this.metrics.lastPostedBlock.set(inclusion.block);
    this.log.info(
      { hash: commit.hash, block: inclusion.block, uids: commit.uids, values: commit.values },
      'weights revealed',
    );
    return { kind: 'revealed', commit, inclusion };
  }

  private async revealFailed(
    schedule: EpochSchedule,
    commit: PendingCommit,
    error: unknown,
  ): Promise<RevealOutcome> {
    const { name, message, retryable } = classify(error);
    const advice = adviceFor(name, this.netuid, this.wallet);
    const block = schedule.block;
    if (retryable) {
      this.revealFailures += 1;
      // Short steps, so a retry never jumps over a whole reveal window; and not before the
      // window opens when the schedule says it has not (an early reveal, mainnet's code 17).
      const step = Math.min(
        this.backoff(this.revealFailures),
        Math.max(1, Math.floor(schedule.epochLength / 4)),
      );
      const opens = epochStart(schedule, commit.commitEpoch + (this.epochs?.period ?? 1));
      this.nextRevealBlock = Math.max(block + step, opens);
      this.metrics.posted.inc({ result: 'retryable_error' });
      this.log.warn(
        { hash: commit.hash, chainError: name, error: message, retryAt: this.nextRevealBlock },
        'weight reveal failed; retrying',
      );
    } else {
      await this.store.remove(commit.hash);
      this.metrics.posted.inc({ result: 'error' });
      this.log.error(
        { hash: commit.hash, chainError: name, error: message, advice },
        'weight reveal refused; the commit is dropped',
      );
    }
    return { kind: 'failed', commit, error: name, retryable, advice, dropped: !retryable };
  }

  // ---- post ----

  private async post(metagraph: Metagraph): Promise<PostOutcome> {
    const block = metagraph.block;
    const me = metagraph.neurons.find((neuron) => neuron.hotkey === this.hotkey);
    if (me === undefined) {
      return this.refused(
        block,
        metagraph,
        'HotKeyNotRegisteredInSubNet',
        `${this.hotkey} has no uid on subnet ${this.netuid}`,
      );
    }
    const gap = Math.max(metagraph.weightsRateLimit, this.intervalBlocks ?? metagraph.tempo, 1);
    const since = this.dryRun ? this.lastDryRunBlock : me.lastUpdate === 0 ? undefined : me.lastUpdate;
    if (since !== undefined && block - since < gap) {
      this.nextPostBlock = since + gap;
      this.nextPostReason = gap > metagraph.weightsRateLimit ? 'interval' : 'rate-limit';
      return this.waiting();
    }
    const versionKey = this.versionKey ?? metagraph.weightsVersion;
    if (versionKey < metagraph.weightsVersion) {
      return this.refused(
        block,
        metagraph,
        'IncorrectWeightVersionKey',
        `version key ${versionKey} is below subnet ${this.netuid}'s WeightsVersionKey ${metagraph.weightsVersion}`,
      );
    }

    let scores: WindowScores;
    let vector: WeightsVector;
    try {
      const from = this.windowStart(block, me, gap);
      scores = await this.scorer(metagraph, { from, to: block });
      const u16 = toU16Vector(scores.scores, {
        maxWeightsLimit: metagraph.maxWeightsLimit,
        minAllowedWeights: metagraph.minAllowedWeights,
        n: subnetSize(metagraph.neurons),
      });
      vector = { uids: u16.uids, values: u16.values, versionKey };
      this.logScores(scores, vector, u16.capped, u16.padded);
    } catch (error) {
      return this.failed(block, error, 'scoring');
    }
    if (vector.uids.length === 0) {
      this.nextPostBlock = block + gap;
      this.nextPostReason = 'interval';
      const reason = scores.burn
        ? "nobody earned anything and the subnet owner's hotkey has no uid to burn to; nothing posted"
        : 'the scores give an empty vector; nothing posted';
      this.log.warn({ window: scores.window }, reason);
      return { kind: 'nothing-to-post', reason, scores };
    }

    if (this.dryRun) {
      this.lastDryRunBlock = block;
      this.lastWindowTo = block;
      this.nextPostBlock = block + gap;
      this.nextPostReason = 'interval';
      this.metrics.posted.inc({ result: 'dry_run' });
      this.log.info(
        { uids: vector.uids, values: vector.values, versionKey: String(versionKey), block },
        'dry run: weights not submitted',
      );
      return { kind: 'dry-run', vector, scores };
    }

    let during = 'choosing how to post weights';
    try {
      const mode = await this.timelocked.choose(metagraph);
      during = CALL_OF_MODE[mode];
      const outcome =
        mode === 'timelocked'
          ? await this.commitTimelocked(metagraph, vector, scores)
          : mode === 'hash'
            ? await this.commit(metagraph, vector, scores)
            : await this.set(vector, scores);
      this.postFailures = 0;
      this.lastWindowTo = block;
      this.nextPostBlock = outcome.inclusion.block + gap;
      this.nextPostReason = 'rate-limit';
      if (scores.burn) this.metrics.burns.inc();
      return outcome;
    } catch (error) {
      return this.failed(block, error, during);
    }
  }

  private async set(vector: WeightsVector, scores: WindowScores): Promise<SetOutcome> {
    const inclusion = await this.chain.setWeights(this.signer, this.netuid, vector);
    this.metrics.posted.inc({ result: 'set' });
    this.metrics.lastPostedBlock.set(inclusion.block);
    this.log.info({ block: inclusion.block, uids: vector.uids, values: vector.values }, 'weights set');
    return { kind: 'set', vector, scores, inclusion };
  }

  private async commit(
    metagraph: Metagraph,
    vector: WeightsVector,
    scores: WindowScores,
  ): Promise<CommittedOutcome> {
    const salt = randomSalt(this.saltLength);
    const hash = commitHash(this.hotkey, this.netuid, vector.uids, vector.values, salt, vector.versionKey);
    const provisional: PendingCommit = {
      hotkey: this.hotkey,
      netuid: this.netuid,
      uids: vector.uids,
      values: vector.values,
      salt,
      versionKey: vector.versionKey,
      hash: u8aToHex(hash),
      submittedAtBlock: metagraph.block,
      commitBlock: null,
      // Provisional: the epoch is the one of the block it lands in, read back below.
      commitEpoch: epochAt(
        this.epochs?.schedule ?? (await this.chain.epochSchedule(this.netuid)),
        metagraph.block,
      ),
    };
    // Written before sending: a commit on chain whose salt was lost could never be revealed.
    await this.store.add(provisional);
    let inclusion: Inclusion;
    try {
      inclusion = await this.chain.commitWeights(this.signer, this.netuid, hash);
    } catch (error) {
      const name = error instanceof ChainError ? error.chainError : '';
      if (!AMBIGUOUS.has(name)) await this.store.remove(provisional.hash);
      this.metrics.pendingCommits.set(this.store.list().length);
      throw error;
    }
    const commit: PendingCommit = {
      ...provisional,
      commitBlock: inclusion.block,
      commitEpoch: await this.epochOfInclusion(inclusion),
    };
    await this.store.update(commit);
    this.metrics.pendingCommits.set(this.store.list().length);
    this.metrics.posted.inc({ result: 'committed' });
    const revealEpoch = commit.commitEpoch + metagraph.commitRevealPeriod;
    this.log.info(
      {
        block: inclusion.block,
        hash: commit.hash,
        commitEpoch: commit.commitEpoch,
        revealEpoch,
        revealFromBlock:
          this.epochs === undefined ? undefined : epochStart(this.epochs.schedule, revealEpoch),
        uids: vector.uids,
        values: vector.values,
      },
      'weights committed',
    );
    return { kind: 'committed', vector, scores, inclusion, commit };
  }

  private async commitTimelocked(
    metagraph: Metagraph,
    vector: WeightsVector,
    scores: WindowScores,
  ): Promise<TimelockedOutcome> {
    const period = metagraph.commitRevealPeriod;
    // The reveal epoch by the chain's schedule (counter or formula), as for hash commits.
    const window: RevealWindow = async (at) => {
      const schedule =
        typeof at === 'number'
          ? (this.epochs?.schedule ?? (await this.chain.epochSchedule(this.netuid)))
          : await this.scheduleOfInclusion(at);
      const revealEpoch = epochAt(schedule, typeof at === 'number' ? at : at.block) + period;
      return { start: epochStart(schedule, revealEpoch), end: epochStart(schedule, revealEpoch + 1) };
    };
    const { inclusion, commit } = await this.timelocked.commit(metagraph, vector, window);
    this.metrics.posted.inc({ result: 'committed' });
    return { kind: 'timelocked', vector, scores, inclusion, commit };
  }

  private async checkTimelocked(metagraph: Metagraph): Promise<TimelockedCheck[]> {
    const uid = metagraph.neurons.find((neuron) => neuron.hotkey === this.hotkey)?.uid;
    let checks: TimelockedCheck[];
    try {
      checks = await this.timelocked.check(metagraph.block, uid);
    } catch (error) {
      this.log.warn(
        { error: (error as Error).message },
        'cannot read weights to check timelocked reveals; will look again',
      );
      return [];
    }
    for (const check of checks) {
      if (check.kind === 'revealed') {
        this.metrics.posted.inc({ result: 'revealed' });
        this.metrics.lastPostedBlock.set(check.block);
      } else {
        this.metrics.posted.inc({ result: 'expired' });
      }
    }
    return checks;
  }

  /** The epoch the chain tagged a commit with: its schedule at the inclusion block (else projected). */
  private async epochOfInclusion(inclusion: Inclusion): Promise<number> {
    return epochAt(await this.scheduleOfInclusion(inclusion), inclusion.block);
  }

  /** The chain's schedule at an inclusion block, else the last one read (projected by `epochAt`). */
  private async scheduleOfInclusion(inclusion: Inclusion): Promise<EpochSchedule> {
    try {
      return await this.chain.epochSchedule(this.netuid, inclusion);
    } catch (error) {
      const schedule = this.epochs?.schedule;
      if (schedule === undefined) throw error;
      this.log.warn(
        { block: inclusion.block, error: (error as Error).message },
        "cannot read the commit block's epoch: projecting it from the last schedule",
      );
      return schedule;
    }
  }

  /** The first block of this post's range: where the previous one ended, bounded to `maxWindowBlocks`. */
  private windowStart(block: number, me: Neuron, gap: number): number {
    const previous = this.lastWindowTo ?? (me.lastUpdate > 0 ? me.lastUpdate : block - gap);
    const from = Math.max(previous, block - (this.maxWindowBlocks ?? 2 * gap), 0);
    return Math.min(from, block - 1);
  }

  private logScores(scores: WindowScores, vector: WeightsVector, capped: boolean, padded: boolean): void {
    const fields = {
      window: scores.window,
      miners: scores.burn ? 0 : scores.scores.size,
      creditedDifficulty: scores.creditedDifficulty,
      uncredited: scores.uncredited,
      capped,
      padded,
      entries: vector.uids.length,
    };
    if (scores.burn) {
      this.log.warn(
        { ...fields, ownerUid: scores.ownerUid },
        "no miner earned anything in the window: weighting the subnet owner's uid (burn)",
      );
    } else {
      this.log.info(fields, 'scored window');
    }
  }

  // ---- outcomes ----

  private waiting(): PostOutcome {
    return { kind: 'waiting', reason: this.nextPostReason, nextBlock: this.nextPostBlock };
  }

  /** A post not attempted because the metagraph already says the chain would refuse it. */
  private refused(block: number, metagraph: Metagraph, name: string, message: string): PostFailure {
    const advice = adviceFor(name, this.netuid, this.wallet);
    this.nextPostBlock = block + Math.max(metagraph.tempo, 1);
    this.nextPostReason = 'error';
    this.metrics.posted.inc({ result: 'error' });
    this.log.error(
      { chainError: name, error: message, advice, retryAt: this.nextPostBlock },
      'weights not posted',
    );
    return { kind: 'failed', error: name, message, retryable: false, advice, nextBlock: this.nextPostBlock };
  }

  private failed(block: number, error: unknown, during: string): PostFailure {
    const { name, message, retryable } = classify(error);
    const advice = adviceFor(name, this.netuid, this.wallet);
    if (retryable) {
      this.postFailures += 1;
      this.nextPostBlock = block + this.backoff(this.postFailures);
      this.nextPostReason = 'backoff';
      this.metrics.posted.inc({ result: 'retryable_error' });
      this.log.warn(
        { during, chainError: name, error: message, attempt: this.postFailures, retryAt: this.nextPostBlock },
        'weights not posted; retrying',
      );
    } else {
      this.postFailures = 0;
      // Unchanged, the same call fails again: try once more an epoch later (permits, stake and vectors change).
      this.nextPostBlock = block + Math.max(this.epochs?.tempo ?? 360, 1);
      this.nextPostReason = 'error';
      this.metrics.posted.inc({ result: 'error' });
      this.log.error(
        { during, chainError: name, error: message, advice, retryAt: this.nextPostBlock },
        'weights not posted',
      );
    }
    return { kind: 'failed', error: name, message, retryable, advice, nextBlock: this.nextPostBlock };
  }

  /** 2, 4, 8, … blocks, capped. */
  private backoff(failures: number): number {
    return Math.min(2 ** Math.min(failures, 30), this.maxBackoffBlocks);
  }
}

/** What went wrong, as a name the operator can search for. */
function classify(error: unknown): { name: string; message: string; retryable: boolean } {
  if (error instanceof ChainError) {
    return { name: error.chainError, message: error.message, retryable: error.retryable };
  }
  if (error instanceof WeightsError)
    return { name: 'WeightsError', message: error.message, retryable: false };
  const message = error instanceof Error ? error.message : String(error);
  const name = error instanceof Error ? error.constructor.name : 'Error';
  // Not the chain's verdict (a ledger read, a file write, a dropped socket): worth another try.
  return { name, message, retryable: true };
}

/**
 * What the operator can do about a refused weights call, by the runtime's dispatch error name
 * or (mainnet) the pool's `CustomTransactionError` name.
 */
export function adviceFor(name: string, netuid: NetUid, wallet: WalletNames = UNKNOWN_WALLET): string {
  switch (name) {
    case 'NeuronNoValidatorPermit':
      return `this hotkey has no validator permit on subnet ${netuid}: stake more or wait for the next epoch`;
    case 'NotEnoughStakeToSetWeights':
      return `this hotkey's stake is below subnet ${netuid}'s StakeThreshold: stake more on it`;
    case 'StakeAmountTooLow':
      return (
        `this hotkey's stake on subnet ${netuid} is below the StakeThreshold for weights (or it is not registered): ` +
        `${btcliStakeAdd(netuid, wallet)}, or register it: ${btcliRegister(netuid, wallet)}`
      );
    case 'HotKeyNotRegisteredInSubNet':
    case 'UidNotFound':
      return `this hotkey is not registered on subnet ${netuid}: ${btcliRegister(netuid, wallet)} (or check --netuid)`;
    case 'CommitBlockNotInRevealRange':
    case 'RevealTooEarly':
      return "not the commit's reveal epoch yet: the reveal is retried in its window (if it recurs, the node's clock or epoch schedule is off)";
    case 'InvalidRevealRound':
      return 'the timelock reveal round is older than the last drand pulse on chain: the next commit picks a later round';
    case 'RevealNotApplied':
      return 'the reveal was included but the weights on chain differ: is another process posting weights with this hotkey?';
    case 'IncorrectWeightVersionKey':
      return `subnet ${netuid} requires a newer weights version key: upgrade hashrelay (or raise the configured version key)`;
    case 'TooManyUnrevealedCommits':
      return 'ten commits wait for reveal: keep the validator running with the same state directory so it reveals them';
    case 'ExpiredWeightCommit':
      return 'the reveal epoch had passed: keep the validator running through the reveal epoch';
    case 'NoWeightsCommitFound':
    case 'CommitNotFound':
    case 'InvalidRevealCommitHashNotMatch':
      return 'the chain holds no matching commit (deregistered since, or a state directory from another hotkey or chain)';
    case 'CommitRevealEnabled':
      return `subnet ${netuid} switched to commit-reveal: the next attempt commits instead`;
    case 'CommitRevealDisabled':
      return `subnet ${netuid} switched commit-reveal off: the next attempt sets weights directly`;
    case 'SettingWeightsTooFast':
    case 'CommittingWeightsTooFast':
    case 'RateLimitExceeded':
      return `another process may be posting weights with this hotkey on subnet ${netuid}: run one validator per hotkey`;
    case 'SubnetNotExists':
    case 'MechanismDoesNotExist':
      return `subnet ${netuid} does not exist on this chain: check --netuid and the endpoint`;
    case 'WeightVecLengthIsLow':
    case 'MaxWeightExceeded':
    case 'DuplicateUids':
    case 'UidVecContainInvalidOne':
    case 'UidsLengthExceedUidsInSubNet':
    case 'WeightVecNotEqualSize':
      return 'the vector broke a subnet rule (the metagraph may have changed meanwhile); if it repeats, report it with the logged vector';
    case 'WeightsError':
      return "the scores cannot be turned into a vector this subnet accepts; check the subnet's MaxWeightsLimit";
    case 'Disconnected':
    case 'Timeout':
      return 'the chain endpoint did not answer: check it is reachable';
    default:
      return timelockedAdvice(name) ?? `see subtensor's documentation of ${name}`;
  }
}

/** The first block whose old-formula `epochIndex` is `epoch` (runtimes without `SubnetEpochIndex`). */
export function firstBlockOfEpoch(epoch: number, netuid: NetUid, tempo: number): number {
  return formulaEpochStart(epoch, netuid, tempo);
}

/** The runtime's n: one past the highest uid. */
export function subnetSize(neurons: readonly Neuron[]): number {
  let n = 0;
  for (const neuron of neurons) n = Math.max(n, neuron.uid + 1);
  return n;
}

function positive(name: string, value: number | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (!Number.isSafeInteger(value) || value < 1)
    throw new RangeError(`${name} ${value} must be a positive integer`);
  return value;
}

function toHotkey(address: string): Hotkey {
  return encodeAddress(decodeAddress(address), 42) as Hotkey;
}
