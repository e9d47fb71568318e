import { closeSync, existsSync, fsyncSync, openSync, renameSync, rmSync, statSync } from 'node:fs';
import { dirname, resolve as resolvePath } from 'node:path';
import Database from 'better-sqlite3';
import { ledgerVersion } from './sqlite-ledger-schema.js';

/**
 * An online backup of a SQLite ledger: a consistent copy taken while a proxy goes on writing.
 * It reads through a connection of its own, without the writer's lock, inside one read
 * transaction: WAL keeps that snapshot for it however long the copy takes, the writer's
 * commits go on beside it, and SQLite's backup never has to start over. The copy holds every
 * commit made before the backup began, and nothing half-written (it appears only when whole).
 */

export interface LedgerBackup {
  /** The copy, absolute. */
  readonly to: string;
  readonly bytes: number;
  /** The newest share and job in the copy (0 for none). */
  readonly lastShareId: number;
  readonly lastJobId: number;
  readonly seconds: number;
  /** Times SQLite started the copy over (0 while the snapshot holds, as it should). */
  readonly restarts: number;
}

/** Pages copied per step by default; between steps the event loop runs (progress, signals). */
const PAGES_PER_STEP = 4096;

export class BackupError extends Error {
  override readonly name = 'BackupError';
}

export async function backupSqliteLedger(
  path: string,
  to: string,
  options: { readonly pagesPerStep?: number } = {},
): Promise<LedgerBackup> {
  const source = resolvePath(path);
  const target = resolvePath(to);
  if (!existsSync(source)) throw new BackupError(`no ledger at ${source}`);
  if (target === source)
    throw new BackupError(`the backup must go to another file than the ledger ${source}`);
  if (existsSync(target)) {
    throw new BackupError(
      `${target} exists: a backup never overwrites a file; remove it or choose another name`,
    );
  }
  const started = performance.now();
  const partial = `${target}.partial-${process.pid}`;
  const db = new Database(source, { fileMustExist: true, timeout: 5000 });
  try {
    db.pragma('query_only = ON');
    if (ledgerVersion(db, source) === 0) throw new BackupError(`${source} is empty: no ledger to back up`);
    // The snapshot starts at this read and holds until COMMIT below, across every backup step.
    db.exec('BEGIN');
    const [lastShareId, lastJobId] = db
      .prepare<[], [number, number]>(
        'SELECT (SELECT coalesce(max(id), 0) FROM shares), (SELECT coalesce(max(id), 0) FROM jobs)',
      )
      .raw()
      .get()!;
    let remaining = Number.POSITIVE_INFINITY;
    let restarts = 0;
    await db.backup(partial, {
      progress: ({ remainingPages }) => {
        // More left than before means SQLite started over (the snapshot did not hold): finish in one step.
        if (remainingPages > remaining) restarts++;
        remaining = remainingPages;
        return restarts > 0 ? 0x7fffffff : (options.pagesPerStep ?? PAGES_PER_STEP);
      },
    });
    db.exec('COMMIT');
    syncFile(partial);
    renameSync(partial, target);
    syncFile(dirname(target));
    return {
      to: target,
      bytes: statSync(target).size,
      lastShareId,
      lastJobId,
      seconds: (performance.now() - started) / 1000,
      restarts,
    };
  } catch (error) {
    rmSync(partial, { force: true });
    throw error;
  } finally {
    db.close();
  }
}

/** fsync a file or a directory (a rename is durable once its directory is). */
function syncFile(path: string): void {
  const fd = openSync(path, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}
