import type { ShareColumns } from '../src/ledger/sqlite-ledger-batch.js';
import type { PageJobs, PagePart, PageVerdicts } from './audit-page.js';

/** Messages between `hashrelay audit` and its share-checking threads (audit-worker.ts). */

export interface ToAuditWorker {
  readonly seq: number;
  readonly page: ShareColumns;
  /** The shares of the page this thread checks (every thread is sent the whole page). */
  readonly part: PagePart;
  /** The page's jobs the thread has not been sent yet. */
  readonly jobs: PageJobs;
  /** Forget every job sent before (the thread's share of jobs stays bounded). */
  readonly forget: boolean;
}

export type FromAuditWorker =
  | { readonly seq: number; readonly verdicts: PageVerdicts }
  | { readonly seq: number; readonly error: string };
