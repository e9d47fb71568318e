import { existsSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { LedgerJobId, StoredJob } from '../src/ledger/ledger.js';
import { columnBuffers, type ShareColumns } from '../src/ledger/sqlite-ledger-batch.js';
import { PageChecker, type PageJobs, type PageVerdicts } from './audit-page.js';
import type { FromAuditWorker, ToAuditWorker } from './audit-protocol.js';

/**
 * Where `hashrelay audit` checks its pages: on its own thread, or spread over worker threads
 * (audit-worker.ts) a page at a time. Either way a page comes back whole with its verdicts,
 * so the caller takes them in ledger order and the report does not depend on the threads.
 */

export interface CheckedPage {
  readonly page: ShareColumns;
  readonly verdicts: PageVerdicts;
}

export interface PageVerifier {
  /** Checks a page; `jobs` holds every job it names (null: the ledger does not hold it). */
  check(page: ShareColumns, jobs: ReadonlyMap<LedgerJobId, StoredJob | null>): Promise<CheckedPage>;
  close(): Promise<void>;
}

/** Jobs a checker keeps before it is told to forget them all (a day is tens of thousands). */
const JOBS_PER_CHECKER = 20_000;

/** Pages of shares checked on the calling thread. */
export class InlineVerifier implements PageVerifier {
  private readonly checker = new PageChecker();

  check(page: ShareColumns, jobs: ReadonlyMap<LedgerJobId, StoredJob | null>): Promise<CheckedPage> {
    this.checker.learn([...jobs], this.checker.jobsKnown + jobs.size > JOBS_PER_CHECKER);
    return Promise.resolve({ page, verdicts: this.checker.check(page) });
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}

interface CheckingThread {
  readonly worker: Worker;
  /** Jobs sent to it since it last forgot. */
  readonly sent: Set<LedgerJobId>;
  pages: number;
}

interface Waiting {
  readonly thread: CheckingThread;
  readonly resolve: (checked: CheckedPage) => void;
  readonly reject: (error: Error) => void;
}

/** Pages of shares checked on worker threads, each page by the thread with the fewest waiting. */
export class ThreadedVerifier implements PageVerifier {
  private readonly threads: CheckingThread[];
  private readonly waiting = new Map<number, Waiting>();
  private nextSeq = 1;
  private failure: Error | null = null;

  constructor(count: number) {
    const url = workerUrl();
    this.threads = Array.from({ length: count }, (_, n) => {
      const worker = new Worker(url, {
        name: `audit-${n}`,
        // A worker inherits node's flags; --input-type (node -e) would stop it loading a file.
        execArgv: process.execArgv.filter((flag) => !flag.startsWith('--input-type')),
      });
      const thread: CheckingThread = { worker, sent: new Set(), pages: 0 };
      worker.on('message', (message: FromAuditWorker) => {
        this.receive(message);
      });
      worker.on('error', (error) => {
        this.fail(new Error(`a share-checking thread failed: ${error.message}`));
      });
      worker.on('exit', (code) => {
        this.fail(new Error(`a share-checking thread exited with code ${code}`));
      });
      return thread;
    });
  }

  check(page: ShareColumns, jobs: ReadonlyMap<LedgerJobId, StoredJob | null>): Promise<CheckedPage> {
    if (this.failure !== null) return Promise.reject(this.failure);
    const thread = this.threads.reduce((least, next) => (next.pages < least.pages ? next : least));
    let forget = false;
    let unsent: PageJobs = [...jobs].filter(([id]) => !thread.sent.has(id));
    if (thread.sent.size + unsent.length > JOBS_PER_CHECKER) {
      thread.sent.clear();
      forget = true;
      unsent = [...jobs];
    }
    for (const [id] of unsent) thread.sent.add(id);
    const seq = this.nextSeq++;
    thread.pages++;
    return new Promise((resolve, reject) => {
      this.waiting.set(seq, { thread, resolve, reject });
      const message: ToAuditWorker = { seq, page, jobs: unsent, forget };
      thread.worker.postMessage(message, columnBuffers(page));
    });
  }

  async close(): Promise<void> {
    this.fail(new Error('the share-checking threads were stopped'));
    await Promise.all(this.threads.map((thread) => thread.worker.terminate()));
  }

  private receive(message: FromAuditWorker): void {
    const waiting = this.waiting.get(message.seq);
    if (waiting === undefined) return;
    this.waiting.delete(message.seq);
    waiting.thread.pages--;
    if ('error' in message) waiting.reject(new Error(`checking a page of shares failed: ${message.error}`));
    else waiting.resolve({ page: message.page, verdicts: message.verdicts });
  }

  private fail(error: Error): void {
    this.failure ??= error;
    const waiting = [...this.waiting.values()];
    this.waiting.clear();
    for (const entry of waiting) entry.reject(this.failure);
  }
}

/** What the compiled worker loads, by path from the repository's root (type-only imports aside). */
const WORKER_MODULES = [
  'validator/audit-worker',
  'validator/audit-page',
  'src/ledger/sqlite-ledger-batch',
  'src/work/bytes',
  'src/work/header',
  'src/work/share-check',
  'src/work/sha256',
  'src/work/target',
  'src/work/types',
  'src/work/version-rolling',
];

/**
 * The worker's JavaScript: beside this file in dist/; from source (vitest), the compiled copy
 * under dist/ (the test setup builds it), refused when older than its sources.
 */
function workerUrl(): URL {
  const here = import.meta.url;
  if (!here.endsWith('.ts')) return new URL('./audit-worker.js', here);
  const root = new URL('../', here);
  for (const module of WORKER_MODULES) {
    const source = fileURLToPath(new URL(`${module}.ts`, root));
    const output = fileURLToPath(new URL(`dist/${module}.js`, root));
    if (!existsSync(output) || statSync(output).mtimeMs < statSync(source).mtimeMs) {
      throw new Error(
        `the audit's share-checking threads run compiled JavaScript, and ${output} is missing or older ` +
          `than ${source}: run \`npx tsc -p tsconfig.build.json\` first`,
      );
    }
  }
  return new URL('dist/validator/audit-worker.js', root);
}
