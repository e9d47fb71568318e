import { parseArgs } from 'node:util';
import {
  ConfigError,
  parseProxyConfig,
  readConfigFile,
  type ProxyConfig,
} from '../src/config/proxy-config.js';
import { createLogger } from '../src/log/logger.js';
import { ExitCode, type CommandResult } from './command.js';
import { startProxyRuntime, StartupError } from './proxy-runtime.js';

export const proxyHelp = `Usage: hashrelay proxy --listen HOST:PORT --upstream stratum+tcp://USER:PASS@HOST:PORT
                      [--upstream URL ...] [--ledger sqlite:PATH] [--metrics HOST:PORT]
                      [--config FILE] [--log-level LEVEL]

Runs the Stratum V1 proxy: miners connect to --listen; their work goes to the first healthy
--upstream (failover in the order given, back again when it recovers). Every share is
verified locally, recorded durably in the ledger before the miner's answer, and forwarded
when it meets the upstream's difficulty.

  --listen HOST:PORT     where miners connect (repeatable)
  --upstream URL         stratum+tcp:// or stratum+ssl:// pool URL with USER[:PASS] (repeatable,
                         in priority order)
  --ledger sqlite:PATH   the share ledger (default sqlite:./hashrelay.sqlite)
  --metrics HOST:PORT    the admin listener: /metrics, /healthz, /readyz, and with a token
                         (HASHRELAY_ADMIN_TOKEN or adminTokenFile) GET /api/state, POST /api/drain,
                         POST /api/reload;
                         give a loopback address unless Prometheus scrapes from elsewhere
  --config FILE          JSON config with the same keys and everything else (vardiff, limits,
                         extranonce, upstream timeouts); flags override the file
  --log-level LEVEL      fatal, error, warn, info (default), debug, trace, silent

SIGTERM, SIGINT or POST /api/drain drains: stop accepting, let in-flight shares commit, close sessions.
SIGHUP or POST /api/reload re-reads --config FILE and applies, without dropping miners, what can
change live (upstreams and weights, limits, vardiff, upstream timings); listen addresses, the
ledger, the admin listener, the log level, extranonce and routing mode need a restart (logged, and
listed under "refused" in the API's answer). A key given as a flag keeps the flag's value. A file
that does not parse keeps the running configuration.
`;

export async function runProxyCommand(args: readonly string[]): Promise<CommandResult> {
  const { values, positionals } = parseArgs({
    args: [...args],
    allowPositionals: true,
    options: {
      help: { type: 'boolean', short: 'h' },
      listen: { type: 'string', multiple: true },
      upstream: { type: 'string', multiple: true },
      ledger: { type: 'string' },
      metrics: { type: 'string' },
      config: { type: 'string' },
      'log-level': { type: 'string' },
    },
  });
  if (values.help === true) return { code: ExitCode.ok, stdout: proxyHelp };
  if (positionals.length > 0)
    return {
      code: ExitCode.usage,
      stderr: `hashrelay proxy: unexpected argument '${positionals[0]!}'\n\n${proxyHelp}`,
    };

  // The file, then the flags over it: at start, and again on each reload.
  const loadConfig = (): ProxyConfig => {
    const raw: Record<string, unknown> = values.config === undefined ? {} : readConfigFile(values.config);
    if (values.listen !== undefined) raw.listen = values.listen;
    if (values.upstream !== undefined) raw.upstreams = values.upstream;
    if (values.ledger !== undefined) raw.ledger = values.ledger;
    if (values.metrics !== undefined) raw.metrics = values.metrics;
    if (values['log-level'] !== undefined) raw.logLevel = values['log-level'];
    return parseProxyConfig(raw);
  };
  let config;
  try {
    config = loadConfig();
  } catch (error) {
    if (error instanceof ConfigError)
      return { code: ExitCode.usage, stderr: `hashrelay proxy: ${error.message}\n` };
    throw error;
  }

  const logger = createLogger(config.logLevel);
  let runtime;
  try {
    runtime = await startProxyRuntime(config, logger, {
      reloadConfig: values.config === undefined ? undefined : loadConfig,
    });
  } catch (error) {
    if (error instanceof StartupError || error instanceof ConfigError)
      return { code: ExitCode.failure, stderr: `hashrelay proxy: ${error.message}\n` };
    throw error;
  }
  logger.info({ reason: await runtime.stopRequested }, 'shutting down');
  await runtime.stop();
  logger.info('stopped');
  return { code: ExitCode.ok };
}
