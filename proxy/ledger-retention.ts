import { setTimeout as delay } from 'node:timers/promises';
import type { Logger } from 'pino';
import type { Counter } from 'prom-client';
import type { Ledger, PrunedRows } from '../src/ledger/ledger.js';
import { LedgerError } from '../src/ledger/ledger-error.js';
import { retentionCutoff } from '../src/ledger/retention.js';

/**
 * Retention: every interval, the ledger's rows older than the configured days are deleted, a
 * small batch at a time, so that the ledger stops growing once it holds that many days.
 */

/**
 * Rows per table per batch. A deleted share costs ~50 µs of the SQLite writer (six indexes), so
 * a batch holds commits back ~50 ms at most; a pass still deletes several thousand rows a second.
 */
export const PRUNE_BATCH_ROWS = 1000;

export interface PruneTotals {
  readonly shares: number;
  readonly jobs: number;
  readonly rejectSummaries: number;
  readonly batches: number;
  readonly seconds: number;
  /** Bytes of the SQLite file free for new rows after the last batch. */
  readonly freeBytes: number | undefined;
}

export interface PruneOptions {
  readonly batchRows?: number;
  /** Called after each batch (metrics). */
  readonly onBatch?: (rows: PrunedRows) => void;
  /** Checked between batches: true ends the pass early (the process is stopping). */
  readonly stopping?: () => boolean;
}

/**
 * Deletes every row from before `before`, batch after batch until one deletes nothing. After
 * each batch it leaves the ledger alone as long as the batch took, so commits get at least
 * half of the writer however much there is to delete.
 */
export async function pruneLedger(
  ledger: Pick<Ledger, 'pruneBefore'>,
  before: number,
  options: PruneOptions = {},
): Promise<PruneTotals> {
  const started = performance.now();
  const totals = { shares: 0, jobs: 0, rejectSummaries: 0, batches: 0 };
  let freeBytes: number | undefined;
  while (options.stopping?.() !== true) {
    const batchStarted = performance.now();
    const rows = await ledger.pruneBefore(before, options.batchRows ?? PRUNE_BATCH_ROWS);
    totals.batches++;
    totals.shares += rows.shares;
    totals.jobs += rows.jobs;
    totals.rejectSummaries += rows.rejectSummaries;
    freeBytes = rows.freeBytes;
    options.onBatch?.(rows);
    if (rows.shares + rows.jobs + rows.rejectSummaries === 0) break;
    await delay(Math.max(1, performance.now() - batchStarted));
  }
  return { ...totals, seconds: (performance.now() - started) / 1000, freeBytes };
}

export interface RetentionSettings {
  /** 0 keeps everything. */
  readonly days: number;
  readonly intervalMinutes: number;
}

/** Runs `pruneLedger` at start and every interval, logging what went and counting it. */
export class LedgerRetention {
  private timer: NodeJS.Timeout | undefined;
  private pass: Promise<void> | null = null;
  private stopped = false;

  constructor(
    private readonly ledger: Pick<Ledger, 'pruneBefore'>,
    private readonly settings: RetentionSettings,
    private readonly log: Logger,
    /** hashrelay_ledger_pruned_rows_total{table} */
    private readonly prunedRows: Counter<'table'>,
    private readonly now: () => number = Date.now,
  ) {}

  start(): void {
    const { days, intervalMinutes } = this.settings;
    if (days === 0) {
      this.log.info({ days }, 'ledger retention off: every row is kept (ledgerRetention.days 0)');
      return;
    }
    this.log.info({ days, intervalMinutes }, 'ledger retention: rows older than this many days are deleted');
    this.schedule(0);
  }

  /** Stops the timer; a pass under way ends after its batch. Resolves once it has. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.pass;
  }

  /** One pass now (tests, and the timer). */
  runOnce(): Promise<void> {
    this.pass ??= this.prune().finally(() => {
      this.pass = null;
    });
    return this.pass;
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      void this.runOnce().then(() => {
        this.schedule(this.settings.intervalMinutes * 60_000);
      });
    }, ms);
    this.timer.unref();
  }

  private async prune(): Promise<void> {
    const before = retentionCutoff(this.now(), this.settings.days);
    try {
      const totals = await pruneLedger(this.ledger, before, {
        stopping: () => this.stopped,
        onBatch: (rows) => {
          this.prunedRows.inc({ table: 'shares' }, rows.shares);
          this.prunedRows.inc({ table: 'jobs' }, rows.jobs);
          this.prunedRows.inc({ table: 'reject_summaries' }, rows.rejectSummaries);
        },
      });
      const fields = { before: new Date(before).toISOString(), days: this.settings.days, ...totals };
      if (totals.shares + totals.jobs + totals.rejectSummaries > 0) {
        this.log.info(fields, 'ledger retention deleted old rows');
      } else {
        this.log.debug(fields, 'ledger retention: nothing old enough to delete');
      }
    } catch (error) {
      // A closed or stopped ledger is reported where it failed; the process is on its way out.
      if (error instanceof LedgerError && (error.code === 'LEDGER_CLOSED' || error.code === 'LEDGER_FAILED'))
        return;
      this.log.warn(
        {
          reason: error instanceof Error ? error.message : String(error),
          intervalMinutes: this.settings.intervalMinutes,
        },
        'ledger retention failed: old rows stay until the next interval',
      );
    }
  }
}
