/**
 * TaoHASH's first design, simulated from the stakes (TAOHASH.md): the miner time-slices its
 * whole farm between validators in a 720-block window (12 s blocks), one consecutive slot per
 * validator of floor(stake share × 720) blocks with a 40-block minimum. As in its
 * StakeBased allocation (latent-to/taohash, taohash/miner/allocation.py): validators by stake,
 * largest first; a validator that no longer fits 40 blocks gets nothing; what is left over
 * goes to the last slot. The window repeats.
 */
import { exponential } from './split-cases.js';
import { ShareStreamBuilder, type ShareStream } from './split-windows.js';

export const TAOHASH_WINDOW_BLOCKS = 720;
export const TAOHASH_MIN_BLOCKS = 40;
export const BLOCK_SECONDS = 12;

export interface Slot {
  readonly validator: number;
  readonly blocks: number;
}

export function taohashSlots(stakes: readonly number[]): Slot[] {
  const total = stakes.reduce((a, b) => a + b, 0);
  const order = stakes.map((stake, validator) => ({ stake, validator })).sort((a, b) => b.stake - a.stake);
  const slots: { validator: number; blocks: number }[] = [];
  let remaining = TAOHASH_WINDOW_BLOCKS;
  for (const { stake, validator } of order) {
    if (remaining < TAOHASH_MIN_BLOCKS) break;
    const fair = Math.floor((stake / total) * TAOHASH_WINDOW_BLOCKS);
    const blocks = Math.min(Math.max(fair, TAOHASH_MIN_BLOCKS), remaining);
    slots.push({ validator, blocks });
    remaining -= blocks;
  }
  const last = slots.at(-1);
  if (last !== undefined) last.blocks += remaining;
  return slots;
}

/** The validator the whole farm works for at simulated second `t` (the window starts at 0). */
export function slotOwner(slots: readonly Slot[], t: number): number {
  const cycle = TAOHASH_WINDOW_BLOCKS * BLOCK_SECONDS;
  let at = (((t % cycle) + cycle) % cycle) / BLOCK_SECONDS;
  for (const slot of slots) {
    if (at < slot.blocks) return slot.validator;
    at -= slot.blocks;
  }
  return slots.at(-1)!.validator;
}

/** Validator changes per simulated hour: each is a switch for every miner (and, in TaoHASH, a reconnect). */
export function taohashSwitchesPerHour(slots: readonly Slot[]): number {
  if (slots.length < 2) return 0;
  return slots.length / ((TAOHASH_WINDOW_BLOCKS * BLOCK_SECONDS) / 3600);
}

export interface SimulatedMiner {
  /** Hashes per simulated second. */
  readonly hashrate: number;
  /** The share difficulty it mines at (what vardiff settles on). */
  readonly difficulty: number;
}

/**
 * The same miners' work under TaoHASH's slots: each miner's shares a Poisson process of rate
 * hashrate / (difficulty · 2^32), every share credited to the slot's validator.
 */
export function taohashShares(
  slots: readonly Slot[],
  miners: readonly SimulatedMiner[],
  seconds: number,
  random: () => number,
): ShareStream {
  const builder = new ShareStreamBuilder();
  const events: { time: number; upstream: number; difficulty: number }[] = [];
  for (const miner of miners) {
    const mean = (miner.difficulty * 2 ** 32) / miner.hashrate;
    for (let t = exponential(random, mean); t < seconds; t += exponential(random, mean))
      events.push({ time: t, upstream: slotOwner(slots, t), difficulty: miner.difficulty });
  }
  events.sort((a, b) => a.time - b.time);
  for (const e of events) builder.push(e.time, e.upstream, e.difficulty);
  return builder.build();
}
