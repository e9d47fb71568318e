import type { NetUid } from './chain.js';

/**
 * The epoch a block belongs to: `(block + netuid + 1) / (tempo + 1)`, integer division. This is
 * subtensor's `get_epoch_index` in subnets/weights.rs up to commit 1fc3e88 (May 2026; the form
 * the spec-293 dev runtime runs). Spec 425 reads a stateful `SubnetEpochIndex` counter instead,
 * bumped each time the subnet's epoch fires (with a look-ahead on the firing block); on a chain
 * whose epochs fire on schedule the two count the same boundaries, which is all the reveal
 * window needs here.
 */
export function epochIndex(block: number, netuid: NetUid, tempo: number): number {
  return Math.floor((block + netuid + 1) / (tempo + 1));
}
