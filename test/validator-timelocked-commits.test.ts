import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { KeyringPair } from '@polkadot/keyring/types';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { Uid } from '../src/chain/chain.js';
import { epochIndex, epochStart, formulaEpochStart } from '../src/chain/epoch.js';
import type { Hotkey } from '../src/chain/hotkey.js';
import { MemoryChain, type MemoryChainOptions, type SubnetConfig } from '../src/chain/memory-chain.js';
import { roundAt } from '../src/chain/timelock.js';
import { REVEAL_MARGIN_BLOCKS } from '../src/chain/timelocked-weights.js';
import type { Scorer } from '../validator/scoring.js';
import type { CommitModeSetting } from '../validator/timelocked-commits.js';
import { WeightPoster, type TickReport } from '../validator/weight-poster.js';
import { toU16Vector } from '../validator/weights.js';
import { testBeacon, type TestBeacon } from './support/drand-beacon.js';
import { devKeys } from './support/keys.js';

const NETUID = 3;
const OWNER_UID = 0;
const VALIDATOR_UID = 1;
const SCORES = new Map<Uid, number>([
  [2, 300],
  [3, 100],
]);

let owner: KeyringPair;
let validator: KeyringPair;
let minerA: KeyringPair;
let minerB: KeyringPair;
let beacon: TestBeacon;
beforeAll(async () => {
  [owner, validator, minerA, minerB] = (await devKeys('Owner', 'Validator', 'A', 'B')) as [
    KeyringPair,
    KeyringPair,
    KeyringPair,
    KeyringPair,
  ];
  beacon = testBeacon();
});

const dirs: string[] = [];
afterAll(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** Subnet 3 (tempo 10, rate limit 5, commit-reveal on, mainnet rules): owner 0, validator 1, miners 2 and 3. */
function subnet(options: MemoryChainOptions, config: Partial<SubnetConfig> = {}): MemoryChain {
  // A mainnet-like runtime: SubnetEpochIndex epochs, pool checks, commit_timelocked_weights.
  const chain = new MemoryChain({ rules: 'mainnet', ...options });
  chain.addSubnet(NETUID, {
    tempo: 10,
    weightsRateLimit: 5,
    commitRevealEnabled: true,
    commitRevealPeriod: 1,
    minAllowedWeights: 1,
    ownerHotkey: owner.address as Hotkey,
    ...config,
  });
  for (const key of [owner, validator, minerA, minerB]) {
    chain.register(NETUID, key.address, { stake: 1000n, validatorPermit: key === validator });
  }
  return chain;
}

const scorer: Scorer = (_metagraph, blocks) =>
  Promise.resolve({
    window: { from: blocks.from, to: blocks.to },
    scores: SCORES,
    burn: false,
    ownerUid: OWNER_UID,
    creditedDifficulty: 400,
    uncredited: { marked: 0, notInMetagraph: 0 },
  });

async function openPoster(chain: MemoryChain, commitMode: CommitModeSetting) {
  const stateDir = mkdtempSync(join(tmpdir(), 'hashrelay-timelocked-'));
  dirs.push(stateDir);
  const registry = new Registry();
  const logs: Record<string, unknown>[] = [];
  const logger = pino(
    { level: 'info' },
    { write: (line: string) => void logs.push(JSON.parse(line) as Record<string, unknown>) },
  );
  const poster = await WeightPoster.open({
    chain,
    signer: validator,
    netuid: NETUID,
    stateDir,
    scorer,
    logger,
    registry,
    commitMode,
    drandBeacon: beacon,
    // One post, at block 26 (registration at 1), revealed in the epoch of blocks 29–39.
    intervalBlocks: 25,
  });
  const metric = async (name: string, labels: Record<string, string>): Promise<number | undefined> =>
    (await registry.getSingleMetric(name)!.get()).values.find((value) =>
      Object.entries(labels).every(([key, label]) => value.labels[key] === label),
    )?.value;
  return { poster, logs, metric };
}

/** Ticks the poster at every block up to `last`, collecting the reports. */
async function run(chain: MemoryChain, poster: WeightPoster, last: number): Promise<TickReport[]> {
  const reports: TickReport[] = [];
  for (let block = await chain.currentBlock(); block <= last; block = chain.advance(1)) {
    reports.push(await poster.tick(block));
  }
  return reports;
}

const want = (() => {
  const { uids, values } = toU16Vector(SCORES, { maxWeightsLimit: 65535, minAllowedWeights: 1, n: 4 });
  return new Map(uids.map((uid, i) => [uid, values[i]]));
})();

describe('weight poster: drand-timelocked commits', () => {
  test('auto on a v4 runtime: one timelocked commit, no secret kept, the chain reveals exactly the vector', async () => {
    const chain = subnet({ drand: beacon, startTimestampMs: 1_790_000_000_000 });
    const { poster, logs, metric } = await openPoster(chain, 'auto');
    const reports = await run(chain, poster, 45);
    const posts = reports.filter((report) => report.post.kind === 'timelocked');
    expect(posts).toHaveLength(1);
    expect(reports.some((report) => report.post.kind === 'committed' || report.reveals.length > 0)).toBe(
      false,
    );
    // Nothing to reveal means nothing to persist: no salts, no pending hash commits.
    expect(poster.pendingCommits()).toEqual([]);
    expect(await chain.weightsOf(NETUID, VALIDATOR_UID)).toEqual(want);
    expect(chain.timelockedReveals()).toMatchObject([{ hotkey: validator.address, failure: undefined }]);
    const checks = reports.flatMap((report) => report.timelocked ?? []);
    expect(checks.map((check) => check.kind)).toEqual(['revealed']);
    expect(await metric('hashrelay_validator_commit_mode', { mode: 'timelocked' })).toBe(1);
    expect(await metric('hashrelay_validator_commit_mode', { mode: 'hash' })).toBe(0);
    expect(await metric('hashrelay_weights_posted_total', { result: 'revealed' })).toBe(1);
    expect(logs.find((line) => line.msg === 'weights go on chain by drand-timelocked commits')).toMatchObject(
      {
        commitMode: 'timelocked',
        setting: 'auto',
      },
    );
  });

  test('auto on a runtime without commit_timelocked_weights: hash commit-reveal, said so in log and metric', async () => {
    const chain = subnet({ timelockCall: undefined });
    const { poster, logs, metric } = await openPoster(chain, 'auto');
    const reports = await run(chain, poster, 45);
    expect(reports.filter((report) => report.post.kind === 'committed')).toHaveLength(1);
    expect(reports.flatMap((report) => report.reveals).map((reveal) => reveal.kind)).toEqual(['revealed']);
    expect(await chain.weightsOf(NETUID, VALIDATOR_UID)).toEqual(want);
    expect(await metric('hashrelay_validator_commit_mode', { mode: 'hash' })).toBe(1);
    expect(await metric('hashrelay_validator_commit_mode', { mode: 'timelocked' })).toBe(0);
    expect(logs.some((line) => line.msg === 'weights go on chain by hash commit-reveal')).toBe(true);
  });

  test('commitMode hash is obeyed on a v4 runtime; commit-reveal off posts directly', async () => {
    const hashChain = subnet({ drand: beacon });
    const hash = await openPoster(hashChain, 'hash');
    const hashReports = await run(hashChain, hash.poster, 30);
    expect(hashReports.map((report) => report.post.kind)).toContain('committed');
    expect(await hash.metric('hashrelay_validator_commit_mode', { mode: 'hash' })).toBe(1);

    const directChain = subnet({ drand: beacon }, { commitRevealEnabled: false });
    const direct = await openPoster(directChain, 'timelocked');
    const directReports = await run(directChain, direct.poster, 30);
    expect(directReports.map((report) => report.post.kind)).toContain('set');
    expect(await direct.metric('hashrelay_validator_commit_mode', { mode: 'direct' })).toBe(1);
  });

  test('commitMode timelocked on a commit_crv3_weights runtime sends the legacy payload, which it reveals', async () => {
    const chain = subnet({ drand: beacon, timelockCall: 'commit_crv3_weights' });
    const { poster } = await openPoster(chain, 'timelocked');
    const reports = await run(chain, poster, 45);
    expect(reports.filter((report) => report.post.kind === 'timelocked')).toHaveLength(1);
    expect(await chain.weightsOf(NETUID, VALIDATOR_UID)).toEqual(want);
    expect(reports.flatMap((report) => report.timelocked ?? []).map((check) => check.kind)).toEqual([
      'revealed',
    ]);
  });

  test("the drand round is aimed at the reveal epoch by the chain's SubnetEpochIndex schedule, not the old formula", async () => {
    const chain = subnet({ drand: beacon, startTimestampMs: 1_790_000_000_000 });
    // An owner-triggered epoch moves the counter's epochs away from the formula's.
    chain.triggerEpoch(NETUID, 5);
    const { poster } = await openPoster(chain, 'auto');
    const reports = await run(chain, poster, 50);
    const post = reports.map((report) => report.post).find((outcome) => outcome.kind === 'timelocked');
    if (post?.kind !== 'timelocked') throw new Error('no timelocked commit was sent');
    const schedule = await chain.epochSchedule(NETUID, post.inclusion);
    const revealFrom = epochStart(schedule, schedule.epoch + 1);
    expect(post.commit).toMatchObject({ revealFrom, revealUntil: epochStart(schedule, schedule.epoch + 2) });
    const formulaFrom = formulaEpochStart(epochIndex(post.inclusion.block, NETUID, 10) + 1, NETUID, 10);
    expect(formulaFrom).not.toBe(revealFrom); // the two rules disagree here
    const roundOf = (block: number): bigint => roundAt(chain.timestampMs(block) / 1000, beacon);
    expect(post.commit.revealRound).toBe(roundOf(revealFrom + REVEAL_MARGIN_BLOCKS));
    // No pulse that opens it is on chain before its reveal epoch.
    expect(post.commit.revealRound).toBeGreaterThan(roundOf(revealFrom - 1));
    const [reveal] = chain.timelockedReveals();
    expect(reveal).toMatchObject({ failure: undefined });
    expect(reveal!.block).toBeGreaterThanOrEqual(revealFrom);
    expect(reveal!.block).toBeLessThan(post.commit.revealUntil);
    expect(await chain.weightsOf(NETUID, VALIDATOR_UID)).toEqual(want);
  });

  test('a commit whose pulse never reaches the chain is reported not revealed after its reveal epoch', async () => {
    const chain = subnet({}); // no drand pulses reach this chain
    const { poster, logs, metric } = await openPoster(chain, 'auto');
    const reports = await run(chain, poster, 45);
    expect(reports.filter((report) => report.post.kind === 'timelocked')).toHaveLength(1);
    expect(await chain.weightsOf(NETUID, VALIDATOR_UID)).toEqual(new Map());
    expect(reports.flatMap((report) => report.timelocked ?? []).map((check) => check.kind)).toEqual([
      'not-revealed',
    ]);
    expect(await metric('hashrelay_weights_posted_total', { result: 'expired' })).toBe(1);
    expect(
      logs.find((line) => line.msg === 'timelocked weights were not revealed in their reveal epoch'),
    ).toHaveProperty('advice');
  });
});
