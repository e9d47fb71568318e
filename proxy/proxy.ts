import net from 'node:net';
import tls from 'node:tls';
import { readFileSync } from 'node:fs';
import { setTimeout as delay } from 'node:timers/promises';
import type { Logger } from 'pino';
import { planReload, type ReloadPlan } from '../src/config/config-reload.js';
import { listenerVardiff, upstreamNames, type ProxyConfig } from '../src/config/proxy-config.js';
import type { Ledger, ShareRecord } from '../src/ledger/ledger.js';
import { ProxyMetrics } from '../src/metrics/proxy-metrics.js';
import { WorkerStats, type LiveWorker } from './worker-stats.js';
import { SubmitErrorCode } from '../src/stratum/errors.js';
import type { SubmitRequest } from '../src/stratum/messages.js';
import { blamesPool } from '../src/stratum/submit-rejects.js';
import { concatBytes } from '../src/work/bytes.js';
import { difficultyToTarget, type Target } from '../src/work/target.js';
import { toDifficulty, toJobId } from '../src/work/types.js';
import type { VardiffOptions } from '../src/work/vardiff.js';
import { BIP320_VERSION_MASK, rollableMask, upstreamVersionBits } from '../src/work/version-rolling.js';
import { BlockReports } from './block-reports.js';
import { ConnectionsByAddress, LogThrottle } from './connection-limits.js';
import { ExtranonceSlots } from './extranonce-slots.js';
import {
  identityOf,
  MinerConnection,
  type AdmissionVerdict,
  type MinerHost,
  type SubmitReply,
} from './miner-connection.js';
import { JobVariants } from './job-variants.js';
import { foldJob, makeProxyJob, variantsOf, type ProxyJob } from './proxy-job.js';
import { LedgerWatch } from './ledger-watch.js';
import { OutputBudget } from './output-budget.js';
import { ProofScopes } from './proof-scopes.js';
import type { RejectScreening } from './reject-budget.js';
import { RejectStandings } from './reject-standings.js';
import { TurnAway } from './turn-away.js';
import { RejectLog } from './reject-log.js';
import { RejectTally } from './reject-tally.js';
import { judgeShare, type Judgement } from './share-judge.js';
import { SlicedQueue } from './sliced-queue.js';
import { SplitScheduler } from './split-scheduler.js';
import { UpstreamLink, type UpstreamLinkTimings } from './upstream-link.js';
import { UpstreamOutage } from './upstream-outage.js';
import {
  submitWire,
  type SessionJob,
  type SubmitParams,
  type UpstreamCredentials,
  type UpstreamSession,
} from './upstream-session.js';
import type { ShareWork } from '../src/work/share-check.js';
import type { UpstreamUrl } from '../src/config/endpoints.js';

export const USER_AGENT = 'hashrelay/0.1.0';

/** One upstream as the router sees it: from the config file, or from the miner-agent. */
export interface UpstreamSpec {
  /** Unique; the metrics label (a validator's hotkey when the miner-agent manages the set). */
  readonly name: string;
  readonly url: UpstreamUrl;
  /** Target weight in weighted routing (any positive scale); ignored by failover. */
  readonly weight: number;
  /** Made fresh for each session (a signed authorize); default: the URL's user and password. */
  readonly credentials?: () => UpstreamCredentials;
}

export interface UpstreamState {
  readonly name: string;
  /** Scheme, host and port only: credentials never leave the process. */
  readonly endpoint: string;
  readonly healthy: boolean;
  readonly sessions: number;
  readonly miners: number;
  readonly weight: number;
  /** Weighted routing: the share of work this upstream should get, and what it got (decayed). */
  readonly target: number | null;
  readonly realised: number | null;
  /** Forwarded submits waiting for the upstream's answer now. */
  readonly submitsAwaitingAnswer: number;
  /** Shares due to this upstream that it never answered (see hashrelay_upstream_shares_lost_total). */
  readonly lostShares: number;
  /** Why its last session was given up, if one was. */
  readonly lastFailure: string | null;
}

export interface ProxyState {
  readonly routing: 'failover' | 'weighted';
  readonly miners: number;
  /** Miners with no upstream to work for yet. */
  readonly waiting: number;
  readonly upstreams: readonly UpstreamState[];
  readonly retiring: readonly string[];
}

/** Who may mine here, and as whom (the validator role verifies signed authorizes). */
export interface Admission {
  /** `remoteAddress`: the connection's source IP (budgets are per address). */
  authorize(
    username: string,
    password: string,
    connectionId: number,
    remoteAddress: string,
  ): Promise<AdmissionVerdict>;
  /** The connection closed: what it held (e.g. live signatures) is free again. */
  release(connectionId: number): void;
}

export interface ProxyOptions {
  readonly config: ProxyConfig;
  readonly ledger: Ledger;
  readonly logger: Logger;
  readonly metrics?: ProxyMetrics;
  /** Admission of mining.authorize; default: every username is admitted (farm role). */
  readonly admission?: Admission;
}

/**
 * The proxy engine: miners downstream, upstream links in failover order, the share pipeline
 * (judge → ledger → acknowledge → forward) and placement of miners on upstream sessions.
 */
export class Proxy {
  readonly metrics: ProxyMetrics;
  private linkList: UpstreamLink[] = [];
  /** Removed upstreams kept open for late shares, and the timer that closes each. */
  private readonly retiring = new Map<UpstreamLink, NodeJS.Timeout>();
  private weights = new Map<string, number>();
  private started = false;
  readonly miners = new Set<MinerConnection>();
  /** Replaced whole by a reload (reconfigure); read where it is used, not copied. */
  private config: ProxyConfig;
  private readonly ledger: Ledger;
  private readonly log: Logger;
  private readonly slots: ExtranonceSlots<UpstreamSession>;
  /** Duplicate detection by header hash, one scope per prevhash across every session. */
  private readonly proofScopes: ProofScopes;
  private readonly addresses: ConnectionsByAddress;
  private readonly refusalLog = new LogThrottle(10_000);
  private readonly turnAway = new TurnAway();
  private readonly output: OutputBudget<MinerConnection>;
  private readonly servers: net.Server[] = [];
  /** Session id → the proxy jobs made from it, oldest first; and its current one. */
  private readonly sessionJobs = new Map<string, ProxyJob[]>();
  /** Each job's variants: fresh coinbase space for a miner sent it again. */
  private readonly variants = new JobVariants();
  /** Sessions already warned that their pad leaves no room for variants. */
  private readonly noVariantsWarned = new WeakSet<UpstreamSession>();
  private vardiffTimer: NodeJS.Timeout | undefined;
  /** Session id → miners placed on it. */
  private readonly placements = new Map<string, Set<MinerConnection>>();
  private readonly minerSession = new Map<MinerConnection, UpstreamSession>();
  /** Subscribed and authorized miners with no work yet (no upstream up). */
  private readonly waiting = new Set<MinerConnection>();
  private readonly inFlight = new Set<Promise<unknown>>();
  private readonly replies = new SlicedQueue();
  /** Weighted routing only: who works for which upstream. */
  private readonly scheduler: SplitScheduler | undefined;
  private routingTimer: NodeJS.Timeout | undefined;
  private nextConnectionId = 1;
  private nextJobSerial = 1;
  private draining = false;
  private readonly host: MinerHost;
  private readonly admission: Admission | undefined;
  readonly ledgerWatch: LedgerWatch;
  /** Rejects past their connection's recording budget, written as summary rows. */
  private readonly rejectTally: RejectTally;
  /** Reject budgets per (address, worker) and per address, kept across connections. */
  private readonly rejectStandings: RejectStandings;
  /** Per-miner reject summaries for the operator's log. */
  private readonly rejectLog: RejectLog;
  /** Time with no upstream up; past its grace, miners are turned away (upstream.whenNoUpstream). */
  private readonly outage: UpstreamOutage;
  /** `blocks.minDifficulty` as a target: a share meeting nbits is a block only if it meets this too. */
  private readonly blockFloorTarget: Target;
  private readonly blockReports: BlockReports;
  /** Upstream name → shares due to it that it never answered, for the admin API. */
  private readonly lostShares = new Map<string, number>();
  /** Per-worker tallies for the status page (GET /api/status). */
  readonly workerStats = new WorkerStats();

  constructor(options: ProxyOptions) {
    this.config = options.config;
    this.ledger = options.ledger;
    this.log = options.logger;
    this.admission = options.admission;
    this.metrics = options.metrics ?? new ProxyMetrics();
    this.slots = new ExtranonceSlots(this.config.extranonce.slotBytes);
    // Late shares on an abandoned prevhash are deduplicated as long as a retiring upstream
    // still takes them, and at least a minute.
    this.proofScopes = new ProofScopes(Math.max(60, this.config.upstream.retireSeconds) * 1000);
    this.ledgerWatch = new LedgerWatch(this.ledger, this.metrics, this.log);
    this.rejectTally = new RejectTally(this.ledger, this.config.limits.rejectBudget.summarySeconds * 1000);
    this.rejectLog = new RejectLog(this.config.rejectLogSeconds * 1000);
    this.rejectStandings = new RejectStandings(this.config.limits.rejectBudget);
    this.outage = new UpstreamOutage(
      () => this.config.upstream,
      this.log,
      () => {
        this.turnAwayWaiting();
      },
    );
    this.blockFloorTarget = difficultyToTarget(toDifficulty(this.config.blocks.minDifficulty));
    this.blockReports = new BlockReports(this.log, this.config.blocks.loggedPerMinute);
    const up = this.config.upstream;
    const limits = this.config.limits;
    this.addresses = new ConnectionsByAddress(limits);
    this.output = new OutputBudget(limits.maxTotalPendingWriteBytes);
    this.metrics.sample({
      pendingWriteBytes: () => this.pendingWriteBytes,
      extranonceSlots: () => ({ inUse: this.slots.used, quarantined: this.slots.quarantined }),
      duplicateProofs: () => ({ scopes: this.proofScopes.scopeCount, proofs: this.proofScopes.proofCount }),
    });
    const config = (): ProxyConfig => this.config;
    this.host = {
      log: this.log,
      get limits() {
        return config().limits;
      },
      get vardiff() {
        return config().vardiff;
      },
      minerExtranonce2Size: this.config.extranonce.minerExtranonce2Size,
      jobsKept: up.jobsKept,
      versionMaskOffer: () => {
        const session = this.preferredLink()?.readySessions()[0];
        if (session === undefined) return BIP320_VERSION_MASK;
        return rollableMask(session.versionMask, 0xffffffff, session.currentJob?.job.version ?? 0);
      },
      allocateSlot: () => this.slots.allocate(),
      authorize: (username, password, connectionId, remoteAddress) => {
        // Before admission: a barred worker costs no signature check.
        const barred = this.rejectStandings.workerBarred(remoteAddress, username, Date.now());
        if (barred !== undefined) return Promise.resolve({ ok: false, message: barred });
        return (
          this.admission?.authorize(username, password, connectionId, remoteAddress) ??
          Promise.resolve({ ok: true })
        );
      },
      place: (miner) => {
        this.addresses.authenticated(miner.id);
        this.place(miner);
      },
      retargeted: (miner, difficulty, reason) => {
        this.metrics.vardiffRetargets.inc({ reason });
        // miner.log is made on first use: not for a line the level drops.
        if (this.log.isLevelEnabled('debug')) miner.log.debug({ difficulty, reason }, 'vardiff retarget');
      },
      reissue: (miner) => {
        this.reissue(miner);
      },
      submit: (miner, request) => this.track(this.onSubmit(miner, request)),
      queued: (miner) => {
        this.output.update(miner);
      },
      deferReply: (write) => {
        this.replies.push(write);
      },
      protocolError: (kind) => {
        this.metrics.protocolErrors.inc({ kind });
      },
      turnAway: (stage) => {
        const refusal = this.draining ? undefined : this.outage.refusal();
        if (refusal !== undefined) this.metrics.minersTurnedAway.inc({ stage });
        return refusal;
      },
      closed: (miner, reason) => {
        this.onMinerClosed(miner, reason);
      },
    };
    if (this.config.routing.mode === 'weighted') this.scheduler = new SplitScheduler(this.config.routing);
    this.setUpstreams(configuredUpstreams(this.config));
  }

  /**
   * A configuration reload (SIGHUP, POST /api/reload): applies every change that can apply
   * without dropping a miner (upstreams and weights, limits, vardiff, timings) and keeps the
   * running value of each key that needs a restart. Miners stay connected throughout.
   */
  reconfigure(next: ProxyConfig): ReloadPlan {
    const plan = planReload(this.config, next);
    if (plan.applied.length === 0) return plan;
    const previous = this.config;
    const config = plan.config;
    this.config = config;
    const now = Date.now();
    this.addresses.setLimits(config.limits);
    this.rejectStandings.setOptions(config.limits.rejectBudget);
    this.output.setMaxBytes(config.limits.maxTotalPendingWriteBytes);
    for (const server of this.servers) server.maxConnections = config.limits.maxConnections;
    this.rejectLog.setInterval(config.rejectLogSeconds * 1000);
    if (JSON.stringify(previous.vardiff) !== JSON.stringify(config.vardiff))
      for (const miner of this.miners) miner.vardiff.reconfigure(config.vardiff, now);
    for (const link of [...this.linkList, ...this.retiring.keys()]) link.retune(linkTimings(config));
    // A miner-agent's set comes from chain, not the file: an unchanged (empty) list is left alone.
    if (JSON.stringify(previous.upstreams) !== JSON.stringify(config.upstreams))
      this.setUpstreams(configuredUpstreams(config));
    if (this.started) this.turnAwayWaiting(); // whenNoUpstream may have become disconnect
    return plan;
  }

  /** Unsent bytes queued to all miners. */
  get pendingWriteBytes(): number {
    let total = 0;
    for (const miner of this.miners) total += miner.pendingWriteBytes;
    return total;
  }

  /** The upstreams in priority order (failover) or as the router weighs them. */
  get links(): readonly UpstreamLink[] {
    return this.linkList;
  }

  /**
   * Replaces the upstream set and weights at any time (the miner-agent's stake update): new
   * upstreams connect, changed endpoints reconnect, removed ones stop taking new work and close
   * after `upstream.retireSeconds` so shares on their jobs still reach them. No miner is
   * dropped: those on a removed upstream move by a clean notify.
   */
  setUpstreams(specs: readonly UpstreamSpec[]): void {
    const seen = new Set<string>();
    for (const spec of specs) {
      if (seen.has(spec.name))
        throw new Error(`upstream name '${spec.name}' appears twice: names must be unique`);
      if (!(spec.weight >= 0) || !Number.isFinite(spec.weight))
        throw new RangeError(`upstream '${spec.name}': weight must be finite and ≥ 0`);
      seen.add(spec.name);
    }
    const previous = new Map(this.linkList.map((link) => [link.name, link]));
    const next: UpstreamLink[] = [];
    for (const [priority, spec] of specs.entries()) {
      let link = previous.get(spec.name) ?? this.revive(spec.name);
      if (link === undefined) {
        link = this.createLink(spec, priority);
        this.metrics.upstreamUp.set({ upstream: spec.name }, 0);
        if (this.started) link.start();
      } else {
        link.priority = priority;
        link.update(spec.url, spec.credentials);
      }
      next.push(link);
    }
    const retired = this.linkList.filter((link) => !seen.has(link.name));
    this.linkList = next;
    this.weights = new Map(specs.map((spec) => [spec.name, spec.weight]));
    const total = specs.reduce((sum, spec) => sum + spec.weight, 0);
    for (const spec of specs)
      this.metrics.splitTarget.set({ upstream: spec.name }, total === 0 ? 0 : spec.weight / total);
    this.scheduler?.setWeights(this.weights);
    for (const link of retired) this.retire(link);
    if (this.started) this.onHealthChange();
  }

  /** A removed upstream: no new work; closed once shares on its last jobs had time to arrive. */
  private retire(link: UpstreamLink): void {
    this.log.info({ upstream: link.name }, 'upstream removed: moving its miners, closing it soon');
    this.scheduler?.setAvailable(link.name, false);
    this.scheduler?.forget(link.name);
    for (const labels of [this.metrics.upstreamUp, this.metrics.upstreamSessions, this.metrics.splitTarget])
      labels.remove({ upstream: link.name });
    this.metrics.splitRealised.remove({ upstream: link.name });
    const timer = setTimeout(() => {
      this.retiring.delete(link);
      link.stop();
    }, this.config.upstream.retireSeconds * 1000);
    timer.unref();
    this.retiring.set(link, timer);
  }

  /** An upstream named again while it was retiring keeps its sessions. */
  private revive(name: string): UpstreamLink | undefined {
    for (const [link, timer] of this.retiring) {
      if (link.name !== name) continue;
      clearTimeout(timer);
      this.retiring.delete(link);
      this.metrics.upstreamUp.set({ upstream: name }, link.healthy ? 1 : 0);
      return link;
    }
    return undefined;
  }

  private createLink(spec: UpstreamSpec, priority: number): UpstreamLink {
    const up = this.config.upstream;
    return new UpstreamLink(
      {
        name: spec.name,
        priority,
        url: spec.url,
        credentials: spec.credentials,
        ...linkTimings(this.config),
        jobsKept: up.jobsKept,
        userAgent: USER_AGENT,
        logger: this.log,
      },
      {
        health: () => {
          this.onHealthChange();
        },
        job: (_link, session, job) => {
          this.onSessionJob(session, job);
        },
        versionMask: (_link, session) => {
          this.onVersionMask(session);
        },
        sessionClosed: (link, session, reason) => {
          this.onSessionClosed(link, session, reason);
        },
        sessionReady: (link, session) => {
          this.onSessionReady(link, session);
        },
      },
    );
  }

  /** Connects upstreams and opens the listeners; resolves when every listener is bound. */
  async start(): Promise<{ host: string; port: number }[]> {
    this.started = true;
    this.ledgerWatch.start();
    this.rejectTally.start();
    this.rejectLog.start();
    this.outage.begin(Date.now(), false);
    this.blockReports.start();
    for (const link of this.links) link.start();
    if (this.scheduler !== undefined) {
      // Re-decide each miner whose dwell has run out; a move is a clean notify (a job boundary).
      // Ticks at least four times per shortest dwell (a quarter of minDwellSeconds), at most 1/s.
      const tickMs = Math.min(1000, Math.max(50, (this.config.routing.minDwellSeconds * 1000) / 16));
      this.routingTimer = setInterval(() => {
        this.rebalanceWeighted();
      }, tickMs);
      this.routingTimer.unref();
    }
    // Difficulty also comes down when no job does: one sweep over every placed miner.
    const { targetShareSeconds, firstShareTargets, noShareTargets } = this.config.vardiff;
    const quietest = Math.min(...[firstShareTargets, noShareTargets].filter((n) => n > 0), 4);
    const sweepMs = Math.min(1000, Math.max(100, (quietest * targetShareSeconds * 1000) / 4));
    this.vardiffTimer = setInterval(() => {
      this.sweepVardiff();
    }, sweepMs);
    this.vardiffTimer.unref();
    const bound: { host: string; port: number }[] = [];
    for (const listener of this.config.listen) {
      // Read at each connection: a reload may have changed the vardiff the listener starts from.
      const onConnection = (socket: net.Socket): void => {
        this.onConnection(socket, listenerVardiff(this.config, listener));
      };
      const server =
        listener.tls === undefined
          ? net.createServer(onConnection)
          : tls.createServer(
              { cert: readFileSync(listener.tls.cert), key: readFileSync(listener.tls.key) },
              onConnection,
            );
      server.maxConnections = this.config.limits.maxConnections;
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(listener.address.port, listener.address.host, () => {
          server.off('error', reject);
          resolve();
        });
      });
      const address = server.address() as net.AddressInfo;
      bound.push({ host: address.address, port: address.port });
      this.servers.push(server);
      this.log.info(
        { host: address.address, port: address.port, tls: listener.tls !== undefined },
        'listening for miners',
      );
    }
    return bound;
  }

  /**
   * SIGTERM: stop accepting, let in-flight shares reach the ledger and their answers,
   * flush, close miners and upstreams.
   */
  async drain(): Promise<void> {
    if (this.draining) return;
    this.draining = true;
    clearInterval(this.routingTimer);
    clearInterval(this.vardiffTimer);
    this.log.info({ miners: this.miners.size, inFlight: this.inFlight.size }, 'draining');
    // close() stops accepting at once but resolves only when every miner is gone: await it last.
    const closed = Promise.all(this.servers.map((server) => new Promise((resolve) => server.close(resolve))));
    const deadline = new Promise((resolve) => setTimeout(resolve, this.config.drainSeconds * 1000).unref());
    await Promise.race([Promise.allSettled([...this.inFlight]), deadline]);
    this.rejectTally.stop();
    this.rejectLog.stop();
    this.outage.stop();
    this.blockReports.stop();
    this.ledgerWatch.stop();
    await this.ledger.flush().catch((error: unknown) => {
      this.log.error({ error: (error as Error).message }, 'ledger could not flush while draining');
    });
    for (const miner of [...this.miners]) miner.close('proxy shutting down');
    for (const link of this.links) link.stop();
    for (const [link, timer] of this.retiring) {
      clearTimeout(timer);
      link.stop();
    }
    await closed;
    this.log.info('drained');
  }

  /** Ready for miners (/readyz): the ledger records and an upstream is up; else why not. */
  readiness(): { readonly ready: boolean; readonly reason: string } {
    const health = this.ledgerWatch.health();
    if (health.state !== 'ok') return { ready: false, reason: `ledger cannot record: ${health.reason}` };
    if (!this.links.some((link) => link.healthy)) return { ready: false, reason: 'no upstream is up' };
    return { ready: true, reason: 'ready' };
  }

  /** The admin API's view: each upstream's health, miners, and split target vs realised. */
  state(): ProxyState {
    const placements = this.placementsByUpstream();
    const realised = this.scheduler?.realisedShares(Date.now());
    const totalWeight = [...this.weights.values()].reduce((sum, weight) => sum + weight, 0);
    return {
      routing: this.config.routing.mode,
      miners: this.miners.size,
      waiting: this.waiting.size,
      upstreams: this.linkList.map((link) => {
        const weight = this.weights.get(link.name) ?? 0;
        return {
          name: link.name,
          endpoint: `${link.url.tls ? 'stratum+ssl' : 'stratum+tcp'}://${link.url.host}:${link.url.port}`,
          healthy: link.healthy,
          sessions: link.readySessions().length,
          miners: placements.get(link.name) ?? 0,
          weight,
          target: this.scheduler === undefined || totalWeight === 0 ? null : weight / totalWeight,
          realised: realised === undefined ? null : (realised.get(link.name) ?? 0),
          submitsAwaitingAnswer: link.submitsAwaitingAnswer,
          lostShares: this.lostShares.get(link.name) ?? 0,
          lastFailure: link.lastFailure ?? null,
        };
      }),
      retiring: [...this.retiring.keys()].map((link) => link.name),
    };
  }

  /** Every authorized worker of every connected miner, for the status page. */
  *liveWorkers(): Iterable<LiveWorker> {
    for (const miner of this.miners) yield* this.liveWorkersOf(miner);
  }

  private *liveWorkersOf(miner: MinerConnection): Iterable<LiveWorker> {
    const upstream = this.minerSession.get(miner)?.upstream ?? null;
    for (const [worker, identity] of miner.authorized)
      yield {
        connection: miner.id,
        worker,
        identity,
        connectedAt: miner.connectedAt,
        upstream,
        difficulty: miner.vardiff.current,
      };
  }

  /** Where each miner is, for the admin API and tests. */
  placementsByUpstream(): Map<string, number> {
    const counts = new Map<string, number>();
    for (const session of this.minerSession.values())
      counts.set(session.upstream, (counts.get(session.upstream) ?? 0) + 1);
    return counts;
  }

  private track<T>(promise: Promise<T>): Promise<T> {
    this.inFlight.add(promise);
    void promise.finally(() => this.inFlight.delete(promise));
    return promise;
  }

  private onConnection(socket: net.Socket, vardiff: VardiffOptions): void {
    if (this.draining) {
      socket.destroy();
      return;
    }
    const id = this.nextConnectionId++;
    const now = Date.now();
    const remote = socket.remoteAddress ?? '';
    const refusal = this.rejectStandings.refusal(remote, now) ?? this.addresses.open(id, remote);
    if (refusal !== undefined) {
      this.metrics.connectionsRefused.inc({ reason: refusal.reason });
      const refused = this.refusalLog.note(now);
      if (refused !== undefined)
        this.log.warn(
          { remote: socket.remoteAddress, reason: refusal.reason, refused, detail: refusal.message },
          'miner connections refused (counted since the last such line)',
        );
      // Told why once a second per address; the rest of a storm is reset (proxy/turn-away.ts).
      this.turnAway.refuse(socket, refusal.message, now);
      return;
    }
    const miner = new MinerConnection(id, socket, this.host, vardiff);
    this.miners.add(miner);
    this.metrics.connections.inc({ role: 'miner' });
    this.metrics.connectionsTotal.inc({ role: 'miner' });
  }

  private onMinerClosed(miner: MinerConnection, reason: string): void {
    if (!this.miners.delete(miner)) return;
    this.workerStats.closed([...this.liveWorkersOf(miner)], reason, Date.now());
    this.admission?.release(miner.id);
    this.addresses.closed(miner.id);
    this.output.forget(miner);
    this.rejectLog.forget(miner);
    this.waiting.delete(miner);
    this.scheduler?.removeMiner(String(miner.id));
    this.metrics.connections.dec({ role: 'miner' });
    this.metrics.disconnectsTotal.inc({ reason: reasonKind(reason) });
    this.unplace(miner);
    if (miner.slot !== undefined) this.slots.release(miner.slot, miner.slotClaims);
  }

  /** The grace ran out with no upstream: miners waiting for work leave for their backup pools. */
  private turnAwayWaiting(): void {
    const refusal = this.outage.refusal();
    if (refusal === undefined || this.draining) return;
    for (const miner of [...this.waiting]) {
      this.metrics.minersTurnedAway.inc({ stage: 'waiting' });
      miner.close(`no upstream for ${this.config.upstream.noUpstreamGraceSeconds} s: turned away`, refusal);
    }
  }

  private preferredLink(): UpstreamLink | undefined {
    return this.links.find((link) => link.healthy);
  }

  /** The session a miner should work on now: failover order, or the weighted scheduler's pick. */
  private chooseSession(miner: MinerConnection): UpstreamSession | undefined {
    if (this.scheduler === undefined) return this.preferredLink()?.sessionWithRoom();
    const name = this.scheduler.assign(String(miner.id), Date.now());
    return this.links.find((link) => link.name === name)?.sessionWithRoom();
  }

  private rebalanceWeighted(): void {
    if (this.scheduler === undefined || this.draining) return;
    const now = Date.now();
    for (const [miner, session] of this.minerSession) {
      const name = this.scheduler.assign(String(miner.id), now);
      if (name === undefined || name === session.upstream) continue;
      const target = this.links.find((link) => link.name === name)?.sessionWithRoom();
      if (target !== undefined) this.moveTo(miner, target);
    }
    for (const [name, share] of this.scheduler.realisedShares(now))
      this.metrics.splitRealised.set({ upstream: name }, share);
  }

  private place(miner: MinerConnection): void {
    const session = this.chooseSession(miner);
    if (session === undefined || !this.moveTo(miner, session)) {
      // One line per outage is the proxy's (UpstreamOutage); 10,000 miners need not each say it.
      if (!this.waiting.has(miner) && this.log.isLevelEnabled('debug'))
        miner.log.debug('no upstream is up: the miner waits for work');
      this.waiting.add(miner);
    }
  }

  /** Places the miner on `session` with a clean notify; false if the session has no job yet. */
  private moveTo(miner: MinerConnection, session: UpstreamSession): boolean {
    const current = this.currentJob(session);
    if (current === undefined) return false;
    this.waiting.delete(miner);
    this.unplace(miner);
    let miners = this.placements.get(session.id);
    if (miners === undefined) {
      miners = new Set();
      this.placements.set(session.id, miners);
    }
    miners.add(miner);
    this.minerSession.set(miner, session);
    this.linkOf(session)?.load.set(session.id, miners.size);
    this.metrics.minersPerUpstream.inc({ upstream: session.upstream });
    // Moving is one clean notify of the new session's job: no reconnect (the extranonce fold).
    miner.sendJob(this.jobFor(miner, current), true);
    return true;
  }

  /** Reconsiders every placed miner's difficulty; a change goes out with a fresh job. */
  private sweepVardiff(): void {
    const now = Date.now();
    for (const miner of this.minerSession.keys()) if (miner.retarget(now)) this.reissue(miner);
  }

  /** The placed miner's session job again, as space it has not mined, so a new difficulty applies. */
  private reissue(miner: MinerConnection): void {
    const session = this.minerSession.get(miner);
    const current = session === undefined ? undefined : this.currentJob(session);
    if (current !== undefined) miner.sendJob(this.jobFor(miner, current), true);
  }

  /**
   * `base` as this miner should get it: itself the first time, else a variant whose coinbase
   * space the miner has not had (it restarts extranonce2 on the new job id).
   */
  private jobFor(miner: MinerConnection, base: ProxyJob): ProxyJob {
    const variant = miner.nextVariant(base.sessionJob);
    const job = this.variants.get(base, variant, () => this.mintJob(base.session, base.sessionJob, variant));
    if (job !== undefined) {
      if (variant > 0) this.metrics.jobVariants.inc({ upstream: base.session.upstream });
      return job;
    }
    this.metrics.jobResends.inc({ upstream: base.session.upstream });
    const padFull = variant >= variantsOf(base.pad.length);
    if (padFull && !this.noVariantsWarned.has(base.session)) {
      this.noVariantsWarned.add(base.session);
      this.log.warn(
        { upstream: base.session.upstream, padBytes: base.pad.length, variant },
        'a miner is sent a job it already mined (it may re-mine covered work): the pool extranonce2 ' +
          'leaves too little pad; lower extranonce.minerExtranonce2Size or slotBytes, or use a pool port with a larger extranonce2',
      );
    }
    return miner.lastJob?.sessionJob === base.sessionJob ? miner.lastJob : base;
  }

  private unplace(miner: MinerConnection): void {
    const session = this.minerSession.get(miner);
    if (session === undefined) return;
    this.minerSession.delete(miner);
    const miners = this.placements.get(session.id);
    miners?.delete(miner);
    this.linkOf(session)?.load.set(session.id, miners?.size ?? 0);
    this.metrics.minersPerUpstream.dec({ upstream: session.upstream });
  }

  /** The link a session belongs to, whether current or retiring. */
  private linkOf(session: UpstreamSession): UpstreamLink | undefined {
    return (
      this.linkList.find((link) => link.name === session.upstream) ??
      [...this.retiring.keys()].find((link) => link.sessions.includes(session))
    );
  }

  /** Ready, and of an upstream that is still in the set (not retiring). */
  private isLive(session: UpstreamSession): boolean {
    return session.state === 'ready' && this.linkList.some((link) => link.sessions.includes(session));
  }

  private currentJob(session: UpstreamSession): ProxyJob | undefined {
    const jobs = this.sessionJobs.get(session.id);
    return jobs?.[jobs.length - 1];
  }

  private onHealthChange(): void {
    for (const link of this.links) {
      this.metrics.upstreamUp.set({ upstream: link.name }, link.healthy ? 1 : 0);
      this.metrics.upstreamSessions.set({ upstream: link.name }, link.readySessions().length);
    }
    if (this.draining) return;
    if (this.links.some((link) => link.healthy)) this.outage.end(Date.now());
    else this.outage.begin(Date.now());
    this.setProbing();
    if (this.scheduler !== undefined) {
      for (const link of this.links) this.scheduler.setAvailable(link.name, link.healthy);
      // Only miners whose upstream went away move now; the rest follow the scheduler's ticks.
      for (const miner of this.miners) {
        const session = this.minerSession.get(miner);
        const placeable = miner.slot !== undefined && miner.identity !== undefined;
        if (placeable && (session === undefined || !this.isLive(session))) this.place(miner);
      }
      return;
    }
    const preferred = this.preferredLink();
    if (preferred === undefined) return; // miners keep their last job; UpstreamOutage says so
    // Failover and failback: every miner not on the preferred upstream moves there.
    for (const miner of this.miners) {
      const session = this.minerSession.get(miner);
      const placeable = miner.slot !== undefined && miner.identity !== undefined;
      if (
        !placeable ||
        (session !== undefined && session.upstream === preferred.name && session.state === 'ready')
      )
        continue;
      const target = preferred.sessionWithRoom();
      if (target === undefined || !this.moveTo(miner, target)) this.waiting.add(miner);
    }
  }

  /**
   * A down upstream is probed (retried every probe interval) while another carries the miners
   * it would take: in failover, those ranked above the one in use; weighted, any with a weight.
   * With none up, every link backs off: miners are idle either way, and the pools recovering
   * are spared a fleet's reconnects.
   */
  private setProbing(): void {
    const preferred = this.preferredLink();
    for (const [rank, link] of this.links.entries()) {
      const wanted =
        this.scheduler === undefined
          ? preferred !== undefined && rank < this.links.indexOf(preferred)
          : preferred !== undefined && (this.weights.get(link.name) ?? 0) > 0;
      link.setProbing(!link.healthy && wanted);
    }
  }

  /** Miners over a session's capacity move onto the new session (at their next job: a clean notify). */
  private onSessionReady(link: UpstreamLink, ready: UpstreamSession): void {
    const max = link.maxMinersPerSession;
    for (const session of link.readySessions()) {
      if (session === ready) continue;
      const miners = [...(this.placements.get(session.id) ?? [])];
      for (const miner of miners.slice(max)) {
        if ((this.placements.get(ready.id)?.size ?? 0) >= max) return;
        this.moveTo(miner, ready);
      }
    }
  }

  private onSessionJob(session: UpstreamSession, sessionJob: SessionJob): void {
    const job = this.registerJob(session, sessionJob);
    if (job === undefined) return;
    const clean = sessionJob.job.cleanJobs;
    for (const miner of this.placements.get(session.id) ?? []) miner.sendJob(this.jobFor(miner, job), clean);
    if (this.waiting.size > 0 && session.state === 'ready') {
      for (const miner of [...this.waiting]) this.place(miner);
    }
  }

  private registerJob(session: UpstreamSession, sessionJob: SessionJob): ProxyJob | undefined {
    const proxyJob = this.mintJob(session, sessionJob, 0);
    if (proxyJob === undefined) return undefined;
    this.variants.register(proxyJob);
    let list = this.sessionJobs.get(session.id);
    if (list === undefined) {
      list = [];
      this.sessionJobs.set(session.id, list);
    }
    list.push(proxyJob);
    while (list.length > this.config.upstream.jobsKept) list.shift();
    return proxyJob;
  }

  /** A session job folded for miners under a fresh proxy job id, recorded in the ledger. */
  private mintJob(session: UpstreamSession, sessionJob: SessionJob, variant: number): ProxyJob | undefined {
    const id = `${session.id.slice(session.id.lastIndexOf('/') + 1)}.${(this.nextJobSerial++).toString(16)}`;
    const fold = foldJob(
      sessionJob,
      toJobId(id),
      this.config.extranonce.slotBytes,
      this.config.extranonce.minerExtranonce2Size,
      variant,
    );
    if (!fold.ok) {
      if (variant > 0) return undefined; // the pad has no room for another variant
      this.log.error({ upstream: session.upstream, problem: fold.problem }, 'cannot use this upstream');
      session.close(fold.problem);
      return undefined;
    }
    let ledgerJobId: number;
    try {
      ledgerJobId = this.recordJob(session, sessionJob, id);
    } catch (error) {
      // The ledger stopped: no share on this job could be credited, so it is not offered.
      this.ledgerWatch.jobNotRecorded(error);
      return undefined;
    }
    const proofScope = this.proofScopes.forJob(session.id, sessionJob.job.prevhash, Date.now());
    return makeProxyJob(session, sessionJob, id, fold, ledgerJobId, proofScope);
  }

  private recordJob(session: UpstreamSession, sessionJob: SessionJob, id: string): number {
    const { job } = sessionJob;
    return this.ledger.recordJob({
      receivedAt: sessionJob.receivedAt,
      upstream: session.upstream,
      upstreamSession: session.id,
      upstreamJobId: job.jobId,
      proxyJobId: id,
      prevhash: job.prevhash,
      coinb1: job.coinb1,
      coinb2: job.coinb2,
      merkleBranch: job.merkleBranch,
      version: job.version,
      nbits: job.nbits,
      ntime: job.ntime,
      cleanJobs: job.cleanJobs,
      extranonce1: sessionJob.extranonce1,
      extranonce2Size: sessionJob.extranonce2Size,
    });
  }

  private onVersionMask(session: UpstreamSession): void {
    // set_version_mask applies at once: tell this session's miners with the next write.
    const current = this.currentJob(session);
    if (current === undefined) return;
    // Each miner is re-sent the job it is mining (a variant, perhaps), not new space.
    for (const miner of this.placements.get(session.id) ?? [])
      miner.sendJob(miner.lastJob?.session === session ? miner.lastJob : current, false);
  }

  private onSessionClosed(link: UpstreamLink, session: UpstreamSession, reason: string): void {
    this.metrics.upstreamFailovers.inc({ upstream: link.name, reason: reasonKind(reason) });
    this.proofScopes.sessionClosed(session.id, Date.now());
    const stranded = [...(this.placements.get(session.id) ?? [])];
    for (const miner of stranded) this.unplace(miner);
    this.placements.delete(session.id);
    // Miners keep the jobs they were sent, so late shares on this session are still judged
    // and recorded (not forwarded); the session's own list is no longer needed.
    this.sessionJobs.delete(session.id);
    for (const miner of stranded) this.place(miner);
  }

  /**
   * Not an async function: the frame of one is every local of the judgement, kept on the heap
   * for each share until its commit; the answer waits on the commit with `then`.
   */
  private onSubmit(miner: MinerConnection, request: SubmitRequest): Promise<SubmitReply> {
    const received = performance.now();
    const time = Date.now();
    const entry = miner.jobs.get(request.jobId);
    const judgement = judgeShare(entry, request, {
      slot: miner.slot!,
      minerExtranonce2Size: this.config.extranonce.minerExtranonce2Size,
      versionMask: entry === undefined ? 0 : miner.versionMaskFor(entry),
      ntimeMaxAheadSeconds: this.config.ntimeMaxAheadSeconds,
      blockFloorTarget: this.blockFloorTarget,
    });
    const job = entry?.job;
    const session = job?.session;
    const work = judgement.work;
    const forward = judgement.forward && session !== undefined && session.state === 'ready';
    const record: ShareRecord = {
      time,
      miner: miner.authorized.get(request.worker) ?? identityOf(request.worker),
      worker: request.worker,
      upstream: session?.upstream ?? this.minerSession.get(miner)?.upstream ?? '',
      upstreamSession: session?.id ?? '',
      jobId: job?.ledgerJobId ?? null,
      extranonce2: judgement.upstreamExtranonce2,
      ntime: request.ntime,
      nonce: request.nonce,
      versionBits: request.versionBits ?? null,
      assignedDifficulty: entry?.difficulty ?? 0,
      shareDifficulty: work?.shareDifficulty ?? null,
      hash: work?.hash ?? null,
      verdict: judgement.verdict,
      upstreamVerdict: forward ? 'pending' : 'not-forwarded',
      isBlock: judgement.block,
    };
    const screening = this.rejectStandings.screen(
      miner.remoteAddress,
      request.worker,
      judgement.verdict,
      judgement.forward,
      time,
    );
    if (judgement.verdict !== 'accepted') {
      miner.recordReject(judgement.verdict);
      this.workerStats.share(miner.id, request.worker, judgement.verdict, 0, time);
      this.rejectLog.count(miner, judgement.verdict, time);
    }
    if (!screening.record && judgement.verdict !== 'accepted') {
      // Past the connection's budget: counted, not recorded, and answered without a commit.
      const { miner: identity, worker, upstream } = record;
      this.rejectTally.count({ miner: identity, worker, upstream, verdict: judgement.verdict });
      this.metrics.rejectsSummarised.inc({ verdict: judgement.verdict });
      this.metrics.shares.inc({ verdict: judgement.verdict });
      return this.answerReject(miner, request.worker, judgement, screening);
    }
    const recorded = this.ledger.recordShare(record);
    // Due upstream, but its session closed first (failed over): nowhere else could take it.
    if (judgement.forward && session !== undefined && !forward) this.countLost(session.upstream, 'not_sent');

    // Forward at once: the pool's clock is running; the miner's answer waits for the ledger.
    const submit =
      (forward || judgement.block) && work !== null && job !== undefined
        ? upstreamSubmit(job, request, judgement, work)
        : undefined;
    if (forward) void this.forward(job!, session, submit!, judgement.meetsUpstreamTarget, recorded);

    this.metrics.shares.inc({ verdict: judgement.verdict });
    if (judgement.block && work !== null && submit !== undefined) {
      this.metrics.blocksFound.inc({ upstream: record.upstream });
      this.blockReports.found(() => ({
        upstream: record.upstream,
        miner: record.miner,
        worker: request.worker,
        hash: Buffer.from(work.hash).reverse().toString('hex'),
        header: Buffer.from(work.header).toString('hex'),
        coinbase: Buffer.from(
          concatBytes(job!.minerJob.coinb1, miner.slot!, request.extranonce2, job!.minerJob.coinb2),
        ).toString('hex'),
        merkleBranch: job!.minerJob.merkleBranch.map((branch) => Buffer.from(branch).toString('hex')),
        submit: submitWire(job!.session.workerName, submit),
        shareDifficulty: work.shareDifficulty,
        forwarded: forward,
      }));
    }
    return recorded.then(
      () => {
        this.metrics.shareRecordLatency.observe((performance.now() - received) / 1000);
        if (judgement.verdict !== 'accepted')
          return this.answerReject(miner, request.worker, judgement, screening);
        this.metrics.credit(record.miner, request.worker, entry!.difficulty, this.config.metricsLabels);
        if (session !== undefined)
          this.scheduler?.recordWork(String(miner.id), session.upstream, entry!.difficulty, Date.now());
        // Shares far faster than the target raise the difficulty now, by a fresh job.
        if (miner.recordCredit(entry!.difficulty)) this.reissue(miner);
        this.workerStats.share(miner.id, request.worker, 'accepted', entry!.difficulty, time);
        return ACCEPTED;
      },
      (error: unknown) => {
        this.ledgerWatch.shareNotRecorded(error);
        return NOT_RECORDED;
      },
    );
  }

  /** A rejected submit's answer: late for a throttled connection; one over its budget is closed. */
  private async answerReject(
    miner: MinerConnection,
    worker: string,
    judgement: Judgement,
    screening: RejectScreening,
  ): Promise<SubmitReply> {
    const reply = { ok: false, code: judgement.code, message: judgement.message } as const;
    if (screening.disconnect !== undefined) {
      miner.log.warn(
        {
          identity: miner.identity,
          worker,
          reason: screening.disconnect,
          ...this.rejectStandings.standing(miner.remoteAddress, worker),
        },
        'closing a miner whose submits are mostly invalid (its worker, or address, is refused until they fade)',
      );
      miner.close(screening.disconnect);
    } else if (screening.delayMs > 0) {
      this.metrics.submitsThrottled.inc();
      await delay(screening.delayMs);
    }
    return reply;
  }

  private async forward(
    job: ProxyJob,
    session: UpstreamSession,
    submit: SubmitParams,
    meetsUpstreamTarget: boolean,
    recorded: Promise<number>,
  ): Promise<void> {
    const link = this.linkOf(session);
    const answer = await session.submit(session.workerName, submit);
    this.metrics.upstreamShares.inc({ upstream: session.upstream, result: answer.kind });
    if (answer.kind === 'no-answer') this.countLost(session.upstream, answer.lost);
    else this.metrics.upstreamLatency.observe({ upstream: session.upstream }, answer.latencySeconds);
    if (answer.kind === 'accepted') {
      this.metrics.upstreamDifficulty.inc({ upstream: session.upstream }, job.sessionJob.difficulty);
      link?.recordAcceptance();
    } else if (answer.kind === 'rejected') {
      // Only a disagreement on a fresh share that met the pool's difficulty is the pool's fault;
      // a block sent under its difficulty, a stale or a duplicate is refused by design.
      const blamed = blamesPool(answer.reason, {
        fresh: job.sessionJob.generation === session.generation,
        meetsUpstreamTarget,
      });
      this.metrics.upstreamRejects.inc({
        upstream: session.upstream,
        reason: answer.reason,
        blamed: String(blamed),
      });
      const fields = { upstream: session.upstream, error: answer.error, reason: answer.reason, job: job.id };
      if (blamed) {
        this.log.warn(fields, 'upstream rejected a share the proxy judged valid');
        link?.recordRejection();
      } else {
        this.log.debug(fields, 'upstream rejected a share, as it may');
      }
    }
    let shareId: number;
    try {
      shareId = await recorded;
    } catch {
      return; // already reported by onSubmit
    }
    this.ledger.recordUpstreamVerdict({
      shareId,
      verdict: answer.kind,
      error: answer.kind === 'rejected' ? answer.error : answer.kind === 'no-answer' ? answer.reason : null,
    });
  }

  private countLost(upstream: string, reason: 'timeout' | 'session_closed' | 'not_sent'): void {
    this.metrics.upstreamSharesLost.inc({ upstream, reason });
    this.lostShares.set(upstream, (this.lostShares.get(upstream) ?? 0) + 1);
  }
}

export { identityOf };

const ACCEPTED: SubmitReply = { ok: true };
const NOT_RECORDED: SubmitReply = {
  ok: false,
  code: SubmitErrorCode.other,
  message: 'proxy could not record the share; it is not credited',
};

/** The configured upstreams as the router takes them (in failover order). */
function configuredUpstreams(config: ProxyConfig): UpstreamSpec[] {
  const names = upstreamNames(config.upstreams);
  return config.upstreams.map((upstream, i) => ({
    name: names[i]!,
    url: upstream.url,
    weight: upstream.weight,
  }));
}

function linkTimings({ upstream: up }: ProxyConfig): UpstreamLinkTimings {
  return {
    connectTimeoutMs: up.connectTimeoutSeconds * 1000,
    health: {
      silenceMs: up.silenceSeconds * 1000,
      maxUnansweredSubmits: up.maxUnansweredSubmits,
      submitAnswerMs: up.submitAnswerSeconds * 1000,
    },
    submitTimeoutMs: up.submitTimeoutSeconds * 1000,
    maxConsecutiveRejects: up.maxConsecutiveRejects,
    retry: {
      backoffMinMs: up.backoffMinSeconds * 1000,
      backoffMaxMs: up.backoffMaxSeconds * 1000,
      probeMs: up.probeSeconds * 1000,
    },
    maxMinersPerSession: up.maxMinersPerSession,
  };
}

/** The submit a pool gets for a share: its job id, its extranonce2, the version under its mask. */
function upstreamSubmit(
  job: ProxyJob,
  request: SubmitRequest,
  judgement: Judgement,
  work: ShareWork,
): SubmitParams {
  return {
    jobId: job.sessionJob.job.jobId,
    extranonce2: judgement.upstreamExtranonce2,
    ntime: request.ntime,
    nonce: request.nonce,
    versionBits:
      request.versionBits === undefined
        ? undefined
        : upstreamVersionBits(work.version, job.session.versionMask),
  };
}

/** A bounded label for a free-text reason. */
function reasonKind(reason: string): string {
  const known = [
    'no upstream',
    'rejects',
    'unanswered',
    'silent',
    'rejected',
    'reconnect',
    'refused',
    'socket error',
    'closed by',
    'flood',
    'idle',
    'no subscribe',
    'line over',
    'invalid',
    'not reading',
    'shutting down',
    'no connection',
    'failed authorize',
  ];
  const hit = known.find((k) => reason.includes(k));
  return hit === undefined ? 'other' : hit.replace(/ /g, '_');
}
