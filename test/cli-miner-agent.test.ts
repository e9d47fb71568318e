import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Keyring } from '@polkadot/keyring';
import type { KeyringPair } from '@polkadot/keyring/types';
import { cryptoWaitReady, mnemonicGenerate } from '@polkadot/util-crypto';
import { afterEach, describe, expect, test } from 'vitest';
import { MemoryChain } from '../src/chain/memory-chain.js';
import { runMinerAgentCommand } from '../cli/miner-agent-command.js';
import type { ProxyState } from '../proxy/proxy.js';
import type { TestPool } from './peers/test-pool.js';
import { freePort } from './support/ports.js';
import { testScope } from './support/scope.js';

const DIFFICULTY = 2 ** -18;
const TAO = 1_000_000_000n;
const TOKEN = 'farm-admin-token-0123456789';
const scope = testScope({ difficulty: DIFFICULTY });

function configFile(config: unknown): string {
  const path = join(mkdtempSync(join(tmpdir(), 'hashrelay-agent-')), 'farm.json');
  writeFileSync(path, JSON.stringify(config));
  return path;
}

const savedEnv = { ...process.env };
afterEach(() => {
  process.env = { ...savedEnv };
});

async function until(check: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check().catch(() => false))) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe('hashrelay miner-agent', () => {
  test('runs the farm proxy split by stake from the chain, with the hotkey from the environment; drains on request', async () => {
    await cryptoWaitReady();
    const ring = new Keyring({ type: 'sr25519', ss58Format: 42 });
    const mnemonic = mnemonicGenerate();
    const farm = ring.addFromMnemonic(mnemonic);
    const chain = new MemoryChain({ startBlock: 1 });
    chain.addSubnet(3, { commitRevealEnabled: false });
    chain.register(3, farm.address, { stake: 0n, validatorPermit: false });
    const pools: { pool: TestPool; validator: KeyringPair }[] = [];
    for (const [name, stake] of [
      ['A', 600n],
      ['B', 400n],
    ] as const) {
      const pool = await scope.pool({ name });
      const validator = ring.addFromUri(`//Validator${name}`);
      chain.register(3, validator.address, { stake: stake * TAO, validatorPermit: true });
      await chain.publishCommitment(validator, 3, `stratum+tcp://127.0.0.1:${pool.port}`);
      pools.push({ pool, validator });
    }
    const [listen, admin] = [await freePort(), await freePort()];
    const dir = mkdtempSync(join(tmpdir(), 'hashrelay-agent-ledger-'));
    process.env.HASHRELAY_HOTKEY_MNEMONIC = mnemonic;
    process.env.HASHRELAY_ADMIN_TOKEN = TOKEN;
    const path = configFile({
      chain: 'ws://127.0.0.1:1',
      netuid: 3,
      worker: 'site1',
      intervalBlocks: 2,
      probeTimeoutSeconds: 2,
      proxy: {
        listen: [`127.0.0.1:${listen}`],
        ledger: `sqlite:${join(dir, 'farm.sqlite')}`,
        metrics: `127.0.0.1:${admin}`,
        logLevel: 'silent',
        routing: { minDwellSeconds: 1, windowSeconds: 60 },
        vardiff: {
          initialDifficulty: DIFFICULTY,
          minDifficulty: 2 ** -32,
          retargetSeconds: 100_000,
          burstShares: 0,
        },
      },
    });
    const exit = runMinerAgentCommand(['--config', path], { connectChain: () => Promise.resolve(chain) });

    const headers = { authorization: `Bearer ${TOKEN}` };
    const state = async (): Promise<ProxyState> =>
      (await (await fetch(`http://127.0.0.1:${admin}/api/state`, { headers })).json()) as ProxyState;
    await until(async () => (await state()).upstreams.every((u) => u.healthy), 10_000, 'both validators up');
    expect((await state()).upstreams.map((u) => [u.name, u.target])).toEqual([
      [pools[0]!.validator.address, 0.6],
      [pools[1]!.validator.address, 0.4],
    ]);
    await scope.miner(listen, { username: 'rig1', sniff: false });
    await scope.miner(listen, { username: 'rig2', sniff: false });
    await until(
      () => Promise.resolve(pools.every(({ pool }) => pool.acceptedCount >= 2)),
      60_000,
      'work at both validators',
    );
    for (const { pool } of pools) expect(pool.shares[0]!.worker).toBe(`${farm.address}.site1`);
    const metrics = await (await fetch(`http://127.0.0.1:${admin}/metrics`)).text();
    expect(metrics).toMatch(/hashrelay_agent_validators\{state="selected"\} 2/);
    expect(metrics).toMatch(/hashrelay_split_target_ratio\{upstream="[^"]+"\} 0\.6/);

    expect((await fetch(`http://127.0.0.1:${admin}/api/drain`, { method: 'POST', headers })).status).toBe(
      202,
    );
    expect((await exit).code).toBe(0);
    await chain.close();
  });

  test('refuses, with advice, a config without a hotkey or with fixed upstreams', async () => {
    delete process.env.HASHRELAY_HOTKEY_MNEMONIC;
    const base = { chain: 'ws://127.0.0.1:1', netuid: 3, proxy: { listen: ['127.0.0.1:0'] } };
    const noKey = await runMinerAgentCommand(['--config', configFile(base)]);
    expect(noKey.code).toBe(2);
    expect(noKey.stderr).toMatch(/--hotkey-file .*\$HASHRELAY_HOTKEY_MNEMONIC/);
    const fixed = await runMinerAgentCommand([
      '--config',
      configFile({ ...base, proxy: { ...base.proxy, upstreams: ['stratum+tcp://a:b@127.0.0.1:1'] } }),
    ]);
    expect(fixed.code).toBe(2);
    expect(fixed.stderr).toMatch(/proxy\.upstreams: .*hashrelay proxy/);
    const badChain = await runMinerAgentCommand(['--config', configFile({ ...base, chain: 'http://x' })]);
    expect(badChain.stderr).toMatch(/chain: expected a ws:\/\/ or wss:\/\//);
  });
});
