import { readFileSync } from 'node:fs';
import type http from 'node:http';
import type { Logger } from 'pino';
import { ConfigError, type ProxyConfig } from '../src/config/proxy-config.js';
import type { Ledger } from '../src/ledger/ledger.js';
import { openLedger } from '../src/ledger/open-ledger.js';
import { redactCredentials } from '../src/log/redact.js';
import { ProxyMetrics } from '../src/metrics/proxy-metrics.js';
import { startAdminServer } from '../proxy/admin-server.js';
import { Proxy, type ProxyOptions } from '../proxy/proxy.js';
import { describeListenFailure } from './listen-error.js';

/** A running proxy engine with its ledger and admin listener: what `proxy`, `miner-agent` and `validator` start. */
export interface ProxyRuntime {
  readonly proxy: Proxy;
  readonly ledger: Ledger;
  readonly metrics: ProxyMetrics;
  readonly admin: http.Server | undefined;
  /** Resolves when SIGTERM, SIGINT or POST /api/drain asks the process to stop. */
  readonly stopRequested: Promise<string>;
  /** Drains the proxy, closes the admin listener and the ledger. */
  stop(): Promise<void>;
}

/** The admin API token: HASHRELAY_ADMIN_TOKEN, else the config's `adminTokenFile`, else none. */
export function adminToken(config: ProxyConfig): string | undefined {
  const fromEnv = process.env.HASHRELAY_ADMIN_TOKEN;
  if (fromEnv !== undefined && fromEnv !== '') return fromEnv;
  if (config.adminTokenFile === undefined) return undefined;
  let token: string;
  try {
    token = readFileSync(config.adminTokenFile, 'utf8').trim();
  } catch (error) {
    throw new ConfigError(`cannot read adminTokenFile ${config.adminTokenFile}: ${(error as Error).message}`);
  }
  if (token.length < 16)
    throw new ConfigError(
      `adminTokenFile ${config.adminTokenFile}: the token must be at least 16 characters`,
    );
  return token;
}

export class StartupError extends Error {}

export async function startProxyRuntime(
  config: ProxyConfig,
  logger: Logger,
  extra: Pick<ProxyOptions, 'admission' | 'metrics'> = {},
): Promise<ProxyRuntime> {
  const token = adminToken(config);
  let ledger: Ledger;
  try {
    ledger = await openLedger(config.ledger);
  } catch (error) {
    throw new StartupError(
      `cannot open ledger ${redactCredentials(config.ledger)}: ${(error as Error).message}`,
    );
  }
  const metrics = extra.metrics ?? new ProxyMetrics();
  const proxy = new Proxy({ config, ledger, logger, ...extra, metrics });
  let requestStop: (reason: string) => void = () => undefined;
  const stopRequested = new Promise<string>((resolve) => {
    requestStop = resolve;
  });
  let admin: http.Server | undefined;
  let listener = 'Stratum listener (listen)';
  try {
    await proxy.start();
    listener = 'admin listener (metrics)';
    if (config.metrics !== undefined) {
      admin = await startAdminServer({
        host: config.metrics.host,
        port: config.metrics.port,
        registry: metrics.registry,
        ready: () => proxy.readiness(),
        logger,
        token,
        api: {
          state: () => proxy.state(),
          drain: () => {
            requestStop('admin API');
          },
        },
      });
    }
  } catch (error) {
    await proxy.drain();
    await ledger.close();
    throw new StartupError(`cannot start: ${describeListenFailure(listener, error)}`);
  }
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.once(signal, () => {
      requestStop(signal);
    });
  }
  return {
    proxy,
    ledger,
    metrics,
    admin,
    stopRequested,
    async stop() {
      await proxy.drain();
      admin?.closeAllConnections();
      admin?.close();
      await ledger.close();
    },
  };
}
