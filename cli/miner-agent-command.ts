import { parseArgs } from 'node:util';
import type { KeyringPair } from '@polkadot/keyring/types';
import type { Logger } from 'pino';
import type { Chain } from '../src/chain/chain.js';
import { HotkeyError, loadConfiguredHotkey, type Hotkey } from '../src/chain/hotkey.js';
import { parseAgentConfig, toRao, type AgentConfig } from '../src/config/agent-config.js';
import { ConfigError, readConfigFile } from '../src/config/proxy-config.js';
import { createLogger } from '../src/log/logger.js';
import { MinerAgent } from '../miner-agent/agent.js';
import { FarmChainView } from '../miner-agent/chain-view.js';
import { applyChainRoleFlags, CHAIN_ROLE_OPTIONS } from './chain-role-flags.js';
import { ExitCode, type CommandResult } from './command.js';
import { proxyRouter } from './farm-router.js';
import { reportRegistration } from './registration-report.js';
import { logFarmRegistration } from './hotkey-registration.js';
import { startProxyRuntime, StartupError } from './proxy-runtime.js';
import { connectPolkadotChain } from './polkadot-connect.js';

export const minerAgentHelp = `Usage: hashrelay miner-agent --config FILE [--chain URL] [--netuid N]
                            [--hotkey-file PATH] [--listen HOST:PORT] [--ledger sqlite:PATH]
                            [--metrics HOST:PORT] [--log-level LEVEL]

Runs the farm proxy with the miner-agent in one process. Every --interval-blocks the agent
reads the subnet's metagraph and the validators' published Stratum endpoints, keeps the
validators that hold a permit, have the minimum stake, are not blacklisted and answer on
their endpoint, and splits the farm's work between them by stake. Each validator receives
the farm's hotkey as the username and a signature by it (fresh per session) as the password.

  --config FILE        JSON: chain, netuid, hotkey { file | mnemonicEnv }, worker,
                       intervalBlocks, probeTimeoutSeconds, filters { requirePermit, minStake,
                       blacklist, maxValidators }, proxy { listen, ledger, metrics, vardiff, ... }
  --chain URL          subtensor endpoint, ws:// or wss://
  --netuid N           the subnet
  --hotkey-file PATH   the farm's wallet hotkey file (else the mnemonic in
                       $HASHRELAY_HOTKEY_MNEMONIC, or hotkey.mnemonicEnv)
  --listen HOST:PORT   where the farm's miners connect (repeatable)
  --ledger sqlite:PATH the farm's share ledger
  --metrics HOST:PORT  admin listener (/metrics, /healthz, /readyz, /api/* with a token)
  --interval-blocks N  re-read the chain every N blocks (default 25)
  --log-level LEVEL    fatal, error, warn, info (default), debug, trace, silent

For fixed pools and ratios without a chain, run 'hashrelay proxy' with routing.mode weighted.
`;

export interface MinerAgentDeps {
  /** Opens the chain named in the config; the default is the @polkadot/api client. */
  readonly connectChain: (endpoint: string, logger: Logger) => Promise<Chain>;
}

export async function runMinerAgentCommand(
  args: readonly string[],
  deps: MinerAgentDeps = { connectChain: connectPolkadotChain },
): Promise<CommandResult> {
  const { values, positionals } = parseArgs({
    args: [...args],
    allowPositionals: true,
    options: { ...CHAIN_ROLE_OPTIONS, 'interval-blocks': { type: 'string' } },
  });
  if (values.help === true) return { code: ExitCode.ok, stdout: minerAgentHelp };
  if (positionals.length > 0)
    return {
      code: ExitCode.usage,
      stderr: `hashrelay miner-agent: unexpected argument '${positionals[0]!}'\n\n${minerAgentHelp}`,
    };

  // The file, then the flags over it: at start, and the proxy section again on each reload.
  const loadConfig = (): AgentConfig => {
    const raw = applyChainRoleFlags(values.config === undefined ? {} : readConfigFile(values.config), values);
    if (values['interval-blocks'] !== undefined) raw.intervalBlocks = Number(values['interval-blocks']);
    return parseAgentConfig(raw);
  };
  let config: AgentConfig;
  let hotkey: KeyringPair;
  try {
    config = loadConfig();
    hotkey = await loadConfiguredHotkey(config.hotkey);
  } catch (error) {
    if (error instanceof ConfigError || error instanceof HotkeyError)
      return { code: ExitCode.usage, stderr: `hashrelay miner-agent: ${error.message}\n` };
    throw error;
  }

  const logger = createLogger(config.proxy.logLevel);
  logger.info({ hotkey: hotkey.address, netuid: config.netuid, chain: config.chain }, 'farm hotkey loaded');
  let chain: Chain;
  try {
    chain = await deps.connectChain(config.chain, logger);
  } catch (error) {
    return {
      code: ExitCode.failure,
      stderr: `hashrelay miner-agent: cannot reach the chain at ${config.chain}: ${(error as Error).message}\n`,
    };
  }
  await logFarmRegistration(chain, config.netuid, hotkey.address, logger);
  const chainView = new FarmChainView({
    chain,
    netuid: config.netuid,
    hotkey: hotkey.address,
    refreshBlocks: config.intervalBlocks,
    logger,
  });
  let runtime;
  try {
    runtime = await startProxyRuntime(config.proxy, logger, {
      reloadConfig: values.config === undefined ? undefined : () => loadConfig().proxy,
      status: { role: 'farm', sections: { farm: () => chainView.snapshot() } },
    });
  } catch (error) {
    await chain.close();
    if (error instanceof StartupError || error instanceof ConfigError)
      return { code: ExitCode.failure, stderr: `hashrelay miner-agent: ${error.message}\n` };
    throw error;
  }
  await reportRegistration({
    chain,
    netuid: config.netuid,
    hotkey: hotkey.address as Hotkey,
    hotkeyFile: config.hotkey.file,
    role: 'farm',
    logger,
  });
  const agent = new MinerAgent({
    chain,
    netuid: config.netuid,
    hotkey,
    worker: config.worker,
    filters: {
      requirePermit: config.filters.requirePermit,
      minStake: toRao(config.filters.minStake),
      blacklist: new Set(config.filters.blacklist),
      maxValidators: config.filters.maxValidators,
    },
    intervalBlocks: config.intervalBlocks,
    probeTimeoutMs: config.probeTimeoutSeconds * 1000,
    router: proxyRouter(runtime.proxy),
    logger,
    registry: runtime.metrics.registry,
  });
  try {
    await agent.start();
  } catch (error) {
    // The proxy keeps running: miners wait, and the block subscription retries the read.
    logger.error({ error: (error as Error).message }, 'first chain read failed: retrying on the next block');
  }
  // The status page's chain view; a failed read shows on the page and is tried again.
  void chainView.start().catch(() => undefined);
  logger.info({ reason: await runtime.stopRequested }, 'shutting down');
  chainView.stop();
  agent.stop();
  await runtime.stop();
  await chain.close();
  logger.info('stopped');
  return { code: ExitCode.ok };
}
