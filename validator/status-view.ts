import type { Logger } from 'pino';
import type { Chain, Metagraph, NetUid } from '../src/chain/chain.js';
import type { LedgerReader } from '../src/ledger/ledger.js';
import { isMarkedIdentity } from './admission.js';
import { scoreWindow, scoringWindow, type BlockClock } from './scoring.js';
import { toU16Vector } from './weights.js';
import { subnetSize, type TickReport, type WeightPoster } from './weight-poster.js';

/**
 * The validator's section of the status page: the farms it credits in the current window, the
 * weight vector it would post now (scored from the ledger as the weight poster scores it), the
 * posts it made and whether they landed, and its pending commits. A pending commit's vector is
 * never shown: revealing it early would undo commit-reveal.
 */

export interface FarmRow {
  readonly hotkey: string;
  readonly uid: number | null;
  /** Its authorize was signed by a registered hotkey (its work can earn weight). */
  readonly verified: boolean;
  readonly connections: number;
  /** Credited difficulty in the window, from the ledger. */
  readonly creditedDifficulty: number;
  /** Its share of the vector that would be posted now. */
  readonly nextWeight: number | null;
}

export interface PostRow {
  readonly block: number;
  readonly kind: 'set' | 'commit' | 'timelocked commit' | 'failed' | 'dry-run';
  readonly status: 'landed' | 'pending reveal' | 'expired' | 'failed' | 'not posted';
  /** The vector's uids and u16 values; null for a commit until it is revealed. */
  readonly uids: readonly number[] | null;
  readonly values: readonly number[] | null;
  readonly detail: string | null;
  /** A commit's hash, to match its reveal. */
  readonly hash?: string;
}

export interface ValidatorStatus {
  readonly netuid: NetUid;
  readonly hotkey: string;
  readonly uid: number | null;
  readonly block: number | null;
  /** The scoring window so far: blocks, and the wall-clock ms the ledger was read over [from, to). */
  readonly window: {
    readonly fromBlock: number;
    readonly toBlock: number;
    readonly from: number;
    readonly to: number;
  } | null;
  readonly farms: readonly FarmRow[];
  readonly nextWeights: { readonly uids: readonly number[]; readonly values: readonly number[] } | null;
  readonly posts: readonly PostRow[];
  readonly pendingCommits: readonly {
    readonly hash: string;
    readonly commitEpoch: number;
    readonly revealEpoch: number | null;
  }[];
}

const POSTS_KEPT = 10;
/** The window is read from the ledger at most this often, however fast blocks come. */
const REFRESH_MS = 3000;

export interface ValidatorStatusOptions {
  readonly chain: Chain;
  readonly netuid: NetUid;
  readonly hotkey: string;
  readonly ledger: LedgerReader;
  readonly clock: BlockClock;
  readonly poster: WeightPoster;
  /** Blocks between posts as configured (weights.intervalBlocks), else the tempo. */
  readonly intervalBlocks: number | undefined;
  /** Connections per credited identity, now. */
  readonly connections: () => ReadonlyMap<string, number>;
  readonly logger: Logger;
}

export class ValidatorStatusView {
  private posts: PostRow[] = [];
  private current: Omit<ValidatorStatus, 'posts' | 'pendingCommits' | 'farms'> & {
    readonly credited: ReadonlyMap<string, number>;
    readonly uidOf: ReadonlyMap<string, number>;
    readonly period: number;
  };
  private reading: Promise<void> | undefined;
  private lastRead = 0;
  private error: string | undefined;

  constructor(private readonly options: ValidatorStatusOptions) {
    this.current = {
      netuid: options.netuid,
      hotkey: options.hotkey,
      uid: null,
      block: null,
      window: null,
      nextWeights: null,
      credited: new Map(),
      uidOf: new Map(),
      period: 1,
    };
  }

  /** A weight poster's tick: its post and reveals go into the posts list. */
  observe(report: TickReport): void {
    const { post } = report;
    if (post.kind === 'set')
      this.add({ block: post.inclusion.block, kind: 'set', status: 'landed', ...vectorOf(post.vector) });
    else if (post.kind === 'committed')
      this.add({
        block: post.inclusion.block,
        kind: 'commit',
        status: 'pending reveal',
        uids: null,
        values: null,
        detail: `reveal in epoch ${post.commit.commitEpoch + this.current.period}`,
        hash: post.commit.hash,
      });
    else if (post.kind === 'timelocked')
      this.add({
        block: post.inclusion.block,
        kind: 'timelocked commit',
        status: 'pending reveal',
        uids: null,
        values: null,
        detail: `the chain reveals it from block ${post.commit.revealFrom}`,
        hash: `round:${post.commit.revealRound}`,
      });
    else if (post.kind === 'failed' && this.posts[0]?.detail !== `${post.error}: ${post.advice}`)
      this.add({
        block: report.block,
        kind: 'failed',
        status: 'failed',
        uids: null,
        values: null,
        detail: `${post.error}: ${post.advice}`,
      });
    else if (post.kind === 'dry-run')
      this.add({ block: report.block, kind: 'dry-run', status: 'not posted', ...vectorOf(post.vector) });
    for (const reveal of report.reveals) {
      const status = reveal.kind === 'revealed' ? 'landed' : reveal.kind === 'expired' ? 'expired' : 'failed';
      if (reveal.kind === 'failed' && !reveal.dropped) continue;
      this.settle(reveal.commit.hash, status, reveal.commit);
    }
    for (const check of report.timelocked ?? [])
      this.settle(
        `round:${check.commit.revealRound}`,
        check.kind === 'revealed' ? 'landed' : 'expired',
        check.commit.vector,
      );
  }

  /** A new best block: re-reads the window (at most every few seconds, one read at a time). */
  onBlock(): void {
    if (this.reading !== undefined || Date.now() - this.lastRead < REFRESH_MS) return;
    this.lastRead = Date.now();
    this.reading = this.read()
      .then(() => {
        this.error = undefined;
      })
      .catch((error: unknown) => {
        this.error = `cannot read the window: ${(error as Error).message}`;
        this.options.logger.warn({ error: (error as Error).message }, 'status page: window read failed');
      })
      .finally(() => {
        this.reading = undefined;
      });
  }

  /** The status page's `validator` section. */
  snapshot(): ValidatorStatus | { readonly error: string } {
    if (this.current.window === null && this.error !== undefined) return { error: this.error };
    const { credited, uidOf, period, ...rest } = this.current;
    const connections = this.options.connections();
    const total = this.current.nextWeights?.values.reduce((a, b) => a + b, 0) ?? 0;
    const weightOf = new Map<number, number>();
    this.current.nextWeights?.uids.forEach((uid, i) =>
      weightOf.set(uid, this.current.nextWeights!.values[i]!),
    );
    const farms = [...new Set([...credited.keys(), ...connections.keys()])].sort().map((hotkey) => {
      const uid = uidOf.get(hotkey) ?? null;
      return {
        hotkey,
        uid,
        verified: !isMarkedIdentity(hotkey) && uid !== null,
        connections: connections.get(hotkey) ?? 0,
        creditedDifficulty: credited.get(hotkey) ?? 0,
        nextWeight: uid === null || total === 0 ? null : (weightOf.get(uid) ?? 0) / total,
      };
    });
    return {
      ...rest,
      farms,
      posts: this.posts,
      pendingCommits: this.options.poster.pendingCommits().map((commit) => ({
        hash: commit.hash,
        commitEpoch: commit.commitEpoch,
        revealEpoch: commit.commitEpoch + period,
      })),
    };
  }

  private async read(): Promise<void> {
    const { chain, netuid, hotkey, ledger, clock, poster } = this.options;
    const metagraph: Metagraph = await chain.metagraph(netuid);
    const me = metagraph.neurons.find((neuron) => neuron.hotkey === hotkey);
    const block = metagraph.block;
    const gap = Math.max(metagraph.weightsRateLimit, this.options.intervalBlocks ?? metagraph.tempo, 1);
    const since =
      poster.lastScoredBlock ?? (me !== undefined && me.lastUpdate > 0 ? me.lastUpdate : block - gap);
    const fromBlock = Math.min(Math.max(since, block - 2 * gap, 0), block - 1);
    const window = scoringWindow(clock, { from: fromBlock, to: block });
    const scores = await scoreWindow(ledger, window, metagraph);
    // One row per (miner, worker): a farm's credit is the sum over its workers.
    const credited = new Map<string, number>();
    for (const totals of await ledger.minerTotals(window))
      if (totals.creditedDifficulty > 0)
        credited.set(totals.miner, (credited.get(totals.miner) ?? 0) + totals.creditedDifficulty);
    const vector = toU16Vector(scores.scores, {
      maxWeightsLimit: metagraph.maxWeightsLimit,
      minAllowedWeights: metagraph.minAllowedWeights,
      n: subnetSize(metagraph.neurons),
    });
    this.current = {
      netuid,
      hotkey,
      uid: me?.uid ?? null,
      block,
      window: { fromBlock, toBlock: block, from: window.from, to: window.to },
      nextWeights: { uids: vector.uids, values: vector.values },
      credited,
      uidOf: new Map(metagraph.neurons.map((neuron) => [neuron.hotkey, neuron.uid])),
      period: metagraph.commitRevealPeriod,
    };
  }

  private add(row: PostRow): void {
    this.posts = [row, ...this.posts].slice(0, POSTS_KEPT);
  }

  /** A commit's outcome: its row's status, and its vector once revealed (public on chain then). */
  private settle(
    hash: string,
    status: PostRow['status'],
    vector: { readonly uids: readonly number[]; readonly values: readonly number[] },
  ): void {
    this.posts = this.posts.map((row) =>
      row.hash !== hash
        ? row
        : status === 'landed'
          ? { ...row, status, uids: vector.uids, values: vector.values }
          : { ...row, status },
    );
  }
}

function vectorOf(vector: { readonly uids: readonly number[]; readonly values: readonly number[] }): {
  uids: readonly number[];
  values: readonly number[];
  detail: null;
} {
  return { uids: vector.uids, values: vector.values, detail: null };
}
