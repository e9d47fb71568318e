import type { NetUid } from './chain.js';

/**
 * Which epoch a block belongs to, for commit-reveal. Two runtimes count differently:
 *
 * - spec ≥ 423 ("dynamic tempo") keeps a counter `SubnetEpochIndex`, bumped in `on_initialize`
 *   of the block where the subnet's epoch fires: `tempo` blocks after `LastEpochBlock`, or
 *   earlier at an owner-set (or deferred) `PendingEpochAt`. Epochs are `tempo` blocks apart.
 * - older runtimes (spec 293 here) use `(block + netuid + 1) / (tempo + 1)`: `tempo + 1` apart.
 *
 * The two drift apart by one block per epoch, so a validator that reveals by the formula on a
 * new runtime reveals in the wrong window more and more often. Read the chain's schedule
 * (`Chain.epochSchedule`) and use the formula only where the runtime has no counter.
 */

/** The old formula: subtensor's `get_epoch_index` up to spec 422 (and on the spec-293 dev runtime). */
export function epochIndex(block: number, netuid: NetUid, tempo: number): number {
  return Math.floor((block + netuid + 1) / (tempo + 1));
}

/** The first block whose `epochIndex` is `epoch` (the old formula). */
export function formulaEpochStart(epoch: number, netuid: NetUid, tempo: number): number {
  return Math.max(epoch * (tempo + 1) - netuid - 1, 0);
}

/** A subnet's epoch schedule as read at one block. */
export interface EpochSchedule {
  /** `SubnetEpochIndex`: the runtime's counter; `formula`: a runtime without it. */
  readonly source: 'SubnetEpochIndex' | 'formula';
  /** The block it was read at. */
  readonly block: number;
  /** The epoch of a weights extrinsic included in `block` (what a commit made there is tagged with). */
  readonly epoch: number;
  /**
   * The first block of epoch `epoch + 1` as scheduled at `block` (`get_next_epoch_start_block`).
   * Infinity when the subnet runs no epochs (tempo 0).
   */
  readonly nextEpochStart: number;
  /** Blocks between later epoch starts: `tempo` (counter) or `tempo + 1` (formula). */
  readonly epochLength: number;
}

/** The schedule of a runtime without `SubnetEpochIndex`. */
export function formulaSchedule(block: number, netuid: NetUid, tempo: number): EpochSchedule {
  const epoch = epochIndex(block, netuid, tempo);
  return {
    source: 'formula',
    block,
    epoch,
    nextEpochStart: formulaEpochStart(epoch + 1, netuid, tempo),
    epochLength: tempo + 1,
  };
}

/** The runtime's stored schedule, exactly as `get_next_epoch_start_block` reads it. */
export function counterSchedule(state: {
  readonly block: number;
  readonly subnetEpochIndex: number;
  readonly lastEpochBlock: number;
  /** 0 when none is pending. */
  readonly pendingEpochAt: number;
  readonly tempo: number;
}): EpochSchedule {
  const { block, tempo, lastEpochBlock, pendingEpochAt } = state;
  let next = tempo === 0 ? Number.POSITIVE_INFINITY : lastEpochBlock + tempo;
  if (tempo !== 0 && pendingEpochAt > 0) next = Math.min(next, pendingEpochAt);
  // A slot already due fires in the next block's on_initialize.
  return {
    source: 'SubnetEpochIndex',
    block,
    epoch: state.subnetEpochIndex,
    nextEpochStart: Math.max(next, block + 1),
    epochLength: Math.max(tempo, 1),
  };
}

/** The epoch of `block` (at or after `schedule.block`), projecting the schedule forward. */
export function epochAt(schedule: EpochSchedule, block: number): number {
  if (block < schedule.nextEpochStart) return schedule.epoch;
  return schedule.epoch + 1 + Math.floor((block - schedule.nextEpochStart) / schedule.epochLength);
}

/**
 * The first block of `epoch` by the schedule: `schedule.block` for an epoch already begun (its
 * real start is in the past), a projection for a later one.
 */
export function epochStart(schedule: EpochSchedule, epoch: number): number {
  if (epoch <= schedule.epoch) return schedule.block;
  return schedule.nextEpochStart + (epoch - schedule.epoch - 1) * schedule.epochLength;
}
