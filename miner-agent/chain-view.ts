import type { Logger } from 'pino';
import type { Chain, NetUid } from '../src/chain/chain.js';
import { parseEndpointCommitment, formatEndpointCommitment } from '../src/chain/endpoint-commitment.js';

/**
 * The farm's view of what it earns on chain, for the status page: the weight each validator
 * gave the farm's hotkey, and the farm's incentive and emission at the last epoch. Read every
 * `refreshBlocks` blocks, one read at a time; the page shows the last read and its block.
 */

export interface ValidatorOnChain {
  readonly hotkey: string;
  readonly uid: number;
  /** Total stake in TAO-sized units (the chain's rao / 1e9), as text to keep its digits. */
  readonly stake: string;
  /** The u16 weight this validator holds on the farm's uid; null when the farm has no uid. */
  readonly weightToFarm: number | null;
  /** That weight as a share of all this validator's weights. */
  readonly weightShare: number | null;
  /** The Stratum endpoint it published, or null. */
  readonly endpoint: string | null;
}

export interface FarmChainStatus {
  readonly netuid: NetUid;
  readonly hotkey: string;
  readonly uid: number | null;
  readonly block: number;
  readonly incentive: number | null;
  /** Alpha (the subnet's token) earned at the last epoch, as decimal text; and the same in rao. */
  readonly emissionPerTempo: string | null;
  readonly emissionRao: string | null;
  readonly validators: readonly ValidatorOnChain[];
}

const RAO = 1_000_000_000n;

/** rao → decimal text with up to 9 decimals, no float rounding. */
export function raoToText(rao: bigint): string {
  const whole = rao / RAO;
  const fraction = (rao % RAO).toString().padStart(9, '0').replace(/0+$/, '');
  return fraction === '' ? whole.toString() : `${whole}.${fraction}`;
}

export class FarmChainView {
  private last: FarmChainStatus | undefined;
  private error: string | undefined;
  private reading: Promise<void> | undefined;
  private lastBlock: number | undefined;
  private unsubscribe: (() => void) | undefined;

  constructor(
    private readonly options: {
      readonly chain: Chain;
      readonly netuid: NetUid;
      readonly hotkey: string;
      readonly refreshBlocks: number;
      readonly logger: Logger;
    },
  ) {}

  async start(): Promise<void> {
    this.unsubscribe = await this.options.chain.subscribeBlocks((block) => {
      if (this.lastBlock !== undefined && block - this.lastBlock < this.options.refreshBlocks) return;
      void this.refresh();
    });
    await this.refresh();
  }

  stop(): void {
    this.unsubscribe?.();
  }

  /** The status page's `farm` section. */
  snapshot(): FarmChainStatus | { readonly error: string } {
    return this.last ?? { error: this.error ?? 'reading the chain…' };
  }

  refresh(): Promise<void> {
    this.reading ??= this.read()
      .catch((error: unknown) => {
        this.error = `cannot read the chain: ${(error as Error).message}`;
        this.options.logger.warn({ error: (error as Error).message }, 'status page: chain read failed');
      })
      .finally(() => {
        this.reading = undefined;
      });
    return this.reading;
  }

  private async read(): Promise<void> {
    const { chain, netuid, hotkey } = this.options;
    const [metagraph, commitments] = await Promise.all([chain.metagraph(netuid), chain.commitments(netuid)]);
    const own = metagraph.neurons.find((neuron) => neuron.hotkey === hotkey);
    const validators = metagraph.neurons.filter((neuron) => neuron.validatorPermit);
    const weights = await Promise.all(validators.map((v) => chain.weightsOf(netuid, v.uid)));
    this.lastBlock = metagraph.block;
    this.last = {
      netuid,
      hotkey,
      uid: own?.uid ?? null,
      block: metagraph.block,
      incentive: own?.incentive ?? null,
      emissionPerTempo: own?.emission === undefined ? null : raoToText(own.emission),
      emissionRao: own?.emission === undefined ? null : own.emission.toString(),
      validators: validators.map((validator, i) => {
        const held = weights[i]!;
        const total = [...held.values()].reduce((a, b) => a + b, 0);
        const toFarm = own === undefined ? null : (held.get(own.uid) ?? 0);
        return {
          hotkey: validator.hotkey,
          uid: validator.uid,
          stake: raoToText(validator.totalStake),
          weightToFarm: toFarm,
          weightShare: toFarm === null || total === 0 ? null : toFarm / total,
          endpoint: endpointOf(commitments.get(validator.hotkey)?.text),
        };
      }),
    };
    this.error = undefined;
  }
}

/** A published endpoint re-formatted from its parts (so nothing else in the text is shown), or null. */
function endpointOf(text: string | undefined): string | null {
  if (text === undefined) return null;
  try {
    return formatEndpointCommitment(parseEndpointCommitment(text));
  } catch {
    return null;
  }
}
