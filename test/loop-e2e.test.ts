import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { KeyringPair } from '@polkadot/keyring/types';
import { mnemonicGenerate } from '@polkadot/util-crypto';
import { Keyring } from '@polkadot/keyring';
import { afterEach, describe, expect, test } from 'vitest';
import type { Chain } from '../src/chain/chain.js';
import type { Hotkey } from '../src/chain/hotkey.js';
import { MemoryChain } from '../src/chain/memory-chain.js';
import { openSqliteLedger } from '../src/ledger/sqlite-ledger.js';
import { runMinerAgentCommand } from '../cli/miner-agent-command.js';
import { runValidatorCommand } from '../cli/validator-command.js';
import type { WindowScores } from '../validator/scoring.js';
import type { TickReport } from '../validator/weight-poster.js';
import { toU16Vector } from '../validator/weights.js';
import { devKeys } from './support/keys.js';
import { freePort } from './support/ports.js';
import { testScope } from './support/scope.js';

const DIFFICULTY = 2 ** -20;
const TAO = 1_000_000_000n;
const NETUID = 5;
const TOKEN = 'loop-admin-token-0123456789';
const scope = testScope({ difficulty: DIFFICULTY });

const savedEnv = { ...process.env };
afterEach(() => {
  process.env = { ...savedEnv };
});

function file(dir: string, name: string, content: unknown): string {
  const path = join(dir, name);
  writeFileSync(path, typeof content === 'string' ? content : JSON.stringify(content));
  return path;
}

/** A wallet hotkey file as the Bittensor SDK writes it. */
function hotkeyFile(dir: string, name: string, ring: Keyring): { path: string; pair: KeyringPair } {
  const secretPhrase = mnemonicGenerate();
  const pair = ring.addFromMnemonic(secretPhrase);
  return { path: file(dir, name, { secretPhrase, ss58Address: pair.address }), pair };
}

async function until(
  check: () => boolean | Promise<boolean>,
  timeoutMs: number,
  what: string,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe('the whole loop on one machine', () => {
  test('pools ← validator proxies ← farm proxies split by stake ← CPU miners; validators post weights that follow the verified work', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'hashrelay-loop-'));
    const ring = new Keyring({ type: 'sr25519', ss58Format: 42 });
    const [owner] = await devKeys('LoopOwner');
    const chain = new MemoryChain({ startBlock: 1000 });
    scope.defer(() => chain.close());
    chain.addSubnet(NETUID, {
      tempo: 20,
      weightsRateLimit: 10,
      commitRevealEnabled: false,
      minAllowedWeights: 1,
      ownerHotkey: owner!.address as Hotkey,
    });
    chain.register(NETUID, owner!.address, { stake: 0n, validatorPermit: false });

    // Two validators with different stakes, each in front of its own pool account.
    const setUpValidator = async (name: string, stake: bigint) => {
      const key = hotkeyFile(dir, `${name}.json`, ring);
      chain.register(NETUID, key.pair.address, { stake: stake * TAO, validatorPermit: true });
      const pool = await scope.pool({ name });
      const [listen, admin] = [await freePort(), await freePort()];
      const ledger = join(dir, `${name}.sqlite`);
      const ticks: TickReport[] = [];
      const config = file(dir, `${name}-config.json`, {
        chain: 'ws://unused.invalid:1',
        netuid: NETUID,
        hotkey: { file: key.path },
        publicEndpoint: `stratum+tcp://127.0.0.1:${listen}`,
        weights: { stateDir: join(dir, `${name}-state`), intervalBlocks: 10 },
        proxy: {
          listen: [`127.0.0.1:${listen}`],
          upstreams: [`stratum+tcp://${name}.account:x@127.0.0.1:${pool.port}`],
          ledger: `sqlite:${ledger}`,
          metrics: `127.0.0.1:${admin}`,
          logLevel: 'silent',
          vardiff: {
            initialDifficulty: DIFFICULTY,
            minDifficulty: 2 ** -32,
            retargetSeconds: 100_000,
            burstShares: 0,
          },
        },
      });
      return { name, key, pool, listen, admin, ledger, ticks, config, stake };
    };
    const validators = [await setUpValidator('va', 3000n), await setUpValidator('vb', 1000n)];
    process.env.HASHRELAY_ADMIN_TOKEN = TOKEN;
    const connectChain = (): Promise<Chain> => Promise.resolve(chain);
    const exits = validators.map((v) =>
      runValidatorCommand(['--config', v.config], { connectChain, onTick: (report) => v.ticks.push(report) }),
    );
    await until(async () => (await chain.commitments(NETUID)).size === 2, 10_000, 'both endpoints published');

    // Two farms with different hotkeys and hashrate (1 and 2 CPU miners).
    const farms = [];
    for (const [name, miners] of [
      ['f1', 1],
      ['f2', 2],
    ] as const) {
      const mnemonic = mnemonicGenerate();
      const pair = ring.addFromMnemonic(mnemonic);
      chain.register(NETUID, pair.address, { stake: 0n, validatorPermit: false });
      const [listen, admin] = [await freePort(), await freePort()];
      const env = `HASHRELAY_${name.toUpperCase()}_MNEMONIC`;
      process.env[env] = mnemonic;
      const config = file(dir, `${name}.json`, {
        chain: 'ws://unused.invalid:1',
        netuid: NETUID,
        hotkey: { mnemonicEnv: env },
        intervalBlocks: 5,
        probeTimeoutSeconds: 2,
        proxy: {
          listen: [`127.0.0.1:${listen}`],
          ledger: `sqlite:${join(dir, `${name}.sqlite`)}`,
          metrics: `127.0.0.1:${admin}`,
          logLevel: 'silent',
          routing: { minDwellSeconds: 1, windowSeconds: 30 },
          vardiff: {
            initialDifficulty: DIFFICULTY,
            minDifficulty: 2 ** -32,
            retargetSeconds: 100_000,
            burstShares: 0,
          },
        },
      });
      const exit = runMinerAgentCommand(['--config', config], { connectChain });
      farms.push({ name, pair, listen, admin, exit, miners });
    }
    chain.startAutoBlocks(200);
    const ready = async (port: number): Promise<boolean> =>
      (await fetch(`http://127.0.0.1:${port}/readyz`).catch(() => undefined))?.status === 200;
    for (const farm of farms) await until(() => ready(farm.admin), 20_000, `farm ${farm.name} ready`);
    for (const farm of farms)
      for (let i = 0; i < farm.miners; i++)
        await scope.miner(farm.listen, { username: `rig${i}`, sniff: false });

    // Both validators post weights covering work from both farms.
    const posted = (v: (typeof validators)[number]) =>
      v.ticks.filter((t) => t.post.kind === 'set' && t.post.vector.uids.length === 2);
    // Enough shares that the farm with twice the miners is ahead at each validator beyond doubt.
    await until(
      () => validators.every((v) => posted(v).length >= 2 && v.pool.acceptedCount >= 150),
      120_000,
      'two posts and 150 shares per validator',
    );
    chain.stopAutoBlocks();
    await new Promise((resolve) => setTimeout(resolve, 1000)); // ticks already under way finish

    const uidOf = new Map((await chain.metagraph(NETUID)).neurons.map((n) => [n.hotkey as string, n.uid]));
    const [f1, f2] = farms.map((f) => uidOf.get(f.pair.address)!);
    const lastPosts = new Map<string, WindowScores>();
    for (const v of validators) {
      const last = v.ticks.filter((t) => t.post.kind === 'set').at(-1)!.post;
      if (last.kind !== 'set') throw new Error('unreachable');
      // What landed on chain is the SDK conversion of the scores the validator computed.
      const onChain = await chain.weightsOf(NETUID, uidOf.get(v.key.pair.address)!);
      expect([...onChain.keys()].sort()).toEqual([...last.vector.uids].sort());
      const expected = toU16Vector(last.scores.scores, {
        maxWeightsLimit: 65535,
        minAllowedWeights: 1,
        n: 5,
      });
      expect(last.vector.values).toEqual(expected.values);
      expect(
        posted(v).every(
          (t) =>
            t.post.kind === 'set' && t.post.vector.uids.includes(f1!) && t.post.vector.uids.includes(f2!),
        ),
      ).toBe(true);
      lastPosts.set(v.name, last.scores);
    }
    // The farms split by stake: va (75 %) received more accepted work than vb (25 %).
    expect(validators[0]!.pool.acceptedCount).toBeGreaterThan(validators[1]!.pool.acceptedCount);

    for (const target of [...farms, ...validators]) {
      const response = await fetch(`http://127.0.0.1:${target.admin}/api/drain`, {
        method: 'POST',
        headers: { authorization: `Bearer ${TOKEN}` },
      });
      expect(response.status).toBe(202);
    }
    for (const result of await Promise.all([...farms.map((f) => f.exit), ...exits]))
      expect(result.code).toBe(0);

    // After the drain: each validator ledger credits only the two signed farm hotkeys, and the
    // last posted scores are exactly the accepted work in their window, summed share by share.
    for (const v of validators) {
      const ledger = await openSqliteLedger(v.ledger);
      const all = await ledger.shares({ from: 0, to: Date.now() + 1 });
      const { window, scores: posted, burn } = lastPosts.get(v.name)!;
      // A window with no work posts the owner's uid (burn): then no share may be in it.
      const scores = burn ? new Map<number, number>() : posted;
      const inWindow = await ledger.shares(window);
      await ledger.close();
      expect(new Set(all.map((share) => share.miner))).toEqual(new Set(farms.map((f) => f.pair.address)));
      const summed = new Map<number, number>();
      for (const share of inWindow) {
        if (share.verdict !== 'accepted') continue;
        const uid = uidOf.get(share.miner)!;
        summed.set(uid, (summed.get(uid) ?? 0) + share.assignedDifficulty);
      }
      expect([...scores.keys()].sort()).toEqual([...summed.keys()].sort());
      // Over the whole run the farm with twice the miners did more verified work here.
      const credited = (hotkey: string): number =>
        all
          .filter((x) => x.miner === hotkey && x.verdict === 'accepted')
          .reduce((t, x) => t + x.assignedDifficulty, 0);
      expect(credited(farms[1]!.pair.address)).toBeGreaterThan(credited(farms[0]!.pair.address));
      for (const [uid, score] of scores) expect(score).toBeCloseTo(summed.get(uid)!, 9);
    }
  });
});
