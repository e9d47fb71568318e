import { parseArgs } from 'node:util';
import { LedgerError } from '../src/ledger/ledger-error.js';
import { openLedger, sqlitePath } from '../src/ledger/open-ledger.js';
import { retentionCutoff, retentionProblem } from '../src/ledger/retention.js';
import { BackupError, backupSqliteLedger } from '../src/ledger/sqlite-ledger-backup.js';
import { redactCredentials } from '../src/log/redact.js';
import { pruneLedger } from '../proxy/ledger-retention.js';
import { ExitCode, type CommandResult } from './command.js';

export const ledgerHelp = `Usage: hashrelay ledger backup --ledger sqlite:PATH --to FILE
       hashrelay ledger prune --ledger URL --older-than DAYS

backup   Copies a SQLite ledger to FILE while a proxy goes on writing it (an online backup:
         no lock taken, the proxy is not paused). The copy is consistent: it holds every
         share committed before the backup began, and opens as a ledger (--ledger
         sqlite:FILE). FILE must not exist; it appears only once complete. For PostgreSQL
         use pg_dump --schema NAME.
prune    Deletes shares and reject summaries older than DAYS (at least 1), and the jobs no
         kept share names, in small batches. A running proxy does this by itself
         (ledgerRetention.days, default 30); this is for a ledger no proxy writes (a SQLite
         ledger opens for one writer at a time) or for PostgreSQL beside running proxies.

  --ledger URL        sqlite:PATH, or postgres://USER:PASSWORD@HOST:PORT/DATABASE (prune only)
  --to FILE           where the backup goes
  --older-than DAYS   prune rows older than this many days (decimals allowed, at least 1)

Exit status: 0 done, 1 failed (the reason on stderr), 2 usage error.
`;

export async function runLedgerCommand(args: readonly string[]): Promise<CommandResult> {
  const { values, positionals } = parseArgs({
    args: [...args],
    allowPositionals: true,
    options: {
      help: { type: 'boolean', short: 'h' },
      ledger: { type: 'string' },
      to: { type: 'string' },
      'older-than': { type: 'string' },
    },
  });
  if (values.help === true) return { code: ExitCode.ok, stdout: ledgerHelp };
  const [action, ...extra] = positionals;
  const usage = (message: string): CommandResult => ({
    code: ExitCode.usage,
    stderr: `hashrelay ledger: ${message}\n\n${ledgerHelp}`,
  });
  if (extra.length > 0) return usage(`unexpected argument '${extra[0]!}'`);
  if (values.ledger === undefined) return usage('--ledger is required');
  if (action === 'backup') {
    if (values.to === undefined) return usage('backup needs --to FILE');
    const path = sqlitePath(values.ledger);
    if (path === undefined)
      return usage('backup copies a SQLite ledger (sqlite:PATH); for PostgreSQL use pg_dump');
    return backup(path, values.to);
  }
  if (action === 'prune') {
    const text = values['older-than'];
    if (text === undefined) return usage('prune needs --older-than DAYS');
    const days = Number(text);
    const problem = text.trim() === '' || days === 0 ? 'must be at least 1' : retentionProblem(days);
    if (problem !== undefined) return usage(`--older-than ${text}: ${problem}`);
    return prune(values.ledger, days);
  }
  return usage(action === undefined ? 'backup or prune?' : `unknown action '${action}': backup or prune`);
}

async function backup(path: string, to: string): Promise<CommandResult> {
  try {
    const copy = await backupSqliteLedger(path, to);
    return {
      code: ExitCode.ok,
      stdout:
        `backed up ${path} to ${copy.to}: ${copy.bytes} bytes, shares up to id ${copy.lastShareId}, ` +
        `jobs up to id ${copy.lastJobId}, in ${copy.seconds.toFixed(2)} s\n`,
    };
  } catch (error) {
    const reason = error instanceof BackupError ? error.message : `${path}: ${(error as Error).message}`;
    return { code: ExitCode.failure, stderr: `hashrelay ledger backup: ${reason}\n` };
  }
}

async function prune(url: string, days: number): Promise<CommandResult> {
  const fail = (message: string): CommandResult => ({
    code: ExitCode.failure,
    stderr: `hashrelay ledger prune: ${message}\n`,
  });
  let ledger;
  try {
    ledger = await openLedger(url);
  } catch (error) {
    const locked = error instanceof LedgerError && error.code === 'LEDGER_LOCKED';
    return fail(
      (error as Error).message +
        (locked
          ? '\nthe proxy writing this ledger prunes it itself: set ledgerRetention.days in its config'
          : ''),
    );
  }
  try {
    const before = retentionCutoff(Date.now(), days);
    const totals = await pruneLedger(ledger, before);
    return {
      code: ExitCode.ok,
      stdout:
        `pruned ${redactCredentials(url)} before ${new Date(before).toISOString()}: ${totals.shares} shares, ` +
        `${totals.jobs} jobs, ${totals.rejectSummaries} reject summaries in ${totals.batches} batches, ` +
        `${totals.seconds.toFixed(2)} s` +
        (totals.freeBytes === undefined ? '' : `; ${totals.freeBytes} bytes of the file free for new rows`) +
        '\n',
    };
  } catch (error) {
    return fail((error as Error).message);
  } finally {
    await ledger.close().catch(() => undefined);
  }
}
