import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { registerSha256dBackendMetric } from './sha256d-backend-metric.js';

/** The label value that stands for every miner or worker past the cap. */
export const OTHER_LABEL = '_other';
/** Longest label value kept from miner input (an SS58 hotkey plus a worker suffix fits). */
export const MAX_LABEL_CHARS = 96;

/**
 * How many distinct miner and worker label values credited work is broken down by, and how long
 * a value may go uncredited before its slot can go to another.
 */
export interface CreditLabelCaps {
  readonly maxMiners: number;
  readonly maxWorkers: number;
  readonly idleSeconds: number;
}

export const DEFAULT_CREDIT_LABEL_CAPS: CreditLabelCaps = {
  maxMiners: 1000,
  maxWorkers: 1000,
  idleSeconds: 600,
};

interface Slot {
  readonly owner: string;
  lastCreditMs: number;
}

/**
 * Label values taken from miner input, each holding one of `cap` slots while its work is
 * credited. A newcomer past the cap takes the slot of the value credited least recently once
 * that one is idle (`idleSeconds`), or, sooner, a slot of the owner (miner) holding more than
 * its fair share (cap / owners) while the newcomer's owner holds less; otherwise it is `_other`.
 * So names credited once cannot keep later workers out, and one miner working any number of
 * names holds no more than its share when others need slots.
 */
export class BoundedLabelValues {
  /** In order of last credit: the first is the least recently credited. */
  private readonly slots = new Map<string, Slot>();
  /** Each owner's values, also in order of last credit. */
  private readonly byOwner = new Map<string, Map<string, Slot>>();

  /** `onEvict` hears every value that gives up its slot, to drop its series. */
  constructor(private readonly onEvict: (value: string) => void = () => undefined) {}

  valueFor(
    raw: string,
    cap: number,
    options: { owner?: string; idleSeconds?: number; nowMs?: number } = {},
  ): string {
    // Usernames are as long as a line allows; a label value need not be.
    const value = raw.length > MAX_LABEL_CHARS ? raw.slice(0, MAX_LABEL_CHARS) : raw;
    const nowMs = options.nowMs ?? Date.now();
    const held = this.slots.get(value);
    if (held !== undefined) {
      held.lastCreditMs = nowMs;
      this.touch(this.slots, value, held);
      this.touch(this.byOwner.get(held.owner)!, value, held);
      return value;
    }
    if (cap <= 0) return OTHER_LABEL;
    const owner = options.owner ?? value;
    if (this.slots.size >= cap && !this.freeSlotFor(owner, cap, nowMs, options.idleSeconds ?? Infinity))
      return OTHER_LABEL;
    const slot: Slot = { owner, lastCreditMs: nowMs };
    this.slots.set(value, slot);
    let owned = this.byOwner.get(owner);
    if (owned === undefined) this.byOwner.set(owner, (owned = new Map<string, Slot>()));
    owned.set(value, slot);
    return value;
  }

  /** Frees one slot for a newcomer of `owner` if the rules allow; says whether it did. */
  private freeSlotFor(owner: string, cap: number, nowMs: number, idleSeconds: number): boolean {
    const [oldest, oldestSlot] = this.slots.entries().next().value!;
    if (nowMs - oldestSlot.lastCreditMs >= idleSeconds * 1000) {
      this.evict(oldest, oldestSlot);
      return true;
    }
    const ownHeld = this.byOwner.get(owner)?.size ?? 0;
    const fairShare = Math.floor(cap / (this.byOwner.size + (ownHeld === 0 ? 1 : 0)));
    if (ownHeld >= fairShare) return false;
    let largest: Map<string, Slot> | undefined;
    for (const owned of this.byOwner.values()) if (owned.size > (largest?.size ?? 0)) largest = owned;
    if (largest === undefined || largest.size <= fairShare) return false;
    const [value, slot] = largest.entries().next().value!;
    this.evict(value, slot);
    return true;
  }

  private evict(value: string, slot: Slot): void {
    this.slots.delete(value);
    const owned = this.byOwner.get(slot.owner)!;
    owned.delete(value);
    if (owned.size === 0) this.byOwner.delete(slot.owner);
    this.onEvict(value);
  }

  /** Moves `value` to the end of `order` (most recently credited). */
  private touch(order: Map<string, Slot>, value: string, slot: Slot): void {
    order.delete(value);
    order.set(value, slot);
  }
}

/** Live quantities read at scrape time (the proxy supplies them once it runs). */
export interface ProxyLoad {
  /** Unsent bytes queued to all miners. */
  pendingWriteBytes(): number;
  extranonceSlots(): { readonly inUse: number; readonly quarantined: number };
  /** Duplicate detection: prevhash scopes kept and proofs remembered across them. */
  duplicateProofs(): { readonly scopes: number; readonly proofs: number };
}

/**
 * The proxy's Prometheus metrics. Label values come from configuration (upstream names, roles)
 * and fixed sets (verdicts, reasons); the per-miner and per-worker credited work counters are
 * the only ones labelled by miner input, and those are capped (`BoundedLabelValues`): a
 * value's series lasts while its work is credited, and is removed when its slot goes to another.
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
  private readonly minerLabels: BoundedLabelValues;
  private readonly workerLabels: BoundedLabelValues;
  readonly blocksFound: Counter<'upstream'>;
  readonly upstreamUp: Gauge<'upstream'>;
  readonly upstreamSessions: Gauge<'upstream'>;
  readonly upstreamShares: Counter<'upstream' | 'result'>;
  readonly upstreamRejects: Counter<'upstream' | 'reason' | 'blamed'>;
  readonly upstreamSharesLost: Counter<'upstream' | 'reason'>;
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
  readonly connectionsRefused: Counter<'reason'>;
  readonly minersTurnedAway: Counter<'stage'>;
  readonly vardiffRetargets: Counter<'reason'>;
  readonly jobVariants: Counter<'upstream'>;
  readonly jobResends: Counter<'upstream'>;
  readonly pendingWriteBytes: Gauge;
  readonly extranonceSlots: Gauge<'state'>;
  readonly duplicateScopes: Gauge;
  readonly duplicateProofs: Gauge;
  private load: ProxyLoad | undefined;

  constructor(registry = new Registry(), options: { defaultMetrics?: boolean } = {}) {
    this.registry = registry;
    const registers = [registry];
    if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: registry, prefix: 'hashrelay_' });
    registerSha256dBackendMetric(registry);
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
    // An evicted value's series is removed, not folded into _other: the series just ends, so
    // sum(rate()) stays right, where moving its total into _other would spike _other's rate.
    this.minerLabels = new BoundedLabelValues((miner) => {
      this.minerCreditedDifficulty.remove({ miner });
    });
    this.workerLabels = new BoundedLabelValues((worker) => {
      this.workerCreditedDifficulty.remove({ worker });
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
    this.upstreamRejects = new Counter({
      name: 'hashrelay_upstream_rejects_total',
      help:
        'Shares the upstream refused, by reason (stale, duplicate, low-difficulty, other) and whether it ' +
        'counts towards failing the upstream over (blamed="true": a fresh share the proxy found good enough).',
      labelNames: ['upstream', 'reason', 'blamed'],
      registers,
    });
    this.upstreamSharesLost = new Counter({
      name: 'hashrelay_upstream_shares_lost_total',
      help: "Shares due upstream that no upstream answered: timeout (no answer within submitTimeoutSeconds), session_closed (in flight at a failover), not_sent (its session had closed). A share is bound to its session's coinbase, so none can be re-sent elsewhere.",
      labelNames: ['upstream', 'reason'],
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
    this.connectionsRefused = new Counter({
      name: 'hashrelay_connections_refused_total',
      help: 'Miner connections closed on arrival, by the limit they were over.',
      labelNames: ['reason'],
      registers,
    });
    this.minersTurnedAway = new Counter({
      name: 'hashrelay_miners_turned_away_total',
      help: 'Miners closed or refused because no upstream was up past upstream.noUpstreamGraceSeconds, by when (waiting, subscribe, authorize).',
      labelNames: ['stage'],
      registers,
    });
    this.vardiffRetargets = new Counter({
      name: 'hashrelay_vardiff_retargets_total',
      help: 'Miner difficulty changes, by reason: rate (share rate off target), no-share (silence), miner (suggested).',
      labelNames: ['reason'],
      registers,
    });
    this.jobVariants = new Counter({
      name: 'hashrelay_job_variants_total',
      help: 'Jobs sent as fresh coinbase space to a miner that had the same upstream job before (moved back, new difficulty).',
      labelNames: ['upstream'],
      registers,
    });
    this.jobResends = new Counter({
      name: 'hashrelay_job_resends_total',
      help: 'Jobs re-sent to a miner that had them, with no fresh space left (the pad is full): it may re-mine covered work.',
      labelNames: ['upstream'],
      registers,
    });
    const load = (): ProxyLoad | undefined => this.load;
    this.pendingWriteBytes = new Gauge({
      name: 'hashrelay_miner_pending_write_bytes',
      help: 'Bytes queued to miners and not yet sent (limits.maxTotalPendingWriteBytes bounds it).',
      registers,
      collect() {
        const source = load();
        if (source !== undefined) this.set(source.pendingWriteBytes());
      },
    });
    this.extranonceSlots = new Gauge({
      name: 'hashrelay_extranonce_slots',
      help: 'Extranonce slots held by connected miners (in_use) or kept from reuse while their work is live (quarantined).',
      labelNames: ['state'],
      registers,
      collect() {
        const slots = load()?.extranonceSlots();
        if (slots === undefined) return;
        this.set({ state: 'in_use' }, slots.inUse);
        this.set({ state: 'quarantined' }, slots.quarantined);
      },
    });
    this.duplicateScopes = new Gauge({
      name: 'hashrelay_duplicate_scopes',
      help: 'Prevhash scopes in which proofs of work are remembered for duplicate detection.',
      registers,
      collect() {
        const proofs = load()?.duplicateProofs();
        if (proofs !== undefined) this.set(proofs.scopes);
      },
    });
    this.duplicateProofs = new Gauge({
      name: 'hashrelay_duplicate_proofs',
      help: 'Proofs of work remembered for duplicate detection (16 bytes each at most).',
      registers,
      collect() {
        const proofs = load()?.duplicateProofs();
        if (proofs !== undefined) this.set(proofs.proofs);
      },
    });
  }

  /** Where the live gauges read their values from at scrape time. */
  sample(load: ProxyLoad): void {
    this.load = load;
  }

  /** Counts an accepted share's difficulty in total, per miner and per worker (capped labels). */
  credit(
    miner: string,
    worker: string,
    difficulty: number,
    caps = DEFAULT_CREDIT_LABEL_CAPS,
    nowMs = Date.now(),
  ): void {
    const idleSeconds = caps.idleSeconds;
    this.creditedDifficulty.inc(difficulty);
    this.minerCreditedDifficulty.inc(
      { miner: this.minerLabels.valueFor(miner, caps.maxMiners, { idleSeconds, nowMs }) },
      difficulty,
    );
    this.workerCreditedDifficulty.inc(
      { worker: this.workerLabels.valueFor(worker, caps.maxWorkers, { owner: miner, idleSeconds, nowMs }) },
      difficulty,
    );
  }
}
