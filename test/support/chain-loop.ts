import { createHash } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ApiPromise } from '@polkadot/api';
import type { KeyringPair } from '@polkadot/keyring/types';
import type { Codec } from '@polkadot/types/types';
import { u8aToHex } from '@polkadot/util';
import type { CommandResult } from '../../cli/command.js';
import type { Devnet } from '../../cli/devnet-command.js';
import { runMinerAgentCommand } from '../../cli/miner-agent-command.js';
import { connectPolkadotChain } from '../../cli/polkadot-connect.js';
import { runValidatorCommand } from '../../cli/validator-command.js';
import type { Metagraph, NetUid, Uid, WeightsVector } from '../../src/chain/chain.js';
import { roundAt } from '../../src/chain/timelock.js';
import { maxUpscaleU16 } from '../../src/chain/weight-limits.js';
import { openSqliteLedger } from '../../src/ledger/sqlite-ledger.js';
import type { StatusReport } from '../../proxy/status-report.js';
import type { WindowScores } from '../../validator/scoring.js';
import type { TickReport } from '../../validator/weight-poster.js';
import { toU16Vector } from '../../validator/weights.js';
import { CpuMiner } from '../peers/cpu-miner.js';
import { TestPool } from '../peers/test-pool.js';
import { testBeacon, type TestBeacon } from './drand-beacon.js';
import { devSetStorage } from './devnet-rpc.js';
import { freePort } from './ports.js';

/**
 * The whole loop against a real subtensor runtime under chopsticks: a validator in front of a
 * test pool, miner-agent farms with CPU miners, weights posted by hash commit-reveal or drand-
 * timelocked commits. The test drives the chain (a block every PACE_MS) and, for timelocked
 * commits, plays drand: each committed round's pulse, signed by a beacon the test holds, is
 * written into `Drand.Pulses` as the pallet's offchain worker would. Every block's stored
 * weights of the validator are recorded, and after the run each posted vector is set beside the
 * same vector recomputed from the validator's ledger.
 */

const DIFFICULTY = 2 ** -20;
const ADMIN_TOKEN = 'chain-loop-admin-token-0123456789';
/** Between the blocks the test builds: shares arrive in every posting window. */
const PACE_MS = 300;
/** The loop's processes log at this level (HASHRELAY_LOOP_LOG_LEVEL, to look into a failing run). */
const LOG_LEVEL = process.env.HASHRELAY_LOOP_LOG_LEVEL ?? 'silent';
/** Pulses written past the chain's clock: more than the two epochs a commit's round lies ahead. */
const RELAY_AHEAD_ROUNDS = 60n;

export interface LoopKey {
  readonly mnemonic: string;
  readonly pair: KeyringPair;
}

export interface WholeLoopOptions {
  readonly devnet: Devnet;
  readonly api: ApiPromise;
  readonly netuid: NetUid;
  readonly commitMode: 'hash' | 'timelocked';
  readonly validator: LoopKey;
  /** Farms and their CPU miner counts. */
  readonly farms: readonly (LoopKey & { readonly miners: number })[];
  /** Validator hotkeys the farms must not work for (others' endpoints on this subnet). */
  readonly blacklist: readonly string[];
  /** Reads the metagraph (the test's own chain client). */
  readonly metagraph: () => Promise<Metagraph>;
  /** Posts on chain that include every farm, before the loop stops. */
  readonly postsWanted: number;
  readonly timeoutMs: number;
}

export interface LoopPost {
  readonly kind: 'committed' | 'timelocked';
  readonly block: number;
  readonly vector: WeightsVector;
  readonly scores: WindowScores;
  /** First block whose stored weights equal this vector (undefined: never seen on chain). */
  readonly seenAtBlock: number | undefined;
  /** The vector recomputed from the ledger's accepted shares in the post's window. */
  readonly recomputed: ReadonlyMap<Uid, number>;
  /** Timelocked: the drand round and the blocks the chain was to reveal it in. */
  readonly timelock?: { readonly round: bigint; readonly revealFrom: number; readonly revealUntil: number };
}

export interface WholeLoopRecord {
  readonly posts: readonly LoopPost[];
  readonly farmUids: readonly Uid[];
  /** Each distinct weights vector stored for the validator, as `uid:value,...`, with its first block. */
  readonly storedVectors: ReadonlyMap<string, number>;
  /** Hash commits the validator had not revealed when it stopped. */
  readonly unrevealedAtStop: number;
  readonly timings: Record<string, number>;
}

export async function runWholeLoop(options: WholeLoopOptions): Promise<WholeLoopRecord> {
  const { api, devnet, netuid } = options;
  const dir = mkdtempSync(join(tmpdir(), `hashrelay-chain-loop-${options.commitMode}-`));
  const cleanups: (() => Promise<unknown>)[] = [];
  const timings: Record<string, number> = {};
  const started = Date.now();
  // The admin token and the farms' mnemonics go in the environment, put back afterwards.
  const savedEnv = { ...process.env };
  process.env.HASHRELAY_ADMIN_TOKEN = ADMIN_TOKEN;
  try {
    const graph = await options.metagraph();
    const uidOf = new Map<string, Uid>(graph.neurons.map((neuron) => [neuron.hotkey, neuron.uid]));
    const validatorUid = uidOf.get(options.validator.pair.address);
    if (validatorUid === undefined) throw new Error('the loop validator is not registered');
    const farmUids = options.farms.map((farm) => uidOf.get(farm.pair.address)!);

    const stored = recordStoredWeights(api, netuid, validatorUid);
    cleanups.push(() => stored.stop());

    const beacon = testBeacon();
    const pulses = new DrandRelay(api, devnet.endpoint, beacon);
    const ticks: TickReport[] = [];
    const pool = await TestPool.start({ difficulty: DIFFICULTY, name: 'loop-pool' });
    cleanups.push(() => pool.stop());
    const [listen, admin] = [await freePort(), await freePort()];
    const stateDir = join(dir, 'validator-state');
    const validatorConfig = file(dir, 'validator.json', {
      chain: devnet.endpoint,
      netuid,
      hotkey: {
        file: file(dir, 'validator-hotkey.json', {
          secretPhrase: options.validator.mnemonic,
          ss58Address: options.validator.pair.address,
        }),
      },
      publicEndpoint: `stratum+tcp://127.0.0.1:${listen}`,
      // One post per epoch (tempo + 1 blocks): each timelocked reveal is its own block's weights.
      weights: { stateDir, intervalBlocks: graph.tempo + 1, commitMode: options.commitMode },
      proxy: {
        listen: [`127.0.0.1:${listen}`],
        upstreams: [`stratum+tcp://loop.account:x@127.0.0.1:${pool.port}`],
        ledger: `sqlite:${join(dir, 'validator.sqlite')}`,
        metrics: `127.0.0.1:${admin}`,
        logLevel: LOG_LEVEL,
        vardiff: { initialDifficulty: DIFFICULTY, minDifficulty: 2 ** -32, retargetSeconds: 100_000 },
      },
    });
    const pacer = new BlockPacer(devnet, () => pulses.relay());
    cleanups.push(() => pacer.stop());
    const validatorExit = runValidatorCommand(['--config', validatorConfig], {
      connectChain: connectPolkadotChain,
      onTick: (report) => {
        ticks.push(report);
        if (report.post.kind === 'timelocked') pulses.want(report.post.commit.revealRound);
      },
      drandBeacon: beacon,
    });
    const exits = [validatorExit];
    const drains = [admin];
    const miners: { farm: number; miner: CpuMiner }[] = [];
    // Whatever happens, the processes stop before the chain does.
    let drained: Promise<void> | undefined;
    const drainAll = (): Promise<void> => (drained ??= drainAndWait(drains, exits));
    cleanups.push(drainAll);
    pacer.start();

    for (const [index, farm] of options.farms.entries()) {
      const [farmListen, farmAdmin] = [await freePort(), await freePort()];
      const env = `HASHRELAY_LOOP_FARM${index}_MNEMONIC`;
      process.env[env] = farm.mnemonic;
      const config = file(dir, `farm${index}.json`, {
        chain: devnet.endpoint,
        netuid,
        hotkey: { mnemonicEnv: env },
        intervalBlocks: 5,
        probeTimeoutSeconds: 2,
        filters: { blacklist: options.blacklist },
        proxy: {
          listen: [`127.0.0.1:${farmListen}`],
          ledger: `sqlite:${join(dir, `farm${index}.sqlite`)}`,
          metrics: `127.0.0.1:${farmAdmin}`,
          logLevel: LOG_LEVEL,
          routing: { minDwellSeconds: 1, windowSeconds: 30 },
          vardiff: { initialDifficulty: DIFFICULTY, minDifficulty: 2 ** -32, retargetSeconds: 100_000 },
        },
      });
      exits.push(runMinerAgentCommand(['--config', config], { connectChain: connectPolkadotChain }));
      drains.push(farmAdmin);
      await until(() => ready(farmAdmin), options.timeoutMs, `farm ${index} ready`, pacer);
      for (let i = 0; i < farm.miners; i++) {
        // Like an ASIC, a miner the farm closes (no upstream for its grace period) dials back.
        const miner = await CpuMiner.connect({
          port: farmListen,
          username: `rig${i}`,
          sniff: false,
          reconnectAfterMs: 1000,
        });
        cleanups.push(() => miner.close());
        miners.push({ farm: index, miner });
      }
    }
    timings.untilMinersMs = Date.now() - started;

    const posts = (): { kind: 'committed' | 'timelocked'; vector: WeightsVector }[] =>
      ticks.flatMap(({ post }) =>
        post.kind === 'committed' || post.kind === 'timelocked'
          ? [{ kind: post.kind, vector: post.vector }]
          : [],
      );
    const onChain = (vector: WeightsVector): boolean =>
      stored.vectors.has(vectorKey(vector.uids, maxUpscaleU16(vector.values)));
    // Every farm's work must keep reaching the chain: the posts counted are those naming every
    // farm. On a timeout the message carries what each process and miner says about itself.
    await until(
      () => {
        const landed = posts().filter(({ vector }) => onChain(vector));
        return (
          landed.filter(({ vector }) => farmUids.every((uid) => vector.uids.includes(uid))).length >=
          options.postsWanted
        );
      },
      options.timeoutMs,
      `${options.postsWanted} posts stored on chain, one with every farm's work`,
      pacer,
      async () =>
        `posts so far: [${posts()
          .map(({ kind, vector }) => `${kind} ${vectorKey(vector.uids, vector.values)}`)
          .join(
            '; ',
          )}]; stored on chain: [${[...stored.vectors.keys()].join('; ')}]; farm uids ${farmUids.join(',')}; ${await snapshot(drains, miners)}`,
    );
    timings.untilPostsOnChainMs = Date.now() - started;

    // Stop posting; the chain reveals timelocked commits without the validator.
    await drainAll();
    const timelocked = ticks.flatMap(({ post }) => (post.kind === 'timelocked' ? [post.commit] : []));
    if (timelocked.length > 0) {
      const last = Math.max(...timelocked.map((commit) => commit.revealUntil));
      await until(
        async () => (await api.rpc.chain.getHeader()).number.toNumber() > last,
        options.timeoutMs,
        "the end of the last timelocked commit's reveal epoch",
        pacer,
      );
    }
    await pacer.stop();
    await stored.stop();
    timings.totalMs = Date.now() - started;

    const revealed = new Set(
      ticks.flatMap(({ reveals }) => reveals.flatMap((r) => (r.kind === 'revealed' ? [r.commit.hash] : []))),
    );
    const committed = ticks.flatMap(({ post }) => (post.kind === 'committed' ? [post.commit.hash] : []));
    const final = await options.metagraph();
    const n = Math.max(...final.neurons.map((neuron) => neuron.uid)) + 1;
    const ownerUid = final.neurons.find((neuron) => neuron.hotkey === final.ownerHotkey)?.uid;
    const ledger = await openSqliteLedger(join(dir, 'validator.sqlite'));
    const record: LoopPost[] = [];
    try {
      for (const { block, post } of ticks) {
        if (post.kind !== 'committed' && post.kind !== 'timelocked') continue;
        const summed = new Map<Uid, number>();
        for (const share of await ledger.shares(post.scores.window)) {
          const uid = uidOf.get(share.miner);
          if (share.verdict !== 'accepted' || uid === undefined) continue;
          summed.set(uid, (summed.get(uid) ?? 0) + share.assignedDifficulty);
        }
        // A window without work weights the subnet owner's uid (the burn).
        const scores = summed.size > 0 || ownerUid === undefined ? summed : new Map([[ownerUid, 1]]);
        const u16 = toU16Vector(scores, {
          maxWeightsLimit: final.maxWeightsLimit,
          minAllowedWeights: final.minAllowedWeights,
          n,
        });
        record.push({
          kind: post.kind,
          block,
          vector: post.vector,
          scores: post.scores,
          seenAtBlock: stored.vectors.get(vectorKey(post.vector.uids, maxUpscaleU16(post.vector.values))),
          recomputed: new Map(u16.uids.map((uid, i) => [uid, u16.values[i]!])),
          timelock:
            post.kind === 'timelocked'
              ? {
                  round: post.commit.revealRound,
                  revealFrom: post.commit.revealFrom,
                  revealUntil: post.commit.revealUntil,
                }
              : undefined,
        });
      }
    } finally {
      await ledger.close();
    }
    return {
      posts: record,
      farmUids,
      storedVectors: stored.vectors,
      unrevealedAtStop: committed.filter((hash) => !revealed.has(hash)).length,
      timings,
    };
  } finally {
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
    process.env = savedEnv;
  }
}

/** Drains every process by its admin port and waits for all; each must have answered and exited 0. */
async function drainAndWait(
  ports: readonly number[],
  exits: readonly Promise<CommandResult>[],
): Promise<void> {
  const problems: string[] = [];
  for (const port of ports) {
    const response = await fetch(`http://127.0.0.1:${port}/api/drain`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
    }).catch((error: unknown) => error as Error);
    if (response instanceof Error || response.status !== 202)
      problems.push(
        `drain on port ${port}: ${response instanceof Error ? response.message : response.status}`,
      );
  }
  for (const exit of await Promise.all(exits))
    if (exit.code !== 0) problems.push(`a process exited ${exit.code}`);
  if (problems.length > 0) throw new Error(`stopping the loop: ${problems.join('; ')}`);
}

/** `uid:value,...` in uid order: one key per stored vector. */
export function vectorKey(uids: readonly number[], values: readonly number[]): string {
  return uids
    .map((uid, i) => [uid, values[i]!] as const)
    .sort(([a], [b]) => a - b)
    .map(([uid, value]) => `${uid}:${value}`)
    .join(',');
}

/** The validator's stored weights at every new block (read at that block's hash, none missed). */
function recordStoredWeights(
  api: ApiPromise,
  netuid: NetUid,
  uid: Uid,
): { vectors: Map<string, number>; stop(): Promise<void> } {
  const vectors = new Map<string, number>();
  const reads: Promise<void>[] = [];
  const subscription = api.rpc.chain.subscribeNewHeads((header) => {
    reads.push(
      (async () => {
        const at = await api.at(header.hash);
        const query = at.query as unknown as Record<
          string,
          Record<string, (...args: unknown[]) => Promise<Codec>>
        >;
        const stored = (await query.subtensorModule!.weights!(netuid, uid)).toJSON() as [number, number][];
        if (stored.length === 0) return;
        const key = vectorKey(
          stored.map(([target]) => target),
          stored.map(([, value]) => value),
        );
        const block = header.number.toNumber();
        if (!vectors.has(key) || vectors.get(key)! > block) vectors.set(key, block);
      })().catch(() => undefined),
    );
  });
  return {
    vectors,
    async stop() {
      (await subscription)();
      await Promise.all(reads);
    },
  };
}

/** Builds a block every PACE_MS (after `each`) until stopped; its first failure is rethrown. */
class BlockPacer {
  private running: Promise<void> | undefined;
  private stopped = false;
  failure: Error | undefined;

  constructor(
    private readonly devnet: Devnet,
    private readonly each: () => Promise<void>,
  ) {}

  start(): void {
    this.running = (async () => {
      while (!this.stopped) {
        try {
          await this.each();
          await this.devnet.newBlocks(1);
        } catch (error) {
          this.failure ??= error as Error;
        }
        await new Promise((resolve) => setTimeout(resolve, PACE_MS));
      }
    })();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.running;
  }
}

/**
 * drand for the test chain, run before each block the test builds: the pulses of every round up
 * to RELAY_AHEAD_ROUNDS past the chain's clock (drand is never late here), and of each round a
 * commit locked to, until it reads back (a write racing a block being built can be lost).
 * Ahead matters on spec 293: it opens a commit in the block before the validator's reveal window,
 * a few seconds before the time of the round the validator locked to.
 */
class DrandRelay {
  private readonly wanted = new Set<bigint>();
  private written = 0n;

  constructor(
    private readonly api: ApiPromise,
    private readonly endpoint: string,
    private readonly beacon: TestBeacon,
  ) {}

  want(round: bigint): void {
    this.wanted.add(round);
  }

  async relay(): Promise<void> {
    const query = this.api.query as unknown as Record<
      string,
      Record<string, (...args: unknown[]) => Promise<Codec>>
    >;
    const nowMs = Number((await query.timestamp!.now!()).toString());
    const due = roundAt(nowMs / 1000, this.beacon) + RELAY_AHEAD_ROUNDS;
    const rounds: bigint[] = [];
    for (
      let round = this.written === 0n ? due - 2n * RELAY_AHEAD_ROUNDS : this.written + 1n;
      round <= due;
      round++
    )
      rounds.push(round);
    for (const round of this.wanted) {
      if ((await query.drand!.pulses!(round)).isEmpty) rounds.push(round);
      else this.wanted.delete(round);
    }
    if (rounds.length === 0) return;
    await devSetStorage(this.endpoint, { Drand: { Pulses: rounds.map((round) => this.pulse(round)) } });
    if (due > this.written) this.written = due;
  }

  private pulse(round: bigint): [[string], { round: string; randomness: string; signature: string }] {
    const signature = this.beacon.sign(round);
    return [
      [round.toString()],
      {
        round: round.toString(),
        randomness: `0x${createHash('sha256').update(signature).digest('hex')}`,
        signature: u8aToHex(signature),
      },
    ];
  }
}

function file(dir: string, name: string, content: unknown): string {
  const path = join(dir, name);
  writeFileSync(path, JSON.stringify(content));
  return path;
}

/**
 * What every process and miner of the loop says about itself, for a timeout's message: each admin
 * listener's workers (accepted, rejects, last share, gone and why) and upstreams, and each CPU
 * miner's own count of answers and protocol violations.
 */
async function snapshot(
  adminPorts: readonly number[],
  miners: readonly { farm: number; miner: CpuMiner }[],
): Promise<string> {
  const parts: string[] = [];
  for (const port of adminPorts) {
    const status = await fetch(`http://127.0.0.1:${port}/api/status`, {
      headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
    })
      .then((response) => response.json() as Promise<StatusReport>)
      .catch((error: unknown) => error as Error);
    if (status instanceof Error) {
      parts.push(`admin ${port}: ${status.message}`);
      continue;
    }
    const now = status.generatedAt;
    const workers = status.workers.map(
      (w) =>
        `${w.worker.slice(0, 8)} accepted ${w.accepted} rejected ${JSON.stringify(w.rejected)} last ${
          w.lastShareAt === null ? 'never' : `${Math.round((now - w.lastShareAt) / 1000)}s ago`
        }${w.goneAt === null ? '' : ` gone ${Math.round((now - w.goneAt) / 1000)}s ago (${w.goneReason})`}`,
    );
    const upstreams = status.upstreams.map(
      (u) =>
        `${u.name.slice(0, 8)} ${u.healthy ? 'up' : 'down'} sessions ${u.sessions} miners ${u.miners} answers ${JSON.stringify(u.answers)} lost ${u.lostShares}`,
    );
    parts.push(`${status.role} ${port}: workers [${workers.join('; ')}] upstreams [${upstreams.join('; ')}]`);
  }
  for (const { farm, miner } of miners)
    parts.push(
      `farm ${farm} miner: ${miner.connected ? 'connected' : 'disconnected'}, reconnects ${miner.reconnects.length}, jobs ${miner.jobsReceived}, accepted ${miner.acceptedCount}, rejected ${miner.rejectedCount}, violations [${miner.violations.map((v) => v.message).join('; ')}]`,
    );
  return parts.join(' | ');
}

async function ready(port: number): Promise<boolean> {
  return (await fetch(`http://127.0.0.1:${port}/readyz`).catch(() => undefined))?.status === 200;
}

async function until(
  check: () => boolean | Promise<boolean>,
  timeoutMs: number,
  what: string,
  pacer: BlockPacer,
  explain?: () => string | Promise<string>,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (pacer.failure !== undefined) throw new Error(`building blocks failed: ${pacer.failure.message}`);
    if (Date.now() > deadline) {
      const state = explain === undefined ? '' : ` (${await explain()})`;
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${state}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
