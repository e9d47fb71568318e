import type { Metagraph, Uid } from '../src/chain/chain.js';
import type { LedgerReader, TimeWindow } from '../src/ledger/ledger.js';
import { isMarkedIdentity } from './admission.js';

/**
 * Scores from the ledger: each registered miner's score for a window is the credited
 * difficulty (the difficulty this validator assigned, for shares whose hash met it) of its
 * accepted shares, summed over its workers. Only identities that are hotkeys of the
 * metagraph count; marked identities (`unverified:…`) and hotkeys no longer
 * registered earn nothing. Anyone holding the ledger recomputes the same scores.
 */

export interface WindowScores {
  readonly window: TimeWindow;
  /** Score by uid, only uids with a positive score; the owner's uid alone when burning. */
  readonly scores: ReadonlyMap<Uid, number>;
  /** Nobody earned anything: the scores weight the subnet owner's uid (the caller logs it). */
  readonly burn: boolean;
  /** The owner hotkey's uid, when the owner hotkey is registered. */
  readonly ownerUid: Uid | undefined;
  /** Σ credited difficulty of registered hotkeys (what the scores sum to unless burning). */
  readonly creditedDifficulty: number;
  /** Credited difficulty that earns no weight: marked identities, and identities not in the metagraph. */
  readonly uncredited: { readonly marked: number; readonly notInMetagraph: number };
}

export async function scoreWindow(
  ledger: LedgerReader,
  window: TimeWindow,
  metagraph: Metagraph,
): Promise<WindowScores> {
  const uidOf = new Map<string, Uid>(metagraph.neurons.map((neuron) => [neuron.hotkey, neuron.uid]));
  const scores = new Map<Uid, number>();
  let creditedDifficulty = 0;
  let marked = 0;
  let notInMetagraph = 0;
  // Every share stamped before `window.to` was handed to the ledger by then: commit them all
  // before reading, or one caught mid-commit would fall between this window and the next.
  await ledger.flush();
  for (const totals of await ledger.minerTotals(window)) {
    const credited = totals.creditedDifficulty;
    if (!(credited > 0)) continue;
    if (isMarkedIdentity(totals.miner)) {
      marked += credited;
      continue;
    }
    const uid = uidOf.get(totals.miner);
    if (uid === undefined) {
      notInMetagraph += credited;
      continue;
    }
    scores.set(uid, (scores.get(uid) ?? 0) + credited);
    creditedDifficulty += credited;
  }
  const ownerUid = metagraph.ownerHotkey === undefined ? undefined : uidOf.get(metagraph.ownerHotkey);
  const burn = scores.size === 0;
  if (burn && ownerUid !== undefined) scores.set(ownerUid, 1);
  // In uid order, so the vector (and an audit's recomputation of it) does not depend on row order.
  const byUid = new Map([...scores].sort(([a], [b]) => a - b));
  return {
    window,
    scores: byUid,
    burn,
    ownerUid,
    creditedDifficulty,
    uncredited: { marked, notInMetagraph },
  };
}

/** A half-open block range [from, to): the blocks one weights post covers. */
export interface BlockRange {
  readonly from: number;
  readonly to: number;
}

/** What the weight poster asks for: scores for the work done in a block range. */
export type Scorer = (metagraph: Metagraph, blocks: BlockRange) => Promise<WindowScores>;

/** Default block time, ms: Bittensor's 12 s blocks. */
export const BLOCK_MS = 12_000;

/**
 * Block numbers → wall-clock times, from the times this process saw each block arrive (the
 * ledger stamps shares with wall-clock ms, the chain counts blocks). A block seen is its
 * arrival time; a block between two seen ones is interpolated; a block before the first or
 * after the last seen is extrapolated at `blockMs` per block (e.g. the previous post's block,
 * from before a restart). Keeps the newest `keepBlocks` blocks.
 */
export class BlockClock {
  private readonly blocks: number[] = [];
  private readonly times: number[] = [];

  constructor(
    private readonly blockMs = BLOCK_MS,
    private readonly keepBlocks = 50_000,
  ) {
    if (!(blockMs > 0)) throw new RangeError(`blockMs ${blockMs} must be positive`);
    if (!Number.isSafeInteger(keepBlocks) || keepBlocks < 1) {
      throw new RangeError(`keepBlocks ${keepBlocks} must be a positive block count`);
    }
  }

  /** Records that `block` arrived at `atMs`; a block seen again (a re-org) keeps its first time. */
  observe(block: number, atMs: number = Date.now()): void {
    if (!Number.isSafeInteger(block) || block < 0) throw new RangeError(`${block} is not a block number`);
    const i = this.search(block);
    if (this.blocks[i] === block) return;
    this.blocks.splice(i, 0, block);
    this.times.splice(i, 0, atMs);
    const newest = this.blocks[this.blocks.length - 1]!;
    let drop = 0;
    while (drop < this.blocks.length - 1 && this.blocks[drop]! < newest - this.keepBlocks) drop++;
    if (drop > 0) {
      this.blocks.splice(0, drop);
      this.times.splice(0, drop);
    }
  }

  get size(): number {
    return this.blocks.length;
  }

  /** The wall-clock ms of `block`. */
  timeOf(block: number): number {
    const count = this.blocks.length;
    if (count === 0) throw new RangeError('no block seen yet: observe blocks before asking for their times');
    const i = this.search(block);
    if (this.blocks[i] === block) return this.times[i]!;
    if (i === 0) return this.times[0]! - (this.blocks[0]! - block) * this.blockMs;
    if (i === count) return this.times[count - 1]! + (block - this.blocks[count - 1]!) * this.blockMs;
    const [b0, b1, t0, t1] = [this.blocks[i - 1]!, this.blocks[i]!, this.times[i - 1]!, this.times[i]!];
    return t0 + ((t1 - t0) * (block - b0)) / (b1 - b0);
  }

  /** The first index whose block is ≥ `block`. */
  private search(block: number): number {
    let lo = 0;
    let hi = this.blocks.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.blocks[mid]! < block) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}

/** The wall-clock window [from, to) of a block range, in whole ms as the ledger counts them. */
export function scoringWindow(clock: BlockClock, blocks: BlockRange): TimeWindow {
  if (!(blocks.to > blocks.from)) {
    throw new RangeError(`block range [${blocks.from}, ${blocks.to}) is empty`);
  }
  const from = Math.round(clock.timeOf(blocks.from));
  const to = Math.max(Math.round(clock.timeOf(blocks.to)), from + 1);
  return { from, to };
}

/** A `Scorer` over a ledger: block range → wall-clock window (through `clock`) → `scoreWindow`. */
export function ledgerScorer(ledger: LedgerReader, clock: BlockClock): Scorer {
  return (metagraph, blocks) => scoreWindow(ledger, scoringWindow(clock, blocks), metagraph);
}
