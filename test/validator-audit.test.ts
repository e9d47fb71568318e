import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { KeyringPair } from '@polkadot/keyring/types';
import Database from 'better-sqlite3';
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import { parseAuditTime, runAuditCommand } from '../cli/audit-command.js';
import type { Chain, Metagraph } from '../src/chain/chain.js';
import type { Hotkey } from '../src/chain/hotkey.js';
import { MemoryChain } from '../src/chain/memory-chain.js';
import type { JobRecord, Ledger, LocalVerdict } from '../src/ledger/ledger.js';
import { openSqliteLedger, type SqliteLedger } from '../src/ledger/sqlite-ledger.js';
import { silentLogger } from '../src/log/logger.js';
import type { Job } from '../src/work/job.js';
import { toJobId } from '../src/work/types.js';
import { auditWindow, candidateVersions, type AuditReport } from '../validator/audit.js';
import { BlockClock, ledgerScorer, scoreWindow } from '../validator/scoring.js';
import { WeightPoster } from '../validator/weight-poster.js';
import type { CpuMiner } from './peers/cpu-miner.js';
import {
  grindNonce,
  headerTemplate,
  rolledVersion,
  shareDifficulty,
  targetForDifficulty,
} from './peers/pow.js';
import { devKeys } from './support/keys.js';
import { ledgerDir, makeJob, makeShare, removeLedgerDirs } from './support/ledger-records.js';
import { startProxy, testConfig, type RunningProxy } from './support/proxy-harness.js';
import { testScope } from './support/scope.js';

const NETUID = 7;
const T0 = 1_790_000_000_000;
const BIP320 = 0x1fffe000;

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

const opened: Ledger[] = [];
const dirs: string[] = [];
afterEach(async () => {
  await Promise.allSettled(opened.splice(0).map((ledger) => ledger.close()));
});
afterAll(() => {
  removeLedgerDirs();
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

async function openAt(path: string): Promise<SqliteLedger> {
  const ledger = await openSqliteLedger(path);
  opened.push(ledger);
  return ledger;
}

/** Subnet with owner uid 0, validator 1, A 2, B 3; set_weights (no commit-reveal), one block between posts. */
function subnet(): MemoryChain {
  const chain = new MemoryChain();
  chain.addSubnet(NETUID, {
    ownerHotkey: owner.address as Hotkey,
    commitRevealEnabled: false,
    weightsRateLimit: 1,
    minAllowedWeights: 1,
  });
  for (const key of [owner, validator, minerA, minerB])
    chain.register(NETUID, key.address, { stake: 1n, validatorPermit: key === validator });
  return chain;
}

/** The chain as the command sees it, left open when the command closes it (the test reads it after). */
function keepOpen(chain: MemoryChain): Chain {
  return new Proxy(chain, {
    get: (target, key) =>
      key === 'close' ? () => Promise.resolve() : (Reflect.get(target, key, target) as unknown),
  });
}

interface JsonReport {
  ok: boolean;
  sharesChecked: number;
  byVerdict: Partial<Record<LocalVerdict, number>>;
  failureCounts: Record<string, number>;
  failures: { shareId: number; kind: string; miner: string; detail: string }[];
  creditDifferences: { miner: string }[];
  scores: {
    differences: { uid: number }[];
    vector: { uids: number[]; values: number[] };
    vectorsEqual: boolean;
  } | null;
  chain: {
    equal: boolean;
    uid: number | null;
    expected: { uid: number; value: number }[];
    onChain: { uid: number; value: number }[];
    differences: { uid: number; expected: number | null; onChain: number | null }[];
  } | null;
}

async function auditCli(
  args: readonly string[],
  chain?: MemoryChain,
): Promise<{ code: number; json: JsonReport | undefined; stdout: string; stderr: string }> {
  const result = await runAuditCommand(args, {
    connectChain: () =>
      chain === undefined ? Promise.reject(new Error('no chain')) : Promise.resolve(keepOpen(chain)),
  });
  const stdout = result.stdout ?? '';
  return {
    code: result.code,
    json: args.includes('--json') && stdout !== '' ? (JSON.parse(stdout) as JsonReport) : undefined,
    stdout,
    stderr: result.stderr ?? '',
  };
}

function jobOf(record: JobRecord): Job {
  return { ...record, jobId: toJobId(record.upstreamJobId) };
}

interface GroundSpec {
  readonly at: number;
  readonly miner: string;
  readonly difficulty: number;
  readonly verdict?: LocalVerdict;
  /** Rolled under BIP 320, sent as the bits alone; or the full rolled version. */
  readonly versionBits?: number;
  readonly fullVersion?: boolean;
  /** Grind a hash meeting this difficulty (default: `difficulty`), e.g. a tiny one for a low-difficulty share. */
  readonly groundAt?: number;
}

/** Shares with real proof of work on `job`, ground with the test peers' own hashing (test/peers/pow.ts). */
async function recordGround(
  ledger: Ledger,
  jobRecord: JobRecord,
  specs: readonly GroundSpec[],
  seed = 0,
): Promise<number[]> {
  const jobId = ledger.recordJob(jobRecord);
  const job = jobOf(jobRecord);
  return Promise.all(
    specs.map((spec, n) => {
      const extranonce2 = Buffer.alloc(jobRecord.extranonce2Size);
      extranonce2.writeUInt32BE(seed * 100_000 + n, extranonce2.length - 4);
      const version =
        spec.versionBits === undefined ? job.version : rolledVersion(job.version, BIP320, spec.versionBits);
      const ntime = job.ntime + (n % 30);
      const target = targetForDifficulty(spec.groundAt ?? spec.difficulty);
      const ground = grindNonce(
        headerTemplate(job, jobRecord.extranonce1, extranonce2, version, ntime),
        (v) => v <= target,
      );
      return ledger.recordShare(
        makeShare(n, jobId, {
          time: spec.at,
          miner: spec.miner,
          worker: `${spec.miner}.rig${n % 2}`,
          extranonce2,
          ntime,
          nonce: ground.nonce,
          versionBits:
            spec.versionBits === undefined ? null : spec.fullVersion === true ? version : spec.versionBits,
          assignedDifficulty: spec.difficulty,
          shareDifficulty: shareDifficulty(ground.value),
          hash: ground.hash,
          verdict: spec.verdict ?? 'accepted',
          isBlock: false,
        }),
      );
    }),
  );
}

function failuresOf(report: AuditReport): { shareId: number; kind: string }[] {
  return report.failures.map(({ shareId, kind }) => ({ shareId, kind }));
}

describe('audit of shares recorded with real proof of work', () => {
  const D = 2 ** -20;

  test('an honest ledger verifies; verdicts counted, credit and scores equal the validator’s own', async () => {
    const ledger = await openAt(join(ledgerDir(), 'ledger.sqlite'));
    const metagraph = await subnet().metagraph(NETUID);
    await recordGround(ledger, makeJob(1, { receivedAt: T0 }), [
      { at: T0 + 1, miner: minerA.address, difficulty: D },
      { at: T0 + 2, miner: minerA.address, difficulty: D * 2, versionBits: 0x00ff_e000 },
      { at: T0 + 3, miner: minerA.address, difficulty: D, versionBits: 0x1000_2000, fullVersion: true },
      { at: T0 + 4, miner: minerB.address, difficulty: D * 4 },
      { at: T0 + 5, miner: `unverified:${minerB.address}`, difficulty: D },
      { at: T0 + 6, miner: 'stranger', difficulty: D },
      { at: T0 + 7, miner: minerB.address, difficulty: D, verdict: 'stale' },
      { at: T0 + 8, miner: minerB.address, difficulty: D, verdict: 'duplicate' },
      // Refused: its hash was ground far below the difficulty it was assigned.
      { at: T0 + 9, miner: minerB.address, difficulty: 2 ** 20, groundAt: D, verdict: 'low-difficulty' },
    ]);
    await ledger.recordShare(
      makeShare(99, null, { time: T0 + 10, miner: minerA.address, verdict: 'unknown-job', hash: null }),
    );
    await recordGround(
      ledger,
      makeJob(2, { receivedAt: T0 + 20 }),
      [
        { at: T0 + 21, miner: minerB.address, difficulty: D, versionBits: 0x0000_6000 },
        { at: T0 + 60_000, miner: minerB.address, difficulty: D }, // outside the window
      ],
      1,
    );
    const window = { from: T0, to: T0 + 60_000 };

    const report = await auditWindow(ledger, window, { metagraph });
    expect(report.failures).toEqual([]);
    expect(report.ok).toBe(true);
    expect(report.sharesChecked).toBe(11);
    expect(report.byVerdict).toEqual({
      accepted: 7,
      stale: 1,
      duplicate: 1,
      'low-difficulty': 1,
      'unknown-job': 1,
    });
    expect(report.creditDifferences).toEqual([]);
    const credit = new Map(report.credit.map((row) => [row.miner, row.verified]));
    expect(credit.get(minerA.address)).toBe(D * 4);
    expect(credit.get(minerB.address)).toBe(D * 5);

    const own = await scoreWindow(ledger, window, metagraph);
    const audited = report.scores!.audited;
    expect(new Map(audited.scores)).toEqual(new Map(own.scores));
    expect(new Map(audited.scores)).toEqual(
      new Map([
        [2, D * 4],
        [3, D * 5],
      ]),
    );
    expect(audited.uncredited).toEqual(own.uncredited);
    expect(audited.uncredited).toEqual({ marked: D, notInMetagraph: D });
    expect(report.scores!.differences).toEqual([]);
    expect(report.scores!.vectorsEqual).toBe(true);
    expect(report.scores!.vector).toMatchObject({ uids: [2, 3], values: [52428, 65535] });

    // Pages of one share each: the same shares, none twice, none lost at the edges.
    const paged = await auditWindow(ledger, window, { metagraph, pageShares: 1 });
    expect(paged.sharesChecked).toBe(report.sharesChecked);
    expect(paged.byVerdict).toEqual(report.byVerdict);
    expect(paged.credit).toEqual(report.credit);
  });

  test('a share credited twice, a refused share that met its difficulty, and shares whose job is gone', async () => {
    const path = join(ledgerDir(), 'ledger.sqlite');
    const ledger = await openAt(path);
    const [first, , refused] = await recordGround(ledger, makeJob(3, { receivedAt: T0 }), [
      { at: T0 + 1, miner: minerA.address, difficulty: D },
      { at: T0 + 2, miner: minerA.address, difficulty: D },
      { at: T0 + 3, miner: minerA.address, difficulty: D, verdict: 'low-difficulty' },
    ]);
    const job4 = makeJob(4, { receivedAt: T0 });
    const onJob4 = await recordGround(
      ledger,
      job4,
      [
        { at: T0 + 4, miner: minerB.address, difficulty: D },
        { at: T0 + 5, miner: minerB.address, difficulty: D, verdict: 'stale' },
      ],
      1,
    );
    await ledger.close();

    // The first share's row copied as a new accepted share: the same work credited twice.
    // The ledger refuses to credit a proof twice, so this is a tampered file: its rule dropped.
    const db = new Database(path);
    db.pragma('foreign_keys = OFF');
    db.exec('DROP INDEX shares_credited_hash');
    const copied = Number(
      db
        .prepare(
          `INSERT INTO shares (time, miner, worker, upstream, upstream_session, job_id, extranonce2, ntime, nonce,
             version_bits, assigned_difficulty, share_difficulty, hash, verdict, upstream_verdict, upstream_error, is_block)
           SELECT time + 10, miner, worker, upstream, upstream_session, job_id, extranonce2, ntime, nonce, version_bits,
             assigned_difficulty, share_difficulty, hash, verdict, upstream_verdict, upstream_error, is_block
           FROM shares WHERE id = ?`,
        )
        .run(first).lastInsertRowid,
    );
    const job4Id = db
      .prepare<[number], { job_id: number }>('SELECT job_id FROM shares WHERE id = ?')
      .get(onJob4[0]!)!;
    db.prepare('DELETE FROM jobs WHERE id = ?').run(job4Id.job_id);
    db.close();

    const report = await auditWindow(await openAt(path), { from: T0, to: T0 + 1000 });
    expect(failuresOf(report)).toEqual([
      { shareId: refused, kind: 'refused-valid-share' },
      { shareId: onJob4[0], kind: 'missing-job' },
      { shareId: onJob4[1], kind: 'missing-job' },
      { shareId: copied, kind: 'duplicate-credit' },
    ]);
    expect(report.ok).toBe(false);
    // The ledger credits A three times and B once; only A's two distinct shares verify.
    const byMiner = new Map(report.credit.map((row) => [row.miner, row]));
    expect(byMiner.get(minerA.address)).toMatchObject({
      acceptedShares: 3,
      verified: 2 * D,
      ledgerTotal: 3 * D,
    });
    expect(byMiner.get(minerB.address)).toMatchObject({ acceptedShares: 1, verified: 0, ledgerTotal: D });
    expect(report.creditDifferences.map((row) => row.miner).sort()).toEqual(
      [minerA.address, minerB.address].sort(),
    );
  });

  test("nobody registered earned anything: the owner's uid alone, as the validator burns", async () => {
    const ledger = await openAt(join(ledgerDir(), 'ledger.sqlite'));
    const metagraph = await subnet().metagraph(NETUID);
    await recordGround(ledger, makeJob(5, { receivedAt: T0 }), [
      { at: T0 + 1, miner: `unverified:${minerA.address}`, difficulty: D },
      { at: T0 + 2, miner: 'stranger', difficulty: D },
    ]);
    const window = { from: T0, to: T0 + 1000 };
    const report = await auditWindow(ledger, window, { metagraph });
    const own = await scoreWindow(ledger, window, metagraph);
    expect(report.ok).toBe(true);
    expect(report.scores!.audited).toMatchObject({ burn: true, ownerUid: 0, creditedDifficulty: 0 });
    expect(own.burn).toBe(true);
    expect(new Map(report.scores!.audited.scores)).toEqual(new Map(own.scores));
    expect(report.scores!.vector).toMatchObject({ uids: [0], values: [65535] });
  });

  test('version bits: the job version with the rolled bits, rolled under BIP 320, then as a full version; no bits, the job’s version', () => {
    expect(candidateVersions(0x20000000, null)).toEqual([0x20000000]);
    expect(candidateVersions(0x20000000, 0x00ffe000)).toEqual([0x20ffe000, 0x00ffe000]);
    expect(candidateVersions(0x20000000, 0x20ffe000)).toEqual([0x20ffe000]);
    // Bits outside BIP 320 that are not the job's: only a wider mask explains them.
    expect(candidateVersions(0x20000000, 0x00000001)).toEqual([0x00000001]);
    // A job version with a bit inside BIP 320 (regtest, a signalling soft fork): the proxy keeps it.
    expect(candidateVersions(0x30000000, 0x00ffe000)).toEqual([0x30ffe000, 0x20ffe000, 0x00ffe000]);
  });
});

describe('hashrelay audit over a ledger written by the real proxy', () => {
  const DIFFICULTY = 2 ** -16;
  const scope = testScope({ difficulty: DIFFICULTY });

  async function settled(miners: CpuMiner[]): Promise<void> {
    for (const m of miners) m.pause();
    for (const m of miners)
      await m.waitFor((x) => x.submits.every((s) => s.reply !== undefined), 10_000, 'all submits answered');
  }

  test('verifies, reproduces the weights the validator posted, and names each tampered share', async () => {
    const from = Date.now();
    const pool = await scope.pool({ name: 'A' });
    const running: RunningProxy = await startProxy(testConfig([pool.port]));
    let stopped = false;
    const stopProxy = async (): Promise<void> => {
      if (stopped) return;
      stopped = true;
      await running.stop();
    };
    scope.defer(stopProxy);
    const miners = [
      await scope.miner(running.port, { username: `${minerA.address}.rig1` }),
      await scope.miner(running.port, {
        username: `${minerB.address}.rig1`,
        versionRolling: { mask: BIP320 },
      }),
      await scope.miner(running.port, { username: 'carol.rig1' }),
    ];
    for (const m of miners) await m.waitFor((x) => x.acceptedCount >= 4, 30_000, 'four accepted shares');
    await pool.newJob({ clean: true });
    for (const m of miners) await m.waitFor((x) => x.acceptedCount >= 7, 30_000, 'shares on the clean job');
    await settled(miners);
    await stopProxy();
    const to = Date.now() + 1;
    const path = running.ledgerPath;

    // The validator's poster scores the blocks [1, 11), which the clock maps to [from, to).
    const chain = subnet();
    chain.advance(10);
    const clock = new BlockClock();
    clock.observe(1, from);
    clock.observe(11, to);
    const stateDir = mkdtempSync(join(tmpdir(), 'hashrelay-audit-'));
    dirs.push(stateDir);
    const ledger = await openAt(path);
    const poster = await WeightPoster.open({
      chain,
      signer: validator,
      netuid: NETUID,
      stateDir,
      scorer: ledgerScorer(ledger, clock),
      logger: silentLogger(),
      intervalBlocks: 10,
    });
    const tick = await poster.tick(11);
    expect(tick.post.kind).toBe('set');
    if (tick.post.kind !== 'set') return;
    expect(tick.post.scores.window).toEqual({ from, to });
    const posted = { uids: tick.post.vector.uids, values: tick.post.vector.values };
    const metagraph: Metagraph = await chain.metagraph(NETUID);
    const direct = await auditWindow(ledger, { from, to }, { metagraph });
    await ledger.close();

    expect(direct.failures).toEqual([]);
    expect(direct.ok).toBe(true);
    expect(direct.byVerdict.accepted).toBeGreaterThanOrEqual(21);
    expect(new Map(direct.scores!.audited.scores)).toEqual(new Map(direct.scores!.validator.scores));
    expect(direct.scores!.audited.uncredited.notInMetagraph).toBeGreaterThan(0); // carol
    expect(direct.scores!.vector).toMatchObject(posted);

    const base = ['--ledger', `sqlite:${path}`, '--from', String(from), '--to', String(to)];
    const withChain = [
      ...base,
      '--chain',
      'ws://memory',
      '--netuid',
      String(NETUID),
      '--validator',
      validator.address,
    ];
    const honest = await auditCli([...withChain, '--json'], chain);
    expect(honest.stderr).toBe('');
    expect(honest.code).toBe(0);
    expect(honest.json!.ok).toBe(true);
    expect(honest.json!.sharesChecked).toBe(direct.sharesChecked);
    expect(honest.json!.chain).toMatchObject({ equal: true, uid: 1, differences: [] });
    expect(honest.json!.chain!.onChain).toEqual(
      posted.uids.map((uid, i) => ({ uid, value: posted.values[i] })),
    );
    const human = await auditCli(withChain, chain);
    expect(human.code).toBe(0);
    expect(human.stdout).toContain('weights on chain equal the recomputed vector');
    expect(human.stdout).toMatch(/result {3}OK/);

    // Version-rolled shares were among those verified.
    const db = new Database(path);
    const rows = db
      .prepare<
        [],
        {
          id: number;
          nonce: number;
          hash: Buffer;
          share_difficulty: number;
          assigned_difficulty: number;
          miner: string;
          version_bits: number | null;
        }
      >(
        `SELECT id, nonce, hash, share_difficulty, assigned_difficulty, miner, version_bits FROM shares
         WHERE verdict = 'accepted' ORDER BY id`,
      )
      .all();
    expect(rows.some((row) => row.miner === minerB.address && row.version_bits !== null)).toBe(true);
    const ofA = rows.filter((row) => row.miner === minerA.address);
    const [nonceVictim, hashVictim, difficultyVictim] = [ofA[0]!, ofA[1]!, ofA[2]!];

    const tampered = async (sql: string, value: number | Buffer, id: number): Promise<JsonReport> => {
      const before = db
        .prepare<[number], [number, Buffer, number]>(
          'SELECT nonce, hash, assigned_difficulty FROM shares WHERE id = ?',
        )
        .raw()
        .get(id)!;
      db.prepare(sql).run(value, id);
      const result = await auditCli([...withChain, '--json'], chain);
      db.prepare('UPDATE shares SET nonce = ?, hash = ?, assigned_difficulty = ? WHERE id = ?').run(
        ...before,
        id,
      );
      expect(result.code).toBe(1);
      return result.json!;
    };

    const nonce = await tampered(
      'UPDATE shares SET nonce = ? WHERE id = ?',
      (nonceVictim.nonce + 1) >>> 0,
      nonceVictim.id,
    );
    expect(nonce.failures.map(({ shareId, kind }) => ({ shareId, kind }))).toEqual([
      { shareId: nonceVictim.id, kind: 'hash-mismatch' },
    ]);
    expect(nonce.failureCounts).toEqual({ 'hash-mismatch': 1 });
    expect(nonce.creditDifferences.map((row) => row.miner)).toEqual([minerA.address]);
    expect(nonce.scores!.differences.map((row) => row.uid)).toEqual([2]);

    const flipped = Buffer.from(hashVictim.hash);
    flipped[0] = flipped[0]! ^ 1;
    const hash = await tampered('UPDATE shares SET hash = ? WHERE id = ?', flipped, hashVictim.id);
    expect(hash.failures.map(({ shareId, kind }) => ({ shareId, kind }))).toEqual([
      { shareId: hashVictim.id, kind: 'hash-mismatch' },
    ]);

    // Credited at four times the difficulty its hash meets: the ledger's totals and the validator's scores inflate.
    const raised = await tampered(
      'UPDATE shares SET assigned_difficulty = ? WHERE id = ?',
      difficultyVictim.share_difficulty * 4,
      difficultyVictim.id,
    );
    expect(raised.failures.map(({ shareId, kind }) => ({ shareId, kind }))).toEqual([
      { shareId: difficultyVictim.id, kind: 'below-assigned-difficulty' },
    ]);
    expect(raised.creditDifferences.map((row) => row.miner)).toEqual([minerA.address]);
    expect(raised.scores!.vectorsEqual).toBe(false);
    db.close();

    // Restored, it verifies again; then the validator posts other weights and the chain no longer matches.
    expect((await auditCli([...withChain, '--json'], chain)).code).toBe(0);
    chain.advance(1);
    await chain.setWeights(validator, NETUID, { uids: [2, 3], values: [65535, 1], versionKey: 0n });
    const differs = await auditCli([...withChain, '--json'], chain);
    expect(differs.code).toBe(1);
    expect(differs.json!.ok).toBe(false);
    expect(differs.json!.chain!.equal).toBe(false);
    expect(differs.json!.chain!.expected).toEqual(
      posted.uids.map((uid, i) => ({ uid, value: posted.values[i] })),
    );
    expect(differs.json!.chain!.onChain).toEqual([
      { uid: 2, value: 65535 },
      { uid: 3, value: 1 },
    ]);
    expect(differs.json!.chain!.differences.length).toBeGreaterThan(0);
    const differsHuman = await auditCli(withChain, chain);
    expect(differsHuman.stdout).toContain('weights on chain DIFFER from the recomputed vector');
    expect(differsHuman.stdout).toMatch(/result {3}FAILED/);
  });
});

describe('hashrelay audit command line', () => {
  test('times: ISO-8601 with a zone or a date, unix seconds or milliseconds', () => {
    expect(parseAuditTime('2026-09-21T12:00:00Z')).toBe(Date.UTC(2026, 8, 21, 12));
    expect(parseAuditTime('2026-09-21T14:00:00+02:00')).toBe(Date.UTC(2026, 8, 21, 12));
    expect(parseAuditTime('2026-09-21')).toBe(Date.UTC(2026, 8, 21));
    expect(parseAuditTime('1790000000')).toBe(1_790_000_000_000);
    expect(parseAuditTime('1790000000123')).toBe(1_790_000_000_123);
    expect(() => parseAuditTime('2026-09-21T12:00:00')).toThrow(/no time zone/);
    expect(() => parseAuditTime('yesterday')).toThrow();
  });

  test('usage errors exit 2 with the reason; --help exits 0', async () => {
    const path = join(ledgerDir(), 'ledger.sqlite');
    await (await openAt(path)).flush();
    const ledger = `sqlite:${path}`;
    const cases: [string[], RegExp][] = [
      [['--from', '1', '--to', '2'], /--ledger is required/],
      [['--ledger', ledger, '--from', '1'], /--from and --to are required/],
      [['--ledger', ledger, '--from', '2', '--to', '1'], /must be after --from/],
      [['--ledger', ledger, '--from', 'noon', '--to', '1'], /not an ISO-8601 time/],
      [
        ['--ledger', ledger, '--from', '1', '--to', '2', '--validator', validator.address],
        /--validator needs --chain/,
      ],
      [
        ['--ledger', ledger, '--from', '1', '--to', '2', '--chain', 'ws://x'],
        /--chain and --netuid go together/,
      ],
      [['--ledger', 'sqlite:/nonexistent/ledger.sqlite', '--from', '1', '--to', '2'], /no ledger at/],
    ];
    for (const [args, message] of cases) {
      const result = await auditCli(args);
      expect(result.code, args.join(' ')).toBe(2);
      expect(result.stderr).toMatch(message);
    }
    const help = await auditCli(['--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/unix time/);
  });

  test('an empty window verifies, also while its writer holds the ledger; an unreachable chain is a failure with the reason', async () => {
    const path = join(ledgerDir(), 'ledger.sqlite');
    const writer = await openAt(path);
    const held = await auditCli(['--ledger', `sqlite:${path}`, '--from', '1', '--to', '2']);
    expect(held.stderr).toBe('');
    expect(held.code).toBe(0);
    await writer.close();
    const empty = await auditCli([
      '--ledger',
      `sqlite:${path}`,
      '--from',
      '2026-01-01',
      '--to',
      '2026-01-02',
    ]);
    expect(empty.code).toBe(0);
    expect(empty.stdout).toContain('shares   0 checked');
    const unreachable = await auditCli([
      '--ledger',
      `sqlite:${path}`,
      '--from',
      '1',
      '--to',
      '2',
      '--chain',
      'ws://127.0.0.1:1',
      '--netuid',
      '1',
    ]);
    expect(unreachable.code).toBe(1);
    expect(unreachable.stderr).toMatch(/cannot reach the chain/);
  });
});
