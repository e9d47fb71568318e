import { redactCredentials } from '../log/redact.js';
import type { Ledger, LedgerReader } from './ledger.js';

/**
 * Opens the ledger a URL names: `sqlite:PATH` (one machine), or
 * `postgres://USER:PASSWORD@HOST:PORT/DATABASE[?schema=NAME]` (`postgresql://` too), which
 * several proxy instances and the validator can share.
 */
export async function openLedger(url: string): Promise<Ledger> {
  return ledgerBackend<Ledger>(
    url,
    async (path) => (await import('./sqlite-ledger.js')).openSqliteLedger(path),
    async (postgres) => (await import('./pg-ledger.js')).openPgLedger(postgres),
  );
}

/**
 * Opens the ledger a URL names to read only: no writer's lock, so a SQLite ledger opens while a
 * proxy writes it, and nothing is created, migrated or written.
 */
export async function openLedgerReader(url: string): Promise<LedgerReader> {
  return ledgerBackend<LedgerReader>(
    url,
    async (path) => (await import('./sqlite-ledger-reader.js')).openSqliteLedgerReader(path),
    async (postgres) => (await import('./pg-ledger.js')).openPgLedgerReader(postgres),
  );
}

/** The SQLite path a `sqlite:PATH` URL names, or undefined for another kind of URL. */
export function sqlitePath(url: string): string | undefined {
  if (!url.startsWith('sqlite:')) return undefined;
  const path = url.slice('sqlite:'.length);
  if (path === '') throw new Error('sqlite ledger needs a path, e.g. sqlite:./hashrelay.sqlite');
  return path;
}

/** Each backend is loaded when a URL names it: the pg driver alone holds ~14 MiB a SQLite proxy never uses. */
function ledgerBackend<T>(
  url: string,
  sqlite: (path: string) => Promise<T>,
  postgres: (url: string) => Promise<T>,
): Promise<T> {
  const path = sqlitePath(url);
  if (path !== undefined) return sqlite(path);
  if (url.startsWith('postgres://') || url.startsWith('postgresql://')) return postgres(url);
  throw new Error(
    `unknown ledger '${redactCredentials(url)}': expected sqlite:PATH or ` +
      'postgres://USER:PASSWORD@HOST:PORT/DATABASE',
  );
}
