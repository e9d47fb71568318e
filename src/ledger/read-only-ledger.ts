import type {
  LedgerJobId,
  LedgerReader,
  MinerTotals,
  RejectSummary,
  SharePageRequest,
  ShareSpan,
  StoredJob,
  StoredShare,
  TimeWindow,
  UpstreamTotals,
} from './ledger.js';
import { LedgerError } from './ledger-error.js';
import { checkWindow } from './record-checks.js';
import type { ShareColumns } from './sqlite-ledger-batch.js';

/**
 * A ledger opened to read only (the audit): no lock, no migration, no ids drawn, so it opens
 * beside the proxy that writes the ledger, and with a role that may only SELECT.
 */

/** What a backend opened read-only answers, and how it lets go. */
export interface ReadOnlyBackend {
  /** The ledger as messages name it, e.g. `the SQLite ledger /var/lib/hashrelay/ledger.sqlite`. */
  readonly name: string;
  minerTotals(window: TimeWindow): Promise<MinerTotals[]>;
  upstreamTotals(window: TimeWindow): Promise<UpstreamTotals[]>;
  shares(window: TimeWindow): Promise<StoredShare[]>;
  job(id: LedgerJobId): Promise<StoredJob | undefined>;
  shareSpan(window: TimeWindow): Promise<ShareSpan>;
  sharePage(window: TimeWindow, page: SharePageRequest): Promise<ShareColumns>;
  rejectSummaries(window: TimeWindow): Promise<RejectSummary[]>;
  close(): Promise<void>;
  /** A failed query's text for LEDGER_QUERY_FAILED, or null to pass its error on as it is. */
  queryFailure(error: unknown): string | null;
}

export class ReadOnlyLedger implements LedgerReader {
  private closed: Promise<void> | null = null;

  constructor(private readonly backend: ReadOnlyBackend) {}

  /** Nothing is written here: what a writer committed is what there is to read. */
  flush(): Promise<void> {
    return Promise.resolve();
  }

  minerTotals(window: TimeWindow): Promise<MinerTotals[]> {
    return this.query('minerTotals', window, () => this.backend.minerTotals(window));
  }

  upstreamTotals(window: TimeWindow): Promise<UpstreamTotals[]> {
    return this.query('upstreamTotals', window, () => this.backend.upstreamTotals(window));
  }

  shares(window: TimeWindow): Promise<StoredShare[]> {
    return this.query('shares', window, () => this.backend.shares(window));
  }

  job(id: LedgerJobId): Promise<StoredJob | undefined> {
    return this.query('job', null, () => this.backend.job(id));
  }

  shareSpan(window: TimeWindow): Promise<ShareSpan> {
    return this.query('shareSpan', window, () => this.backend.shareSpan(window));
  }

  sharePage(window: TimeWindow, page: SharePageRequest): Promise<ShareColumns> {
    return this.query('sharePage', window, () => this.backend.sharePage(window, page));
  }

  rejectSummaries(window: TimeWindow): Promise<RejectSummary[]> {
    return this.query('rejectSummaries', window, () => this.backend.rejectSummaries(window));
  }

  close(): Promise<void> {
    this.closed ??= this.backend.close();
    return this.closed;
  }

  private async query<T>(kind: string, window: TimeWindow | null, run: () => Promise<T>): Promise<T> {
    if (this.closed !== null) {
      throw new LedgerError('LEDGER_CLOSED', `${this.backend.name} is closed; nothing more is read`);
    }
    if (window !== null) checkWindow(window);
    try {
      return await run();
    } catch (error) {
      const detail = this.backend.queryFailure(error);
      if (detail === null) throw error;
      throw new LedgerError(
        'LEDGER_QUERY_FAILED',
        `a ${kind} query on ${this.backend.name} failed (${detail})`,
        {
          cause: error,
        },
      );
    }
  }
}
