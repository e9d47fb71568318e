import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** The label value that stands for every miner or worker past the cap. */
export const OTHER_LABEL = '_other';
/** Longest label value kept from miner input (an SS58 hotkey plus a worker suffix fits). */
export const MAX_LABEL_CHARS = 96;

/** How many distinct miner and worker label values credited work is broken down by. */
export interface CreditLabelCaps {
  readonly maxMiners: number;
  readonly maxWorkers: number;
}

export const DEFAULT_CREDIT_LABEL_CAPS: CreditLabelCaps = { maxMiners: 1000, maxWorkers: 1000 };

/**
 * Label values taken from miner input, first come first kept: once `cap` distinct values are
 * in use, every new one is reported as `_other`, so a farm of any size cannot grow the series.
 */
export class BoundedLabelValues {
  private readonly kept = new Set<string>();

  valueFor(raw: string, cap: number): string {
    // Usernames are as long as a line allows; a label value need not be.
    const value = raw.length > MAX_LABEL_CHARS ? raw.slice(0, MAX_LABEL_CHARS) : raw;
    if (this.kept.has(value)) return value;
    if (this.kept.size >= cap) return OTHER_LABEL;
    this.kept.add(value);
    return value;
  }
}

/**
 * The proxy's Prometheus metrics. Label values come from configuration (upstream names, roles)
 * and fixed sets (verdicts, reasons); the per-miner and per-worker credited work counters are
 * the only ones labelled by miner input, and those are capped (`BoundedLabelValues`).
 */
export class ProxyMetrics {
  readonly registry: Registry;
  readonly connections: Gauge<'role'>;
  readonly connectionsTotal: Counter<'role'>;
  readonly disconnectsTotal: Counter<'reason'>;
  readonly shares: Counter<'verdict'>;
  readonly creditedDifficulty: Counter;
  readonly minerCreditedDifficulty: Counter<'miner'>;
  readonly workerCreditedDifficulty: Counter<'worker'>;
  private readonly minerLabels = new BoundedLabelValues();
  private readonly workerLabels = new BoundedLabelValues();
  readonly blocksFound: Counter<'upstream'>;
  readonly upstreamUp: Gauge<'upstream'>;
  readonly upstreamSessions: Gauge<'upstream'>;
  readonly upstreamShares: Counter<'upstream' | 'result'>;
  readonly upstreamDifficulty: Counter<'upstream'>;
  readonly upstreamLatency: Histogram<'upstream'>;
  readonly upstreamFailovers: Counter<'upstream' | 'reason'>;
  readonly minersPerUpstream: Gauge<'upstream'>;
  readonly shareRecordLatency: Histogram;
  readonly ledgerFailures: Counter;
  readonly ledgerHealthy: Gauge;
  readonly submitsThrottled: Counter;
  readonly rejectsSummarised: Counter<'verdict'>;
  readonly protocolErrors: Counter<'kind'>;
  readonly splitTarget: Gauge<'upstream'>;
  readonly splitRealised: Gauge<'upstream'>;

  constructor(registry = new Registry(), options: { defaultMetrics?: boolean } = {}) {
    this.registry = registry;
    const registers = [registry];
    if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: registry, prefix: 'hashrelay_' });
    this.connections = new Gauge({
      name: 'hashrelay_connections',
      help: 'Open connections by role.',
      labelNames: ['role'],
      registers,
    });
    this.connectionsTotal = new Counter({
      name: 'hashrelay_connections_total',
      help: 'Connections accepted or opened.',
      labelNames: ['role'],
      registers,
    });
    this.disconnectsTotal = new Counter({
      name: 'hashrelay_miner_disconnects_total',
      help: 'Miner connections closed, by reason.',
      labelNames: ['reason'],
      registers,
    });
    this.shares = new Counter({
      name: 'hashrelay_shares_total',
      help: 'Shares judged locally, by verdict.',
      labelNames: ['verdict'],
      registers,
    });
    this.creditedDifficulty = new Counter({
      name: 'hashrelay_credited_difficulty_total',
      help: 'Sum of the assigned difficulty of accepted shares.',
      registers,
    });
    this.minerCreditedDifficulty = new Counter({
      name: 'hashrelay_miner_credited_difficulty_total',
      help: 'Credited difficulty by miner identity (account, or admitted hotkey); past the cap, miner="_other".',
      labelNames: ['miner'],
      registers,
    });
    this.workerCreditedDifficulty = new Counter({
      name: 'hashrelay_worker_credited_difficulty_total',
      help: 'Credited difficulty by worker (full username); past the cap, worker="_other".',
      labelNames: ['worker'],
      registers,
    });
    this.blocksFound = new Counter({
      name: 'hashrelay_blocks_found_total',
      help: 'Shares that met the network target.',
      labelNames: ['upstream'],
      registers,
    });
    this.upstreamUp = new Gauge({
      name: 'hashrelay_upstream_up',
      help: '1 when the upstream has a ready session and is in use.',
      labelNames: ['upstream'],
      registers,
    });
    this.upstreamSessions = new Gauge({
      name: 'hashrelay_upstream_sessions',
      help: 'Ready sessions per upstream.',
      labelNames: ['upstream'],
      registers,
    });
    this.upstreamShares = new Counter({
      name: 'hashrelay_upstream_shares_total',
      help: 'Shares forwarded upstream, by the answer.',
      labelNames: ['upstream', 'result'],
      registers,
    });
    this.upstreamDifficulty = new Counter({
      name: 'hashrelay_upstream_accepted_difficulty_total',
      help: 'Sum of upstream difficulty of shares the upstream accepted.',
      labelNames: ['upstream'],
      registers,
    });
    this.upstreamLatency = new Histogram({
      name: 'hashrelay_upstream_submit_latency_seconds',
      help: 'Time from forwarding a share to the upstream answer.',
      labelNames: ['upstream'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers,
    });
    this.upstreamFailovers = new Counter({
      name: 'hashrelay_upstream_failures_total',
      help: 'Upstream sessions lost, by reason.',
      labelNames: ['upstream', 'reason'],
      registers,
    });
    this.minersPerUpstream = new Gauge({
      name: 'hashrelay_upstream_miners',
      help: 'Miners currently placed on each upstream.',
      labelNames: ['upstream'],
      registers,
    });
    this.shareRecordLatency = new Histogram({
      name: 'hashrelay_ledger_record_seconds',
      help: 'Time from a submit to its durable ledger commit.',
      buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 1],
      registers,
    });
    this.ledgerFailures = new Counter({
      name: 'hashrelay_ledger_failures_total',
      help: 'Shares the ledger could not record.',
      registers,
    });
    this.ledgerHealthy = new Gauge({
      name: 'hashrelay_ledger_healthy',
      help: '1 while the ledger commits; 0 while it cannot (a full disk, a failure), when shares are refused and /readyz answers 503.',
      registers,
    });
    this.submitsThrottled = new Counter({
      name: 'hashrelay_submits_throttled_total',
      help: 'Rejected submits answered late because their connection sends mostly invalid shares.',
      registers,
    });
    this.rejectsSummarised = new Counter({
      name: 'hashrelay_rejects_summarised_total',
      help: "Rejected shares past their connection's recording budget, counted in reject_summaries instead of recorded one by one.",
      labelNames: ['verdict'],
      registers,
    });
    this.splitTarget = new Gauge({
      name: 'hashrelay_split_target_ratio',
      help: 'Target share of work per upstream (weighted routing).',
      labelNames: ['upstream'],
      registers,
    });
    this.splitRealised = new Gauge({
      name: 'hashrelay_split_realised_ratio',
      help: 'Realised share of credited work per upstream over the routing window.',
      labelNames: ['upstream'],
      registers,
    });
    this.protocolErrors = new Counter({
      name: 'hashrelay_protocol_errors_total',
      help: 'Malformed or abusive input from miners, by kind.',
      labelNames: ['kind'],
      registers,
    });
  }

  /** Counts an accepted share's difficulty in total, per miner and per worker (capped labels). */
  credit(miner: string, worker: string, difficulty: number, caps = DEFAULT_CREDIT_LABEL_CAPS): void {
    this.creditedDifficulty.inc(difficulty);
    this.minerCreditedDifficulty.inc({ miner: this.minerLabels.valueFor(miner, caps.maxMiners) }, difficulty);
    this.workerCreditedDifficulty.inc(
      { worker: this.workerLabels.valueFor(worker, caps.maxWorkers) },
      difficulty,
    );
  }
}
