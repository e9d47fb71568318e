import type { Logger } from 'pino';
import type { Chain } from '../src/chain/chain.js';
import { routeConsoleToLogger } from '../src/log/console-to-logger.js';

/**
 * The @polkadot/api chain client for a command, its console lines (reconnects, undecorated RPC
 * methods) written through the command's logger until the chain is closed. Loaded when a
 * command needs it, so the plain proxy never loads @polkadot/api.
 */
export async function connectPolkadotChain(endpoint: string, logger: Logger): Promise<Chain> {
  const release = routeConsoleToLogger(logger.child({ component: 'polkadot' }));
  try {
    const { connectChain } = await import('../src/chain/connect-chain.js');
    const chain = await connectChain(endpoint, logger);
    const close = chain.close.bind(chain);
    chain.close = async () => {
      try {
        await close();
      } finally {
        release();
      }
    };
    return chain;
  } catch (error) {
    release();
    throw error;
  }
}
