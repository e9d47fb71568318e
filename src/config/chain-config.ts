import { z } from 'zod';
import { ConfigError } from './proxy-config.js';

/** Config pieces every chain-facing role shares (miner-agent, validator). */

/** The subtensor endpoint, e.g. wss://entrypoint-finney.opentensor.ai:443 or ws://127.0.0.1:9944. */
export const chainEndpoint = z
  .string()
  .regex(/^wss?:\/\/.+/, 'expected a ws:// or wss:// subtensor endpoint');

export const netuid = z.number().int().min(1).max(65535);

/** A Bittensor wallet hotkey file (~/.bittensor/wallets/<wallet>/hotkeys/<hotkey>), else the mnemonic in an environment variable. */
export const hotkeySource = z
  .object({
    file: z.string().optional(),
    mnemonicEnv: z.string().default('HASHRELAY_HOTKEY_MNEMONIC'),
  })
  .strict()
  .default({ mnemonicEnv: 'HASHRELAY_HOTKEY_MNEMONIC' });

/** A zod failure as one ConfigError naming each bad key by its path. */
export function configError(error: z.ZodError): ConfigError {
  const problems = error.issues.map((issue) => {
    const path = issue.path.length === 0 ? '(top level)' : issue.path.join('.');
    return `  ${path}: ${issue.message}`;
  });
  return new ConfigError(`invalid configuration:\n${problems.join('\n')}`);
}

/** A ConfigError about the embedded proxy config, its keys prefixed with `proxy.`. */
export function inProxySection(error: ConfigError): ConfigError {
  return new ConfigError(error.message.replace(/\n {2}/g, '\n  proxy.'));
}
