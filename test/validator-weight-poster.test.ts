import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { KeyringPair } from '@polkadot/keyring/types';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import { poolChainError } from '../src/chain/chain-errors.js';
import {
  chainError,
  type Chain,
  type Metagraph,
  type NetUid,
  type RevealVector,
  type Uid,
  type WeightsVector,
} from '../src/chain/chain.js';
import type { Hotkey } from '../src/chain/hotkey.js';
import { epochIndex, MemoryChain, type SubnetConfig } from '../src/chain/memory-chain.js';
import { openSqliteLedger, type SqliteLedger } from '../src/ledger/sqlite-ledger.js';
import { BlockClock, ledgerScorer, type Scorer, type WindowScores } from '../validator/scoring.js';
import {
  adviceFor,
  firstBlockOfEpoch,
  WeightPoster,
  type TickReport,
  type WeightPosterOptions,
  type WeightPostResult,
} from '../validator/weight-poster.js';
import { toU16Vector } from '../validator/weights.js';
import { makeJob, makeShare } from './support/ledger-records.js';
import { devKeys } from './support/keys.js';

const NETUID = 3;
const OWNER_UID = 0;
const VALIDATOR_UID = 1;
const A_UID = 2;
const B_UID = 3;

let owner: KeyringPair;
let validator: KeyringPair;
let minerA: KeyringPair;
let minerB: KeyringPair;

beforeAll(async () => {
  [owner, validator, minerA, minerB] = (await devKeys('Owner', 'Validator', 'A', 'B')) as [
    KeyringPair,
    KeyringPair,
    KeyringPair,
    KeyringPair,
  ];
});

const dirs: string[] = [];
const ledgers: SqliteLedger[] = [];
afterEach(async () => {
  await Promise.allSettled(ledgers.splice(0).map((ledger) => ledger.close()));
});
afterAll(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'hashrelay-validator-'));
  dirs.push(dir);
  return dir;
}

type Method = 'metagraph' | 'setWeights' | 'commitWeights' | 'revealWeights' | 'weightsOf';

/** MemoryChain behind a thin wrapper that counts calls and can fail the next ones on purpose. */
class CountingChain implements Chain {
  readonly calls: Record<Method, number> = {
    metagraph: 0,
    setWeights: 0,
    commitWeights: 0,
    revealWeights: 0,
    weightsOf: 0,
  };
  /** Errors thrown by the next calls of a method, before (or, with `after`, after) the real call. */
  readonly faults: { method: Method; error: Error; after?: boolean }[] = [];
  /** Runs inside commitWeights before the real call (to look at disk state at send time). */
  onCommit: (() => void) | undefined;

  constructor(readonly inner: MemoryChain) {}

  private async run<T>(method: Method, call: () => Promise<T>): Promise<T> {
    this.calls[method] += 1;
    const index = this.faults.findIndex((fault) => fault.method === method);
    const fault = index < 0 ? undefined : this.faults.splice(index, 1)[0];
    if (fault !== undefined && fault.after !== true) throw fault.error;
    const result = await call();
    if (fault !== undefined) throw fault.error;
    return result;
  }

  currentBlock = (): Promise<number> => this.inner.currentBlock();
  subscribeBlocks = (onBlock: (block: number) => void): Promise<() => void> =>
    this.inner.subscribeBlocks(onBlock);
  metagraph = (netuid: NetUid): Promise<Metagraph> =>
    this.run('metagraph', () => this.inner.metagraph(netuid));
  commitments = (netuid: NetUid): ReturnType<Chain['commitments']> => this.inner.commitments(netuid);
  publishCommitment: Chain['publishCommitment'] = (signer, netuid, text) =>
    this.inner.publishCommitment(signer, netuid, text);
  setWeights = (
    signer: KeyringPair,
    netuid: NetUid,
    vector: WeightsVector,
  ): ReturnType<Chain['setWeights']> =>
    this.run('setWeights', () => this.inner.setWeights(signer, netuid, vector));
  commitWeights = (
    signer: KeyringPair,
    netuid: NetUid,
    hash: Uint8Array,
  ): ReturnType<Chain['commitWeights']> => {
    this.onCommit?.();
    return this.run('commitWeights', () => this.inner.commitWeights(signer, netuid, hash));
  };
  revealWeights = (
    signer: KeyringPair,
    netuid: NetUid,
    vector: RevealVector,
  ): ReturnType<Chain['revealWeights']> =>
    this.run('revealWeights', () => this.inner.revealWeights(signer, netuid, vector));
  weightsOf = (netuid: NetUid, uid: Uid): Promise<Map<Uid, number>> =>
    this.run('weightsOf', () => this.inner.weightsOf(netuid, uid));
  epochSchedule: Chain['epochSchedule'] = (netuid, at) => this.inner.epochSchedule(netuid, at);
  timelockRuntime: Chain['timelockRuntime'] = () => this.inner.timelockRuntime();
  commitTimelockedWeights: Chain['commitTimelockedWeights'] = (signer, netuid, commit) =>
    this.inner.commitTimelockedWeights(signer, netuid, commit);
  close = (): Promise<void> => this.inner.close();
}

/**
 * Subnet 3 (tempo 10, rate limit 5) with the owner (uid 0), a permitted validator (1) and two
 * miners (2, 3), all registered at block 1, so the first post is allowed at block 6.
 */
function subnet(
  config: Partial<SubnetConfig> = {},
  validatorPermit = true,
  chainOptions: ConstructorParameters<typeof MemoryChain>[0] = {},
): CountingChain {
  const memory = new MemoryChain(chainOptions);
  memory.addSubnet(NETUID, {
    tempo: 10,
    weightsRateLimit: 5,
    commitRevealEnabled: false,
    commitRevealPeriod: 1,
    minAllowedWeights: 1,
    ownerHotkey: owner.address as Hotkey,
    ...config,
  });
  for (const key of [owner, validator, minerA, minerB]) {
    memory.register(NETUID, key.address, {
      stake: 1000n,
      validatorPermit: key === validator && validatorPermit,
    });
  }
  return new CountingChain(memory);
}

/** A scorer that credits fixed difficulties by uid (the owner's uid alone, flagged, when empty). */
function fixedScorer(byUid: ReadonlyMap<Uid, number>): Scorer {
  return (_metagraph, blocks) => {
    const burn = byUid.size === 0;
    const scores: WindowScores = {
      window: { from: blocks.from, to: blocks.to },
      scores: burn ? new Map([[OWNER_UID, 1]]) : byUid,
      burn,
      ownerUid: OWNER_UID,
      creditedDifficulty: [...byUid.values()].reduce((a, b) => a + b, 0),
      uncredited: { marked: 0, notInMetagraph: 0 },
    };
    return Promise.resolve(scores);
  };
}

const SCORES = new Map([
  [A_UID, 300],
  [B_UID, 100],
]);

interface Opened {
  poster: WeightPoster;
  registry: Registry;
  logs: Record<string, unknown>[];
  count: (result: WeightPostResult) => Promise<number>;
}

async function openPoster(
  chain: CountingChain,
  options: Partial<WeightPosterOptions> & { stateDir?: string } = {},
): Promise<Opened> {
  const registry = new Registry();
  const logs: Record<string, unknown>[] = [];
  const logger = pino(
    { level: 'info' },
    {
      write(line: string) {
        logs.push(JSON.parse(line) as Record<string, unknown>);
      },
    },
  );
  const poster = await WeightPoster.open({
    chain,
    signer: validator,
    netuid: NETUID,
    stateDir: options.stateDir ?? tempDir(),
    scorer: fixedScorer(SCORES),
    logger,
    registry,
    intervalBlocks: 1,
    // Hash commit-reveal here; drand-timelocked commits: validator-timelocked-commits.test.ts.
    commitMode: 'hash',
    ...options,
  });
  const count = async (result: WeightPostResult): Promise<number> => {
    const metric = await registry.getSingleMetric('hashrelay_weights_posted_total')!.get();
    return metric.values.find((v) => v.labels.result === result)?.value ?? Number.NaN;
  };
  return { poster, registry, logs, count };
}

/** Advances the chain to `block` and ticks the poster at it. */
async function tickAt(chain: CountingChain, poster: WeightPoster, block: number): Promise<TickReport> {
  const now = await chain.inner.currentBlock();
  if (block < now) throw new Error(`chain is past block ${block}`);
  chain.inner.advance(block - now);
  return poster.tick(block);
}

async function gauge(registry: Registry, name: string): Promise<number | undefined> {
  return (await registry.getSingleMetric(name)!.get()).values[0]?.value;
}

function expected(scores: ReadonlyMap<Uid, number>, versionKey = 0n): WeightsVector {
  const { uids, values } = toU16Vector(scores, { maxWeightsLimit: 65535, minAllowedWeights: 1, n: 4 });
  return { uids, values, versionKey };
}

describe('weight poster: set_weights', () => {
  test('scores from a real ledger land on chain as the SDK-exact vector', async () => {
    const chain = subnet();
    const ledger = await openSqliteLedger(join(tempDir(), 'ledger.sqlite'));
    ledgers.push(ledger);
    const clock = new BlockClock();
    const t0 = 1_790_000_000_000;
    for (let block = 1; block <= 6; block++) clock.observe(block, t0 + (block - 1) * 12_000);
    const jobId = ledger.recordJob(makeJob(1));
    const shares: [string, number, number][] = [
      [minerA.address, 8, t0 + 1000],
      [minerA.address, 8, t0 + 20_000],
      [minerB.address, 3, t0 + 30_000],
      [minerB.address, 500, t0 + 60_000], // block 6: the next window's
      [`unverified:${minerB.address}`, 500, t0 + 30_000],
    ];
    await Promise.all(
      shares.map(([miner, difficulty, time], n) =>
        ledger.recordShare(
          makeShare(n, jobId, {
            miner,
            worker: miner,
            assignedDifficulty: difficulty,
            time,
            verdict: 'accepted',
          }),
        ),
      ),
    );
    const { poster, registry, count } = await openPoster(chain, { scorer: ledgerScorer(ledger, clock) });
    const report = await tickAt(chain, poster, 6);
    expect(report.post.kind).toBe('set');
    const want = expected(
      new Map([
        [A_UID, 16],
        [B_UID, 3],
      ]),
    );
    expect(report.post.kind === 'set' && report.post.vector).toEqual(want);
    expect(await chain.weightsOf(NETUID, VALIDATOR_UID)).toEqual(
      new Map(want.uids.map((uid, i) => [uid, want.values[i]])),
    );
    expect(await count('set')).toBe(1);
    expect(await gauge(registry, 'hashrelay_weights_last_posted_block')).toBe(6);
  });

  test('nothing is sent before the rate limit allows, and the metagraph is not even read', async () => {
    const chain = subnet({ weightsVersion: 7n });
    const { poster } = await openPoster(chain);
    const first = await tickAt(chain, poster, 2); // registration at block 1 set LastUpdate
    expect(first.post).toEqual({ kind: 'waiting', reason: 'rate-limit', nextBlock: 6 });
    for (let block = 3; block <= 5; block++) {
      expect((await tickAt(chain, poster, block)).post.kind).toBe('waiting');
    }
    expect(chain.calls).toMatchObject({ metagraph: 1, setWeights: 0 });
    const posted = await tickAt(chain, poster, 6);
    expect(posted.post.kind === 'set' && posted.post.vector.versionKey).toBe(7n); // the chain's WeightsVersionKey
    for (let block = 7; block <= 10; block++) await tickAt(chain, poster, block);
    expect(chain.calls).toMatchObject({ metagraph: 2, setWeights: 1 });
    expect((await tickAt(chain, poster, 11)).post.kind).toBe('set');
    expect(chain.calls.setWeights).toBe(2);
  });

  test('the posting interval spaces posts beyond the rate limit (default: one per tempo)', async () => {
    const chain = subnet();
    const { poster } = await openPoster(chain, { intervalBlocks: undefined });
    expect((await tickAt(chain, poster, 6)).post).toEqual({
      kind: 'waiting',
      reason: 'interval',
      nextBlock: 11,
    });
    expect((await tickAt(chain, poster, 11)).post.kind).toBe('set');
  });

  test("a configured version key below the subnet's is not sent", async () => {
    const chain = subnet({ weightsVersion: 7n });
    const { poster } = await openPoster(chain, { versionKey: 6n });
    const report = await tickAt(chain, poster, 6);
    expect(report.post).toMatchObject({
      kind: 'failed',
      error: 'IncorrectWeightVersionKey',
      retryable: false,
    });
    expect(report.post.kind === 'failed' && report.post.advice).toMatch(/upgrade hashrelay/);
    expect(chain.calls.setWeights).toBe(0);
  });

  test("nobody earned anything: the owner's uid gets the weight, and the log says so", async () => {
    const chain = subnet();
    const { poster, logs, registry } = await openPoster(chain, { scorer: fixedScorer(new Map()) });
    const report = await tickAt(chain, poster, 6);
    expect(report.post.kind === 'set' && report.post.scores.burn).toBe(true);
    expect(await chain.weightsOf(NETUID, VALIDATOR_UID)).toEqual(new Map([[OWNER_UID, 65535]]));
    expect(
      logs.some((line) => line.level === 40 && /weighting the subnet owner's uid/.test(String(line.msg))),
    ).toBe(true);
    expect(await gauge(registry, 'hashrelay_weights_burn_total')).toBe(1);
  });

  test('a non-retryable refusal is reported by name with advice, and not retried at the next block', async () => {
    const chain = subnet({}, false);
    const { poster, count, logs } = await openPoster(chain);
    const report = await tickAt(chain, poster, 6);
    expect(report.post).toMatchObject({
      kind: 'failed',
      error: 'NeuronNoValidatorPermit',
      retryable: false,
      advice: `this hotkey has no validator permit on subnet ${NETUID}: stake more or wait for the next epoch`,
      nextBlock: 16,
    });
    expect(logs.at(-1)).toMatchObject({ level: 50, chainError: 'NeuronNoValidatorPermit' });
    expect(await count('error')).toBe(1);
    for (let block = 7; block <= 15; block++) await tickAt(chain, poster, block);
    expect(chain.calls.setWeights).toBe(1);
    chain.inner.setPermit(NETUID, validator.address, true);
    expect((await tickAt(chain, poster, 16)).post.kind).toBe('set');
  });

  test('retryable errors back off 2, 4, … blocks, then succeed', async () => {
    const chain = subnet();
    chain.faults.push(
      { method: 'setWeights', error: chainError('Disconnected', 'endpoint dropped') },
      { method: 'setWeights', error: chainError('Disconnected', 'endpoint dropped') },
    );
    const { poster, count } = await openPoster(chain);
    expect((await tickAt(chain, poster, 6)).post).toMatchObject({
      kind: 'failed',
      error: 'Disconnected',
      retryable: true,
      nextBlock: 8,
    });
    await tickAt(chain, poster, 7);
    expect(chain.calls.setWeights).toBe(1);
    expect((await tickAt(chain, poster, 8)).post).toMatchObject({ kind: 'failed', nextBlock: 12 });
    for (let block = 9; block <= 11; block++) await tickAt(chain, poster, block);
    expect(chain.calls.setWeights).toBe(2);
    expect((await tickAt(chain, poster, 12)).post.kind).toBe('set');
    expect(await count('retryable_error')).toBe(2);
  });

  test('dry run: the vector is returned and logged, nothing is submitted', async () => {
    const chain = subnet();
    const { poster, logs, count } = await openPoster(chain, { dryRun: true });
    const report = await tickAt(chain, poster, 2); // no rate limit to wait for: nothing is sent
    expect(report.post.kind === 'dry-run' && report.post.vector).toEqual(expected(SCORES));
    expect(logs.at(-1)).toMatchObject({ msg: 'dry run: weights not submitted', uids: expected(SCORES).uids });
    expect((await tickAt(chain, poster, 3)).post.kind).toBe('waiting');
    expect(chain.calls).toMatchObject({ setWeights: 0, commitWeights: 0 });
    expect((await chain.weightsOf(NETUID, VALIDATOR_UID)).size).toBe(0);
    expect(await count('dry_run')).toBe(1);
  });

  test('a tick arriving while one runs does nothing', async () => {
    const chain = subnet();
    const { poster } = await openPoster(chain);
    chain.inner.advance(5);
    const [first, second] = await Promise.all([poster.tick(6), poster.tick(6)]);
    expect(first.post.kind).toBe('set');
    expect(second.post.kind).toBe('busy');
    expect(chain.calls.setWeights).toBe(1);
  });
});

describe('weight poster: commit-reveal', () => {
  const CR = { commitRevealEnabled: true, commitRevealPeriod: 1 };
  // Subnet 3, tempo 10: epoch = floor((block + 4) / 11); epoch 1 is blocks 7–17, epoch 2 is 18–28.

  test('a commit is revealed in its epoch by a new poster reading the same state directory', async () => {
    const chain = subnet(CR);
    const stateDir = tempDir();
    const first = await openPoster(chain, { stateDir });
    const committed = await tickAt(chain, first.poster, 8);
    if (committed.post.kind !== 'committed') throw new Error(`expected a commit, got ${committed.post.kind}`);
    expect(committed.post.commit).toMatchObject({
      commitBlock: 8,
      commitEpoch: 1,
      uids: expected(SCORES).uids,
    });
    expect(epochIndex(8, NETUID, 10)).toBe(1);
    const file = join(stateDir, `pending-commits-${NETUID}-${validator.address}.json`);
    const onDisk = JSON.parse(readFileSync(file, 'utf8')) as { commits: { salt: number[]; hash: string }[] };
    expect(onDisk.commits).toHaveLength(1);
    expect(onDisk.commits[0]!.salt).toEqual(committed.post.commit.salt);
    expect((await chain.weightsOf(NETUID, VALIDATOR_UID)).size).toBe(0);
    expect(await gauge(first.registry, 'hashrelay_weights_pending_commits')).toBe(1);

    // Restart: the first poster is gone; the second knows only the directory.
    const second = await openPoster(chain, { stateDir, intervalBlocks: 1000 });
    expect(second.poster.pendingCommits().map((c) => c.hash)).toEqual([onDisk.commits[0]!.hash]);
    expect(firstBlockOfEpoch(2, NETUID, 10)).toBe(18);
    const early = await tickAt(chain, second.poster, 17);
    expect(early.reveals).toEqual([]);
    expect(chain.calls.revealWeights).toBe(0);
    const due = await tickAt(chain, second.poster, 18);
    expect(due.reveals).toMatchObject([{ kind: 'revealed', inclusion: { block: 18 } }]);
    const want = expected(SCORES);
    expect(await chain.weightsOf(NETUID, VALIDATOR_UID)).toEqual(
      new Map(want.uids.map((uid, i) => [uid, want.values[i]])),
    );
    expect(second.poster.pendingCommits()).toEqual([]);
    expect((JSON.parse(readFileSync(file, 'utf8')) as { commits: unknown[] }).commits).toEqual([]);
    expect(readdirSync(stateDir)).toEqual([`pending-commits-${NETUID}-${validator.address}.json`]); // no temp files left
    expect(await second.count('revealed')).toBe(1);
    expect(await gauge(second.registry, 'hashrelay_weights_last_posted_block')).toBe(18);
  });

  test('a commit whose reveal epoch passed is dropped with a warning, never sent', async () => {
    const chain = subnet(CR);
    const stateDir = tempDir();
    const first = await openPoster(chain, { stateDir });
    const committed = await tickAt(chain, first.poster, 8);
    expect(committed.post.kind).toBe('committed');
    const second = await openPoster(chain, { stateDir, intervalBlocks: 1000 });
    const late = await tickAt(chain, second.poster, 29); // epoch 3
    expect(late.reveals).toMatchObject([{ kind: 'expired', epoch: 3 }]);
    expect(chain.calls.revealWeights).toBe(0);
    expect(second.poster.pendingCommits()).toEqual([]);
    expect(second.logs.some((line) => line.level === 40 && /expired/.test(String(line.msg)))).toBe(true);
    expect(await second.count('expired')).toBe(1);
  });

  test('the commit is on disk before it is sent; a refused commit leaves nothing behind', async () => {
    const chain = subnet(CR);
    const stateDir = tempDir();
    const file = join(stateDir, `pending-commits-${NETUID}-${validator.address}.json`);
    const seen: string[][] = [];
    chain.onCommit = () => {
      seen.push(
        (JSON.parse(readFileSync(file, 'utf8')) as { commits: { hash: string }[] }).commits.map(
          (c) => c.hash,
        ),
      );
    };
    chain.faults.push({
      method: 'commitWeights',
      error: chainError('TooManyUnrevealedCommits', 'ten pending'),
    });
    const { poster } = await openPoster(chain, { stateDir });
    const refused = await tickAt(chain, poster, 8);
    expect(refused.post).toMatchObject({
      kind: 'failed',
      error: 'TooManyUnrevealedCommits',
      retryable: false,
    });
    expect(seen).toHaveLength(1);
    expect(seen[0]).toHaveLength(1);
    expect(poster.pendingCommits()).toEqual([]);
    expect((JSON.parse(readFileSync(file, 'utf8')) as { commits: unknown[] }).commits).toEqual([]);
  });

  test('a commit sent when the connection dropped is kept and revealed if it landed', async () => {
    const chain = subnet(CR);
    const stateDir = tempDir();
    // The commit executes on chain, but the answer never arrives.
    chain.faults.push({
      method: 'commitWeights',
      error: chainError('Disconnected', 'lost the answer'),
      after: true,
    });
    const first = await openPoster(chain, { stateDir });
    expect((await tickAt(chain, first.poster, 8)).post).toMatchObject({
      kind: 'failed',
      error: 'Disconnected',
    });
    expect(first.poster.pendingCommits()).toMatchObject([{ commitBlock: null, commitEpoch: 1 }]);
    const second = await openPoster(chain, { stateDir, intervalBlocks: 1000 });
    const due = await tickAt(chain, second.poster, 18);
    expect(due.reveals).toMatchObject([{ kind: 'revealed' }]);
    expect((await chain.weightsOf(NETUID, VALIDATOR_UID)).size).toBe(2);
  });

  test('a reveal the chain can never accept is dropped and reported by name', async () => {
    const chain = subnet(CR);
    const stateDir = tempDir();
    const first = await openPoster(chain, { stateDir });
    await tickAt(chain, first.poster, 8);
    chain.inner.deregister(NETUID, validator.address); // its commits go with it
    chain.inner.register(NETUID, validator.address, { stake: 1000n, validatorPermit: true });
    const second = await openPoster(chain, { stateDir, intervalBlocks: 1000 });
    const due = await tickAt(chain, second.poster, 18);
    expect(due.reveals).toMatchObject([{ kind: 'failed', error: 'NoWeightsCommitFound', dropped: true }]);
    expect(second.poster.pendingCommits()).toEqual([]);
  });

  test('an unreadable state file stops start-up with what to do', async () => {
    const chain = subnet(CR);
    const stateDir = tempDir();
    writeFileSync(
      join(stateDir, `pending-commits-${NETUID}-${validator.address}.json`),
      '{"format": 1, "commits": [{}]}',
    );
    await expect(openPoster(chain, { stateDir })).rejects.toThrow(
      /commits\[0\]\.\w+ is not a string.*move it aside/,
    );
  });
});

/** Ticks each block from `from` to `to` until a tick reports a reveal outcome. */
async function revealWithin(
  chain: CountingChain,
  poster: WeightPoster,
  from: number,
  to: number,
): Promise<TickReport | undefined> {
  for (let block = from; block <= to; block++) {
    const report = await tickAt(chain, poster, block);
    if (report.reveals.length > 0) return report;
  }
  return undefined;
}

/** The weights the chain holds after a vector (its largest value is already 65535). */
function onChain(vector: WeightsVector): Map<Uid, number> {
  return new Map(vector.uids.map((uid, i) => [uid, vector.values[i]!]));
}

describe('weight poster: mainnet (pool pre-checks, SubnetEpochIndex)', () => {
  const CR = { commitRevealEnabled: true, commitRevealPeriod: 1 };
  const MAINNET = { rules: 'mainnet' } as const;

  test('a reveal the pool refuses as too early (Custom error: 17) keeps its commit and is retried in its window', async () => {
    const chain = subnet(CR, true, MAINNET); // subnet 3 at block 1: epochs fire at 10, 20, …
    const stateDir = tempDir();
    expect((await tickAt(chain, (await openPoster(chain, { stateDir })).poster, 8)).post.kind).toBe(
      'committed',
    );
    const { poster, count, logs } = await openPoster(chain, { stateDir, intervalBlocks: 1000 });
    // What mainnet's pool answers a reveal that reaches a node still in the commit's epoch.
    chain.faults.push({
      method: 'revealWeights',
      error: poolChainError('1010: Invalid Transaction: Custom error: 17', 'SubtensorModule.reveal_weights'),
    });
    const early = await tickAt(chain, poster, 10);
    expect(early.reveals).toMatchObject([
      { kind: 'failed', error: 'CommitBlockNotInRevealRange', retryable: true, dropped: false },
    ]);
    expect(poster.pendingCommits()).toHaveLength(1);
    const revealed = await revealWithin(chain, poster, 11, 19);
    expect(revealed?.reveals).toMatchObject([{ kind: 'revealed' }]);
    expect(poster.pendingCommits()).toEqual([]);
    expect(await chain.weightsOf(NETUID, VALIDATOR_UID)).toEqual(onChain(expected(SCORES)));
    expect(await count('error')).toBe(0);
    expect(logs.some((line) => /dropped/.test(String(line.msg)))).toBe(false);
  });

  test('a deferred epoch: the reveal waits for the chain to fire it instead of going in early', async () => {
    // Subnet 3 added at block 11: LastEpochBlock 8 (staggered by netuid), epochs fire at 18, 28, …
    const chain = subnet(CR, true, { ...MAINNET, startBlock: 11 });
    const stateDir = tempDir();
    const first = await openPoster(chain, { stateDir });
    const committed = await tickAt(chain, first.poster, 16); // rate limit: registration at 11 + 5
    if (committed.post.kind !== 'committed') throw new Error(`expected a commit, got ${committed.post.kind}`);
    expect(committed.post.commit.commitEpoch).toBe(0); // SubnetEpochIndex, not the old formula's 1
    const { poster, count } = await openPoster(chain, { stateDir, intervalBlocks: 1000 });
    await tickAt(chain, poster, 17);
    chain.inner.deferEpoch(NETUID, 18); // the runtime's per-block epoch cap puts it off to 19
    const revealed = await revealWithin(chain, poster, 18, 27);
    expect(revealed).toMatchObject({ block: 19, reveals: [{ kind: 'revealed' }] });
    expect(await chain.weightsOf(NETUID, VALIDATOR_UID)).toEqual(onChain(expected(SCORES)));
    expect(chain.calls.revealWeights).toBe(1);
    expect(await count('error')).toBe(0);
  });

  test('over 40 epochs every commit is revealed in its window (no drift from the old formula)', async () => {
    // Tempo 10: the old formula's epochs are 11 blocks, the counter's 10; they part within 10 epochs.
    const chain = subnet({ ...CR, tempo: 10 }, true, MAINNET);
    const { poster, count } = await openPoster(chain, { intervalBlocks: 10 });
    let committed = 0;
    for (let block = 2; block <= 400; block++) {
      const report = await tickAt(chain, poster, block);
      if (report.post.kind === 'committed') committed += 1;
    }
    expect(committed).toBeGreaterThan(35);
    expect(await count('expired')).toBe(0);
    expect(await count('error')).toBe(0);
    expect(await count('revealed')).toBe(committed - poster.pendingCommits().length);
  });

  test('a reveal whose answer was lost is confirmed from the weights on chain, not reported as refused', async () => {
    const chain = subnet(CR, true, MAINNET);
    // Subnet 3 at block 1: LastEpochBlock 0, epochs fire at 10, 20, …
    const stateDir = tempDir();
    expect((await tickAt(chain, (await openPoster(chain, { stateDir })).poster, 8)).post.kind).toBe(
      'committed',
    );
    const { poster, count } = await openPoster(chain, { stateDir, intervalBlocks: 1000 });
    chain.faults.push({
      method: 'revealWeights',
      error: chainError('Disconnected', 'lost the answer'),
      after: true,
    });
    const lost = await tickAt(chain, poster, 10);
    expect(lost.reveals).toMatchObject([{ kind: 'failed', error: 'Disconnected', dropped: false }]);
    expect(poster.pendingCommits()).toHaveLength(1);
    const settled = await revealWithin(chain, poster, 11, 19);
    // The retry meets the pool's "no commit" (16): the weights on chain say the reveal landed.
    expect(settled?.reveals).toMatchObject([{ kind: 'revealed' }]);
    expect(poster.pendingCommits()).toEqual([]);
    expect(await count('error')).toBe(0);
    expect(await count('revealed')).toBe(1);
  });

  test("each of mainnet's pool codes for weight calls gets advice an operator can act on", () => {
    const wallet = { name: 'ops', hotkey: 'v1' };
    const register = 'btcli subnets register --netuid 3 --wallet.name ops --wallet.hotkey v1';
    expect(adviceFor('UidNotFound', NETUID, wallet)).toContain(register);
    expect(adviceFor('StakeAmountTooLow', NETUID, wallet)).toContain(
      'btcli stake add --netuid 3 --wallet.name ops --wallet.hotkey v1',
    );
    expect(adviceFor('CommitNotFound', NETUID)).toBe(adviceFor('NoWeightsCommitFound', NETUID));
    expect(adviceFor('CommitBlockNotInRevealRange', NETUID)).toMatch(/retried in its window/);
    expect(adviceFor('InvalidRevealRound', NETUID)).toMatch(/drand/);
  });

  test('pool refusals of a commit are named, final, and advise what to run', async () => {
    const chain = subnet({ ...CR, stakeThreshold: 5000n }, true, MAINNET);
    const { poster } = await openPoster(chain);
    const report = await tickAt(chain, poster, 6);
    expect(report.post).toMatchObject({ kind: 'failed', error: 'StakeAmountTooLow', retryable: false });
    expect(report.post.kind === 'failed' && report.post.advice).toMatch(/btcli stake add --netuid 3/);
  });
});
