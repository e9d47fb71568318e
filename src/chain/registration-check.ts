import { btcliRegister, btcliStakeAdd, type WalletNames } from './btcli-advice.js';
import type { Metagraph } from './chain.js';
import type { Hotkey } from './hotkey.js';

/**
 * What keeps a hotkey from doing its job on a subnet, checked at start so the operator hears
 * it with the command that fixes it instead of from a weight call refused an epoch later.
 * A validator needs a uid, a validator permit and `StakeThreshold` stake to set weights (the
 * subnet owner needs neither permit nor stake); a farm needs a uid to be weighted at all.
 */

export type HotkeyRole = 'validator' | 'farm';

export interface RegistrationProblem {
  readonly problem: 'not-registered' | 'no-validator-permit' | 'stake-below-threshold';
  /** What it means for this role. */
  readonly message: string;
  /** The btcli command to run. */
  readonly fix: string;
}

export function registrationProblems(
  metagraph: Metagraph,
  hotkey: Hotkey,
  role: HotkeyRole,
  wallet: WalletNames,
): RegistrationProblem[] {
  const { netuid } = metagraph;
  const me = metagraph.neurons.find((neuron) => neuron.hotkey === hotkey);
  if (me === undefined) {
    return [
      {
        problem: 'not-registered',
        message:
          role === 'validator'
            ? `hotkey ${hotkey} is not registered on subnet ${netuid}: this validator verifies and forwards work but cannot post weights`
            : `hotkey ${hotkey} is not registered on subnet ${netuid}: validators forward this farm's work but it earns no weight`,
        fix: btcliRegister(netuid, wallet),
      },
    ];
  }
  if (role === 'farm' || me.hotkey === metagraph.ownerHotkey) return [];
  const problems: RegistrationProblem[] = [];
  const threshold = metagraph.stakeThreshold;
  if (threshold !== undefined && me.totalStake < threshold) {
    problems.push({
      problem: 'stake-below-threshold',
      message: `uid ${me.uid} has stake ${me.totalStake}, below the ${threshold} needed to set weights on subnet ${netuid}: weight calls are refused (pool: Custom error 1)`,
      fix: btcliStakeAdd(netuid, wallet),
    });
  }
  if (!me.validatorPermit) {
    problems.push({
      problem: 'no-validator-permit',
      message: `uid ${me.uid} has no validator permit on subnet ${netuid}: weights are refused until an epoch grants one (permits go to the top stakes)`,
      fix: btcliStakeAdd(netuid, wallet),
    });
  }
  return problems;
}
