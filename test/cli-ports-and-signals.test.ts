import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { constants, tmpdir } from 'node:os';
import { join } from 'node:path';
import { cryptoWaitReady, mnemonicGenerate } from '@polkadot/util-crypto';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { runMinerAgentCommand } from '../cli/miner-agent-command.js';
import { runValidatorCommand } from '../cli/validator-command.js';
import { MemoryChain } from '../src/chain/memory-chain.js';
import { CLI, REPO_ROOT } from './support/cli.js';
import { freePort } from './support/ports.js';

let dir = '';
let taken: Server;
let takenPort = 0;
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'hashrelay-ports-'));
  // Another process's listener, as an operator's second instance or any other program would hold it.
  taken = createServer((socket) => socket.destroy());
  await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
  takenPort = (taken.address() as { port: number }).port;
});
afterAll(async () => {
  await new Promise((resolve) => taken.close(resolve));
  rmSync(dir, { recursive: true, force: true });
});

interface Started {
  readonly stdout: () => string;
  readonly stderr: () => string;
  readonly exited: Promise<number | null>;
  signal(name: NodeJS.Signals): void;
}

function start(args: readonly string[]): Started {
  const child = spawn(process.execPath, [CLI, ...args], {
    cwd: REPO_ROOT,
    env: { ...process.env, HASHRELAY_LOG_FORMAT: 'json' },
  });
  let [stdout, stderr] = ['', ''];
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => {
    child.once('close', (code, signal) => {
      // Killed by a signal: the shell's convention, 128 + its number (130 for SIGINT).
      resolve(signal === null ? code : 128 + constants.signals[signal]);
    });
  });
  return { stdout: () => stdout, stderr: () => stderr, exited, signal: (name) => child.kill(name) };
}

async function until(check: () => boolean, what: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

const ledger = (name: string): string => `sqlite:${join(dir, `${name}.sqlite`)}`;

describe('a port in use', () => {
  test('hashrelay proxy names the port of either listener and exits 1', async () => {
    const upstream = `stratum+tcp://farm:x@127.0.0.1:${await freePort()}`;
    const stratum = start([
      'proxy',
      '--listen',
      `127.0.0.1:${takenPort}`,
      '--upstream',
      upstream,
      '--ledger',
      ledger('a'),
    ]);
    expect(await stratum.exited).toBe(1);
    expect(stratum.stderr()).toContain(
      `port ${takenPort} in use: the Stratum listener (listen) 127.0.0.1:${takenPort}`,
    );
    const admin = start([
      'proxy',
      '--listen',
      '127.0.0.1:0',
      '--metrics',
      `127.0.0.1:${takenPort}`,
      '--upstream',
      upstream,
      '--ledger',
      ledger('b'),
    ]);
    expect(await admin.exited).toBe(1);
    expect(admin.stderr()).toContain(`port ${takenPort} in use: the admin listener (metrics)`);
  });

  test('hashrelay miner-agent and validator say so and exit 1', async () => {
    await cryptoWaitReady();
    process.env.HASHRELAY_PORTS_TEST_MNEMONIC = mnemonicGenerate();
    try {
      // Each role closes the chain it was given when it stops: one chain each.
      const connectChain = () => {
        const chain = new MemoryChain({ startBlock: 1 });
        chain.addSubnet(1, { commitRevealEnabled: false });
        return Promise.resolve(chain);
      };
      const role = {
        chain: 'ws://in-memory.invalid:1',
        netuid: 1,
        hotkey: { mnemonicEnv: 'HASHRELAY_PORTS_TEST_MNEMONIC' },
      };
      const farmConfig = join(dir, 'farm.json');
      writeFileSync(
        farmConfig,
        JSON.stringify({
          ...role,
          proxy: { listen: ['127.0.0.1:0'], metrics: `127.0.0.1:${takenPort}`, ledger: ledger('farm') },
        }),
      );
      const farm = await runMinerAgentCommand(['--config', farmConfig], { connectChain });
      expect(farm.code).toBe(1);
      expect(farm.stderr).toMatch(
        new RegExp(`^hashrelay miner-agent: cannot start: port ${takenPort} in use`),
      );
      const validatorConfig = join(dir, 'validator.json');
      writeFileSync(
        validatorConfig,
        JSON.stringify({
          ...role,
          publicEndpoint: `stratum+tcp://127.0.0.1:${takenPort}`,
          weights: { stateDir: join(dir, 'weights') },
          proxy: {
            listen: [`127.0.0.1:${takenPort}`],
            upstreams: [{ url: `stratum+tcp://v:x@127.0.0.1:${await freePort()}`, name: 'pool' }],
            ledger: ledger('validator'),
          },
        }),
      );
      const validator = await runValidatorCommand(['--config', validatorConfig], { connectChain });
      expect(validator.code).toBe(1);
      expect(validator.stderr).toMatch(
        new RegExp(`^hashrelay validator: cannot start: port ${takenPort} in use`),
      );
    } finally {
      delete process.env.HASHRELAY_PORTS_TEST_MNEMONIC;
    }
  });

  test('hashrelay demo (npm start) with its metrics port taken says so and exits 1, stopping what it started', async () => {
    const demo = start([
      'demo',
      '--metrics',
      `127.0.0.1:${takenPort}`,
      '--dir',
      mkdtempSync(join(dir, 'demo-')),
    ]);
    expect(await demo.exited, demo.stderr()).toBe(1);
    expect(demo.stderr()).toMatch(
      new RegExp(
        `^hashrelay demo: farm-1 exited: hashrelay miner-agent: cannot start: port ${takenPort} in use`,
      ),
    );
    expect(demo.stderr()).toContain('--metrics 127.0.0.1:0 takes a free port');
  });
});

describe('SIGINT', () => {
  test('stops hashrelay proxy cleanly (exit 0), five times in five', async () => {
    const upstream = `stratum+tcp://farm:x@127.0.0.1:${await freePort()}`;
    for (let run = 0; run < 5; run++) {
      const proxy = start([
        'proxy',
        '--listen',
        '127.0.0.1:0',
        '--upstream',
        upstream,
        '--ledger',
        ledger(`sigint-${run}`),
      ]);
      await until(() => proxy.stdout().includes('listening for miners'), 'the proxy to listen');
      proxy.signal('SIGINT');
      expect(await proxy.exited, proxy.stderr()).toBe(0);
      expect(proxy.stdout()).toContain('"msg":"stopped"');
    }
  }, 120_000);

  test('stops the demo cleanly (exit 0) while it starts and while it runs, five times in five', async () => {
    for (let run = 0; run < 5; run++) {
      // The first run names a directory that does not exist yet: the demo makes it.
      const demoDir = run === 0 ? join(dir, 'not-yet', 'demo') : mkdtempSync(join(dir, 'demo-'));
      const demo = start(['demo', '--metrics', '127.0.0.1:0', '--dir', demoDir]);
      // Odd runs: Ctrl-C while the roles start (their configs are written just before each starts).
      if (run % 2 === 1) await until(() => existsSync(join(demoDir, 'farm-1.json')), 'the farms to start');
      else await until(() => demo.stdout().includes('Prometheus metrics of farm-1'), 'the demo to run');
      demo.signal('SIGINT');
      expect(await demo.exited, `run ${run}: ${demo.stderr()}`).toBe(0);
      expect(demo.stderr()).toBe('');
      expect(existsSync(join(demoDir, 'farm-1.json'))).toBe(true);
    }
  }, 300_000);
});
