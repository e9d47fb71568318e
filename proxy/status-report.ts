import type { Counter, Histogram } from 'prom-client';
import type { ProxyMetrics } from '../src/metrics/proxy-metrics.js';
import type { Proxy, UpstreamState } from './proxy.js';
import { HASHES_PER_DIFFICULTY, HISTORY_BUCKET_MS, type WorkerRow } from './worker-stats.js';

/**
 * GET /api/status: what the status page shows, as one versioned JSON document scripts can read
 * too (documented in README.md, "Status page"). Fields are only ever added within a version.
 * Nothing secret is in it: upstream endpoints carry no user or password, and the roles' sections
 * hold hotkeys (public on chain), never mnemonics or tokens.
 */

export const STATUS_VERSION = 1;

/** Which process is running: the farm proxy with its miner-agent, a plain proxy, or a validator. */
export type StatusRole = 'farm' | 'proxy' | 'validator';

/** A role's own section (the farm's chain view, the validator's weights), read per request. */
export type StatusSection = () => unknown;

/** Workers listed at most; the rest are counted in `workersOmitted` (gone ones go first). */
export const MAX_WORKER_ROWS = 2000;

export interface UpstreamStatus extends UpstreamState {
  /** Forwarded shares by the upstream's answer (hashrelay_upstream_shares_total). */
  readonly answers: Readonly<Record<string, number>>;
  /** accepted / (accepted + rejected); null before any answer. */
  readonly acceptance: number | null;
  /** Mean time to the upstream's answer, seconds; null before any answer. */
  readonly latencySeconds: number | null;
}

export interface StatusReport {
  readonly version: typeof STATUS_VERSION;
  readonly role: StatusRole;
  readonly generatedAt: number;
  readonly totals: {
    readonly miners: number;
    readonly workers: number;
    readonly workersGone: number;
    readonly hashrate5m: number;
    readonly hashrate1h: number;
    readonly accepted: number;
    readonly rejected: number;
    readonly creditedDifficulty: number;
  };
  readonly workers: readonly WorkerRow[];
  readonly workersOmitted: number;
  readonly routing: 'failover' | 'weighted';
  readonly upstreams: readonly UpstreamStatus[];
  /** The proxy's hashrate over the last hour from credited difficulty: [bucket start ms, hashes/s]. */
  readonly hashrate: { readonly bucketSeconds: number; readonly points: readonly [number, number][] };
  readonly farm?: unknown;
  readonly validator?: unknown;
}

export interface StatusSources {
  readonly role: StatusRole;
  readonly proxy: Proxy;
  readonly metrics: ProxyMetrics;
  readonly sections?: { readonly farm?: StatusSection; readonly validator?: StatusSection };
}

export async function statusReport(sources: StatusSources, now = Date.now()): Promise<StatusReport> {
  const { proxy, metrics } = sources;
  const state = proxy.state();
  const all = proxy.workerStats.rows(proxy.liveWorkers(), now);
  const live = all.filter((row) => row.goneAt === null);
  const sum = (rows: readonly WorkerRow[], pick: (row: WorkerRow) => number): number =>
    rows.reduce((total, row) => total + pick(row), 0);
  const [answers, latency] = await Promise.all([
    byUpstream(metrics.upstreamShares, 'result'),
    latencyByUpstream(metrics.upstreamLatency),
  ]);
  const bucketSeconds = HISTORY_BUCKET_MS / 1000;
  return {
    version: STATUS_VERSION,
    role: sources.role,
    generatedAt: now,
    totals: {
      miners: state.miners,
      workers: live.length,
      workersGone: all.length - live.length,
      hashrate5m: sum(live, (row) => row.hashrate5m),
      hashrate1h: sum(live, (row) => row.hashrate1h),
      accepted: sum(all, (row) => row.accepted),
      rejected: sum(all, (row) => Object.values(row.rejected).reduce((a, b) => a + b, 0)),
      creditedDifficulty: sum(all, (row) => row.creditedDifficulty),
    },
    workers: all.slice(0, MAX_WORKER_ROWS),
    workersOmitted: Math.max(0, all.length - MAX_WORKER_ROWS),
    routing: state.routing,
    upstreams: state.upstreams.map((upstream) => {
      const counts = answers.get(upstream.name) ?? {};
      const accepted = counts.accepted ?? 0;
      const rejected = counts.rejected ?? 0;
      return {
        ...upstream,
        answers: counts,
        acceptance: accepted + rejected === 0 ? null : accepted / (accepted + rejected),
        latencySeconds: latency.get(upstream.name) ?? null,
      };
    }),
    hashrate: {
      bucketSeconds,
      points: proxy.workerStats.history
        .series(now)
        .map(([start, difficulty]) => [start, (difficulty * HASHES_PER_DIFFICULTY) / bucketSeconds]),
    },
    ...(sources.sections?.farm === undefined ? {} : { farm: sources.sections.farm() }),
    ...(sources.sections?.validator === undefined ? {} : { validator: sources.sections.validator() }),
  };
}

/** A counter's values by upstream, then by `label`. */
async function byUpstream<L extends string>(
  counter: Counter<'upstream' | L>,
  label: L,
): Promise<Map<string, Record<string, number>>> {
  const out = new Map<string, Record<string, number>>();
  for (const { labels, value } of (await counter.get()).values) {
    const upstream = String(labels.upstream);
    const counts = out.get(upstream) ?? {};
    counts[String(labels[label])] = value;
    out.set(upstream, counts);
  }
  return out;
}

/** Mean answer latency by upstream, from the histogram's sum and count. */
async function latencyByUpstream(histogram: Histogram<'upstream'>): Promise<Map<string, number>> {
  const sums = new Map<string, number>();
  const counts = new Map<string, number>();
  for (const { labels, value, metricName } of (await histogram.get()).values) {
    const upstream = String(labels.upstream);
    if (metricName?.endsWith('_sum') === true) sums.set(upstream, value);
    if (metricName?.endsWith('_count') === true) counts.set(upstream, value);
  }
  const out = new Map<string, number>();
  for (const [upstream, count] of counts) if (count > 0) out.set(upstream, (sums.get(upstream) ?? 0) / count);
  return out;
}
