import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { LedgerError } from '../src/ledger/ledger-error.js';
import { openSqliteLedger } from '../src/ledger/sqlite-ledger.js';
import { REPO_ROOT } from './support/cli.js';
import { ledgerDir, makeJob, makeShare, removeLedgerDirs } from './support/ledger-records.js';
import { skipNote } from './support/skip-note.js';

/**
 * The ledger's promise, tested the hard way: a separate process (running the compiled
 * dist/ code, as in production) records shares and prints each id only after its promise
 * resolved; we SIGKILL it mid-stream and every printed share must be in the file.
 */

const WRITER = join(REPO_ROOT, 'dist/test/support/ledger-writer.js');
const FILLER = join(REPO_ROOT, 'dist/test/support/ledger-filler.js');
const EVERYTHING = { from: 0, to: Number.MAX_SAFE_INTEGER };

interface Writer {
  readonly child: ChildProcess;
  /** share id → share number, for every line the child printed. */
  readonly printed: Map<number, number>;
  readonly jobId: () => number;
  /** Resolves once the child has printed at least `count` shares. */
  readonly printedAtLeast: (count: number) => Promise<void>;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>;
}

function startWriter(path: string, firstN: number, nodeFlags: readonly string[] = []): Writer {
  const child = spawn(process.execPath, [...nodeFlags, WRITER, path, String(firstN)], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const printed = new Map<number, number>();
  let jobId = 0;
  let pendingText = '';
  let stderr = '';
  const waiters: { count: number; resolve: () => void }[] = [];
  child.stdout.setEncoding('utf8').on('data', (text: string) => {
    const lines = (pendingText + text).split('\n');
    pendingText = lines.pop() ?? ''; // a line cut by the kill is not a promise
    for (const line of lines) {
      const [first, second] = line.split(' ');
      if (first === 'ready') jobId = Number(second);
      else printed.set(Number(first), Number(second));
    }
    for (const waiter of waiters.filter((w) => printed.size >= w.count)) {
      waiters.splice(waiters.indexOf(waiter), 1);
      waiter.resolve();
    }
  });
  child.stderr.setEncoding('utf8').on('data', (text: string) => (stderr += text));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>(
    (resolve) => {
      child.on('exit', (code, signal) => {
        resolve({ code, signal, stderr });
      });
    },
  );
  return {
    child,
    printed,
    jobId: () => jobId,
    printedAtLeast: (count) =>
      new Promise<void>((resolve, reject) => {
        if (printed.size >= count) resolve();
        else waiters.push({ count, resolve });
        void exited.then(({ code, stderr: err }) => {
          reject(new Error(`ledger writer exited (${String(code)}) before printing ${count} shares: ${err}`));
        });
      }),
    exited,
  };
}

describe('SQLite ledger durability', () => {
  afterAll(removeLedgerDirs);

  test('every share whose promise resolved survives kill -9, run after run on one file', async () => {
    const path = join(ledgerDir(), 'ledger.sqlite');
    /** share id → the share number and job id it was recorded with */
    const confirmed = new Map<number, { n: number; jobId: number }>();
    for (let run = 0; run < 3; run++) {
      const writer = startWriter(path, run * 1_000_000);
      // Kill at a different point of each run, so the kill lands inside a commit at times.
      await writer.printedAtLeast(2000 + run * 1500);
      writer.child.kill('SIGKILL');
      const { signal } = await writer.exited;
      expect(signal).toBe('SIGKILL');
      for (const [id, n] of writer.printed) confirmed.set(id, { n, jobId: writer.jobId() });

      const ledger = await openSqliteLedger(path);
      try {
        const stored = new Map((await ledger.shares(EVERYTHING)).map((share) => [share.id, share]));
        const missing = [...confirmed.keys()].filter((id) => !stored.has(id));
        expect(missing).toEqual([]);
        for (const [id, { n, jobId }] of confirmed) {
          expect(stored.get(id)).toEqual({ id, upstreamError: null, ...makeShare(n, jobId) });
        }
        const jobIds = new Set([...confirmed.values()].map((c) => c.jobId));
        for (const jobId of jobIds) expect(await ledger.job(jobId)).toEqual({ id: jobId, ...makeJob(1) });
        // Ids are dense: commits land in order, so what survived is a prefix of what was queued.
        expect([...stored.keys()]).toEqual(Array.from({ length: stored.size }, (_, i) => i + 1));
      } finally {
        await ledger.close();
      }
    }
    expect(confirmed.size).toBeGreaterThanOrEqual(2000 + 3500 + 5000);
  });

  test('node started with V8 heap flags (as deploy/ starts it) opens the ledger and records', async () => {
    const path = join(ledgerDir(), 'ledger.sqlite');
    const writer = startWriter(path, 0, [
      '--max-semi-space-size=2',
      '--max-old-space-size=512',
      '--optimize-for-size',
    ]);
    await writer.printedAtLeast(10);
    writer.child.kill('SIGKILL');
    await writer.exited;
  });

  test('a second process cannot open a ledger another process is writing', async () => {
    const path = join(ledgerDir(), 'ledger.sqlite');
    const writer = startWriter(path, 0);
    await writer.printedAtLeast(10);

    const error: unknown = await openSqliteLedger(path).then(
      async (ledger) => {
        await ledger.close();
        return null;
      },
      (reason: unknown) => reason,
    );
    expect(error).toBeInstanceOf(LedgerError);
    expect((error as LedgerError).code).toBe('LEDGER_LOCKED');

    // And the other way round: the writer's second copy refuses to start while the first runs.
    const second = startWriter(path, 0);
    const { code, stderr } = await second.exited;
    expect(code).toBe(1);
    expect(stderr).toMatch(/already open for writing/);

    writer.child.kill('SIGKILL');
    await writer.exited;
    // The kernel dropped the dead process's lock: the file opens again.
    const ledger = await openSqliteLedger(path);
    await ledger.close();
  });

  // A real SQLite error from a commit: the file-size limit makes write() fail with EFBIG.
  test.skipIf(process.platform === 'win32')(
    `a disk that refuses writes rejects the waiting shares with the reason; acknowledged ones stay${skipNote(process.platform === 'win32' ? 'a POSIX file-size limit (not Windows)' : null)}`,
    async () => {
      const path = join(ledgerDir(), 'ledger.sqlite');
      const run = spawnSync(
        'sh',
        ['-c', `ulimit -f 2000 && exec "${process.execPath}" "${FILLER}" "${path}"`],
        {
          encoding: 'utf8',
        },
      );
      expect(run.stderr).toBe('');
      const report = JSON.parse(run.stdout) as {
        ok: number;
        ids: number[];
        failed: number;
        issued: number;
        code: string;
        message: string;
        closed: string;
      };
      expect(report.ok).toBeGreaterThan(0);
      expect(report.failed).toBeGreaterThan(0);
      expect(report.ok + report.failed).toBe(report.issued); // every promise settled
      expect(report.code).toBe('LEDGER_COMMIT_FAILED');
      expect(report.message).toMatch(/failed \(SQLITE_(IOERR|FULL)\w*: .*\); the (disk|ledger)/);
      expect(report.message).toMatch(/restart the process/);
      expect(report.closed).toBe('LEDGER_FAILED');

      const ledger = await openSqliteLedger(path);
      try {
        const stored = new Set((await ledger.shares(EVERYTHING)).map((share) => share.id));
        expect(report.ids.filter((id) => !stored.has(id))).toEqual([]);
      } finally {
        await ledger.close();
      }
    },
  );
});
