import { redactCredentials } from '../log/redact.js';
import type { Ledger, LedgerReader } from './ledger.js';
import { openPgLedger, openPgLedgerReader } from './pg-ledger.js';
import { openSqliteLedger } from './sqlite-ledger.js';
import { openSqliteLedgerReader } from './sqlite-ledger-reader.js';

/**
 * Opens the ledger a URL names: `sqlite:PATH` (one machine), or
 * `postgres://USER:PASSWORD@HOST:PORT/DATABASE[?schema=NAME]` (`postgresql://` too), which
 * several proxy instances and the validator can share.
 */
export async function openLedger(url: string): Promise<Ledger> {
  return ledgerBackend<Ledger>(url, openSqliteLedger, openPgLedger);
}

/**
 * Opens the ledger a URL names to read only: no writer's lock, so a SQLite ledger opens while a
 * proxy writes it, and nothing is created, migrated or written.
 */
export async function openLedgerReader(url: string): Promise<LedgerReader> {
  return ledgerBackend<LedgerReader>(url, openSqliteLedgerReader, openPgLedgerReader);
}

/** The SQLite path a `sqlite:PATH` URL names, or undefined for another kind of URL. */
export function sqlitePath(url: string): string | undefined {
  if (!url.startsWith('sqlite:')) return undefined;
  const path = url.slice('sqlite:'.length);
  if (path === '') throw new Error('sqlite ledger needs a path, e.g. sqlite:./hashrelay.sqlite');
  return path;
}

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
