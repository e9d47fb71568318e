import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { parseProxyConfig, type ProxyConfigInput } from '../../src/config/proxy-config.js';
import type { Ledger, StoredShare } from '../../src/ledger/ledger.js';
import { openSqliteLedger } from '../../src/ledger/sqlite-ledger.js';
import { silentLogger } from '../../src/log/logger.js';
import { ProxyMetrics } from '../../src/metrics/proxy-metrics.js';
import { Proxy } from '../../proxy/proxy.js';

export interface RunningProxy {
  readonly proxy: Proxy;
  readonly ledger: Ledger;
  readonly ledgerPath: string;
  readonly port: number;
  /** Every listener's port, in `listen` order (`port` is the first). */
  readonly ports: readonly number[];
  stop(): Promise<void>;
}

/** Upstream timings for tests: quick failover and reconnects. */
export const TEST_UPSTREAM = {
  connectTimeoutSeconds: 2,
  silenceSeconds: 5,
  submitTimeoutSeconds: 3,
  maxConsecutiveRejects: 5,
  backoffMinSeconds: 0.2,
  backoffMaxSeconds: 1,
  maxMinersPerSession: 4096,
  jobsKept: 16,
} as const;

/** Weighted routing with quick decisions, and a fixed difficulty so share counts are work. */
export function weightedRouting(difficulty: number): Pick<ProxyConfigInput, 'routing' | 'vardiff'> {
  return {
    routing: { mode: 'weighted', minDwellSeconds: 1, windowSeconds: 60 },
    vardiff: {
      initialDifficulty: difficulty,
      minDifficulty: 2 ** -32,
      maxDifficulty: 1,
      targetShareSeconds: 3.3,
      retargetSeconds: 100_000,
      burstShares: 0,
      noShareTargets: 0,
      firstShareTargets: 0,
      honourMinerFloor: false,
    },
  };
}

/** Test settings: CPU-miner difficulties, no vardiff drift, quick failover. */
export function testConfig(
  upstreamPorts: readonly number[],
  overrides: Partial<ProxyConfigInput> = {},
): ProxyConfigInput {
  return {
    listen: ['127.0.0.1:0'],
    upstreams: upstreamPorts.map((port, index) => ({
      url: `stratum+tcp://farm.proxy${index}:x@127.0.0.1:${port}`,
      name: `pool${index}`,
    })),
    vardiff: {
      initialDifficulty: 2 ** -16,
      minDifficulty: 2 ** -32,
      maxDifficulty: 2 ** 32,
      targetShareSeconds: 3.3,
      retargetSeconds: 100_000,
      burstShares: 0,
      noShareTargets: 0,
      firstShareTargets: 0,
      honourMinerFloor: false,
    },
    upstream: TEST_UPSTREAM,
    ...overrides,
  };
}

/** `logger`: where the proxy logs (default: nowhere). */
export async function startProxy(
  config: ProxyConfigInput,
  logger: Logger = silentLogger(),
): Promise<RunningProxy> {
  const dir = mkdtempSync(join(tmpdir(), 'hashrelay-proxy-'));
  const ledgerPath = join(dir, 'ledger.sqlite');
  const ledger = await openSqliteLedger(ledgerPath);
  const proxy = new Proxy({
    config: parseProxyConfig(config, { upstreamsFromAgent: config.upstreams?.length === 0 }),
    ledger,
    logger,
    metrics: new ProxyMetrics(undefined, { defaultMetrics: false }),
  });
  const bound = await proxy.start();
  return {
    proxy,
    ledger,
    ledgerPath,
    port: bound[0]!.port,
    ports: bound.map((listener) => listener.port),
    async stop() {
      await proxy.drain();
      await ledger.close();
    },
  };
}

/** Every share in the ledger, with the proxy job id its job was sent under. */
export async function ledgerShares(
  ledger: Ledger,
): Promise<(StoredShare & { proxyJobId: string | undefined })[]> {
  const shares = await ledger.shares({ from: 0, to: Number.MAX_SAFE_INTEGER });
  const jobIds = new Map<number, string>();
  for (const share of shares) {
    if (share.jobId !== null && !jobIds.has(share.jobId)) {
      const job = await ledger.job(share.jobId);
      if (job !== undefined) jobIds.set(share.jobId, job.proxyJobId);
    }
  }
  return shares.map((share) => ({
    ...share,
    proxyJobId: share.jobId === null ? undefined : jobIds.get(share.jobId),
  }));
}

/** The key a miner and the ledger agree on: job, the miner's extranonce2 (a suffix upstream), ntime, nonce. */
export function shareKey(jobId: string, minerExtranonce2Hex: string, ntime: number, nonce: number): string {
  return `${jobId}/${minerExtranonce2Hex}/${ntime}/${nonce}`;
}
