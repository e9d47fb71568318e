import { existsSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, afterEach, describe, expect, test } from 'vitest';
import type { Ledger, LedgerReader } from '../src/ledger/ledger.js';
import { openLedgerReader } from '../src/ledger/open-ledger.js';
import { openPgLedger } from '../src/ledger/pg-ledger.js';
import { openSqliteLedger } from '../src/ledger/sqlite-ledger.js';
import { EVERYTHING, ledgerError } from './support/ledger-contract.js';
import { ledgerDir, makeJob, makeShare, removeLedgerDirs } from './support/ledger-records.js';
import { testPostgres } from './support/postgres.js';

/**
 * A ledger opened read-only (what the audit uses) beside the ledger that writes it: it sees
 * what was committed, takes no lock and creates nothing.
 */

const found = await testPostgres();
if (typeof found === 'string') console.warn(`skipping the PostgreSQL reader test: ${found}`);
const postgres = typeof found === 'string' ? null : found;
afterAll(async () => {
  await postgres?.release();
  removeLedgerDirs();
});

const opened: (Ledger | LedgerReader)[] = [];
afterEach(async () => {
  await Promise.allSettled(opened.splice(0).map((ledger) => ledger.close()));
});

async function writeSome(ledger: Ledger): Promise<number[]> {
  const jobId = ledger.recordJob(makeJob(1));
  return Promise.all(Array.from({ length: 20 }, (_, n) => ledger.recordShare(makeShare(n, jobId))));
}

describe('read-only ledgers', () => {
  test('SQLite: opens while the writer holds the file, reads its commits, and refuses after close', async () => {
    const path = join(ledgerDir(), 'ledger.sqlite');
    const writer = await openSqliteLedger(path);
    opened.push(writer);
    const ids = await writeSome(writer);
    const reader = await openLedgerReader(`sqlite:${path}`);
    opened.push(reader);
    expect((await reader.shares(EVERYTHING)).map((s) => s.id)).toEqual(ids);
    const more = await writer.recordShare(makeShare(100, 1));
    expect((await reader.shares(EVERYTHING)).map((s) => s.id)).toEqual([...ids, more]);
    expect((await reader.job(1))?.proxyJobId).toBe(makeJob(1).proxyJobId);
    await reader.close();
    await ledgerError(reader.shares(EVERYTHING), 'LEDGER_CLOSED');
  });

  test('SQLite: a missing file or one that is not a ledger fails to open, and nothing is created', async () => {
    const dir = ledgerDir();
    const missing = await ledgerError(
      openLedgerReader(`sqlite:${join(dir, 'none.sqlite')}`),
      'LEDGER_OPEN_FAILED',
    );
    expect(missing.message).toMatch(/none\.sqlite/);
    expect(existsSync(join(dir, 'none.sqlite'))).toBe(false);
    const other = join(dir, 'other.sqlite');
    const db = new Database(other);
    db.exec('CREATE TABLE notes (text TEXT)');
    db.close();
    const foreign = await ledgerError(openLedgerReader(`sqlite:${other}`), 'LEDGER_OPEN_FAILED');
    expect(foreign.message).toMatch(/not a hashrelay ledger/);
  });

  test.skipIf(postgres === null)(
    'PostgreSQL: reads what a writer committed; a schema with no ledger is refused and not created',
    async () => {
      const schema = postgres!.freshSchema();
      const writer = await openPgLedger(postgres!.url, { schema });
      opened.push(writer);
      const ids = await writeSome(writer);
      const reader = await openLedgerReader(postgres!.urlFor(schema));
      opened.push(reader);
      expect((await reader.shares(EVERYTHING)).map((s) => s.id)).toEqual(ids);

      const empty = postgres!.freshSchema();
      const refused = await ledgerError(openLedgerReader(postgres!.urlFor(empty)), 'LEDGER_OPEN_FAILED');
      expect(refused.message).toMatch(/holds no hashrelay ledger/);
      const client = await postgres!.connect();
      try {
        const { rowCount } = await client.query('SELECT 1 FROM pg_namespace WHERE nspname = $1', [empty]);
        expect(rowCount).toBe(0);
      } finally {
        await client.end();
      }
    },
  );
});
