import { Keyring } from '@polkadot/keyring';
import type { KeyringPair } from '@polkadot/keyring/types';
import { cryptoWaitReady } from '@polkadot/util-crypto';
import { Registry } from 'prom-client';
import { beforeAll, describe, expect, test } from 'vitest';
import { verifyAuthorize } from '../src/chain/authorize-proof.js';
import { MemoryChain } from '../src/chain/memory-chain.js';
import { silentLogger } from '../src/log/logger.js';
import { MinerAgent } from '../miner-agent/agent.js';
import { proxyRouter } from '../cli/farm-router.js';
import type { TestPool } from './peers/test-pool.js';
import { freePort } from './support/ports.js';
import { testScope } from './support/scope.js';
import { TEST_UPSTREAM, weightedRouting } from './support/proxy-harness.js';

const DIFFICULTY = 2 ** -18;
const TAO = 1_000_000_000n;
const NETUID = 7;
const scope = testScope({ difficulty: DIFFICULTY });

let ring: Keyring;
beforeAll(async () => {
  await cryptoWaitReady();
  ring = new Keyring({ type: 'sr25519', ss58Format: 42 });
});

interface Authorization {
  readonly username: string;
  readonly password: string;
}

/** A validator proxy stand-in: a real pool that records every authorize it sees. */
async function validatorPool(name: string): Promise<{ pool: TestPool; authorizations: Authorization[] }> {
  const authorizations: Authorization[] = [];
  const pool = await scope.pool({
    name,
    authorize: (username, password) => {
      authorizations.push({ username, password });
      return true;
    },
  });
  return { pool, authorizations };
}

describe('miner-agent: chain → validators and weights → the farm proxy', () => {
  test('selects by permit, stake, blacklist and reachability; splits by stake; follows stake changes and deregistration without dropping miners', async () => {
    const chain = new MemoryChain({ startBlock: 100 });
    scope.defer(() => chain.close());
    chain.addSubnet(NETUID, { tempo: 10, commitRevealEnabled: false });
    const farm = ring.addFromUri('//Farm');
    const key = (name: string): KeyringPair => ring.addFromUri(`//${name}`);
    const [v1, v2, noPermit, banned, dead, garbled, small] = ['V1', 'V2', 'V3', 'V4', 'V5', 'V6', 'V7'].map(
      key,
    ) as [KeyringPair, KeyringPair, KeyringPair, KeyringPair, KeyringPair, KeyringPair, KeyringPair];
    const p1 = await validatorPool('V1');
    const p2 = await validatorPool('V2');
    chain.register(NETUID, farm.address, { stake: 0n, validatorPermit: false });
    const register = async (pair: KeyringPair, stake: bigint, permit: boolean, endpoint: string) => {
      chain.register(NETUID, pair.address, { stake: stake * TAO, validatorPermit: permit });
      await chain.publishCommitment(pair, NETUID, endpoint);
    };
    await register(v1, 3000n, true, `stratum+tcp://127.0.0.1:${p1.pool.port}`);
    await register(v2, 1000n, true, `stratum+tcp://127.0.0.1:${p2.pool.port}`);
    await register(noPermit, 5000n, false, `stratum+tcp://127.0.0.1:${p1.pool.port}`);
    await register(banned, 2000n, true, `stratum+tcp://127.0.0.1:${p1.pool.port}`);
    await register(dead, 2000n, true, `stratum+tcp://127.0.0.1:${await freePort()}`);
    await register(garbled, 2000n, true, 'stratum+tcp://user:pass@127.0.0.1:1');
    await register(small, 1n, true, `stratum+tcp://127.0.0.1:${p2.pool.port}`);

    const running = await scope.proxy([], {
      upstream: { ...TEST_UPSTREAM, retireSeconds: 1 },
      ...weightedRouting(DIFFICULTY),
    });
    const registry = new Registry();
    const agent = new MinerAgent({
      chain,
      netuid: NETUID,
      hotkey: farm,
      worker: 'rack7',
      filters: {
        requirePermit: true,
        minStake: 100n * TAO,
        blacklist: new Set([banned.address]),
        maxValidators: 0,
      },
      intervalBlocks: 5,
      probeTimeoutMs: 2000,
      router: proxyRouter(running.proxy),
      logger: silentLogger(),
      registry,
    });
    scope.defer(() => {
      agent.stop();
      return Promise.resolve();
    });

    const first = await agent.start();
    expect(first.selected.map((v) => [v.hotkey, v.weight])).toEqual([
      [v1.address, 0.75],
      [v2.address, 0.25],
    ]);
    const reasons = new Map(first.excluded.map((e) => [e.hotkey, e.reason]));
    expect(reasons).toEqual(
      new Map([
        [noPermit.address, 'no-permit'],
        [banned.address, 'blacklisted'],
        [small.address, 'low-stake'],
        [garbled.address, 'bad-endpoint'],
        [dead.address, 'unreachable'],
      ]),
    );
    const targets = () => new Map(running.proxy.state().upstreams.map((u) => [u.name, u.target]));
    expect(targets()).toEqual(
      new Map([
        [v1.address, 0.75],
        [v2.address, 0.25],
      ]),
    );

    const miners = [];
    for (const name of ['m1', 'm2', 'm3'])
      miners.push(await scope.miner(running.port, { username: `${name}.rig`, sniff: false }));
    await p2.pool.waitFor(
      (p) => p.acceptedCount >= 3 && p1.pool.acceptedCount >= 3,
      60_000,
      'shares at both validators',
    );

    // Each validator saw the farm's hotkey, signed for that validator, fresh per session.
    for (const [validator, seen] of [
      [v1.address, p1.authorizations],
      [v2.address, p2.authorizations],
    ] as const) {
      expect(seen.length).toBeGreaterThan(0);
      for (const { username, password } of seen) {
        expect(username).toBe(`${farm.address}.rack7`);
        expect(await verifyAuthorize(username, password, validator, Date.now() / 1000)).toMatchObject({
          ok: true,
          hotkey: farm.address,
        });
      }
    }
    expect(p1.pool.shares.every((share) => share.worker === `${farm.address}.rack7`)).toBe(true);

    // Stake moves: the next refresh (after intervalBlocks) re-weights.
    chain.setStake(NETUID, v2.address, 3000n * TAO);
    chain.advance(5);
    await waitFor(() => targets().get(v2.address) === 0.5, 5000, 'weights 1:1 after the stake change');
    expect(targets().get(v1.address)).toBe(0.5);

    // V1 leaves the subnet: its share goes to V2 and no miner reconnects.
    chain.deregister(NETUID, v1.address);
    chain.advance(5);
    await waitFor(() => !targets().has(v1.address), 5000, 'V1 removed');
    const atV2 = p2.pool.acceptedCount;
    await p2.pool.waitFor((p) => p.acceptedCount >= atV2 + 10, 60_000, 'all work to V2');
    await p1.pool.waitFor((p) => p.connections.every((c) => c.closed), 10_000, 'V1 session closed');
    for (const miner of miners) {
      expect(miner.connectCount).toBe(1);
      expect(miner.reconnects).toEqual([]);
    }
    const metrics = await registry.metrics();
    expect(metrics).toMatch(/hashrelay_agent_validators\{state="selected"\} 1/);
    expect(metrics).toMatch(/hashrelay_agent_refreshes_total\{result="applied"\} 3/);
    expect(metrics).toMatch(
      new RegExp(`hashrelay_agent_target_weight_ratio\\{validator="${v2.address}"\\} 1`),
    );
  });

  test('when nothing passes the filters the previous set stays', async () => {
    const chain = new MemoryChain({ startBlock: 10 });
    scope.defer(() => chain.close());
    chain.addSubnet(NETUID, { commitRevealEnabled: false });
    const v = ring.addFromUri('//OnlyValidator');
    const p = await validatorPool('only');
    chain.register(NETUID, v.address, { stake: 10n * TAO, validatorPermit: true });
    await chain.publishCommitment(v, NETUID, `stratum+tcp://127.0.0.1:${p.pool.port}`);
    const applied: string[][] = [];
    const agent = new MinerAgent({
      chain,
      netuid: NETUID,
      hotkey: ring.addFromUri('//Farm2'),
      worker: undefined,
      filters: { requirePermit: true, minStake: 0n, blacklist: new Set(), maxValidators: 0 },
      intervalBlocks: 1,
      probeTimeoutMs: 2000,
      router: { setValidators: (set) => applied.push(set.map((x) => x.name)), isHealthy: () => false },
      logger: silentLogger(),
    });
    expect((await agent.refresh()).applied).toBe(true);
    chain.setPermit(NETUID, v.address, false);
    const second = await agent.refresh();
    expect(second.applied).toBe(false);
    expect(second.excluded).toEqual([{ hotkey: v.address, reason: 'no-permit' }]);
    expect(applied).toEqual([[v.address]]);
  });
});

async function waitFor(predicate: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
