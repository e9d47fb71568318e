#!/usr/bin/env node
import { inspect } from 'node:util';
import { redactCredentials } from '../src/log/redact.js';
import { ExitCode, type CommandResult } from './command.js';
import { packageVersion } from './version.js';

interface LoadedCommand {
  readonly help: string;
  readonly run: (args: readonly string[]) => CommandResult | Promise<CommandResult>;
}

interface Subcommand {
  readonly summary: string;
  /** Loads the command's module only when it is chosen: the proxy never loads the demo's test pool. */
  readonly load: () => Promise<LoadedCommand>;
}

const subcommands: Record<string, Subcommand> = {
  audit: {
    summary: 're-verify a window of the ledger (PoW, credit) and recompute the weights; compare with chain',
    load: async () => {
      const { auditHelp, runAuditCommand } = await import('./audit-command.js');
      return { help: auditHelp, run: (args) => runAuditCommand(args) };
    },
  },
  demo: {
    summary:
      'run pool, proxy and CPU miners on this machine and show what each counted (development install)',
    load: async () => {
      const { demoHelp, runDemoCommand } = await import('./demo-command.js');
      return { help: demoHelp, run: runDemoCommand };
    },
  },
  devnet: {
    summary: 'run a local subtensor (a chain spec, or a fork of a live endpoint) to dry-run on',
    load: async () => {
      const { devnetHelp, runDevnetCommand } = await import('./devnet-command.js');
      return { help: devnetHelp, run: runDevnetCommand };
    },
  },
  ledger: {
    summary: 'back up a SQLite ledger while a proxy writes it; prune old rows',
    load: async () => {
      const { ledgerHelp, runLedgerCommand } = await import('./ledger-command.js');
      return { help: ledgerHelp, run: runLedgerCommand };
    },
  },
  'miner-agent': {
    summary: 'run the farm proxy split across the subnet’s validators by stake, from chain',
    load: async () => {
      const { minerAgentHelp, runMinerAgentCommand } = await import('./miner-agent-command.js');
      return { help: minerAgentHelp, run: (args) => runMinerAgentCommand(args) };
    },
  },
  proxy: {
    summary: 'run the Stratum V1 proxy (miners → verified, recorded → upstream pools)',
    load: async () => {
      const { proxyHelp, runProxyCommand } = await import('./proxy-command.js');
      return { help: proxyHelp, run: runProxyCommand };
    },
  },
  validator: {
    summary: 'run a validator: verify farms’ signed work, publish the endpoint, post weights',
    load: async () => {
      const { runValidatorCommand, validatorHelp } = await import('./validator-command.js');
      return { help: validatorHelp, run: (args) => runValidatorCommand(args) };
    },
  },
  share: {
    summary: 'judge a share from a JSON file (share check FILE)',
    load: async () => {
      const { runShareCommand, shareHelp } = await import('./share-command.js');
      return { help: shareHelp, run: runShareCommand };
    },
  },
};

function usage(): string {
  const width = Math.max(...Object.keys(subcommands).map((name) => name.length));
  const lines = Object.entries(subcommands).map(([name, sub]) => `  ${name.padEnd(width)}  ${sub.summary}`);
  return `Usage: hashrelay <command> [options]

hashrelay: a stake-weighted Stratum V1 hashrate marketplace for Bittensor.

Commands:
${lines.join('\n')}

Run 'hashrelay <command> --help' for a command's options; 'hashrelay --version' for the version.
`;
}

async function main(argv: readonly string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(usage());
    return name === undefined ? ExitCode.usage : ExitCode.ok;
  }
  if (name === '--version' || name === '-V' || name === 'version') {
    process.stdout.write(`hashrelay ${packageVersion()}\n`);
    return ExitCode.ok;
  }
  const chosen = subcommands[name];
  if (chosen === undefined) {
    process.stderr.write(`hashrelay: unknown command '${name}'\n\n${usage()}`);
    return ExitCode.usage;
  }
  const sub = await chosen.load();
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
