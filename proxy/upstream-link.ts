import type { Logger } from 'pino';
import type { UpstreamUrl } from '../src/config/endpoints.js';
import {
  UpstreamSession,
  type ReconnectRequest,
  type SessionJob,
  type UpstreamCredentials,
} from './upstream-session.js';
import type { U32 } from '../src/work/types.js';

export interface UpstreamLinkOptions {
  readonly name: string;
  /** Lower is preferred (failover order). */
  readonly priority: number;
  readonly url: UpstreamUrl;
  readonly connectTimeoutMs: number;
  readonly silenceMs: number;
  readonly submitTimeoutMs: number;
  readonly maxConsecutiveRejects: number;
  readonly backoffMinMs: number;
  readonly backoffMaxMs: number;
  readonly maxMinersPerSession: number;
  readonly jobsKept: number;
  readonly userAgent: string;
  readonly logger: Logger;
  readonly random?: () => number;
  /** Credentials made fresh for each session (signed authorize); default: the URL's. */
  readonly credentials?: () => UpstreamCredentials;
}

export interface UpstreamLinkEvents {
  /** The link became usable or unusable: the router should re-place miners. */
  health(link: UpstreamLink): void;
  job(link: UpstreamLink, session: UpstreamSession, job: SessionJob): void;
  versionMask(link: UpstreamLink, session: UpstreamSession, mask: U32): void;
  sessionClosed(link: UpstreamLink, session: UpstreamSession, reason: string): void;
  /** Another session became ready: miners over a session's capacity can spread onto it. */
  sessionReady(link: UpstreamLink, session: UpstreamSession): void;
}

/** The options a configuration reload may change: they apply to the sessions opened after it. */
export type UpstreamLinkTimings = Pick<
  UpstreamLinkOptions,
  | 'connectTimeoutMs'
  | 'silenceMs'
  | 'submitTimeoutMs'
  | 'maxConsecutiveRejects'
  | 'backoffMinMs'
  | 'backoffMaxMs'
  | 'maxMinersPerSession'
>;

let sessionSerial = 0;

/**
 * One configured upstream: its sessions (a first one kept open, more opened when miners
 * outgrow it), reconnection with exponential backoff and jitter, and health (a link is
 * unhealthy while it has no ready session or after repeated rejections of valid shares).
 */
export class UpstreamLink {
  readonly name: string;
  priority: number;
  readonly sessions: UpstreamSession[] = [];
  /** Miners placed per session id; maintained by the router. */
  readonly load = new Map<string, number>();
  private options: UpstreamLinkOptions;
  private readonly events: UpstreamLinkEvents;
  private readonly log: Logger;
  private failures = 0;
  private consecutiveRejects = 0;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private target: { host: string; port: number };
  private stopped = false;
  private wasHealthy = false;

  constructor(options: UpstreamLinkOptions, events: UpstreamLinkEvents) {
    this.options = options;
    this.events = events;
    this.name = options.name;
    this.priority = options.priority;
    this.target = { host: options.url.host, port: options.url.port };
    this.log = options.logger.child({ upstream: options.name });
  }

  start(): void {
    this.openSession();
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.reconnectTimer);
    for (const session of [...this.sessions]) session.close('proxy shutting down');
  }

  get url(): UpstreamUrl {
    return this.options.url;
  }

  /**
   * A new endpoint or identity for this upstream (e.g. a validator published a new URL): the
   * open sessions close (their miners are re-placed) and a session to the new one opens at once.
   */
  update(url: UpstreamUrl, credentials: (() => UpstreamCredentials) | undefined): void {
    const old = this.options.url;
    this.options = { ...this.options, url, credentials };
    const moved =
      old.host !== url.host ||
      old.port !== url.port ||
      old.tls !== url.tls ||
      old.username !== url.username ||
      old.password !== url.password;
    if (!moved || this.stopped) return;
    this.log.info({ host: url.host, port: url.port }, 'upstream endpoint changed: reconnecting');
    this.target = { host: url.host, port: url.port };
    for (const session of [...this.sessions]) session.close('upstream endpoint changed');
    this.failures = 0;
    clearTimeout(this.reconnectTimer);
    this.reconnectTimer = undefined;
    if (this.sessions.length === 0) this.openSession();
  }

  retune(timings: UpstreamLinkTimings): void {
    this.options = { ...this.options, ...timings };
  }

  get healthy(): boolean {
    return this.readySessions().length > 0;
  }

  readySessions(): UpstreamSession[] {
    return this.sessions.filter((s) => s.state === 'ready');
  }

  /** A ready session with room for one more miner; opens another when all are full. */
  sessionWithRoom(): UpstreamSession | undefined {
    const ready = this.readySessions();
    const roomy = ready.find((s) => (this.load.get(s.id) ?? 0) < this.options.maxMinersPerSession);
    if (roomy !== undefined) return roomy;
    if (ready.length > 0 && !this.sessions.some((s) => s.state !== 'ready' && s.state !== 'closed')) {
      this.log.info({ sessions: ready.length }, 'sessions full: opening another');
      this.openSession();
    }
    // Until the new session is ready, the least loaded one takes the miner.
    return ready.sort((a, b) => (this.load.get(a.id) ?? 0) - (this.load.get(b.id) ?? 0))[0];
  }

  get maxMinersPerSession(): number {
    return this.options.maxMinersPerSession;
  }

  /** A locally valid share was rejected upstream: repeated, this fails the link over. */
  recordRejection(): void {
    this.consecutiveRejects += 1;
    if (this.consecutiveRejects >= this.options.maxConsecutiveRejects) {
      this.log.warn({ rejects: this.consecutiveRejects }, 'upstream rejects valid shares: failing over');
      this.consecutiveRejects = 0;
      for (const session of [...this.sessions])
        session.close(`rejected ${this.options.maxConsecutiveRejects} valid shares in a row`);
    }
  }

  recordAcceptance(): void {
    this.consecutiveRejects = 0;
    this.failures = 0;
  }

  private openSession(): void {
    if (this.stopped) return;
    const id = `${this.name}/${(sessionSerial++).toString(36)}`;
    const session = new UpstreamSession({
      upstream: this.name,
      id,
      url: this.options.url,
      host: this.target.host,
      port: this.target.port,
      connectTimeoutMs: this.options.connectTimeoutMs,
      silenceMs: this.options.silenceMs,
      submitTimeoutMs: this.options.submitTimeoutMs,
      jobsKept: this.options.jobsKept,
      userAgent: this.options.userAgent,
      logger: this.options.logger,
      credentials: this.options.credentials,
      events: {
        ready: (s) => {
          this.notifyHealth();
          this.events.sessionReady(this, s);
        },
        job: (s, job) => {
          this.events.job(this, s, job);
        },
        versionMask: (s, mask) => {
          this.events.versionMask(this, s, mask);
        },
        reconnect: (s, request) => {
          this.onReconnectRequest(s, request);
        },
        closed: (s, reason) => {
          this.onSessionClosed(s, reason);
        },
      },
    });
    this.sessions.push(session);
  }

  private onReconnectRequest(session: UpstreamSession, request: ReconnectRequest): void {
    this.log.info(
      { host: request.host, port: request.port, wait: request.waitSeconds },
      'pool asked to reconnect',
    );
    if (request.host !== undefined && request.port !== undefined)
      this.target = { host: request.host, port: request.port };
    session.close('client.reconnect from pool');
    // A requested reconnect is not a failure: no backoff growth, only the wait the pool asked for.
    this.failures = 0;
    this.scheduleReconnect(request.waitSeconds * 1000);
  }

  private onSessionClosed(session: UpstreamSession, reason: string): void {
    const index = this.sessions.indexOf(session);
    if (index >= 0) this.sessions.splice(index, 1);
    this.load.delete(session.id);
    this.events.sessionClosed(this, session, reason);
    this.notifyHealth();
    if (this.stopped || this.sessions.length > 0 || this.reconnectTimer !== undefined) return;
    this.failures += 1;
    const base = Math.min(this.options.backoffMaxMs, this.options.backoffMinMs * 2 ** (this.failures - 1));
    // Full jitter keeps a fleet of proxies from reconnecting to a recovering pool in lockstep.
    const delay = base / 2 + (this.options.random ?? Math.random)() * (base / 2);
    this.log.info(
      { reason, retryInMs: Math.round(delay), failures: this.failures },
      'upstream lost: reconnecting',
    );
    this.scheduleReconnect(delay);
  }

  private scheduleReconnect(delayMs: number): void {
    clearTimeout(this.reconnectTimer);
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined;
      if (this.sessions.length === 0) this.openSession();
    }, delayMs);
  }

  private notifyHealth(): void {
    const healthy = this.healthy;
    if (healthy === this.wasHealthy) return;
    this.wasHealthy = healthy;
    this.log.info({ healthy }, healthy ? 'upstream up' : 'upstream down');
    this.events.health(this);
  }
}
