/**
 * Split accuracy (issue 4): how closely the difficulty-weighted work each validator receives
 * tracks its stake, with the real proxy in `routing.mode: weighted`, beside TaoHASH's slots.
 *
 * Real parts: the built proxy as a child process (the binary operators run) with one upstream
 * per validator, weighted by stake; one counting pool per validator on a real socket; simulated
 * ASICs on real sockets that grind real sha256d shares at the vardiff difficulty as a Poisson
 * process of their hashrate and follow clean notifies (asic-farm.ts). Time is compressed by one
 * factor k for every time constant (pool job refresh and block interval, vardiff target and
 * retarget, dwell, balancing window, evaluation windows); figures are in simulated time. The
 * default k = 10 makes the proxy's once-a-wall-second routing tick 10 simulated seconds, the
 * default minDwellSeconds: at a larger k the proxy decides less often than it would in
 * production (and its projection, which assumes minDwellSeconds, no longer matches), which
 * costs accuracy that production would not lose.
 *
 * The realised split is measured at the pools: each share that arrived at a pool on a job still
 * valid there (since its last clean job), credited at the difficulty the miner mined it at (looked up by its nonce, unique across
 * the farm). The proxy's ledger is read afterwards as a cross-check, and the placement itself
 * (hashrate × time on each pool's jobs, free of share luck) as a diagnostic. A switch is a job
 * whose pool (told by the job's prevhash, which each pool announces) differs from the previous
 * job's; the job-id session prefix gives a second count.
 *
 * TaoHASH's figure: the same stakes and the same miners (hashrates and settled difficulties),
 * the whole farm on one validator per slot (taohash-slots.ts), Poisson shares, the same windows.
 *
 *   npm run bench -- split-accuracy [--quick] [--out results.json] [--scale K]
 *                                   [--cases 10x64,100x16] [--eval-seconds S] [--parallel N]
 *                                   [--dwell S] [--balance-window S]   (scheduler knobs, simulated s)
 *                                   [--share-seconds S]                (vardiff target, simulated s)
 *                                   [--seed N]                         (other hashrates and Poisson draws)
 */
import { ADDRESS_LIMITS_OFF } from './address-limits-off.js';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import Database from 'better-sqlite3';
import type { ProxyConfigInput } from '../src/config/proxy-config.js';
import { AsicFarm } from './asic-farm.js';
import { ConfigProxyProcess } from './config-proxy-process.js';
import { CountingPool } from './counting-pool.js';
import { describeStakes, mixedHashrates, seededRandom, skewedStakes } from './split-cases.js';
import { judgeWindows, ShareStreamBuilder, type WindowSpec, type WindowVerdict } from './split-windows.js';
import {
  BLOCK_SECONDS,
  TAOHASH_WINDOW_BLOCKS,
  taohashShares,
  taohashSlots,
  taohashSwitchesPerHour,
} from './taohash-slots.js';
import { waitUntil } from './wait.js';

/** Real-time constants, in simulated seconds. */
const POOL_JOB_SECONDS = 30;
/** A new Bitcoin block (a clean job) about every ten minutes. */
const BLOCK_INTERVAL_SECONDS = 600;
const VARDIFF_TARGET_SECONDS = 3.3;
const VARDIFF_RETARGET_SECONDS = 30;
const WINDOW_SECONDS = 600;
const STEP_SECONDS = 60;
const WARMUP_SECONDS = 600;
/** The proxy's defaults for the scheduler's knobs (routing.minDwellSeconds, routing.windowSeconds). */
const MIN_DWELL_SECONDS = 5;
const BALANCE_WINDOW_SECONDS = 600;
/** ASIC hashrates in TH/s become hashes per simulated second at this scale, so a share costs 2–64 hashes. */
const HASH_SCALE = 2 ** -44;
const LOW_TH = 10;
const SPREAD = 30;
const SEED = 0x5eed_0004;
/** "Far under TaoHASH": at most this fraction of its error. */
const FAR_UNDER = 1 / 5;
const TARGET_PP = 1;
/** The proxy's routing tick (proxy.ts): a sixteenth of the dwell, between 50 ms and 1 s of wall time. */
function proxyTickWallSeconds(dwellWallSeconds: number): number {
  return Math.min(1, Math.max(0.05, dwellWallSeconds / 16));
}

interface Case {
  readonly miners: number;
  readonly validators: number;
}

interface Settings {
  readonly quick: boolean;
  readonly timeScale: number;
  readonly parallel: number;
  readonly minDwellSeconds: number;
  readonly balanceWindowSeconds: number;
  readonly seed: number;
  /** Vardiff's target seconds between a miner's shares, simulated. */
  readonly shareSeconds: number;
  readonly evalSeconds: number;
  readonly cases: readonly Case[];
  readonly out: string | undefined;
}

interface CaseResult {
  readonly miners: number;
  readonly validators: number;
  readonly stakes: number[];
  readonly stakeShape: string;
  readonly hashratesTHs: number[];
  readonly difficulties: number[];
  readonly minDwellSeconds: number;
  readonly effectiveDwellSeconds: number;
  readonly balanceWindowSeconds: number;
  readonly simulatedSeconds: number;
  readonly wallSeconds: number;
  /** At the pools: the measure the verdict is on. */
  readonly pools: WindowVerdict;
  /** Hashrate × time placement, free of share luck. */
  readonly work: WindowVerdict;
  /** The proxy's ledger (accepted shares, assigned difficulty) over the same windows. */
  readonly ledger: WindowVerdict | undefined;
  readonly switchesPerMinerHour: number;
  readonly sessionSwitchesPerPoolSwitch: number;
  readonly taohash: {
    readonly sameWindows: WindowVerdict;
    readonly fullCycle: WindowVerdict;
    readonly switchesPerMinerHour: number;
    readonly slots: number;
  };
  readonly counts: {
    readonly sharesSubmitted: number;
    readonly sharesAtPools: number;
    readonly staleAtPools: number;
    readonly unmatchedAtPools: number;
    /** Arrived at a pool other than the one whose job it was ground on. */
    readonly misrouted: number;
    /** Switches that arrived as a notify without clean_jobs (should be none). */
    readonly uncleanSwitches: number;
    readonly accepted: number;
    readonly refused: number;
    readonly errors: Record<string, number>;
    readonly minerFailures: string[];
    readonly proxyProblems: Record<string, number>;
  };
  /**
   * Shares the proxy called duplicates: a miner re-finding work in space it already searched
   * (sent the same upstream job again and restarting extranonce2). Target 0.
   */
  readonly duplicates: {
    readonly total: number;
    readonly submitted: number;
    /** Per miner: duplicates / shares submitted. */
    readonly perMinerRate: number[];
    readonly worstMinerRate: number;
  };
  readonly proxyCpuSeconds: number;
  /** This process's event-loop delay during the run (wall ms). */
  readonly eventLoopDelayMs: { readonly p99: number; readonly max: number };
  readonly verdict: 'PASS' | 'MISS';
  readonly verdictReason: string;
}

// One 100-miner case (the heaviest) in each round of side-by-side cases.
const FULL_CASES: Case[] = [2, 16, 64].flatMap((validators) =>
  [100, 10, 3, 1].map((miners) => ({ miners, validators })),
);
const QUICK_CASES: Case[] = [
  { miners: 1, validators: 16 },
  { miners: 10, validators: 64 },
  { miners: 100, validators: 16 },
];

function parseSettings(argv: readonly string[]): Settings {
  const quick = argv.includes('--quick');
  const value = (flag: string): string | undefined => {
    const i = argv.indexOf(flag);
    return i < 0 ? undefined : argv[i + 1];
  };
  const scale = Number(value('--scale') ?? 10);
  const parallel = Number(value('--parallel') ?? (quick ? 3 : 4));
  if (!(Number.isInteger(parallel) && parallel >= 1))
    throw new Error(`--parallel must be a positive integer, got ${value('--parallel')}`);
  if (!(scale > 0)) throw new Error(`--scale must be a positive number, got ${value('--scale')}`);
  const only = value('--cases');
  const cases =
    only === undefined
      ? quick
        ? QUICK_CASES
        : FULL_CASES
      : only.split(',').map((text) => {
          const [miners, validators] = text.split('x').map(Number);
          if (!(miners! >= 1 && validators! >= 1))
            throw new Error(`--cases takes MINERSxVALIDATORS,…, e.g. 10x64; got ${text}`);
          return { miners: miners!, validators: validators! };
        });
  return {
    quick,
    timeScale: scale,
    parallel,
    minDwellSeconds: Number(value('--dwell') ?? MIN_DWELL_SECONDS),
    balanceWindowSeconds: Number(value('--balance-window') ?? BALANCE_WINDOW_SECONDS),
    shareSeconds: Number(value('--share-seconds') ?? VARDIFF_TARGET_SECONDS),
    seed: Number(value('--seed') ?? SEED),
    evalSeconds: Number(value('--eval-seconds') ?? (quick ? 900 : 3000)),
    cases,
    out: value('--out'),
  };
}

export async function runSplitAccuracyBench(argv: readonly string[] = process.argv.slice(2)): Promise<void> {
  const settings = parseSettings(argv);
  const k = settings.timeScale;
  const simulated = WARMUP_SECONDS + settings.evalSeconds;
  console.log(`\n# split accuracy${settings.quick ? ' (quick)' : ''}`);
  console.log(
    `time compressed ×${k}: pool jobs every ${POOL_JOB_SECONDS} s, a new block (clean job) every ~${BLOCK_INTERVAL_SECONDS} s, vardiff target ${settings.shareSeconds} s ` +
      `(retarget ${VARDIFF_RETARGET_SECONDS} s), balancing window ${settings.balanceWindowSeconds} s, min dwell ${settings.minDwellSeconds} s ` +
      `(the proxy re-decides every ${(proxyTickWallSeconds(settings.minDwellSeconds / k) * k).toFixed(2)} s simulated; faster miners dwell down to a quarter), all simulated; ` +
      `${simulated} s simulated per case (${(simulated / k).toFixed(0)} s wall), ${settings.parallel} cases at a time`,
  );
  console.log(
    `windows: ${WINDOW_SECONDS} s sliding every ${STEP_SECONDS} s, from ${WARMUP_SECONDS} s (the first window is warm-up, left out) ` +
      `to ${simulated} s; error = max over windows and validators of |realised − stake share|, pp`,
  );
  console.log(
    `miners: ${LOW_TH}–${LOW_TH * SPREAD} TH/s log-uniform (seed ${settings.seed.toString(16)}), difficulties scaled by 2^-44 ` +
      `so a share costs 2–64 sha256d; TaoHASH: ${TAOHASH_WINDOW_BLOCKS}-block window of ${BLOCK_SECONDS} s blocks, ` +
      `slots floor(share × 720) with 40 minimum, largest stake first`,
  );
  for (const validators of new Set(settings.cases.map((c) => c.validators)))
    console.log(`stakes: ${describeStakes(skewedStakes(validators))}`);

  // Cases run side by side (each its own proxy, pools and farm): at ×10 one case uses a
  // fraction of a core, and the decisions the proxy makes per wall second stay those of production.
  const results: CaseResult[] = new Array<CaseResult>(settings.cases.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < settings.cases.length) {
      const index = next++;
      const result = await runCase(settings.cases[index]!, settings);
      results[index] = result;
      console.log(caseLine(result));
    }
  };
  await Promise.all(Array.from({ length: Math.min(settings.parallel, settings.cases.length) }, worker));
  console.log('');
  printTable([...results].sort((a, b) => a.miners - b.miners || a.validators - b.validators));
  if (settings.out !== undefined) {
    writeFileSync(
      settings.out,
      JSON.stringify(
        {
          bench: 'split-accuracy',
          quick: settings.quick,
          timeScale: k,
          simulatedSecondsPerCase: simulated,
          warmupSeconds: WARMUP_SECONDS,
          windowSeconds: WINDOW_SECONDS,
          stepSeconds: STEP_SECONDS,
          targetPp: TARGET_PP,
          farUnderTaohash: FAR_UNDER,
          cases: results,
        },
        null,
        2,
      ),
    );
    console.log(`results written to ${settings.out}`);
  }
}

async function runCase(c: Case, settings: Settings): Promise<CaseResult> {
  const k = settings.timeScale;
  const end = WARMUP_SECONDS + settings.evalSeconds;
  const stakes = skewedStakes(c.validators);
  const random = seededRandom(settings.seed + c.miners * 1000 + c.validators);
  const hashratesTHs = mixedHashrates(c.miners, random, LOW_TH, SPREAD);
  const hashrates = hashratesTHs.map((th) => th * 1e12 * HASH_SCALE);
  const { minDwellSeconds, balanceWindowSeconds } = settings;
  // The proxy ticks 16 times per dwell (proxyTickWallSeconds), so any dwell is honoured as given.
  const effectiveDwellSeconds = minDwellSeconds;

  const poolOfPrevhash = new Map<string, number>();
  const pools = await Promise.all(
    stakes.map((_, index) =>
      CountingPool.start({
        jobIntervalMs: (POOL_JOB_SECONDS / k) * 1000,
        // Blocks land at different moments at each pool, as the pools' clocks differ.
        blockIntervalMs: ((BLOCK_INTERVAL_SECONDS * (0.9 + 0.2 * random())) / k) * 1000,
        onBlock: (prevhash) => poolOfPrevhash.set(prevhash, index),
      }),
    ),
  );
  const names = stakes.map((_, i) => `v${String(i).padStart(2, '0')}`);
  const workDir = mkdtempSync(join(tmpdir(), 'hashrelay-split-'));
  const ledgerPath = join(workDir, 'ledger.sqlite');
  const config: ProxyConfigInput = {
    listen: ['127.0.0.1:0'],
    upstreams: pools.map((pool, i) => ({
      url: `stratum+tcp://farm:x@127.0.0.1:${pool.port}`,
      name: names[i]!,
      weight: stakes[i]!,
    })),
    ledger: `sqlite:${ledgerPath}`,
    logLevel: 'info',
    vardiff: {
      initialDifficulty: 2 ** -26,
      minDifficulty: 2 ** -32,
      targetShareSeconds: settings.shareSeconds / k,
      retargetSeconds: VARDIFF_RETARGET_SECONDS / k,
    },
    // The per-connection flood limit is a wall-clock rate: scaled with everything else.
    // Every simulated miner connects from 127.0.0.1: no per-address limits.
    limits: {
      messagesPerSecond: 50 * k,
      messageBurst: 200 * k,
      ...ADDRESS_LIMITS_OFF,
    },
    routing: {
      mode: 'weighted',
      minDwellSeconds: minDwellSeconds / k,
      windowSeconds: balanceWindowSeconds / k,
    },
    drainSeconds: 2,
  };
  const proxy = await ConfigProxyProcess.start(config, workDir);
  let farm: AsicFarm | undefined;
  try {
    await waitUntil(
      () => pools.every((pool) => pool.subscribedConnections > 0),
      15_000,
      'the proxy to open a session to every pool',
      () => `${pools.filter((pool) => pool.subscribedConnections > 0).length} of ${pools.length}`,
    );
    await sleep(200); // the sessions' first jobs
    const epoch = performance.now();
    const epochDate = Date.now();
    farm = new AsicFarm({
      host: '127.0.0.1',
      port: proxy.port,
      hashrates,
      timeScale: k,
      epoch,
      poolOf: (prevhash) => poolOfPrevhash.get(prevhash),
      random,
    });
    const cpuBefore = proxy.cpuSeconds();
    // This process runs every case's miners and pools: a late event loop delays shares, which
    // the pools then time late; reported so a run on a busy machine shows it.
    const loopDelay = monitorEventLoopDelay({ resolution: 10 });
    loopDelay.enable();
    await farm.connect();
    await sleep(epoch + (end / k) * 1000 - performance.now());
    farm.stop();
    loopDelay.disable();
    const eventLoopDelayMs = { p99: loopDelay.percentile(99) / 1e6, max: loopDelay.max / 1e6 };
    const proxyCpuSeconds = proxy.cpuSeconds() - cpuBefore;
    await sleep(300); // shares in flight reach the pools
    const wallSeconds = (performance.now() - epoch) / 1000;

    const atPools = new ShareStreamBuilder();
    let sharesAtPools = 0;
    let stale = 0;
    let unmatched = 0;
    let misrouted = 0;
    pools.forEach((pool, index) => {
      const submits = pool.submits();
      for (let i = 0; i < submits.count; i++) {
        sharesAtPools++;
        const share = farm!.shares.get(submits.nonce[i]!);
        if (share === undefined) {
          unmatched++;
          continue;
        }
        if (share.pool !== index) misrouted++;
        if (submits.stale[i] === 1) {
          stale++;
          continue;
        }
        atPools.push(farm!.simTime(submits.at[i]!), index, share.difficulty);
      }
    });
    const spec: WindowSpec = {
      from: WARMUP_SECONDS,
      to: end,
      windowSeconds: WINDOW_SECONDS,
      stepSeconds: STEP_SECONDS,
    };
    const poolVerdict = judgeWindows(atPools.build(), stakes, spec);
    const workVerdict = judgeWindows(farm.workStream(STEP_SECONDS, end), stakes, spec);

    const switchesPerMinerHour = farm.switchesBetween(WARMUP_SECONDS, end) / ((end - WARMUP_SECONDS) / 3600);
    const counts = farm.switchCounts();
    const poolSwitches = counts.reduce((a, m) => a + m.pool, 0);
    const sessionSwitches = counts.reduce((a, m) => a + m.session, 0);
    const uncleanSwitches = counts.reduce((a, m) => a + m.unclean, 0);

    const perMiner = farm.duplicateCounts();
    const perMinerRate = perMiner.map((m) => (m.submitted === 0 ? 0 : m.duplicates / m.submitted));
    const duplicates = {
      total: perMiner.reduce((sum, m) => sum + m.duplicates, 0),
      submitted: perMiner.reduce((sum, m) => sum + m.submitted, 0),
      perMinerRate,
      worstMinerRate: Math.max(0, ...perMinerRate),
    };
    const problems = Object.fromEntries(proxy.problems);
    await proxy.stop();
    const ledgerVerdict = readLedger(ledgerPath, names, stakes, epochDate, k, spec);

    const difficulties = farm.difficulties();
    const taoRandom = seededRandom(settings.seed ^ (c.miners * 7919 + c.validators));
    const slots = taohashSlots(stakes);
    const miners = hashrates.map((hashrate, i) => ({ hashrate, difficulty: difficulties[i]! }));
    const cycle = TAOHASH_WINDOW_BLOCKS * BLOCK_SECONDS;
    const taohash = {
      sameWindows: judgeWindows(taohashShares(slots, miners, end, taoRandom), stakes, spec),
      fullCycle: judgeWindows(taohashShares(slots, miners, cycle + WINDOW_SECONDS, taoRandom), stakes, {
        from: 0,
        to: cycle + WINDOW_SECONDS,
        windowSeconds: WINDOW_SECONDS,
        stepSeconds: STEP_SECONDS,
      }),
      switchesPerMinerHour: taohashSwitchesPerHour(slots),
      slots: slots.length,
    };

    const best = poolVerdict.worstPp;
    const vsTaohash = best <= taohash.sameWindows.worstPp * FAR_UNDER;
    const underTarget = c.miners < 10 || best < TARGET_PP;
    const reasons: string[] = [];
    if (c.miners >= 10) reasons.push(`${best.toFixed(2)} pp ${underTarget ? '<' : '≥'} ${TARGET_PP} pp`);
    reasons.push(
      `${vsTaohash ? '≤' : '>'} ${FAR_UNDER.toFixed(1)} × TaoHASH's ${taohash.sameWindows.worstPp.toFixed(1)} pp`,
    );
    if (duplicates.total > 0) reasons.push(`${duplicates.total} duplicate shares (target 0)`);
    return {
      miners: c.miners,
      validators: c.validators,
      stakes,
      stakeShape: describeStakes(stakes),
      hashratesTHs,
      difficulties,
      minDwellSeconds,
      effectiveDwellSeconds,
      balanceWindowSeconds,
      simulatedSeconds: end,
      wallSeconds,
      pools: poolVerdict,
      work: workVerdict,
      ledger: ledgerVerdict,
      switchesPerMinerHour,
      sessionSwitchesPerPoolSwitch: poolSwitches === 0 ? 1 : sessionSwitches / poolSwitches,
      taohash,
      counts: {
        sharesSubmitted: farm.shares.size,
        sharesAtPools,
        staleAtPools: stale,
        unmatchedAtPools: unmatched,
        misrouted,
        uncleanSwitches,
        accepted: farm.answers.accepted,
        refused: farm.answers.refused,
        errors: Object.fromEntries(farm.answers.errors),
        minerFailures: farm.failures(),
        proxyProblems: problems,
      },
      duplicates,
      proxyCpuSeconds,
      eventLoopDelayMs,
      verdict: underTarget && vsTaohash && duplicates.total === 0 ? 'PASS' : 'MISS',
      verdictReason: reasons.join('; '),
    };
  } finally {
    farm?.stop();
    await proxy.stop();
    await Promise.all(pools.map((pool) => pool.close()));
    rmSync(workDir, { recursive: true, force: true });
  }
}

/** The proxy's own account: accepted shares' assigned difficulty by upstream, over the same windows. */
function readLedger(
  path: string,
  names: readonly string[],
  stakes: readonly number[],
  epochDate: number,
  timeScale: number,
  spec: WindowSpec,
): WindowVerdict | undefined {
  let db: Database.Database;
  try {
    db = new Database(path, { readonly: true, fileMustExist: true });
  } catch {
    return undefined;
  }
  try {
    const index = new Map(names.map((name, i) => [name, i]));
    const builder = new ShareStreamBuilder();
    const rows = db
      .prepare(`SELECT time, upstream, assigned_difficulty AS d FROM shares WHERE verdict = 'accepted'`)
      .all() as { time: number; upstream: string; d: number }[];
    for (const row of rows) {
      const upstream = index.get(row.upstream);
      if (upstream === undefined) continue;
      builder.push(((row.time - epochDate) * timeScale) / 1000, upstream, row.d);
    }
    return judgeWindows(builder.build(), stakes, spec);
  } finally {
    db.close();
  }
}

function caseLine(r: CaseResult): string {
  const ledger = r.ledger === undefined ? 'n/a' : r.ledger.worstPp.toFixed(2);
  return (
    `  ${String(r.miners).padStart(3)} miners × ${String(r.validators).padStart(2)} validators: ` +
    `${r.pools.worstPp.toFixed(2)} pp (v${r.pools.worstUpstream}; ledger ${ledger}, placement ${r.work.worstPp.toFixed(2)}, ` +
    `noise σ ${r.pools.noiseSigmaPp.toFixed(2)}), ${r.switchesPerMinerHour.toFixed(0)} switches/miner/h, ` +
    `${r.pools.sharesPerWindow.mean.toFixed(0)} shares/window; TaoHASH ${r.taohash.sameWindows.worstPp.toFixed(1)} pp; ` +
    `${r.wallSeconds.toFixed(0)} s wall, proxy ${r.proxyCpuSeconds.toFixed(1)} CPU s, ` +
    `loop delay p99 ${r.eventLoopDelayMs.p99.toFixed(0)} ms; ` +
    `stale ${r.counts.staleAtPools}, unmatched ${r.counts.unmatchedAtPools}, misrouted ${r.counts.misrouted}, ` +
    `unclean switches ${r.counts.uncleanSwitches}, ` +
    `duplicates ${r.duplicates.total}/${r.duplicates.submitted} (worst miner ${percent(r.duplicates.worstMinerRate)}), ` +
    `refused ${r.counts.refused + Object.values(r.counts.errors).reduce((a, b) => a + b, 0)}` +
    (r.counts.minerFailures.length > 0 ? `, miner failures: ${r.counts.minerFailures.join('; ')}` : '')
  );
}

function percent(rate: number): string {
  return `${(rate * 100).toFixed(1)} %`;
}

function printTable(results: readonly CaseResult[]): void {
  const header = [
    'miners',
    'vals',
    'max err pp',
    'worst',
    'ledger pp',
    'placement pp',
    'noise σ pp',
    'shares/win',
    'sw/miner/h',
    'TaoHASH pp',
    'TaoHASH cycle pp',
    'TaoHASH sw/h',
    'dup worst miner',
    'verdict',
  ];
  const rows = results.map((r) => [
    String(r.miners),
    String(r.validators),
    r.pools.worstPp.toFixed(2),
    `v${r.pools.worstUpstream}`,
    r.ledger === undefined ? 'n/a' : r.ledger.worstPp.toFixed(2),
    r.work.worstPp.toFixed(2),
    r.pools.noiseSigmaPp.toFixed(2),
    r.pools.sharesPerWindow.mean.toFixed(0),
    r.switchesPerMinerHour.toFixed(1),
    r.taohash.sameWindows.worstPp.toFixed(1),
    r.taohash.fullCycle.worstPp.toFixed(1),
    r.taohash.switchesPerMinerHour.toFixed(1),
    percent(r.duplicates.worstMinerRate),
    `${r.verdict} (${r.verdictReason})`,
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  const line = (cells: readonly string[]): string =>
    cells.map((cell, i) => (i === cells.length - 1 ? cell : cell.padStart(widths[i]!))).join('  ');
  console.log(line(header));
  for (const row of rows) console.log(line(row));
}
