import type { KeyringPair } from '@polkadot/keyring/types';
import type { Logger } from 'pino';
import { Counter, Gauge, type Registry } from 'prom-client';
import { signAuthorize } from '../src/chain/authorize-proof.js';
import type { Chain, NetUid } from '../src/chain/chain.js';
import type { ValidatorEndpoint } from '../src/chain/endpoint-commitment.js';
import { probeAll } from './endpoint-probe.js';
import {
  candidateValidators,
  EXCLUSION_REASONS,
  selectValidators,
  type Exclusion,
  type SelectedValidator,
  type SelectionFilters,
} from './validator-selection.js';

/** One validator as the router should see it: a named upstream with a weight and signed credentials. */
export interface RoutedValidator {
  /** The validator's hotkey: the upstream's name and metrics label. */
  readonly name: string;
  readonly endpoint: ValidatorEndpoint;
  readonly weight: number;
  /** Made fresh for every upstream session: the signature carries a timestamp. */
  readonly credentials: () => { username: string; password: string };
}

/** What the agent drives: the farm proxy's router (in this process, or behind its admin API). */
export interface RouterControl {
  setValidators(validators: readonly RoutedValidator[]): void;
  /** The router holds a live session to this upstream (no need to probe it). */
  isHealthy(name: string): boolean;
}

export interface MinerAgentOptions {
  readonly chain: Chain;
  readonly netuid: NetUid;
  /** The farm's hotkey: it signs the authorize to each validator. */
  readonly hotkey: KeyringPair;
  /** Appended to the hotkey in the upstream username (`<hotkey>.<worker>`). */
  readonly worker: string | undefined;
  readonly filters: SelectionFilters;
  /** Re-read the metagraph and endpoints every this many blocks. */
  readonly intervalBlocks: number;
  readonly probeTimeoutMs: number;
  readonly router: RouterControl;
  readonly logger: Logger;
  readonly registry?: Registry;
  /** Unix seconds; tests may pin it. */
  readonly now?: () => number;
}

export interface RefreshResult {
  readonly block: number;
  readonly selected: readonly SelectedValidator[];
  readonly excluded: readonly Exclusion[];
  /** False when nothing passed the filters and the previous set was kept. */
  readonly applied: boolean;
}

/**
 * The farm-side control loop (ARCHITECTURE.md, the loop, step 2): every `intervalBlocks` it
 * reads the subnet's metagraph and the validators' published endpoints, keeps the validators
 * that pass the filters and answer on their endpoint, turns their stake into target weights,
 * and hands the set to the router with credentials signed by the farm's hotkey.
 */
export class MinerAgent {
  private readonly options: MinerAgentOptions;
  private readonly log: Logger;
  private readonly now: () => number;
  private unsubscribe: (() => void) | undefined;
  private lastRefreshBlock: number | undefined;
  private refreshing: Promise<RefreshResult> | undefined;
  private readonly metrics:
    | {
        validators: Gauge<'state'>;
        refreshes: Counter<'result'>;
        block: Gauge;
        weight: Gauge<'validator'>;
      }
    | undefined;
  private readonly weightLabels = new Set<string>();

  constructor(options: MinerAgentOptions) {
    if (!(options.intervalBlocks >= 1)) throw new RangeError('intervalBlocks must be at least 1');
    this.options = options;
    this.log = options.logger.child({ role: 'miner-agent', netuid: options.netuid });
    this.now = options.now ?? (() => Math.floor(Date.now() / 1000));
    const registers = options.registry === undefined ? undefined : [options.registry];
    this.metrics =
      registers === undefined
        ? undefined
        : {
            validators: new Gauge({
              name: 'hashrelay_agent_validators',
              help: 'Validators at the last refresh: selected, or excluded and why',
              labelNames: ['state'],
              registers,
            }),
            refreshes: new Counter({
              name: 'hashrelay_agent_refreshes_total',
              help: 'Metagraph and endpoint re-reads by result',
              labelNames: ['result'],
              registers,
            }),
            block: new Gauge({
              name: 'hashrelay_chain_block',
              help: 'Best block number seen on the chain',
              registers,
            }),
            weight: new Gauge({
              name: 'hashrelay_agent_target_weight_ratio',
              help: "Each selected validator's share of stake among the selected: the split target",
              labelNames: ['validator'],
              registers,
            }),
          };
  }

  /**
   * Follows new blocks, and reads the chain at once: resolves with the first read (so the
   * proxy starts with validators). If that read fails, the next block tries again.
   */
  async start(): Promise<RefreshResult> {
    this.unsubscribe = await this.options.chain.subscribeBlocks((block) => {
      this.onBlock(block);
    });
    return this.refresh();
  }

  stop(): void {
    this.unsubscribe?.();
    this.unsubscribe = undefined;
  }

  /** Re-reads the chain and applies the result (one refresh at a time). */
  refresh(): Promise<RefreshResult> {
    this.refreshing ??= this.doRefresh().finally(() => {
      this.refreshing = undefined;
    });
    return this.refreshing;
  }

  private onBlock(block: number): void {
    this.metrics?.block.set(block);
    if (this.lastRefreshBlock !== undefined && block - this.lastRefreshBlock < this.options.intervalBlocks)
      return;
    if (this.refreshing !== undefined) return;
    this.refresh().catch((error: unknown) => {
      // The current set stays; the next block tries again.
      this.metrics?.refreshes.inc({ result: 'chain-error' });
      this.log.error(
        { error: (error as Error).message, block },
        'cannot read the chain: keeping the current validators',
      );
    });
  }

  private async doRefresh(): Promise<RefreshResult> {
    const { chain, netuid, filters, router } = this.options;
    const [metagraph, commitments] = await Promise.all([chain.metagraph(netuid), chain.commitments(netuid)]);
    this.metrics?.block.set(metagraph.block);
    const own = metagraph.neurons.find((neuron) => neuron.hotkey === this.options.hotkey.address);
    if (own === undefined)
      this.log.warn(
        { hotkey: this.options.hotkey.address },
        'this farm hotkey is not registered on the subnet: validators will forward its work but it earns no weight; register it',
      );

    const chainSide = candidateValidators(metagraph, commitments, filters);
    const toProbe = chainSide.candidates.filter((candidate) => !router.isHealthy(candidate.hotkey));
    const probes = await probeAll(toProbe, (candidate) => candidate.endpoint, this.options.probeTimeoutMs);
    const { selected, excluded: unreachable } = selectValidators(
      chainSide.candidates,
      (candidate) => probes.get(candidate)?.reachable ?? true,
      filters,
    );
    const excluded = [...chainSide.excluded, ...unreachable];
    for (const exclusion of excluded) {
      const probe = [...probes].find(([candidate]) => candidate.hotkey === exclusion.hotkey)?.[1];
      this.log.debug(
        { validator: exclusion.hotkey, reason: exclusion.reason, detail: exclusion.detail ?? probe?.detail },
        'validator excluded',
      );
    }
    this.metrics?.validators.set({ state: 'selected' }, selected.length);
    for (const reason of EXCLUSION_REASONS)
      this.metrics?.validators.set({ state: reason }, excluded.filter((e) => e.reason === reason).length);

    const applied = selected.length > 0;
    if (!applied) {
      this.metrics?.refreshes.inc({ result: 'none-eligible' });
      this.log.error(
        { block: metagraph.block, excluded: countBy(excluded) },
        'no validator passes the filters: keeping the previous set (check minStake, the blacklist and the validators’ endpoints)',
      );
    } else {
      router.setValidators(selected.map((validator) => this.routed(validator)));
      this.metrics?.refreshes.inc({ result: 'applied' });
      for (const name of this.weightLabels) this.metrics?.weight.remove({ validator: name });
      this.weightLabels.clear();
      for (const validator of selected) {
        this.metrics?.weight.set({ validator: validator.hotkey }, validator.weight);
        this.weightLabels.add(validator.hotkey);
      }
      this.log.info(
        {
          block: metagraph.block,
          selected: selected.map((v) => ({
            validator: v.hotkey,
            uid: v.uid,
            weight: Number(v.weight.toFixed(6)),
          })),
          excluded: countBy(excluded),
        },
        'validators and weights updated',
      );
    }
    this.lastRefreshBlock = metagraph.block;
    return { block: metagraph.block, selected, excluded, applied };
  }

  private routed(validator: SelectedValidator): RoutedValidator {
    const { hotkey, worker } = this.options;
    return {
      name: validator.hotkey,
      endpoint: validator.endpoint,
      weight: validator.weight,
      credentials: () => signAuthorize(hotkey, validator.hotkey, this.now(), worker),
    };
  }
}

function countBy(exclusions: readonly Exclusion[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const { reason } of exclusions) counts[reason] = (counts[reason] ?? 0) + 1;
  return counts;
}
