#!/usr/bin/env node
import { inspect } from 'node:util';
import { redactCredentials } from '../src/log/redact.js';
import { auditHelp, runAuditCommand } from './audit-command.js';
import { ExitCode, type CommandResult } from './command.js';
import { demoHelp, runDemoCommand } from './demo-command.js';
import { devnetHelp, runDevnetCommand } from './devnet-command.js';
import { ledgerHelp, runLedgerCommand } from './ledger-command.js';
import { minerAgentHelp, runMinerAgentCommand } from './miner-agent-command.js';
import { proxyHelp, runProxyCommand } from './proxy-command.js';
import { runValidatorCommand, validatorHelp } from './validator-command.js';
import { runShareCommand, shareHelp } from './share-command.js';

interface Subcommand {
  readonly summary: string;
  readonly help: string;
  readonly run: (args: readonly string[]) => CommandResult | Promise<CommandResult>;
}

const subcommands: Record<string, Subcommand> = {
  audit: {
    summary: 're-verify a window of the ledger (PoW, credit) and recompute the weights; compare with chain',
    help: auditHelp,
    run: (args) => runAuditCommand(args),
  },
  demo: {
    summary: 'run pool, proxy and CPU miners on this machine and show what each counted',
    help: demoHelp,
    run: runDemoCommand,
  },
  devnet: {
    summary: 'run a local subtensor (a chain spec, or a fork of a live endpoint) to dry-run on',
    help: devnetHelp,
    run: runDevnetCommand,
  },
  ledger: {
    summary: 'back up a SQLite ledger while a proxy writes it; prune old rows',
    help: ledgerHelp,
    run: runLedgerCommand,
  },
  'miner-agent': {
    summary: 'run the farm proxy split across the subnet’s validators by stake, from chain',
    help: minerAgentHelp,
    run: (args) => runMinerAgentCommand(args),
  },
  proxy: {
    summary: 'run the Stratum V1 proxy (miners → verified, recorded → upstream pools)',
    help: proxyHelp,
    run: runProxyCommand,
  },
  validator: {
    summary: 'run a validator: verify farms’ signed work, publish the endpoint, post weights',
    help: validatorHelp,
    run: (args) => runValidatorCommand(args),
  },
  share: {
    summary: 'judge a share from a JSON file (share check FILE)',
    help: shareHelp,
    run: runShareCommand,
  },
};

function usage(): string {
  const width = Math.max(...Object.keys(subcommands).map((name) => name.length));
  const lines = Object.entries(subcommands).map(([name, sub]) => `  ${name.padEnd(width)}  ${sub.summary}`);
  return `Usage: hashrelay <command> [options]

hashrelay: a stake-weighted Stratum V1 hashrate marketplace for Bittensor.

Commands:
${lines.join('\n')}

Run 'hashrelay <command> --help' for a command's options.
`;
}

async function main(argv: readonly string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(usage());
    return name === undefined ? ExitCode.usage : ExitCode.ok;
  }
  const sub = subcommands[name];
  if (sub === undefined) {
    process.stderr.write(`hashrelay: unknown command '${name}'\n\n${usage()}`);
    return ExitCode.usage;
  }
  let result: CommandResult;
  try {
    result = await sub.run(rest);
  } catch (error) {
    // parseArgs throws on unknown options: that is a usage error, not a crash.
    if (error instanceof TypeError && 'code' in error && String(error.code).startsWith('ERR_PARSE_ARGS')) {
      process.stderr.write(`hashrelay ${name}: ${error.message}\n\n${sub.help}`);
      return ExitCode.usage;
    }
    throw error;
  }
  // Last line of defence: whatever a command prints, no URL password or secret parameter.
  if (result.stdout !== undefined) process.stdout.write(redactCredentials(result.stdout));
  if (result.stderr !== undefined) process.stderr.write(redactCredentials(result.stderr));
  return result.code;
}

try {
  process.exitCode = await main(process.argv.slice(2));
} catch (error) {
  // A crash prints its stack as Node would, minus any credential the message carries.
  process.stderr.write(`${redactCredentials(inspect(error))}\n`);
  process.exitCode = ExitCode.failure;
}
