import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { parseArgs } from 'node:util';
import { pino, type Logger } from 'pino';
import type { Chain, Metagraph } from '../src/chain/chain.js';
import type { LedgerReader, TimeWindow } from '../src/ledger/ledger.js';
import { openLedgerReader } from '../src/ledger/open-ledger.js';
import { loggerOptions } from '../src/log/logger.js';
import { redactCredentials } from '../src/log/redact.js';
import {
  AUDIT_FAILURE_KINDS,
  auditWindow,
  compareChainWeights,
  type AuditReport,
  type ChainWeightsComparison,
} from '../validator/audit.js';
import { auditProgress, type ProgressStream } from './audit-progress.js';
import { ExitCode, type CommandResult } from './command.js';
import { connectPolkadotChain } from './polkadot-connect.js';

export const auditHelp = `Usage: hashrelay audit --ledger URL --from TIME --to TIME
                      [--chain URL --netuid N [--validator HOTKEY]] [--json]
                      [--threads N] [--quiet]

Re-verifies every share the ledger recorded in [--from, --to): rebuilds each share's block
header from its stored job (coinbase with the upstream session's extranonce1 and the stored
extranonce2, merkle branches, BIP 310 version bits, ntime, nonce), double-SHA256s it and
compares it with the stored hash; checks that every accepted share meets the difficulty it
was credited at and is credited once, and that no refused share met it. It then recomputes
each miner identity's credit from the shares that verify alone and compares it with the
ledger's own totals (what the validator scores from).

With --chain and --netuid it reads the subnet's metagraph, turns the re-verified credit into
per-uid scores and the u16 weight vector the validator would post, and compares both with the
validator's own scoring of the same ledger. With --validator it also reads the weights that
hotkey holds on chain and compares them with the recomputed vector.

  --ledger URL          sqlite:PATH or postgres://USER:PASSWORD@HOST:PORT/DATABASE, opened
                        read-only: a SQLite ledger a running proxy writes is read in place
                        (no copy needed), a PostgreSQL role needs only SELECT
  --from TIME           window start (inclusive)
  --to TIME             window end (exclusive)
                        TIME is ISO-8601 with a zone (2025-06-01T12:00:00Z, 2025-06-01T14:00+02:00),
                        a date (2025-06-01, midnight UTC), or unix time: an integer below
                        100000000000 is seconds, a larger one milliseconds.
  --chain URL           subtensor endpoint, ws:// or wss://
  --netuid N            the subnet
  --validator HOTKEY    the validator hotkey (SS58) whose on-chain weights to compare
  --json                one JSON object instead of the summary
  --threads N           threads checking shares (default: one a core, here ${availableParallelism()});
                        0 checks them on the main thread. The report is the same either way.
  --quiet               no progress line on stderr (shown only when stderr is a terminal)

Weights on chain are those of the validator's last post, which scored one window: give
--from/--to the window that post scored (the validator logs it with every post, as
window.from and window.to in ms), or the comparison differs for that reason alone. The
metagraph is read at the best block, so registrations since the post can differ too. Audit a
window that has closed: shares still arriving make the ledger's totals move under the audit.

Exit status: 0 everything verifies (and matches the chain when asked), 1 a check failed or
the ledger or chain could not be read, 2 usage error.
`;

export interface AuditDeps {
  readonly connectChain: (endpoint: string, logger: Logger) => Promise<Chain>;
  /** Where progress goes (default process.stderr; drawn only on a terminal). */
  readonly progress?: ProgressStream;
}

/** More checking threads than this is a typo, not a machine. */
const MAX_THREADS = 1024;

/** Largest unix time read as seconds: 10^11 s is the year 5138, 10^11 ms is 1973. */
const SECONDS_BELOW = 100_000_000_000;
const FAILURES_SHOWN = 50;

export class TimeArgumentError extends Error {}

/** `--from`/`--to`: ISO-8601 (with a zone, or a bare date) or unix seconds / milliseconds → ms. */
export function parseAuditTime(text: string): number {
  const trimmed = text.trim();
  if (/^\d+(\.\d+)?$/.test(trimmed)) {
    const value = Number(trimmed);
    return Math.round(value < SECONDS_BELOW ? value * 1000 : value);
  }
  const notTime = new TimeArgumentError(
    `'${text}' is not an ISO-8601 time (2025-06-01T12:00:00Z), a date (2025-06-01) or unix time`,
  );
  if (!/^\d{4}-\d{2}-\d{2}/.test(trimmed)) throw notTime;
  const dateOnly = /^\d{4}-\d{2}-\d{2}$/.test(trimmed);
  if (!dateOnly && !/(Z|[+-]\d{2}:?\d{2})$/i.test(trimmed)) {
    throw new TimeArgumentError(
      `'${text}' has no time zone: end it with Z or an offset (2025-06-01T12:00:00Z), or give unix seconds`,
    );
  }
  const ms = Date.parse(trimmed);
  if (Number.isNaN(ms)) throw notTime;
  return ms;
}

interface AuditArgs {
  readonly ledger: string;
  readonly window: TimeWindow;
  readonly chain: { readonly endpoint: string; readonly netuid: number } | undefined;
  readonly validator: string | undefined;
  readonly json: boolean;
  readonly threads: number | undefined;
  readonly quiet: boolean;
}

function parseAuditArgs(args: readonly string[]): AuditArgs | CommandResult {
  const { values, positionals } = parseArgs({
    args: [...args],
    allowPositionals: true,
    options: {
      help: { type: 'boolean', short: 'h' },
      ledger: { type: 'string' },
      from: { type: 'string' },
      to: { type: 'string' },
      chain: { type: 'string' },
      netuid: { type: 'string' },
      validator: { type: 'string' },
      json: { type: 'boolean' },
      threads: { type: 'string' },
      quiet: { type: 'boolean' },
    },
  });
  if (values.help === true) return { code: ExitCode.ok, stdout: auditHelp };
  const usage = (message: string): CommandResult => ({
    code: ExitCode.usage,
    stderr: `hashrelay audit: ${message}\n\n${auditHelp}`,
  });
  if (positionals.length > 0) return usage(`unexpected argument '${positionals[0]!}'`);
  if (values.ledger === undefined) return usage('--ledger is required');
  if (values.from === undefined || values.to === undefined) return usage('--from and --to are required');
  let window: TimeWindow;
  try {
    window = { from: parseAuditTime(values.from), to: parseAuditTime(values.to) };
  } catch (error) {
    if (error instanceof TimeArgumentError) return usage(error.message);
    throw error;
  }
  if (!(window.to > window.from)) {
    return usage(`--to (${iso(window.to)}) must be after --from (${iso(window.from)})`);
  }
  if ((values.chain === undefined) !== (values.netuid === undefined)) {
    return usage('--chain and --netuid go together');
  }
  if (values.validator !== undefined && values.chain === undefined) {
    return usage('--validator needs --chain and --netuid to read its weights');
  }
  let chain: AuditArgs['chain'];
  if (values.chain !== undefined) {
    const netuid = Number(values.netuid);
    if (!Number.isInteger(netuid) || netuid < 0 || netuid > 65535) {
      return usage(`--netuid ${values.netuid ?? ''} is not a subnet id (0..65535)`);
    }
    if (!/^wss?:\/\//.test(values.chain))
      return usage(`--chain ${values.chain} is not a ws:// or wss:// URL`);
    chain = { endpoint: values.chain, netuid };
  }
  let threads: number | undefined;
  if (values.threads !== undefined) {
    threads = Number(values.threads);
    if (!/^\d+$/.test(values.threads) || threads > MAX_THREADS) {
      return usage(`--threads ${values.threads} is not a number of threads (0..${MAX_THREADS})`);
    }
  }
  if (values.ledger.startsWith('sqlite:') && !existsSync(values.ledger.slice('sqlite:'.length))) {
    return usage(`no ledger at ${values.ledger.slice('sqlite:'.length)}`);
  }
  return {
    ledger: values.ledger,
    window,
    chain,
    validator: values.validator,
    json: values.json === true,
    threads,
    quiet: values.quiet === true,
  };
}

interface ChainCheck {
  readonly validator: string;
  readonly uid: number | undefined;
  /** Why no comparison could be made (the hotkey has no uid, or no vector was recomputed). */
  readonly problem: string | undefined;
  readonly comparison: ChainWeightsComparison | undefined;
}

export async function runAuditCommand(
  args: readonly string[],
  deps: AuditDeps = { connectChain: connectPolkadotChain },
): Promise<CommandResult> {
  const parsed = parseAuditArgs(args);
  if ('code' in parsed) return parsed;
  const fail = (message: string): CommandResult => ({
    code: ExitCode.failure,
    stderr: `hashrelay audit: ${message}\n`,
  });

  const logger = pino(loggerOptions('warn'), pino.destination(2));
  let chain: Chain | undefined;
  let metagraph: Metagraph | undefined;
  if (parsed.chain !== undefined) {
    try {
      chain = await deps.connectChain(parsed.chain.endpoint, logger);
    } catch (error) {
      return fail(`cannot reach the chain at ${parsed.chain.endpoint}: ${(error as Error).message}`);
    }
  }
  let ledger: LedgerReader | undefined;
  try {
    if (chain !== undefined && parsed.chain !== undefined) {
      try {
        metagraph = await chain.metagraph(parsed.chain.netuid);
      } catch (error) {
        return fail(`cannot read subnet ${parsed.chain.netuid}: ${(error as Error).message}`);
      }
    }
    try {
      ledger = await openLedgerReader(parsed.ledger);
    } catch (error) {
      return fail(`cannot open the ledger: ${(error as Error).message}`);
    }
    const progress = auditProgress(deps.progress ?? process.stderr, parsed.quiet);
    let report: AuditReport;
    try {
      report = await auditWindow(ledger, parsed.window, {
        metagraph,
        threads: parsed.threads,
        onProgress: (checked, total) => {
          progress.update(checked, total);
        },
      });
    } finally {
      progress.end();
    }
    let chainCheck: ChainCheck | undefined;
    if (parsed.validator !== undefined && chain !== undefined && metagraph !== undefined) {
      chainCheck = await checkChain(chain, metagraph, parsed.validator, report);
    }
    const ok = report.ok && (chainCheck === undefined || chainCheck.comparison?.equal === true);
    const stdout = parsed.json
      ? `${JSON.stringify(jsonReport(parsed, report, chainCheck, ok), null, 2)}\n`
      : humanReport(parsed, report, chainCheck, ok);
    return { code: ok ? ExitCode.ok : ExitCode.failure, stdout };
  } catch (error) {
    return fail((error as Error).message);
  } finally {
    await ledger?.close();
    await chain?.close();
  }
}

async function checkChain(
  chain: Chain,
  metagraph: Metagraph,
  validator: string,
  report: AuditReport,
): Promise<ChainCheck> {
  const uid = metagraph.neurons.find((neuron) => neuron.hotkey === validator)?.uid;
  if (uid === undefined) {
    return {
      validator,
      uid,
      problem: `${validator} has no uid on subnet ${metagraph.netuid} at block ${metagraph.block}`,
      comparison: undefined,
    };
  }
  const vector = report.scores?.vector;
  if (vector === undefined) {
    return {
      validator,
      uid,
      problem: `no vector recomputed: ${report.scores?.vectorError ?? 'no scores'}`,
      comparison: undefined,
    };
  }
  const onChain = await chain.weightsOf(metagraph.netuid, uid);
  return { validator, uid, problem: undefined, comparison: compareChainWeights(vector, onChain) };
}

function jsonReport(args: AuditArgs, report: AuditReport, chainCheck: ChainCheck | undefined, ok: boolean) {
  const scores = report.scores;
  const scoresOf = (map: ReadonlyMap<number, number>) => [...map].map(([uid, score]) => ({ uid, score }));
  const vectorOf = (v: { uids: readonly number[]; values: readonly number[] } | undefined) =>
    v === undefined ? null : { uids: v.uids, values: v.values };
  const weightsOf = (map: ReadonlyMap<number, number>) => [...map].map(([uid, value]) => ({ uid, value }));
  return {
    ok,
    ledger: redactCredentials(args.ledger),
    window: {
      from: report.window.from,
      to: report.window.to,
      fromIso: iso(report.window.from),
      toIso: iso(report.window.to),
    },
    sharesChecked: report.sharesChecked,
    elapsedMs: Math.round(report.elapsedMs),
    sharesPerSecond: Math.round(report.sharesPerSecond),
    byVerdict: report.byVerdict,
    failureCounts: report.failureCounts,
    failures: report.failures,
    credit: report.credit,
    creditDifferences: report.creditDifferences,
    scores:
      scores === undefined
        ? null
        : {
            netuid: scores.netuid,
            block: scores.block,
            burn: scores.audited.burn,
            ownerUid: scores.audited.ownerUid ?? null,
            creditedDifficulty: scores.audited.creditedDifficulty,
            uncredited: scores.audited.uncredited,
            audited: scoresOf(scores.audited.scores),
            validator: scoresOf(scores.validator.scores),
            differences: scores.differences,
            vector: vectorOf(scores.vector),
            validatorVector: vectorOf(scores.validatorVector),
            vectorError: scores.vectorError ?? null,
            vectorsEqual: scores.vectorsEqual,
          },
    chain:
      chainCheck === undefined
        ? null
        : {
            validator: chainCheck.validator,
            uid: chainCheck.uid ?? null,
            problem: chainCheck.problem ?? null,
            equal: chainCheck.comparison?.equal ?? false,
            expected: chainCheck.comparison === undefined ? null : weightsOf(chainCheck.comparison.expected),
            onChain: chainCheck.comparison === undefined ? null : weightsOf(chainCheck.comparison.onChain),
            differences: chainCheck.comparison?.differences ?? [],
          },
  };
}

function humanReport(
  args: AuditArgs,
  report: AuditReport,
  chainCheck: ChainCheck | undefined,
  ok: boolean,
): string {
  const out: string[] = [];
  const line = (text = ''): void => {
    out.push(text);
  };
  line(`ledger   ${redactCredentials(args.ledger)}`);
  line(
    `window   ${iso(report.window.from)} → ${iso(report.window.to)}  [${report.window.from}, ${report.window.to}) ms`,
  );
  line(
    `shares   ${report.sharesChecked} checked in ${(report.elapsedMs / 1000).toFixed(2)} s ` +
      `(${Math.round(report.sharesPerSecond)} shares/s)`,
  );
  for (const [verdict, count] of Object.entries(report.byVerdict)) line(`  ${verdict.padEnd(26)} ${count}`);

  const failed = AUDIT_FAILURE_KINDS.filter((kind) => (report.failureCounts[kind] ?? 0) > 0);
  line();
  if (failed.length === 0) {
    line('failures none: every share rebuilds to its stored hash; every accepted share meets its difficulty');
  } else {
    line(`failures ${failed.map((kind) => `${kind} ${report.failureCounts[kind]!}`).join(', ')}`);
    for (const failure of report.failures.slice(0, FAILURES_SHOWN)) {
      line(
        `  share ${failure.shareId}  ${failure.kind}  ${failure.verdict} at difficulty ${failure.assignedDifficulty}` +
          `  miner ${failure.miner}  worker ${failure.worker}  ${iso(failure.time)}`,
      );
      line(`    ${failure.detail}`);
    }
    const total = Object.values(report.failureCounts).reduce((a, b) => a + b, 0);
    if (total > FAILURES_SHOWN) line(`  … ${total - FAILURES_SHOWN} more (--json lists up to 1000)`);
  }

  line();
  line('credit by miner identity: re-verified / accepted rows / ledger totals (Σ assigned difficulty)');
  const width = Math.max(8, ...report.credit.map((row) => row.miner.length));
  for (const row of report.credit) {
    const mark = report.creditDifferences.includes(row) ? '  ← differs' : '';
    line(
      `  ${row.miner.padEnd(width)}  ${String(row.acceptedShares).padStart(8)} shares  ` +
        `${num(row.verified)} / ${num(row.recorded)} / ${num(row.ledgerTotal)}${mark}`,
    );
  }
  if (report.credit.length === 0) line('  (no accepted shares)');

  const scores = report.scores;
  if (scores !== undefined) {
    line();
    line(
      `scores   subnet ${scores.netuid}, metagraph at block ${scores.block}: audited / validator's scoreWindow` +
        (scores.audited.burn ? "  (burn: nobody earned anything, the owner's uid is weighted)" : ''),
    );
    for (const row of scores.byUid) {
      const mark = scores.differences.includes(row) ? '  ← differs' : '';
      line(
        `  uid ${String(row.uid).padStart(5)}  ${(row.hotkey ?? '?').padEnd(48)}  ` +
          `${num(row.audited ?? 0)} / ${num(row.validator ?? 0)}${mark}`,
      );
    }
    const { marked, notInMetagraph } = scores.audited.uncredited;
    if (marked > 0 || notInMetagraph > 0)
      line(
        `  earning no weight: marked identities ${num(marked)}, not in the metagraph ${num(notInMetagraph)}`,
      );
    if (scores.vectorError !== undefined) {
      line(`vector   none: ${scores.vectorError}`);
    } else {
      line(`vector   uids   [${scores.vector!.uids.join(', ')}]`);
      line(`         values [${scores.vector!.values.join(', ')}]`);
      if (!scores.vectorsEqual) {
        line(`         the validator's scoring gives uids [${scores.validatorVector!.uids.join(', ')}]`);
        line(`                                       values [${scores.validatorVector!.values.join(', ')}]`);
      } else {
        line("         (the validator's own scoring gives the same vector)");
      }
    }
  }

  if (chainCheck !== undefined) {
    line();
    const who = `validator ${chainCheck.validator}${chainCheck.uid === undefined ? '' : ` (uid ${chainCheck.uid})`}`;
    if (chainCheck.comparison === undefined) {
      line(`chain    ${who}: not compared: ${chainCheck.problem ?? ''}`);
    } else if (chainCheck.comparison.equal) {
      line(`chain    ${who}: weights on chain equal the recomputed vector`);
    } else {
      line(`chain    ${who}: weights on chain DIFFER from the recomputed vector`);
      line('  uid    recomputed  on chain');
      for (const diff of chainCheck.comparison.differences) {
        line(
          `  ${String(diff.uid).padStart(5)}  ${String(diff.expected ?? '-').padStart(10)}  ${String(diff.onChain ?? '-').padStart(8)}`,
        );
      }
    }
  }
  line();
  line(ok ? 'result   OK' : 'result   FAILED');
  return `${out.join('\n')}\n`;
}

function iso(ms: number): string {
  return Number.isFinite(ms) && Math.abs(ms) < 8.64e15 ? new Date(ms).toISOString() : String(ms);
}

function num(value: number): string {
  return Number.isInteger(value) ? String(value) : value.toPrecision(10);
}
