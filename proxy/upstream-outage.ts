import type { Logger } from 'pino';

/** `upstream.noUpstreamGraceSeconds` and `upstream.whenNoUpstream` (src/config/proxy-config.ts). */
export interface OutagePolicy {
  readonly noUpstreamGraceSeconds: number;
  readonly whenNoUpstream: 'disconnect' | 'wait';
}

/**
 * A span with no upstream up (a mistyped pool host, a pool down). Miners wait through the grace
 * (a pool restarting); past it, under `disconnect`, they are turned away so ASIC firmware fails
 * over to its own backup pools instead of sitting authorized with no work. Reads the policy on
 * each use, so a configuration reload applies to the span under way.
 */
export class UpstreamOutage {
  private since: number | undefined;
  private timer: NodeJS.Timeout | undefined;
  private expired = false;

  constructor(
    private readonly policy: () => OutagePolicy,
    private readonly log: Logger,
    /** The grace ran out: turn away the miners waiting for work (under `disconnect`). */
    private readonly onExpired: () => void,
  ) {}

  /**
   * No upstream is up (again); a no-op while a span is under way. At start-up (`announce`
   * false) upstreams are still connecting: only the end of the grace is worth a line.
   */
  begin(now: number, announce = true): void {
    if (this.since !== undefined) return;
    this.since = now;
    this.expired = false;
    const { noUpstreamGraceSeconds, whenNoUpstream } = this.policy();
    if (announce)
      this.log.warn(
        { graceSeconds: noUpstreamGraceSeconds, whenNoUpstream },
        'no upstream is up: miners wait for work',
      );
    this.timer = setTimeout(() => {
      this.expire();
    }, noUpstreamGraceSeconds * 1000);
    this.timer.unref();
  }

  /** An upstream is up. */
  end(now: number): void {
    if (this.since === undefined) return;
    clearTimeout(this.timer);
    if (this.expired)
      this.log.info(
        { downSeconds: Math.round((now - this.since) / 1000) },
        'an upstream is up again: miners are admitted',
      );
    this.since = undefined;
    this.expired = false;
  }

  stop(): void {
    clearTimeout(this.timer);
  }

  /** What a miner is told when turned away now, or undefined while miners are admitted. */
  refusal(): string | undefined {
    const { noUpstreamGraceSeconds, whenNoUpstream } = this.policy();
    if (!this.expired || whenNoUpstream !== 'disconnect') return undefined;
    return `no upstream pool reachable from this proxy for over ${noUpstreamGraceSeconds} s: use your backup pool`;
  }

  private expire(): void {
    this.expired = true;
    const { noUpstreamGraceSeconds, whenNoUpstream } = this.policy();
    if (whenNoUpstream === 'disconnect')
      this.log.warn(
        { graceSeconds: noUpstreamGraceSeconds },
        'no upstream for the grace period: turning miners away so their firmware fails over to its backup pools',
      );
    else
      this.log.warn(
        { graceSeconds: noUpstreamGraceSeconds },
        'no upstream for the grace period: miners keep waiting (upstream.whenNoUpstream is wait)',
      );
    this.onExpired();
  }
}
