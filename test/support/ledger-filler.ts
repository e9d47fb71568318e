/**
 * A child process for the ledger's failure tests, run from dist/ under a file-size limit
 * (`ulimit -f`) so that the disk refuses writes partway:
 *
 *   node dist/test/support/ledger-filler.js LEDGER_PATH
 *
 * Records shares 500 at a time until some fail, then prints one JSON line: how many resolved
 * (`ok`, their ids in `ids`), how many rejected (`failed`), how many were issued, and the
 * first rejection's code and message. Every promise must settle for the line to be printed.
 */
import { openSqliteLedger } from '../../src/ledger/sqlite-ledger.js';
import { LedgerError } from '../../src/ledger/ledger-error.js';
import { makeJob, makeShare } from './ledger-records.js';

// Past the limit the kernel sends SIGXFSZ, which kills by default; ignored, write() fails instead.
process.on('SIGXFSZ', () => undefined);

const path = process.argv[2];
if (path === undefined) {
  process.stderr.write('usage: ledger-filler.js LEDGER_PATH\n');
  process.exit(2);
}
const ledger = await openSqliteLedger(path);
const jobId = ledger.recordJob(makeJob(1));
const ids: number[] = [];
let failed = 0;
let issued = 0;
let first: LedgerError | undefined;
while (failed === 0 && issued < 1_000_000) {
  const results = await Promise.allSettled(
    Array.from({ length: 500 }, () => ledger.recordShare(makeShare(issued++, jobId))),
  );
  for (const result of results) {
    if (result.status === 'fulfilled') {
      ids.push(result.value);
    } else {
      failed++;
      first ??= result.reason instanceof LedgerError ? result.reason : undefined;
    }
  }
}
const closed = await ledger.close().then(
  () => 'closed',
  (error: unknown) => (error instanceof LedgerError ? error.code : String(error)),
);
process.stdout.write(
  `${JSON.stringify({ ok: ids.length, ids, failed, issued, code: first?.code, message: first?.message, closed })}\n`,
);
