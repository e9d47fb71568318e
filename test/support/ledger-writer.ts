/**
 * A child process for the ledger's durability tests, run from dist/ as an operator runs it:
 *
 *   node dist/test/support/ledger-writer.js LEDGER_PATH FIRST_N [LANES]
 *
 * Opens the ledger, records a job, then records shares makeShare(FIRST_N), makeShare(FIRST_N
 * + 1), ... forever on LANES concurrent lanes (default 64). It prints `ready JOB_ID` once the ledger is open, and `ID N` for share number
 * N only after recordShare resolved, i.e. after the ledger promised that share is durable.
 * The test kills it with SIGKILL and checks every printed share is in the file.
 */
import { openSqliteLedger, type SqliteLedger } from '../../src/ledger/sqlite-ledger.js';
import { makeJob, makeShare } from './ledger-records.js';

const [path, firstArgument, lanesArgument] = process.argv.slice(2);
if (path === undefined || firstArgument === undefined) {
  process.stderr.write('usage: ledger-writer.js LEDGER_PATH FIRST_N [LANES]\n');
  process.exit(2);
}
let next = Number(firstArgument);
const lanes = Number(lanesArgument ?? 64);

let ledger: SqliteLedger;
try {
  ledger = await openSqliteLedger(path);
} catch (error) {
  process.stderr.write(`${(error as Error).message}\n`);
  process.exit(1);
}
const jobId = ledger.recordJob(makeJob(1));
process.stdout.write(`ready ${jobId}\n`);

async function lane(open: SqliteLedger): Promise<never> {
  for (;;) {
    const n = next++;
    const id = await open.recordShare(makeShare(n, jobId));
    // Synchronous on a pipe: once written, the line is the test's even if we die right after.
    process.stdout.write(`${id} ${n}\n`);
  }
}

for (let i = 0; i < lanes; i++) {
  lane(ledger).catch((error: unknown) => {
    process.stderr.write(`${(error as Error).message}\n`);
    process.exit(1);
  });
}
