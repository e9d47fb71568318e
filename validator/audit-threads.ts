import { existsSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { LedgerJobId, StoredJob } from '../src/ledger/ledger.js';
import type { ShareColumns } from '../src/ledger/sqlite-ledger-batch.js';
import { NOT_IN_PART, PageChecker, type PageJobs, type PageVerdicts } from './audit-page.js';
import type { FromAuditWorker, ToAuditWorker } from './audit-protocol.js';

/**
 * Where `hashrelay audit` checks its pages: on its own thread, or shared among worker threads
 * (audit-worker.ts). Either way a page comes back whole with its verdicts,
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
}

interface Waiting {
  readonly resolve: (verdicts: PageVerdicts) => void;
  readonly reject: (error: Error) => void;
}

/**
 * Pages of shares checked on worker threads: each page goes to every thread, and each checks
 * the shares whose (job, extranonce2) falls to it, so a merkle root is computed by one thread
 * once however its shares are paged. Their verdicts are merged back into page order.
 */
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
      worker.on('message', (message: FromAuditWorker) => {
        this.receive(message);
      });
      worker.on('error', (error) => {
        this.fail(new Error(`a share-checking thread failed: ${error.message}`));
      });
      worker.on('exit', (code) => {
        this.fail(new Error(`a share-checking thread exited with code ${code}`));
      });
      return { worker, sent: new Set<LedgerJobId>() };
    });
  }

  async check(page: ShareColumns, jobs: ReadonlyMap<LedgerJobId, StoredJob | null>): Promise<CheckedPage> {
    const parts = await Promise.all(
      this.threads.map((thread, index) => this.send(thread, index, page, jobs)),
    );
    const codes = new Uint8Array(page.count);
    for (const part of parts) {
      for (let i = 0; i < codes.length; i++) if (part.codes[i] !== NOT_IN_PART) codes[i] = part.codes[i]!;
    }
    const details = parts.flatMap((part) => part.details).sort(([a], [b]) => a - b);
    return { page, verdicts: { codes, details } };
  }

  async close(): Promise<void> {
    this.fail(new Error('the share-checking threads were stopped'));
    await Promise.all(this.threads.map((thread) => thread.worker.terminate()));
  }

  /** Sends the page (a copy) to one thread with the jobs it lacks; resolves with its part's verdicts. */
  private send(
    thread: CheckingThread,
    index: number,
    page: ShareColumns,
    jobs: ReadonlyMap<LedgerJobId, StoredJob | null>,
  ): Promise<PageVerdicts> {
    if (this.failure !== null) return Promise.reject(this.failure);
    let forget = false;
    let unsent: PageJobs = [...jobs].filter(([id]) => !thread.sent.has(id));
    if (thread.sent.size + unsent.length > JOBS_PER_CHECKER) {
      thread.sent.clear();
      forget = true;
      unsent = [...jobs];
    }
    for (const [id] of unsent) thread.sent.add(id);
    const seq = this.nextSeq++;
    return new Promise((resolve, reject) => {
      this.waiting.set(seq, { resolve, reject });
      const message: ToAuditWorker = {
        seq,
        page,
        part: { index, of: this.threads.length },
        jobs: unsent,
        forget,
      };
      thread.worker.postMessage(message);
    });
  }

  private receive(message: FromAuditWorker): void {
    const waiting = this.waiting.get(message.seq);
    if (waiting === undefined) return;
    this.waiting.delete(message.seq);
    if ('error' in message) waiting.reject(new Error(`checking a page of shares failed: ${message.error}`));
    else waiting.resolve(message.verdicts);
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
