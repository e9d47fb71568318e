import { existsSync, statSync } from 'node:fs';
import { setTimeout as delay } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import {
  LOCKED,
  ThreadFailure,
  type FromThread,
  type ThreadError,
  type ThreadInit,
  type ToThread,
} from './sqlite-ledger-protocol.js';
import { LedgerError } from './ledger-error.js';

/** What a database thread reports once its connection is open. */
export interface ThreadReady {
  readonly lastJobId: number;
  readonly lastShareId: number;
}

export interface ThreadReply {
  readonly value: unknown;
  /** Time the thread spent on the request. */
  readonly seconds: number;
}

/** How long to wait for a terminated thread to exit before giving up on it. */
const EXIT_WAIT_MS = 5000;

/** A message to the thread before it is numbered. */
type Request = ToThread extends infer M ? (M extends ToThread ? Omit<M, 'seq'> : never) : never;

interface Pending {
  readonly resolve: (reply: ThreadReply) => void;
  readonly reject: (error: Error) => void;
}

/**
 * The main thread's handle on one database thread (sqlite-ledger-worker.ts): numbered
 * requests, their replies, and the thread's death turned into a rejection of every request
 * still waiting, so that no caller is left hanging.
 */
export class DatabaseThread {
  private readonly pending = new Map<number, Pending>();
  private nextSeq = 1;
  private stopped: Error | null = null;
  private exitExpected = false;
  private readonly exited: Promise<void>;
  /** Called once if the thread dies on its own (crash, unexpected exit). */
  onDeath: (error: LedgerError) => void = () => undefined;

  private constructor(
    private readonly worker: Worker,
    private readonly name: string,
    private readonly role: ThreadInit['role'],
  ) {
    worker.on('message', (message: FromThread) => {
      this.receive(message);
    });
    worker.on('error', (error) => {
      this.die(`crashed: ${error.message}`, error);
    });
    worker.on('messageerror', (error) => {
      this.die(`sent a message that could not be read: ${error.message}`, error);
    });
    this.exited = new Promise((resolve) => {
      worker.once('exit', (code) => {
        if (!this.exitExpected) this.die(`exited unexpectedly with code ${code}`);
        resolve();
      });
    });
  }

  /** Starts a thread and resolves once its connection is open (or rejects with why it is not). */
  static start(init: ThreadInit): Promise<{ thread: DatabaseThread; ready: ThreadReady }> {
    const name = `the SQLite ledger ${init.path} (${init.role} thread)`;
    return new Promise((resolve, reject) => {
      let worker: Worker;
      try {
        worker = new Worker(workerUrl(), {
          workerData: init,
          name: `ledger-${init.role}`,
          execArgv: workerExecArgv(process.execArgv),
        });
      } catch (error) {
        reject(error instanceof Error ? error : new Error(String(error)));
        return;
      }
      const settle = (): void => {
        worker.off('message', onMessage);
        worker.off('error', onError);
        worker.off('exit', onExit);
      };
      const onMessage = (message: FromThread): void => {
        settle();
        if (message.type === 'ready') {
          resolve({ thread: new DatabaseThread(worker, name, init.role), ready: message });
        } else {
          void worker.terminate();
          reject(openError(init.path, message.type === 'open-failed' ? message.error : unexpected(message)));
        }
      };
      const onError = (error: Error): void => {
        settle();
        void worker.terminate();
        reject(
          new LedgerError('LEDGER_OPEN_FAILED', `${name} failed to start: ${error.message}`, {
            cause: error,
          }),
        );
      };
      const onExit = (code: number): void => {
        settle();
        reject(new LedgerError('LEDGER_OPEN_FAILED', `${name} exited with code ${code} before it was ready`));
      };
      worker.on('message', onMessage);
      worker.on('error', onError);
      worker.on('exit', onExit);
    });
  }

  /** Sends a request; `transfer` lists buffers that move to the thread (unusable here after). */
  request(request: Request, transfer: readonly ArrayBuffer[] = []): Promise<ThreadReply> {
    if (this.stopped !== null) return Promise.reject(this.stopped);
    const seq = this.nextSeq++;
    return new Promise<ThreadReply>((resolve, reject) => {
      this.pending.set(seq, { resolve, reject });
      this.worker.postMessage({ ...request, seq }, transfer);
    });
  }

  /** Asks the thread to close its connection (releasing the lock) and waits for it to exit. */
  async close(): Promise<void> {
    if (this.stopped !== null) return this.gone();
    const closing = this.request({ type: 'close' });
    this.exitExpected = true;
    await closing;
    this.stopped = new Error(`${this.name} is closed`);
    await this.exited;
  }

  /**
   * Stops the thread at once; requests still waiting reject with `reason`. Resolves once the
   * thread is gone (its connection and lock released), or after a few seconds if it is stuck
   * in a system call (a hung disk) that no termination can interrupt.
   */
  terminate(reason: Error): Promise<void> {
    this.exitExpected = true;
    this.stop(reason);
    void this.worker.terminate();
    return this.gone();
  }

  private gone(): Promise<void> {
    return Promise.race([this.exited, delay(EXIT_WAIT_MS, undefined, { ref: false })]);
  }

  private receive(message: FromThread): void {
    if (message.type !== 'done' && message.type !== 'failed') {
      this.die(`sent an unexpected ${message.type} message`);
      return;
    }
    const pending = this.pending.get(message.seq);
    if (pending === undefined) return;
    this.pending.delete(message.seq);
    if (message.type === 'done') pending.resolve({ value: message.value, seconds: message.seconds });
    else pending.reject(new ThreadFailure(message.error.code, message.error.message));
  }

  private die(reason: string, cause?: Error): void {
    if (this.stopped !== null) return;
    // The writer's death stops the ledger; the reader's costs only the queries it was answering.
    const error =
      this.role === 'writer'
        ? new LedgerError(
            'LEDGER_FAILED',
            `${this.name} ${reason}; restart the process (records not yet acknowledged were not written)`,
            { cause },
          )
        : new LedgerError(
            'LEDGER_QUERY_FAILED',
            `${this.name} ${reason}; the next query starts another (nothing recorded was lost)`,
            { cause },
          );
    this.stop(error);
    void this.worker.terminate();
    this.onDeath(error);
  }

  private stop(reason: Error): void {
    if (this.stopped !== null) return;
    this.stopped = reason;
    const waiting = [...this.pending.values()];
    this.pending.clear();
    for (const pending of waiting) pending.reject(reason);
  }
}

function openError(path: string, error: ThreadError): LedgerError {
  if (error.code === LOCKED) return new LedgerError('LEDGER_LOCKED', error.message);
  const hint =
    error.code === 'SQLITE_CANTOPEN'
      ? ': check that its directory exists and this process may write there'
      : '';
  return new LedgerError(
    'LEDGER_OPEN_FAILED',
    `cannot open the SQLite ledger ${path}: ${error.message} (${error.code})${hint}`,
  );
}

function unexpected(message: FromThread): ThreadError {
  return { code: 'ERR_PROTOCOL', message: `the thread's first message was ${message.type}, not ready` };
}

/**
 * V8's flags (heap sizes such as `node --max-semi-space-size=2`) are process-wide, so a worker
 * has them already, and node refuses to start a worker given them again.
 */
const V8_FLAGS =
  /^--(max-old-space-size|max-semi-space-size|min-semi-space-size|stack-size|expose-gc|optimize-for-size|lite-mode|jitless|no-opt|max-lazy|single-threaded-gc)(=|$)/;

/** Node's flags for a worker: the process's, less V8's and --input-type (node -e: no file to load). */
export function workerExecArgv(flags: readonly string[]): string[] {
  return flags.filter((flag) => {
    const name = flag.replace(/_/g, '-');
    return !name.startsWith('--input-type') && !V8_FLAGS.test(name);
  });
}

/** The modules the compiled worker runs, by name under src/ledger/. */
const WORKER_MODULES = [
  'sqlite-ledger-worker',
  'sqlite-ledger-batch',
  'sqlite-ledger-store',
  'sqlite-ledger-schema',
  'sqlite-ledger-protocol',
  'ledger-rows',
  'window-totals',
  'verdicts',
];

/**
 * The worker's JavaScript. From dist/ it sits beside this file. From source (vitest runs the
 * .ts files; Node 20 cannot run TypeScript in a worker) it is the compiled copy under dist/,
 * which the test setup (test/support/build.ts) builds with `tsc -p tsconfig.build.json`
 * before any test runs; refuse a copy older than its sources rather than run stale code.
 */
function workerUrl(): URL {
  const here = import.meta.url;
  if (!here.endsWith('.ts')) return new URL('./sqlite-ledger-worker.js', here);
  const compiled = new URL('../../dist/src/ledger/', here);
  for (const module of WORKER_MODULES) {
    const source = fileURLToPath(new URL(`./${module}.ts`, here));
    const output = fileURLToPath(new URL(`./${module}.js`, compiled));
    if (!existsSync(output) || statSync(output).mtimeMs < statSync(source).mtimeMs) {
      throw new LedgerError(
        'LEDGER_OPEN_FAILED',
        `the SQLite ledger's worker runs compiled JavaScript, and ${output} is missing or older than ` +
          `${source}: run \`npx tsc -p tsconfig.build.json\` first`,
      );
    }
  }
  return new URL('./sqlite-ledger-worker.js', compiled);
}
