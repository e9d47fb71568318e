import type { Logger } from 'pino';
import type { Chain } from './chain.js';
import { PolkadotChain } from './polkadot-chain.js';

/** The chain a config names (ws:// or wss:// subtensor endpoint), through @polkadot/api. */
export async function connectChain(endpoint: string, logger: Logger): Promise<Chain> {
  return PolkadotChain.connect(endpoint, { logger: logger.child({ component: 'chain' }) });
}
