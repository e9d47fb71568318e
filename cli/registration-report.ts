import type { Logger } from 'pino';
import { walletNamesOf, type WalletNames } from '../src/chain/btcli-advice.js';
import type { Chain, Metagraph, NetUid } from '../src/chain/chain.js';
import type { Hotkey } from '../src/chain/hotkey.js';
import { registrationProblems, type HotkeyRole } from '../src/chain/registration-check.js';

/**
 * At start: tells the operator, at warn with the btcli command that fixes it, what keeps this
 * hotkey from doing its job on the subnet (no uid; for a validator also no permit or too little
 * stake). The process keeps running either way: a validator still verifies and forwards work,
 * a farm still mines, and both pick up a registration made meanwhile.
 */
export async function reportRegistration(options: {
  readonly chain: Chain;
  readonly netuid: NetUid;
  readonly hotkey: Hotkey;
  readonly hotkeyFile: string | undefined;
  readonly role: HotkeyRole;
  readonly logger: Logger;
  /** The metagraph already read at start, if any (else it is read here). */
  readonly metagraph?: Metagraph;
}): Promise<WalletNames> {
  const { netuid, hotkey, role, logger } = options;
  const wallet = walletNamesOf(options.hotkeyFile);
  let metagraph = options.metagraph;
  try {
    metagraph ??= await options.chain.metagraph(netuid);
  } catch (error) {
    logger.warn(
      { hotkey, netuid, error: (error as Error).message },
      'cannot read the subnet to check this hotkey is registered: checking again on the next chain read',
    );
    return wallet;
  }
  for (const { problem, message, fix } of registrationProblems(metagraph, hotkey, role, wallet))
    logger.warn({ hotkey, netuid, problem, fix }, `${message}; to fix: ${fix}`);
  return wallet;
}
