import { readFileSync } from 'node:fs';
import type http from 'node:http';
import type { Logger } from 'pino';
import { ConfigError, type ProxyConfig } from '../src/config/proxy-config.js';
import type { Ledger } from '../src/ledger/ledger.js';
import { openLedger } from '../src/ledger/open-ledger.js';
import { redactCredentials } from '../src/log/redact.js';
import { ProxyMetrics } from '../src/metrics/proxy-metrics.js';
import { prunedRowsCounter } from '../src/metrics/ledger-retention-metrics.js';
import { startAdminServer, type ReloadAnswer } from '../proxy/admin-server.js';
import { LedgerRetention } from '../proxy/ledger-retention.js';
import { Proxy, type ProxyOptions } from '../proxy/proxy.js';
import { statusReport, type StatusRole, type StatusSources } from '../proxy/status-report.js';
import { describeListenFailure } from './listen-error.js';

/** A running proxy engine with its ledger and admin listener: what `proxy`, `miner-agent` and `validator` start. */
export interface ProxyRuntime {
  readonly proxy: Proxy;
  readonly ledger: Ledger;
  readonly metrics: ProxyMetrics;
  readonly admin: http.Server | undefined;
  /** Resolves when SIGTERM, SIGINT or POST /api/drain asks the process to stop. */
  readonly stopRequested: Promise<string>;
  /** Re-reads the configuration and applies what can change live (SIGHUP, POST /api/reload). */
  reload(): ReloadAnswer;
  /** Drains the proxy, closes the admin listener and the ledger. */
  stop(): Promise<void>;
}

export interface RuntimeOptions extends Pick<ProxyOptions, 'admission' | 'metrics'> {
  /** What the status page shows: the role, and its own section once the command has made it. */
  readonly status?: { readonly role: StatusRole; readonly sections?: StatusSources['sections'] };
  /**
   * Loads the configuration again from where it came (file and flags); throws ConfigError on
   * a bad file. Without it, SIGHUP and POST /api/reload say a restart is needed.
   */
  readonly reloadConfig?: () => ProxyConfig;
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
  { reloadConfig, status, ...extra }: RuntimeOptions = {},
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
  const retention = new LedgerRetention(
    ledger,
    config.ledgerRetention,
    logger,
    prunedRowsCounter(metrics.registry),
  );
  let requestStop: (reason: string) => void = () => undefined;
  const stopRequested = new Promise<string>((resolve) => {
    requestStop = resolve;
  });
  const reload = (): ReloadAnswer => {
    if (reloadConfig === undefined) {
      const error =
        'nothing to reload: started without --config FILE, or in a role that does not reload; restart to change settings';
      logger.warn(error);
      return { ok: false, error };
    }
    return reloadInto(proxy, reloadConfig, logger);
  };
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
        publicStatus: config.admin.publicStatus,
        status: () =>
          statusReport({
            role: status?.role ?? 'proxy',
            proxy,
            metrics,
            sections: status?.sections,
          }),
        api: {
          state: () => proxy.state(),
          drain: () => {
            requestStop('admin API');
          },
          reload,
        },
      });
    }
  } catch (error) {
    await proxy.drain();
    await ledger.close();
    throw new StartupError(`cannot start: ${describeListenFailure(listener, error)}`);
  }
  retention.start();
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.once(signal, () => {
      requestStop(signal);
    });
  }
  // Without a handler SIGHUP ends the process at once, with no drain.
  const onHangup = (): void => {
    logger.info('SIGHUP: reloading the configuration');
    reload();
  };
  process.on('SIGHUP', onHangup);
  return {
    proxy,
    ledger,
    metrics,
    admin,
    stopRequested,
    reload,
    async stop() {
      process.off('SIGHUP', onHangup);
      await proxy.drain();
      admin?.closeAllConnections();
      admin?.close();
      await retention.stop();
      await ledger.close();
    },
  };
}

/** One reload: a bad file keeps the running configuration; a good one applies what it can. */
function reloadInto(proxy: Proxy, reloadConfig: () => ProxyConfig, logger: Logger): ReloadAnswer {
  let next: ProxyConfig;
  try {
    next = reloadConfig();
  } catch (error) {
    // Whatever went wrong reading it, the proxy keeps running as it was.
    const message = error instanceof Error ? error.message : String(error);
    logger.error({ error: message }, 'configuration not reloaded: keeping the running one');
    return { ok: false, error: message };
  }
  const { applied, refused } = proxy.reconfigure(next);
  if (refused.length > 0) logger.warn({ refused }, 'configuration changes not applied: they need a restart');
  logger.info({ applied, refused: refused.map((change) => change.key) }, 'configuration reloaded');
  return { ok: true, applied, refused };
}
