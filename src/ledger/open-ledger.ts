import { redactCredentials } from '../log/redact.js';
import type { Ledger } from './ledger.js';
import { openPgLedger } from './pg-ledger.js';
import { openSqliteLedger } from './sqlite-ledger.js';

/**
 * Opens the ledger a URL names: `sqlite:PATH` (one machine), or
 * `postgres://USER:PASSWORD@HOST:PORT/DATABASE[?schema=NAME]` (`postgresql://` too), which
 * several proxy instances and the validator can share.
 */
export async function openLedger(url: string): Promise<Ledger> {
  if (url.startsWith('sqlite:')) {
    const path = url.slice('sqlite:'.length);
    if (path === '') throw new Error('sqlite ledger needs a path, e.g. sqlite:./hashrelay.sqlite');
    return openSqliteLedger(path);
  }
  if (url.startsWith('postgres://') || url.startsWith('postgresql://')) return openPgLedger(url);
  throw new Error(
    `unknown ledger '${redactCredentials(url)}': expected sqlite:PATH or ` +
      'postgres://USER:PASSWORD@HOST:PORT/DATABASE',
  );
}
