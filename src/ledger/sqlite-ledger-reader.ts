import { resolve as resolvePath } from 'node:path';
import type { LedgerReader } from './ledger.js';
import { ThreadFailure, type Query, type QueryResults } from './sqlite-ledger-protocol.js';
import { DatabaseThread } from './sqlite-ledger-thread.js';
import { ReadOnlyLedger } from './read-only-ledger.js';

/**
 * Opens a SQLite ledger to read only, beside the process that writes it: a connection of its
 * own on a database thread, without the writer's lock (WAL lets it read while commits go on)
 * and without checkpoints, so it writes nothing. Each query sees the commits made before it.
 * Rejects with LEDGER_OPEN_FAILED when the file is missing, empty, not a ledger or newer.
 */
export async function openSqliteLedgerReader(
  path: string,
  options: { readonly busyTimeoutMs?: number } = {},
): Promise<LedgerReader> {
  const absolute = resolvePath(path);
  const { thread } = await DatabaseThread.start({
    role: 'reader',
    path: absolute,
    busyTimeoutMs: options.busyTimeoutMs ?? 5000,
    checkpointIntervalMs: 0,
  });
  const query = async <K extends Query['kind']>(query: Query & { kind: K }): Promise<QueryResults[K]> => {
    const { value } = await thread.request({ type: 'query', query });
    return value as QueryResults[K];
  };
  return new ReadOnlyLedger({
    name: `the SQLite ledger ${absolute} (read-only)`,
    minerTotals: (window) => query({ kind: 'minerTotals', window }),
    upstreamTotals: (window) => query({ kind: 'upstreamTotals', window }),
    shares: (window) => query({ kind: 'shares', window }),
    job: (id) => query({ kind: 'job', id }),
    shareSpan: (window) => query({ kind: 'shareSpan', window }),
    sharePage: (window, page) => query({ kind: 'sharePage', window, page }),
    rejectSummaries: (window) => query({ kind: 'rejectSummaries', window }),
    close: () => thread.close(),
    queryFailure: (error) => (error instanceof ThreadFailure ? `${error.code}: ${error.message}` : null),
  });
}
