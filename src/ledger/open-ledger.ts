import type { Ledger } from './ledger.js';
import { openSqliteLedger } from './sqlite-ledger.js';

/** Opens the ledger a URL names: `sqlite:PATH` (PostgreSQL arrives with its own backend). */
export async function openLedger(url: string): Promise<Ledger> {
  if (url.startsWith('sqlite:')) {
    const path = url.slice('sqlite:'.length);
    if (path === '') throw new Error('sqlite ledger needs a path, e.g. sqlite:./hashrelay.sqlite');
    return openSqliteLedger(path);
  }
  throw new Error(`unknown ledger '${url}': expected sqlite:PATH`);
}
