import { parseArgs } from 'node:util';
import type { KeyringPair } from '@polkadot/keyring/types';
import type { Logger } from 'pino';
import { Gauge } from 'prom-client';
import type { Chain, Metagraph } from '../src/chain/chain.js';
import { formatEndpointCommitment } from '../src/chain/endpoint-commitment.js';
import { HotkeyError, loadConfiguredHotkey, type Hotkey } from '../src/chain/hotkey.js';
import type { DrandBeacon } from '../src/chain/timelock.js';
import { ConfigError, readConfigFile } from '../src/config/proxy-config.js';
import { parseValidatorConfig, type ValidatorConfig } from '../src/config/validator-config.js';
import { createLogger } from '../src/log/logger.js';
import { ProxyMetrics } from '../src/metrics/proxy-metrics.js';
import { ValidatorAdmission } from '../validator/admission.js';
import { BlockClock, ledgerScorer } from '../validator/scoring.js';
import { ValidatorStatusView } from '../validator/status-view.js';
import { WeightPoster, type TickReport } from '../validator/weight-poster.js';
import { applyChainRoleFlags, CHAIN_ROLE_OPTIONS } from './chain-role-flags.js';
import { ExitCode, type CommandResult } from './command.js';
import { reportRegistration } from './registration-report.js';
import { startProxyRuntime, StartupError, type ProxyRuntime } from './proxy-runtime.js';
import { connectPolkadotChain } from './polkadot-connect.js';

export const validatorHelp = `Usage: hashrelay validator --config FILE [--chain URL] [--netuid N] [--hotkey-file PATH]
                          [--listen HOST:PORT] [--upstream URL ...] [--ledger URL]
                          [--metrics HOST:PORT] [--public-endpoint URL] [--dry-run]
                          [--log-level LEVEL]

Runs the proxy engine in the validator role: farms connect to --listen and authorize with
their hotkey and a signature for this validator's hotkey (replays and stale timestamps are
refused); every share is verified and recorded per miner hotkey; work goes to your own pool
account(s) (--upstream, failover in order). It publishes --public-endpoint on chain as this
hotkey's commitment, and each posting interval turns the verified work in the ledger into
weights (set_weights, or commit-reveal where the subnet requires it, surviving restarts).

  --config FILE          JSON: chain, netuid, hotkey { file | mnemonicEnv }, publicEndpoint,
                         admission { windowSeconds, unsigned, unregistered, refreshBlocks,
                           verifications { perAddressPerSecond, perAddressBurst, perSecond, burst } },
                         weights { stateDir, dryRun, intervalBlocks, versionKey },
                         proxy { listen, upstreams, ledger, metrics, vardiff, ... }
  --chain URL            subtensor endpoint, ws:// or wss://
  --netuid N             the subnet
  --hotkey-file PATH     the validator's wallet hotkey file (else the mnemonic in
                         $HASHRELAY_HOTKEY_MNEMONIC, or hotkey.mnemonicEnv)
  --public-endpoint URL  stratum+tcp://PUBLIC-HOST:PORT farms dial (published on chain)
  --dry-run              print each weight vector instead of posting it
  --listen, --upstream, --ledger, --metrics, --log-level: as for 'hashrelay proxy'

SIGTERM, SIGINT or POST /api/drain stops it; pending commits are revealed after a restart.
`;

export interface ValidatorDeps {
  readonly connectChain: (endpoint: string, logger: Logger) => Promise<Chain>;
  /** Each tick's outcome (tests and the demo watch it). */
  readonly onTick?: (report: TickReport) => void;
  /** The drand beacon timelocked commits lock to (default quicknet; tests on a dev chain bring their own). */
  readonly drandBeacon?: DrandBeacon;
}

function parseValidatorArgs(
  args: readonly string[],
): { readonly raw: Record<string, unknown> } | { readonly done: CommandResult } {
  const { values, positionals } = parseArgs({
    args: [...args],
    allowPositionals: true,
    options: {
      ...CHAIN_ROLE_OPTIONS,
      'public-endpoint': { type: 'string' },
      'dry-run': { type: 'boolean' },
      upstream: { type: 'string', multiple: true },
    },
  });
  if (values.help === true) return { done: { code: ExitCode.ok, stdout: validatorHelp } };
  if (positionals.length > 0)
    return {
      done: {
        code: ExitCode.usage,
        stderr: `hashrelay validator: unexpected argument '${positionals[0]!}'\n\n${validatorHelp}`,
      },
    };
  const raw = applyChainRoleFlags(values.config === undefined ? {} : readConfigFile(values.config), values);
  const proxy = raw.proxy as Record<string, unknown>;
  const weights = { ...((raw.weights ?? {}) as Record<string, unknown>) };
  if (values['public-endpoint'] !== undefined) raw.publicEndpoint = values['public-endpoint'];
  if (values['dry-run'] === true) weights.dryRun = true;
  if (values.upstream !== undefined) proxy.upstreams = values.upstream;
  return { raw: { ...raw, proxy, weights } };
}

/** The proxy section read again from the file and flags (SIGHUP, POST /api/reload); none without --config. */
function reloadProxySection(args: readonly string[]): (() => ValidatorConfig['proxy']) | undefined {
  if (!args.includes('--config') && !args.some((arg) => arg.startsWith('--config='))) return undefined;
  return () => {
    const parsed = parseValidatorArgs(args);
    if ('done' in parsed) throw new ConfigError('the command line asks for help, not a run');
    return parseValidatorConfig(parsed.raw).proxy;
  };
}

/** Publishes the endpoint when the chain holds something else; a failure is logged, not fatal. */
async function publishEndpoint(
  chain: Chain,
  config: ValidatorConfig,
  hotkey: KeyringPair,
  logger: Logger,
): Promise<void> {
  if (config.publicEndpoint === undefined) {
    logger.warn('no publicEndpoint configured: farms cannot find this validator on chain');
    return;
  }
  const text = formatEndpointCommitment(config.publicEndpoint);
  try {
    const current = (await chain.commitments(config.netuid)).get(hotkey.address as Hotkey)?.text;
    if (current === text) {
      logger.info({ endpoint: text }, 'endpoint already published');
      return;
    }
    const inclusion = await chain.publishCommitment(hotkey, config.netuid, text);
    logger.info({ endpoint: text, block: inclusion.block }, 'endpoint published on chain');
  } catch (error) {
    logger.error(
      { endpoint: text, error: (error as Error).message },
      'cannot publish the endpoint: farms reading the chain will not find this validator until it is published (is the hotkey registered on the subnet?)',
    );
  }
}

export async function runValidatorCommand(
  args: readonly string[],
  deps: ValidatorDeps = { connectChain: connectPolkadotChain },
): Promise<CommandResult> {
  let config: ValidatorConfig;
  let hotkey: KeyringPair;
  try {
    const parsed = parseValidatorArgs(args);
    if ('done' in parsed) return parsed.done;
    config = parseValidatorConfig(parsed.raw);
    hotkey = await loadConfiguredHotkey(config.hotkey);
  } catch (error) {
    if (error instanceof ConfigError || error instanceof HotkeyError)
      return { code: ExitCode.usage, stderr: `hashrelay validator: ${error.message}\n` };
    throw error;
  }

  const logger = createLogger(config.proxy.logLevel);
  const fail = (message: string): CommandResult => ({
    code: ExitCode.failure,
    stderr: `hashrelay validator: ${message}\n`,
  });
  let chain: Chain;
  try {
    chain = await deps.connectChain(config.chain, logger);
  } catch (error) {
    return fail(`cannot reach the chain at ${config.chain}: ${(error as Error).message}`);
  }
  let metagraph: Metagraph;
  try {
    metagraph = await chain.metagraph(config.netuid);
  } catch (error) {
    await chain.close();
    return fail(`cannot read subnet ${config.netuid}: ${(error as Error).message}`);
  }
  const registered = metagraph.neurons.map((neuron) => neuron.hotkey);
  const wallet = await reportRegistration({
    chain,
    netuid: config.netuid,
    hotkey: hotkey.address as Hotkey,
    hotkeyFile: config.hotkey.file,
    role: 'validator',
    logger,
    metagraph,
  });
  if (registered.includes(hotkey.address as Hotkey))
    logger.info(
      { hotkey: hotkey.address, netuid: config.netuid, registered: true },
      'validator hotkey loaded: registered on the subnet',
    );

  const metrics = new ProxyMetrics();
  const registry = metrics.registry;
  const admission = new ValidatorAdmission({
    validatorHotkey: hotkey.address,
    registered,
    logger: logger.child({ component: 'admission' }),
    registry,
    windowSeconds: config.admission.windowSeconds,
    unsigned: config.admission.unsigned,
    unregistered: config.admission.unregistered,
    verifications: config.admission.verifications,
  });
  const sections: { validator?: () => unknown } = {};
  let runtime;
  try {
    runtime = await startProxyRuntime(config.proxy, logger, {
      admission,
      metrics,
      reloadConfig: reloadProxySection(args),
      status: { role: 'validator', sections },
    });
  } catch (error) {
    await chain.close();
    if (error instanceof StartupError || error instanceof ConfigError) return fail(error.message);
    throw error;
  }
  await publishEndpoint(chain, config, hotkey, logger);

  const clock = new BlockClock();
  let poster: WeightPoster;
  try {
    poster = await WeightPoster.open({
      chain,
      signer: hotkey,
      netuid: config.netuid,
      stateDir: config.weights.stateDir,
      scorer: ledgerScorer(runtime.ledger, clock),
      logger: logger.child({ component: 'weights' }),
      registry,
      dryRun: config.weights.dryRun,
      versionKey: config.weights.versionKey === undefined ? undefined : BigInt(config.weights.versionKey),
      intervalBlocks: config.weights.intervalBlocks,
      commitMode: config.weights.commitMode,
      drandBeacon: deps.drandBeacon,
      wallet,
    });
  } catch (error) {
    await runtime.stop();
    await chain.close();
    return fail((error as Error).message);
  }
  const statusView = new ValidatorStatusView({
    chain,
    netuid: config.netuid,
    hotkey: hotkey.address,
    ledger: runtime.ledger,
    clock,
    poster,
    intervalBlocks: config.weights.intervalBlocks,
    connections: () => connectionsByIdentity(runtime.proxy),
    logger,
  });
  sections.validator = () => statusView.snapshot();
  const chainBlock = new Gauge({
    name: 'hashrelay_chain_block',
    help: 'Best block number seen on the chain',
    registers: [registry],
  });
  const onBlock = (block: number): void => {
    clock.observe(block);
    chainBlock.set(block);
    if (block % config.admission.refreshBlocks === 0) {
      chain.metagraph(config.netuid).then(
        (metagraph) => {
          admission.updateRegistered(metagraph.neurons.map((neuron) => neuron.hotkey));
        },
        (error: unknown) => {
          logger.warn(
            { error: (error as Error).message },
            'cannot refresh registered hotkeys: keeping the last set',
          );
        },
      );
    }
    statusView.onBlock();
    void poster.tick(block).then((report) => {
      statusView.observe(report);
      if (report.post.kind === 'dry-run')
        process.stdout.write(
          `${JSON.stringify({
            block: report.block,
            uids: report.post.vector.uids,
            values: report.post.vector.values,
            versionKey: report.post.vector.versionKey.toString(),
          })}\n`,
        );
      deps.onTick?.(report);
    });
  };
  const unsubscribe = await chain.subscribeBlocks(onBlock);
  logger.info(
    { hotkey: hotkey.address, netuid: config.netuid, dryRun: config.weights.dryRun },
    'validator running',
  );

  logger.info({ reason: await runtime.stopRequested }, 'shutting down');
  unsubscribe();
  await runtime.stop();
  await chain.close();
  logger.info('stopped');
  return { code: ExitCode.ok };
}

/** Connections per credited identity (a farm's hotkey), for the status page. */
function connectionsByIdentity(proxy: ProxyRuntime['proxy']): Map<string, number> {
  const seen = new Map<string, Set<number>>();
  for (const worker of proxy.liveWorkers()) {
    const connections = seen.get(worker.identity) ?? new Set();
    connections.add(worker.connection);
    seen.set(worker.identity, connections);
  }
  return new Map([...seen].map(([identity, connections]) => [identity, connections.size]));
}
