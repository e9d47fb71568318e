/**
 * `hashrelay validator` on an in-memory chain, as a child process for benchmarks: it takes
 * the flags of `hashrelay proxy` (--listen, --upstream, --ledger, --config with a proxy config)
 * so ProxyProcess can start it in place of the plain proxy, wraps that proxy config in a
 * validator config (admission at its defaults, weights in dry-run) and runs the real command.
 * The chain is a MemoryChain holding one subnet with this validator and the hotkeys listed in
 * HASHRELAY_BENCH_REGISTERED; the validator's own hotkey is the mnemonic in
 * HASHRELAY_BENCH_VALIDATOR_MNEMONIC.
 *
 *   node dist/bench/validator-role.js --listen H:P --upstream URL --ledger sqlite:PATH --config FILE
 */
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { hotkeyFromMnemonic } from '../src/chain/hotkey.js';
import { MemoryChain } from '../src/chain/memory-chain.js';
import { readConfigFile } from '../src/config/proxy-config.js';
import { runValidatorCommand } from '../cli/validator-command.js';

export const VALIDATOR_MNEMONIC_ENV = 'HASHRELAY_BENCH_VALIDATOR_MNEMONIC';
/** Comma-separated SS58 hotkeys registered on the subnet besides the validator. */
export const REGISTERED_ENV = 'HASHRELAY_BENCH_REGISTERED';
const NETUID = 1;

/** This module's built path, to start it as a child. */
export const VALIDATOR_ROLE_SCRIPT = fileURLToPath(import.meta.url);

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      listen: { type: 'string', multiple: true },
      upstream: { type: 'string', multiple: true },
      ledger: { type: 'string' },
      config: { type: 'string' },
    },
  });
  const mnemonic = process.env[VALIDATOR_MNEMONIC_ENV];
  if (values.config === undefined || mnemonic === undefined) {
    process.stderr.write(
      `validator-role: give --config FILE and the mnemonic in $${VALIDATOR_MNEMONIC_ENV}\n`,
    );
    return 2;
  }
  const validator = await hotkeyFromMnemonic(mnemonic);
  const chain = new MemoryChain();
  chain.addSubnet(NETUID, { commitRevealEnabled: false, minAllowedWeights: 1 });
  chain.register(NETUID, validator.address, { stake: 1_000_000_000_000n, validatorPermit: true });
  for (const hotkey of (process.env[REGISTERED_ENV] ?? '').split(',').filter((key) => key !== ''))
    chain.register(NETUID, hotkey, { stake: 0n, validatorPermit: false });

  const dir = dirname(values.config);
  const configPath = join(dir, 'validator-config.json');
  writeFileSync(
    configPath,
    JSON.stringify({
      chain: 'ws://in-memory.invalid:1',
      netuid: NETUID,
      hotkey: { mnemonicEnv: VALIDATOR_MNEMONIC_ENV },
      weights: { stateDir: join(dir, 'validator-state'), dryRun: true },
      proxy: readConfigFile(values.config),
    }),
  );
  const args = ['--config', configPath];
  for (const listen of values.listen ?? []) args.push('--listen', listen);
  for (const upstream of values.upstream ?? []) args.push('--upstream', upstream);
  if (values.ledger !== undefined) args.push('--ledger', values.ledger);
  const result = await runValidatorCommand(args, { connectChain: () => Promise.resolve(chain) });
  if (result.stdout !== undefined) process.stdout.write(result.stdout);
  if (result.stderr !== undefined) process.stderr.write(result.stderr);
  return result.code;
}

// Imported for its constants by the benchmark; run only as the child's entry.
if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href)
  process.exit(await main());
