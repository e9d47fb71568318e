import type { Logger } from 'pino';
import type { Ledger, LedgerHealth } from '../src/ledger/ledger.js';
import type { ProxyMetrics } from '../src/metrics/proxy-metrics.js';

/** How often the ledger's health is looked at (for the gauge and the recovery log line). */
const POLL_MS = 1000;

/**
 * The proxy's eye on its ledger: `hashrelay_ledger_healthy`, the state /readyz reports, and
 * failures logged at most once per interval with the count left out, so a full disk costs a
 * line per interval rather than one per share. Recovery is the ledger's own (it retries); this
 * notices it and says so.
 */
export class LedgerWatch {
  private last: LedgerHealth['state'] = 'ok';
  private timer: NodeJS.Timeout | undefined;
  private loggedAt = -Infinity;
  private suppressed = 0;
  private refusedSinceDown = 0;

  constructor(
    private readonly ledger: Ledger,
    private readonly metrics: ProxyMetrics,
    private readonly log: Logger,
    private readonly logIntervalMs = 30_000,
  ) {
    metrics.ledgerHealthy.set(1);
  }

  start(): void {
    this.timer = setInterval(() => {
      this.health();
    }, POLL_MS);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /** The ledger's health now; logs and sets the gauge on a change. */
  health(): LedgerHealth {
    const health = this.ledger.health();
    if (health.state !== this.last) {
      const was = this.last;
      this.last = health.state;
      this.metrics.ledgerHealthy.set(health.state === 'ok' ? 1 : 0);
      if (health.state === 'ok') {
        this.log.info({ refused: this.refusedSinceDown, was }, 'ledger records again: the proxy is ready');
        this.refusedSinceDown = 0;
        this.loggedAt = -Infinity;
      } else {
        this.report(health.reason, 'ledger', true);
      }
    }
    return health;
  }

  /** A share the ledger refused: counted, and logged within the rate limit. */
  shareNotRecorded(error: unknown): void {
    this.metrics.ledgerFailures.inc();
    this.refusedSinceDown++;
    this.health(); // the gauge and readiness follow the first failure at once, not at the next poll
    this.report(errorText(error), 'share', false);
  }

  /** A job the ledger refused (it then stopped for good): its shares could not be recorded either. */
  jobNotRecorded(error: unknown): void {
    this.health();
    this.report(errorText(error), 'job', false);
  }

  /** One line per interval at most; a change of state is always told. */
  private report(reason: string, record: 'share' | 'job' | 'ledger', changed: boolean): void {
    const now = performance.now();
    if (!changed && now - this.loggedAt < this.logIntervalMs) {
      this.suppressed++;
      return;
    }
    this.loggedAt = now;
    this.log.error(
      { reason, record, suppressed: this.suppressed, state: this.last },
      'ledger cannot record: shares are refused (not credited) and /readyz answers 503 until it recovers',
    );
    this.suppressed = 0;
  }
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
