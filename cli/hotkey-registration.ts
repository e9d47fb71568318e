import type { Logger } from 'pino';
import type { Chain, NetUid } from '../src/chain/chain.js';

/** Says at start whether the farm's hotkey is on the subnet: validators refuse work signed by one that is not. */
export async function logFarmRegistration(
  chain: Chain,
  netuid: NetUid,
  hotkey: string,
  logger: Logger,
): Promise<void> {
  let neurons;
  try {
    neurons = (await chain.metagraph(netuid)).neurons;
  } catch (error) {
    logger.warn(
      { hotkey, netuid, error: (error as Error).message },
      'cannot read the subnet to check that the farm hotkey is registered',
    );
    return;
  }
  const neuron = neurons.find((candidate) => candidate.hotkey === hotkey);
  if (neuron !== undefined)
    logger.info(
      { hotkey, netuid, uid: neuron.uid, registered: true },
      'farm hotkey registered on the subnet',
    );
  else
    logger.error(
      { hotkey, netuid, registered: false },
      'farm hotkey is not registered on the subnet: validators refuse its work and it earns nothing; register it (btcli subnet register) or load the registered key',
    );
}
