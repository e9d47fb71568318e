/**
 * The proxy under load, end to end over real TCP: load generator → hashrelay proxy (a child
 * process, durable SQLite ledger) → sink pool, for several connection counts and share rates.
 * Measures sustained accepted shares/s, shares forwarded, the latency a share gains on its
 * way to the pool (against the load generator pointed straight at the sink), the miner's
 * answer latency (which includes the ledger commit), the proxy's memory per connection, and
 * how long a clean job takes to reach every miner. Load generator and sink run in this
 * process; all three share this machine's cores, which the figures include.
 *
 * Environment (defaults in brackets):
 *   HASHRELAY_BENCH_CONNECTIONS      connection counts, comma-separated      [1000,10000]
 *   HASHRELAY_BENCH_RATES            offered shares/s, comma-separated       [1000,5000]
 *   HASHRELAY_BENCH_SECONDS          send window per rate through the proxy  [20]
 *   HASHRELAY_BENCH_BASELINE_SECONDS send window per rate straight to the sink, 0 skips it [10]
 *   HASHRELAY_BENCH_WARMUP_SECONDS   first seconds of each window left out of the figures [2]
 *   HASHRELAY_BENCH_FANOUT_ROUNDS    clean jobs broadcast per case          [3]
 *   HASHRELAY_BENCH_BATCH            connections opened at once              [500]
 *   HASHRELAY_BENCH_CPU_PROF         a directory: profile the proxy (node --cpu-prof) and
 *                                    print its hottest functions
 *
 * After a build (npx tsc -p tsconfig.build.json):
 *   node -e "import('./dist/bench/proxy-load.js').then((m) => m.runProxyLoadBench())"
 * The load generator alone, against any Stratum endpoint: bench/loadgen-cli.ts.
 */
import { ADDRESS_LIMITS_OFF } from './address-limits-off.js';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { summarizeCpuProfile } from './cpu-profile.js';
import { LoadGenerator, openFileLimit, ReplyKind, type SubmitLog } from './loadgen.js';
import { ProxyProcess } from './proxy-process.js';
import { machineBusySeconds } from './proc-stats.js';
import { SinkPool, type SinkSubmits } from './sink-pool.js';
import { waitUntil } from './wait.js';

const TINY_DIFFICULTY = 2 ** -32;
/** File descriptors this process keeps besides its sockets (stdio, the child's pipes, libuv). */
const FD_RESERVE = 128;

const TARGET_RSS_BYTES = 1024 ** 3;
const TARGET_RSS_CONNECTIONS = 10_000;
const TARGET_ADDED_P99_MS = 5;
const TARGET_ADDED_RATE = 5000;
const TARGET_FANOUT_MS = 100;
const TARGET_FANOUT_CONNECTIONS = 10_000;

interface Settings {
  readonly connections: readonly number[];
  readonly rates: readonly number[];
  readonly seconds: number;
  readonly baselineSeconds: number;
  readonly warmupSeconds: number;
  readonly fanoutRounds: number;
  readonly batch: number;
  readonly cpuProfileDir: string | undefined;
}

interface Percentiles {
  readonly count: number;
  readonly p50: number;
  readonly p99: number;
  readonly max: number;
}

interface RateFigures {
  readonly rate: number;
  /** Over the window after the warm-up: submits sent, and of those the ones answered true in it. */
  readonly sentPerSecond: number;
  readonly acceptedPerSecond: number;
  readonly sent: number;
  readonly accepted: number;
  readonly refused: number;
  readonly errors: ReadonlyMap<string, number>;
  readonly unanswered: number;
  readonly skipped: number;
  readonly unsolved: number;
  /** Shares of the run that reached the sink. */
  readonly forwarded: number;
  /** Submit sent → same share read by the sink, ms (shares sent after the warm-up). */
  readonly toPool: Percentiles;
  /** Submit sent → answer read, ms (accepted shares sent after the warm-up). */
  readonly reply: Percentiles;
  readonly cpu: CpuFigures;
  /** From the proxy's own /metrics over the run. */
  readonly proxyLoop: ProxyLoopFigures | undefined;
}

/** Cores busy during a run (send window and the wait for the last answers). */
interface CpuFigures {
  readonly proxy: number | undefined;
  /** The proxy's main thread alone: 1.00 is saturated, whatever the other cores do. */
  readonly proxyMain: number | undefined;
  /** This process: load generator and sink. */
  readonly bench: number;
  /** Everything else on the machine (other jobs on a shared host). */
  readonly others: number;
}

interface ProxyLoopFigures {
  /** Event-loop delay (prom-client's monitorEventLoopDelay, 10 ms resolution included), ms. */
  readonly delayP99Ms: number;
  readonly delayMaxMs: number;
  /** Garbage collection pauses, ms per second of run. */
  readonly gcMsPerSecond: number;
}

type RunCounts = Omit<RateFigures, 'cpu' | 'proxyLoop'>;

interface FanoutFigures extends Percentiles {
  /** Connections that never received the job within the timeout. */
  readonly missing: number;
  /** The sink's write loop, ms (worst round). */
  readonly sinkWriteMs: number;
  /** Last arrival less the sink's write loop, ms (worst round). */
  readonly readAllMs: number;
}

interface PathFigures {
  readonly connections: number;
  readonly connectSeconds: number;
  readonly fanout: FanoutFigures;
  readonly rates: readonly RateFigures[];
  readonly disconnects: ReadonlyMap<string, number>;
}

interface ProxyFigures extends PathFigures {
  readonly rssBefore: number;
  readonly rssConnected: number;
  readonly rssAfterLoad: number;
  readonly rssPeak: number;
  readonly problems: ReadonlyMap<string, number>;
}

interface CaseFigures {
  readonly connections: number;
  readonly direct: PathFigures | undefined;
  readonly proxy: ProxyFigures;
}

export async function runProxyLoadBench(): Promise<void> {
  const settings = readSettings();
  const limit = openFileLimit();
  const largest = Math.max(...settings.connections);
  console.log('# proxy load: load generator → hashrelay proxy (child process, SQLite ledger) → sink pool');
  console.log(
    `connections ${settings.connections.join(', ')}; rates ${settings.rates.join(', ')} shares/s; ` +
      `${settings.seconds} s per rate via the proxy, ${settings.baselineSeconds} s straight to the sink; ` +
      `first ${settings.warmupSeconds} s of each left out; difficulty 2^-32 (every share forwards)`,
  );
  console.log(
    'load generator and sink run in this process, the proxy in another: all share this machine’s cores',
  );
  if (limit !== undefined && limit < largest + FD_RESERVE) {
    throw new Error(
      `ulimit -n is ${limit}: ${largest} connections need at least ${largest + FD_RESERVE} open files ` +
        'in this process (and as many in the proxy). Raise it (ulimit -n) or set HASHRELAY_BENCH_CONNECTIONS lower.',
    );
  }

  const workDir = mkdtempSync(join(tmpdir(), 'hashrelay-proxy-load-'));
  const removeWorkDir = (): void => {
    rmSync(workDir, { recursive: true, force: true });
  };
  // Interrupted, the process exits through its 'exit' hooks: the proxy is killed, files removed.
  const interrupt = (signal: NodeJS.Signals): void => {
    process.exit(signal === 'SIGINT' ? 130 : 143);
  };
  process.once('exit', removeWorkDir);
  process.once('SIGINT', interrupt);
  process.once('SIGTERM', interrupt);
  const results: CaseFigures[] = [];
  try {
    for (const connections of settings.connections) {
      console.log(`\n## ${connections} connections`);
      let direct: PathFigures | undefined;
      if (settings.baselineSeconds > 0) {
        // Straight to the sink this process holds both ends of every connection.
        const fit =
          limit === undefined ? connections : Math.min(connections, Math.floor((limit - FD_RESERVE) / 2));
        if (fit < connections)
          console.log(
            `baseline: ${fit} connections, not ${connections}: with both ends in this process ulimit -n ${limit} allows no more`,
          );
        direct = await measureDirect(fit, settings);
      }
      const proxy = await measureProxy(connections, settings, workDir, results.length);
      results.push({ connections, direct, proxy });
    }
  } finally {
    process.off('SIGINT', interrupt);
    process.off('SIGTERM', interrupt);
    process.off('exit', removeWorkDir);
    removeWorkDir();
  }
  printSummary(results, settings);
}

function readSettings(): Settings {
  const list = (name: string, fallback: number[]): number[] => {
    const text = process.env[name];
    if (text === undefined || text.trim() === '') return fallback;
    const values = text.split(',').map((part) => Number(part.trim()));
    if (values.some((value) => !Number.isFinite(value) || value <= 0))
      throw new Error(`${name} must be positive numbers separated by commas, got '${text}'`);
    return values;
  };
  const number = (name: string, fallback: number, min = 0): number => {
    const text = process.env[name];
    if (text === undefined || text.trim() === '') return fallback;
    const value = Number(text);
    if (!Number.isFinite(value) || value < min)
      throw new Error(`${name} must be a number ≥ ${min}, got '${text}'`);
    return value;
  };
  const cpuProfile = process.env.HASHRELAY_BENCH_CPU_PROF;
  const seconds = number('HASHRELAY_BENCH_SECONDS', 20, 1);
  const warmupSeconds = number('HASHRELAY_BENCH_WARMUP_SECONDS', 2);
  const baselineSeconds = number('HASHRELAY_BENCH_BASELINE_SECONDS', 10);
  if (warmupSeconds >= seconds || (baselineSeconds > 0 && warmupSeconds >= baselineSeconds))
    throw new Error('HASHRELAY_BENCH_WARMUP_SECONDS must be shorter than every send window');
  return {
    connections: list('HASHRELAY_BENCH_CONNECTIONS', [1000, 10_000]).map(Math.round),
    rates: list('HASHRELAY_BENCH_RATES', [1000, 5000]),
    seconds,
    baselineSeconds,
    warmupSeconds,
    fanoutRounds: Math.round(number('HASHRELAY_BENCH_FANOUT_ROUNDS', 3, 1)),
    batch: Math.round(number('HASHRELAY_BENCH_BATCH', 500, 1)),
    cpuProfileDir: cpuProfile === undefined || cpuProfile === '' ? undefined : resolve(cpuProfile),
  };
}

/** The load generator straight at the sink: what the measurement itself costs. */
async function measureDirect(connections: number, settings: Settings): Promise<PathFigures> {
  const sink = await SinkPool.start();
  const loadgen = new LoadGenerator({
    host: sink.host,
    port: sink.port,
    connections,
    username: 'bench.direct',
    batchSize: settings.batch,
  });
  try {
    const { seconds: connectSeconds } = await loadgen.connect();
    console.log(`direct: ${connections} connected in ${connectSeconds.toFixed(1)} s`);
    const fanout = await measureFanout(sink, loadgen, settings.fanoutRounds);
    console.log(
      `direct: fan-out ${formatPercentiles(fanout)} ms (the sink's write loop ${ms(fanout.sinkWriteMs)} ms, ` +
        `then reading every notify ${ms(fanout.readAllMs)} ms)`,
    );
    const rates: RateFigures[] = [];
    for (const rate of settings.rates) {
      const figures = await measureRate(
        sink,
        loadgen,
        rate,
        settings.baselineSeconds,
        settings.warmupSeconds,
      );
      console.log(`direct: ${formatRate(figures)}`);
      rates.push(figures);
    }
    return { connections, connectSeconds, fanout, rates, disconnects: loadgen.disconnects };
  } finally {
    loadgen.close();
    await sink.close();
  }
}

async function measureProxy(
  connections: number,
  settings: Settings,
  workDir: string,
  serial: number,
): Promise<ProxyFigures> {
  const sink = await SinkPool.start();
  const maxRate = Math.max(...settings.rates);
  // Round-robin gives each connection rate/N shares/s; leave the flood guard far above that.
  const perConnection = Math.ceil((10 * maxRate) / connections);
  if (settings.cpuProfileDir !== undefined) mkdirSync(settings.cpuProfileDir, { recursive: true });
  let proxy: ProxyProcess | undefined;
  let loadgen: LoadGenerator | undefined;
  try {
    proxy = await ProxyProcess.start({
      upstream: `stratum+tcp://bench:x@${sink.host}:${sink.port}`,
      ledgerPath: join(workDir, `ledger-${serial}.sqlite`),
      workDir,
      cpuProfileDir: settings.cpuProfileDir,
      config: {
        // info, not warn: the listening port is announced at info. Nothing per share is logged
        // at info; each disconnect is, after the measurements.
        logLevel: 'info',
        metrics: '127.0.0.1:0',
        vardiff: {
          initialDifficulty: TINY_DIFFICULTY,
          minDifficulty: TINY_DIFFICULTY,
          retargetSeconds: 1e9,
          burstShares: 0,
        },
        limits: {
          maxConnections: connections + 1000,
          messagesPerSecond: Math.max(50, perConnection),
          messageBurst: Math.max(200, 4 * perConnection),
          handshakeSeconds: 120,
          // Every load-generator connection comes from one address.
          ...ADDRESS_LIMITS_OFF,
        },
        drainSeconds: 5,
      },
    });
    const running = proxy;
    await waitUntil(() => sink.subscribedConnections > 0, 15_000, 'the proxy to subscribe to the sink');
    await sleep(1000);
    const before = running.memory();

    loadgen = new LoadGenerator({
      host: '127.0.0.1',
      port: running.port,
      connections,
      username: 'bench.proxy',
      batchSize: settings.batch,
    });
    const { seconds: connectSeconds } = await loadgen.connect();
    await sleep(2000);
    const connected = running.memory();
    console.log(
      `proxy: ${connections} connected in ${connectSeconds.toFixed(1)} s; ` +
        `RSS ${mib(before.rss)} before, ${mib(connected.rss)} with ${connections} → ` +
        `${kib((connected.rss - before.rss) / connections)}/connection; ` +
        `${sink.subscribedConnections} upstream session(s)`,
    );
    const fanout = await measureFanout(sink, loadgen, settings.fanoutRounds);
    console.log(`proxy: fan-out ${formatPercentiles(fanout)} ms`);
    const rates: RateFigures[] = [];
    for (const rate of settings.rates) {
      if (!running.running) throw new Error(`the proxy died:\n${running.logTail}`);
      const figures = await measureRate(
        sink,
        loadgen,
        rate,
        settings.seconds,
        settings.warmupSeconds,
        running,
      );
      console.log(`proxy:  ${formatRate(figures)}`);
      rates.push(figures);
    }
    const after = running.memory();
    const disconnects = new Map(loadgen.disconnects);
    // Only what the proxy logged under load: shutting down has warnings of its own.
    const problems = new Map(running.problems);
    loadgen.close();
    loadgen = undefined;
    const profiles = await running.stop();
    profiles.forEach((profile, index) => {
      printProfile(profile, index === 0 ? 'main thread' : `worker thread ${index}`, index === 0 ? 15 : 3);
    });
    if (problems.size > 0) {
      console.log(
        `proxy logged under load: ${[...problems].map(([message, count]) => `${count}× "${message}"`).join(', ')}`,
      );
    }
    if (disconnects.size > 0) {
      console.log(
        `miners disconnected by the proxy: ${[...disconnects].map(([reason, count]) => `${count}× ${reason}`).join(', ')}`,
      );
    }
    return {
      connections,
      connectSeconds,
      fanout,
      rates,
      disconnects,
      rssBefore: before.rss,
      rssConnected: connected.rss,
      rssAfterLoad: after.rss,
      rssPeak: after.peak,
      problems,
    };
  } catch (error) {
    if (proxy !== undefined && !proxy.running)
      (error as Error).message += `\nproxy log tail:\n${proxy.logTail}`;
    throw error;
  } finally {
    loadgen?.close();
    proxy?.kill();
    await sink.close();
  }
}

/**
 * Clean jobs from the sink; per round, the time until each connection has read its notify.
 * Straight to the sink, this one thread first writes to every connection and only then reads:
 * the last arrival less the write loop is what reading N notifies costs the load generator,
 * the floor under any fan-out figure it measures.
 */
async function measureFanout(sink: SinkPool, loadgen: LoadGenerator, rounds: number): Promise<FanoutFigures> {
  const samples: number[] = [];
  let missing = 0;
  let sinkWriteMs = 0;
  let readAllMs = 0;
  for (let round = 0; round < rounds; round++) {
    await sleep(500);
    const sentAt = sink.broadcastCleanJob();
    const writeMs = sink.lastBroadcastMs;
    const latencies = await loadgen.notifyLatencies(sentAt, 10_000);
    let last = 0;
    for (const latency of latencies) {
      if (Number.isNaN(latency)) missing++;
      else {
        samples.push(latency);
        last = Math.max(last, latency);
      }
    }
    sinkWriteMs = Math.max(sinkWriteMs, writeMs);
    readAllMs = Math.max(readAllMs, last - writeMs);
  }
  return { ...percentiles(samples), missing, sinkWriteMs, readAllMs };
}

async function measureRate(
  sink: SinkPool,
  loadgen: LoadGenerator,
  rate: number,
  seconds: number,
  warmupSeconds: number,
  proxy?: ProxyProcess,
): Promise<RateFigures> {
  sink.takeSubmits();
  // A scrape resets the proxy's event-loop delay histogram: what the next one shows is this run.
  const metricsBefore = proxy === undefined ? undefined : await scrape(proxy);
  const proxyCpuBefore = proxy?.cpuSeconds();
  const proxyMainBefore = proxy?.threadCpuSeconds().get('main');
  const benchCpuBefore = process.cpuUsage();
  const machineBefore = machineBusySeconds();
  const started = performance.now();
  const log = await loadgen.submitAtRate({ rate, seconds });
  const wall = (performance.now() - started) / 1000;
  const machine = (machineBusySeconds() - machineBefore) / wall;
  const benchCpu = process.cpuUsage(benchCpuBefore);
  const bench = (benchCpu.user + benchCpu.system) / 1e6 / wall;
  const proxyCores =
    proxy === undefined || proxyCpuBefore === undefined
      ? undefined
      : (proxy.cpuSeconds() - proxyCpuBefore) / wall;
  const proxyMain =
    proxy === undefined || proxyMainBefore === undefined
      ? undefined
      : ((proxy.threadCpuSeconds().get('main') ?? proxyMainBefore) - proxyMainBefore) / wall;
  const metricsAfter = proxy === undefined ? undefined : await scrape(proxy);
  const proxyLoop =
    metricsBefore === undefined || metricsAfter === undefined
      ? undefined
      : {
          delayP99Ms: (metricsAfter.get('hashrelay_nodejs_eventloop_lag_p99_seconds') ?? Number.NaN) * 1000,
          delayMaxMs: (metricsAfter.get('hashrelay_nodejs_eventloop_lag_max_seconds') ?? Number.NaN) * 1000,
          gcMsPerSecond:
            ((sumMetric(metricsAfter, 'hashrelay_nodejs_gc_duration_seconds_sum') -
              sumMetric(metricsBefore, 'hashrelay_nodejs_gc_duration_seconds_sum')) *
              1000) /
            wall,
        };
  // Answers wait for the ledger, forwards do not: the sink has them all by now, give or take.
  const expected = countReplies(log, ReplyKind.accepted);
  await waitUntil(() => sink.submitCount >= expected, 5000, 'the sink to receive every accepted share').catch(
    () => undefined,
  );
  return {
    ...rateFigures(log, sink.takeSubmits(), warmupSeconds),
    cpu: {
      proxy: proxyCores,
      proxyMain,
      bench,
      others: Math.max(0, machine - bench - (proxyCores ?? 0)),
    },
    proxyLoop,
  };
}

/** The proxy's metrics, or none (figures from them show as —) if /metrics does not answer. */
async function scrape(proxy: ProxyProcess): Promise<Map<string, number>> {
  return parseMetrics(await proxy.scrapeMetrics().catch(() => ''));
}

/** Prometheus text → value by `name{labels}`; comments and unparseable lines are skipped. */
function parseMetrics(text: string): Map<string, number> {
  const values = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const space = line.lastIndexOf(' ');
    const value = Number(line.slice(space + 1));
    if (space > 0 && !Number.isNaN(value)) values.set(line.slice(0, space), value);
  }
  return values;
}

/** The sum of a metric over all its label sets. */
function sumMetric(values: ReadonlyMap<string, number>, name: string): number {
  let sum = 0;
  for (const [key, value] of values) if (key === name || key.startsWith(`${name}{`)) sum += value;
  return sum;
}

function rateFigures(log: SubmitLog, pool: SinkSubmits, warmupSeconds: number): RunCounts {
  const measuredFrom = log.startedAt + warmupSeconds * 1000;
  const window = (log.endedAt - measuredFrom) / 1000;
  const byNonce = new Map<number, number>();
  for (let i = 0; i < log.count; i++) byNonce.set(log.nonce[i]!, i);

  let forwarded = 0;
  const toPool: number[] = [];
  for (let j = 0; j < pool.count; j++) {
    const index = byNonce.get(pool.nonce[j]!);
    if (index === undefined) continue;
    byNonce.delete(pool.nonce[j]!); // a second arrival of the same share is not counted
    forwarded++;
    const sentAt = log.sentAt[index]!;
    if (sentAt >= measuredFrom) toPool.push(pool.at[j]! - sentAt);
  }

  let accepted = 0;
  let refused = 0;
  let unanswered = 0;
  let acceptedInWindow = 0;
  let sentInWindow = 0;
  const reply: number[] = [];
  for (let i = 0; i < log.count; i++) {
    const sentAt = log.sentAt[i]!;
    const replyAt = log.replyAt[i]!;
    if (sentAt >= measuredFrom) sentInWindow++;
    switch (log.reply[i]) {
      case ReplyKind.accepted:
        accepted++;
        // Answers in the window to shares sent in it: a backlog from the warm-up does not count.
        if (sentAt >= measuredFrom && replyAt <= log.endedAt) acceptedInWindow++;
        if (sentAt >= measuredFrom) reply.push(replyAt - sentAt);
        break;
      case ReplyKind.none:
        unanswered++;
        break;
      case ReplyKind.refused:
        refused++;
        break;
      default:
        break;
    }
  }
  return {
    rate: log.rate,
    sentPerSecond: sentInWindow / window,
    acceptedPerSecond: acceptedInWindow / window,
    sent: log.count,
    accepted,
    refused,
    errors: log.errors,
    unanswered,
    skipped: log.skipped,
    unsolved: log.unsolved,
    forwarded,
    toPool: percentiles(toPool),
    reply: percentiles(reply),
  };
}

function countReplies(log: SubmitLog, kind: number): number {
  let count = 0;
  for (let i = 0; i < log.count; i++) if (log.reply[i] === kind) count++;
  return count;
}

function percentiles(samples: number[]): Percentiles {
  if (samples.length === 0) return { count: 0, p50: Number.NaN, p99: Number.NaN, max: Number.NaN };
  const sorted = Float64Array.from(samples).sort();
  const at = (q: number): number => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
  return { count: sorted.length, p50: at(0.5), p99: at(0.99), max: sorted[sorted.length - 1]! };
}

// ---- output ----

function ms(value: number): string {
  if (Number.isNaN(value)) return '—';
  return value < 10 ? value.toFixed(2) : value < 100 ? value.toFixed(1) : value.toFixed(0);
}

function signedMs(value: number): string {
  return Number.isNaN(value) ? '—' : `${value < 0 ? '−' : '+'}${ms(Math.abs(value))}`;
}

function mib(bytes: number): string {
  return `${(bytes / 1024 ** 2).toFixed(1)} MiB`;
}

function kib(bytes: number): string {
  return `${(bytes / 1024).toFixed(1)} KiB`;
}

function formatPercentiles(p: Percentiles & { missing?: number }): string {
  const missing = p.missing === undefined || p.missing === 0 ? '' : ` (${p.missing} never arrived)`;
  return `p50 ${ms(p.p50)} / p99 ${ms(p.p99)} / max ${ms(p.max)}${missing}`;
}

function formatRate(f: RateFigures): string {
  const problems: string[] = [];
  if (f.refused > 0) problems.push(`${f.refused} refused`);
  for (const [error, count] of f.errors) problems.push(`${count}× error ${error}`);
  if (f.unanswered > 0) problems.push(`${f.unanswered} unanswered`);
  if (f.skipped > 0) problems.push(`${f.skipped} not sent (saturated)`);
  if (f.unsolved > 0) problems.push(`${f.unsolved} unsolved`);
  const cpu =
    f.cpu.proxy === undefined
      ? `; CPU cores: load generator + sink ${f.cpu.bench.toFixed(2)}, other processes ${f.cpu.others.toFixed(2)}`
      : `; CPU cores: proxy ${f.cpu.proxy.toFixed(2)} (main thread ${f.cpu.proxyMain?.toFixed(2) ?? '?'}), ` +
        `load generator + sink ${f.cpu.bench.toFixed(2)}, other processes ${f.cpu.others.toFixed(2)}`;
  const loop =
    f.proxyLoop === undefined
      ? ''
      : `; proxy event-loop delay p99 ${ms(f.proxyLoop.delayP99Ms)} / max ${ms(f.proxyLoop.delayMaxMs)} ms, ` +
        `GC ${f.proxyLoop.gcMsPerSecond.toFixed(0)} ms/s`;
  return (
    `${f.rate}/s offered: sent ${f.sentPerSecond.toFixed(0)}/s, accepted ${f.acceptedPerSecond.toFixed(0)}/s ` +
    `(${f.accepted}/${f.sent}), at the pool ${f.forwarded}; to pool ${formatPercentiles(f.toPool)} ms; ` +
    `answer ${formatPercentiles(f.reply)} ms${cpu}${loop}${problems.length === 0 ? '' : `; ${problems.join(', ')}`}`
  );
}

function printProfile(path: string, thread: string, top: number): void {
  const summary = summarizeCpuProfile(path);
  console.log(`proxy ${thread}: ${(summary.totalMs / 1000).toFixed(1)} s busy (${path})`);
  console.log('  self time by function:');
  for (const entry of summary.functions.slice(0, top))
    console.log(`    ${(100 * entry.fraction).toFixed(1).padStart(5)} %  ${entry.name}`);
  if (top < 10) return;
  console.log('  self time by file:');
  for (const entry of summary.files.slice(0, 10))
    console.log(`    ${(100 * entry.fraction).toFixed(1).padStart(5)} %  ${entry.name}`);
}

function printSummary(results: readonly CaseFigures[], settings: Settings): void {
  console.log('\n## summary (ms; "added" = via proxy − straight to the sink, percentile by percentile)');
  const header = [
    'conns',
    'rate/s',
    'accepted/s',
    'at pool',
    'to pool p50/p99 direct',
    'via proxy',
    'added p50/p99',
    'answer p50/p99',
    'proxy cores (main)',
    'others',
  ];
  const rows: string[][] = [header];
  for (const result of results) {
    for (const figures of result.proxy.rates) {
      const direct = result.direct?.rates.find((r) => r.rate === figures.rate);
      rows.push([
        String(result.connections),
        String(figures.rate),
        figures.acceptedPerSecond.toFixed(0),
        `${figures.forwarded}/${figures.sent}`,
        direct === undefined ? '—' : `${ms(direct.toPool.p50)} / ${ms(direct.toPool.p99)}`,
        `${ms(figures.toPool.p50)} / ${ms(figures.toPool.p99)}`,
        direct === undefined
          ? '—'
          : `${signedMs(figures.toPool.p50 - direct.toPool.p50)} / ${signedMs(figures.toPool.p99 - direct.toPool.p99)}`,
        `${ms(figures.reply.p50)} / ${ms(figures.reply.p99)}`,
        figures.cpu.proxy === undefined
          ? '—'
          : `${figures.cpu.proxy.toFixed(2)} (${figures.cpu.proxyMain?.toFixed(2) ?? '?'})`,
        figures.cpu.others.toFixed(2),
      ]);
    }
  }
  printTable(rows);

  console.log('');
  const memory: string[][] = [
    [
      'conns',
      'RSS before',
      'RSS connected',
      'per connection',
      'RSS after load',
      'peak',
      'fan-out p50/p99/max',
      'direct',
    ],
  ];
  for (const result of results) {
    const p = result.proxy;
    memory.push([
      String(result.connections),
      mib(p.rssBefore),
      mib(p.rssConnected),
      kib((p.rssConnected - p.rssBefore) / result.connections),
      mib(p.rssAfterLoad),
      mib(p.rssPeak),
      `${ms(p.fanout.p50)} / ${ms(p.fanout.p99)} / ${ms(p.fanout.max)}`,
      result.direct === undefined
        ? '—'
        : `${ms(result.direct.fanout.p50)} / ${ms(result.direct.fanout.p99)} / ${ms(result.direct.fanout.max)}`,
    ]);
  }
  printTable(memory);

  console.log('\n## targets');
  const largest = results.reduce<CaseFigures | undefined>(
    (best, r) => (best === undefined || r.connections > best.connections ? r : best),
    undefined,
  );
  if (largest !== undefined) {
    const p = largest.proxy;
    const perConnection = (p.rssConnected - p.rssBefore) / largest.connections;
    // Idle connections and the load's own growth (jobs' duplicate sets, the ledger's queue) both count.
    const measured = largest.connections >= TARGET_RSS_CONNECTIONS;
    const figure = measured
      ? Math.max(p.rssConnected, p.rssAfterLoad)
      : p.rssBefore + perConnection * TARGET_RSS_CONNECTIONS + (p.rssAfterLoad - p.rssConnected);
    console.log(
      `RSS with 10,000 connections < 1 GiB: ${verdict(figure < TARGET_RSS_BYTES)} ` +
        `${measured ? 'measured' : 'projected'} ${mib(figure)} (${kib(perConnection)}/connection idle, ` +
        `peak ${mib(p.rssPeak)})`,
    );
  }
  const added = results.flatMap((r) => {
    const proxy = r.proxy.rates.find((f) => f.rate === TARGET_ADDED_RATE);
    const direct = r.direct?.rates.find((f) => f.rate === TARGET_ADDED_RATE);
    return proxy === undefined || direct === undefined
      ? []
      : [{ connections: r.connections, p99: proxy.toPool.p99 - direct.toPool.p99 }];
  });
  console.log(
    `p99 added latency < ${TARGET_ADDED_P99_MS} ms at ${TARGET_ADDED_RATE} shares/s: ` +
      (added.length === 0
        ? `not measured (needs rate ${TARGET_ADDED_RATE} and a baseline)`
        : added
            .map(
              (a) =>
                `${verdict(a.p99 < TARGET_ADDED_P99_MS)} ${signedMs(a.p99)} ms at ${a.connections} connections`,
            )
            .join('; ')),
  );
  const fanout = results.find((r) => r.connections === TARGET_FANOUT_CONNECTIONS);
  console.log(
    `fan-out to 10,000 miners < ${TARGET_FANOUT_MS} ms (last miner): ` +
      (fanout === undefined
        ? 'not measured (needs 10000 connections)'
        : `${verdict(fanout.proxy.fanout.max < TARGET_FANOUT_MS && fanout.proxy.fanout.missing === 0)} max ${ms(fanout.proxy.fanout.max)} ms, p99 ${ms(fanout.proxy.fanout.p99)} ms` +
          (fanout.direct === undefined
            ? ''
            : `; reading ${fanout.direct.connections} notifies costs the load generator alone ` +
              `${ms(fanout.direct.fanout.readAllMs)} ms on one core, so this figure measures it as much as the proxy`)),
  );
  if (settings.cpuProfileDir !== undefined) console.log(`CPU profiles in ${settings.cpuProfileDir}`);
}

function verdict(ok: boolean): string {
  return ok ? 'PASS' : 'MISS';
}

function printTable(rows: readonly (readonly string[])[]): void {
  const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => row[column]!.length)));
  for (const row of rows) console.log(row.map((cell, column) => cell.padStart(widths[column]!)).join('  '));
}
