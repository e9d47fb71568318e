import type { Commitment, Metagraph, Uid } from '../src/chain/chain.js';
import { parseEndpointCommitment, type ValidatorEndpoint } from '../src/chain/endpoint-commitment.js';
import type { Hotkey } from '../src/chain/hotkey.js';

/** Which validators a farm works for (issue 4: permit, minimum stake, blacklist, reachable). */
export interface SelectionFilters {
  /** Only validators holding a validator permit (they are the ones whose weights count). */
  readonly requirePermit: boolean;
  /** Least `totalStake`, in the chain's smallest unit. */
  readonly minStake: bigint;
  readonly blacklist: ReadonlySet<string>;
  /** Keep at most this many, the largest stakes first (0: no limit). */
  readonly maxValidators: number;
}

export type ExclusionReason =
  'no-permit' | 'low-stake' | 'blacklisted' | 'no-endpoint' | 'bad-endpoint' | 'unreachable' | 'over-limit';

export const EXCLUSION_REASONS: readonly ExclusionReason[] = [
  'no-permit',
  'low-stake',
  'blacklisted',
  'no-endpoint',
  'bad-endpoint',
  'unreachable',
  'over-limit',
];

export interface Candidate {
  readonly uid: Uid;
  readonly hotkey: Hotkey;
  readonly stake: bigint;
  readonly endpoint: ValidatorEndpoint;
}

export interface SelectedValidator extends Candidate {
  /** Share of the farm's work this validator should get: its stake over the selected total. */
  readonly weight: number;
}

export interface Exclusion {
  readonly hotkey: Hotkey;
  readonly reason: ExclusionReason;
  readonly detail?: string;
}

/**
 * Validators that pass the chain-side filters and published a usable endpoint, before the
 * reachability probe. Pure: the metagraph and commitments of one block in, candidates out.
 */
export function candidateValidators(
  metagraph: Metagraph,
  commitments: ReadonlyMap<Hotkey, Commitment>,
  filters: SelectionFilters,
): { candidates: Candidate[]; excluded: Exclusion[] } {
  const candidates: Candidate[] = [];
  const excluded: Exclusion[] = [];
  for (const neuron of metagraph.neurons) {
    const { hotkey } = neuron;
    const commitment = commitments.get(hotkey);
    // A neuron with no endpoint and no permit is a miner, not a validator: not worth a line.
    if (commitment === undefined && !neuron.validatorPermit) continue;
    if (filters.requirePermit && !neuron.validatorPermit) {
      excluded.push({ hotkey, reason: 'no-permit' });
      continue;
    }
    if (filters.blacklist.has(hotkey)) {
      excluded.push({ hotkey, reason: 'blacklisted' });
      continue;
    }
    if (neuron.totalStake < filters.minStake) {
      excluded.push({ hotkey, reason: 'low-stake', detail: `${neuron.totalStake} < ${filters.minStake}` });
      continue;
    }
    if (commitment === undefined) {
      excluded.push({ hotkey, reason: 'no-endpoint' });
      continue;
    }
    try {
      const endpoint = parseEndpointCommitment(commitment.text);
      candidates.push({ uid: neuron.uid, hotkey, stake: neuron.totalStake, endpoint });
    } catch (error) {
      excluded.push({ hotkey, reason: 'bad-endpoint', detail: (error as Error).message });
    }
  }
  candidates.sort((a, b) => (a.stake === b.stake ? a.uid - b.uid : a.stake > b.stake ? -1 : 1));
  return { candidates, excluded };
}

/** Reachable candidates, capped by `maxValidators`, weighted by stake. */
export function selectValidators(
  candidates: readonly Candidate[],
  reachable: (candidate: Candidate) => boolean,
  filters: SelectionFilters,
): { selected: SelectedValidator[]; excluded: Exclusion[] } {
  const excluded: Exclusion[] = [];
  const kept: Candidate[] = [];
  for (const candidate of candidates) {
    if (!reachable(candidate)) {
      excluded.push({ hotkey: candidate.hotkey, reason: 'unreachable' });
    } else if (filters.maxValidators > 0 && kept.length >= filters.maxValidators) {
      excluded.push({ hotkey: candidate.hotkey, reason: 'over-limit' });
    } else {
      kept.push(candidate);
    }
  }
  const total = kept.reduce((sum, c) => sum + c.stake, 0n);
  const selected = kept.map((candidate) => ({
    ...candidate,
    // Exact until the ratio is taken; stakes are up to ~2^64 rao, a double carries 53 bits.
    weight: total === 0n ? 1 / kept.length : Number((candidate.stake * 1_000_000_000n) / total) / 1e9,
  }));
  return { selected, excluded };
}
