/**
 * Submit → answer latency and memory, hashrelay side by side with a comparison, in one run:
 * the load generator's miners submit real valid shares (1,000 miners at 500 and 2,000 shares/s
 * by default) to each subject in turn, every subject in every pass, each pass in a new order,
 * and every figure is given as a ratio to the comparison measured in the same pass (medians
 * over the passes). Subjects:
 *
 *   hashrelay       `hashrelay proxy` (child process), answers after a durable SQLite commit
 *   durability off  the same, measurement only: a preload (ledger-durability-off.cts) turns the
 *                   ledger's fsync off, which says what the durable commit itself costs
 *   peer            another proxy, when HASHRELAY_BENCH_PEER_PROXY gives a command to start it
 *                   (placeholders in peer-proxy-process.ts; e.g. a wrapper that writes a ckpool
 *                   proxy-mode config for {listen} and {upstream} into {dir} and execs
 *                   `ckpool -p -c {dir}/ckproxy.conf`)
 *   direct          without a peer: the same miners straight to the pool. The pool (sink-pool.ts)
 *                   answers every submit at once and checks or stores nothing, so this is the
 *                   floor, what the load generator, the loopback and the pool cost; the ratio
 *                   says how much longer a miner waits for an answer through hashrelay than
 *                   from the pool itself, not how hashrelay compares with another proxy
 *
 * Each pass also times this disk's own durable commit (a bare SQLite transaction of two rows,
 * WAL, synchronous=FULL, in a tight loop): on a shared machine it moves with the others' I/O,
 * and a group commit answers in about 1.5 of them (the commit under way, then its own).
 *
 * RSS is read from /proc: before the first miner, with the miners idle, and with
 * HASHRELAY_BENCH_IDLE_CONNECTIONS idle miners (in the first pass only).
 *
 * Environment (defaults in brackets):
 *   HASHRELAY_BENCH_PASSES            passes                                 [3]
 *   HASHRELAY_BENCH_CONNECTIONS       miners submitting                      [1000]
 *   HASHRELAY_BENCH_RATES             shares/s, comma-separated              [500,2000]
 *   HASHRELAY_BENCH_SECONDS           send window per rate                   [10]
 *   HASHRELAY_BENCH_WARMUP_SECONDS    first seconds of each window left out  [2]
 *   HASHRELAY_BENCH_IDLE_CONNECTIONS  idle miners for the large RSS figure, 0 skips [10000]
 *   HASHRELAY_BENCH_DURABILITY_OFF    0 skips the durability-off subject     [1]
 *   HASHRELAY_BENCH_PEER_PROXY        the peer's command template            [none: direct]
 *   HASHRELAY_BENCH_BASELINE_CLI      another build's dist/cli/main.js, run as a  [none]
 *                                     subject 'baseline' beside this build (A/B in one run)
 *   HASHRELAY_BENCH_BASELINE_NODE_FLAGS node flags for 'baseline'; set alone, it    [as hashrelay]
 *                                     runs this build under them (A/B of flags)
 *   HASHRELAY_BENCH_NODE_FLAGS        node flags for hashrelay, space-separated [as deploy/ starts it:
 *                                     the proxy unit's NODE_OPTIONS and ExecStart flags; its other
 *                                     Environment= variables (MALLOC_ARENA_MAX) apply always]
 *
 * `npm run bench -- answer-latency` (runs niced on a shared machine: `nice -n -15 npm run ...`).
 */
import { ADDRESS_LIMITS_OFF } from './address-limits-off.js';
import { proxyUnitStart } from './deploy-start.js';
import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { LoadGenerator, openFileLimit, ReplyKind, type SubmitLog } from './loadgen.js';
import { PeerProxyProcess } from './peer-proxy-process.js';
import { ProxyProcess } from './proxy-process.js';
import { SinkPool } from './sink-pool.js';
import { waitUntil } from './wait.js';

const TINY_DIFFICULTY = 2 ** -32;
const FD_RESERVE = 128;
const MIB = 1024 * 1024;

interface Settings {
  readonly passes: number;
  readonly connections: number;
  readonly rates: readonly number[];
  readonly seconds: number;
  readonly warmupSeconds: number;
  readonly idleConnections: number;
  readonly durabilityOff: boolean;
  readonly peer: string | undefined;
  readonly nodeFlags: readonly string[];
  readonly baselineCli: string | undefined;
  readonly baselineNodeFlags: readonly string[] | undefined;
  /** The proxy unit's environment but NODE_OPTIONS (its flags are in nodeFlags). */
  readonly env: Readonly<Record<string, string>>;
}

/** A running subject: where miners connect, and its memory when it is a process of its own. */
interface Endpoint {
  readonly host: string;
  readonly port: number;
  rss(): number | undefined;
  stop(): Promise<void>;
}

interface Subject {
  readonly name: string;
  start(sink: SinkPool, workDir: string, settings: Settings): Promise<Endpoint>;
}

/** One subject in one pass. */
interface Figures {
  readonly rssIdle: number | undefined;
  readonly rssMiners: number | undefined;
  readonly rssManyIdle: number | undefined;
  /** Per rate: answer latency of accepted shares after the warm-up, ms. */
  readonly latency: readonly { readonly p50: number; readonly p99: number; readonly answered: number }[];
}

export async function runAnswerLatencyBench(): Promise<void> {
  const settings = readSettings();
  const limit = openFileLimit();
  const most = Math.max(settings.connections, settings.idleConnections);
  if (limit !== undefined && limit < most + FD_RESERVE)
    throw new Error(`ulimit -n is ${limit}: raise it to ${most + FD_RESERVE} or lower the connection counts`);
  const comparison: Subject = settings.peer === undefined ? direct : peerSubject(settings.peer);
  const subjects = [
    hashrelay,
    ...(settings.baselineCli === undefined && settings.baselineNodeFlags === undefined
      ? []
      : [baseline(settings.baselineCli, settings.baselineNodeFlags)]),
    ...(settings.durabilityOff ? [durabilityOff] : []),
    comparison,
  ];
  console.log(`# answer latency: ${settings.connections} miners, ${settings.rates.join(' and ')} shares/s`);
  console.log(
    `${settings.passes} passes of ${settings.seconds} s per rate (first ${settings.warmupSeconds} s left out); ` +
      `subjects ${subjects.map((s) => s.name).join(', ')}; hashrelay under node ${settings.nodeFlags.join(' ')}; ` +
      `load average ${loadText()}`,
  );
  const workDir = mkdtempSync(join(tmpdir(), 'hashrelay-answer-latency-'));
  const results = new Map<string, Figures[]>(subjects.map((s) => [s.name, []]));
  const disk: Figures['latency'][number][] = [];
  try {
    for (let pass = 0; pass < settings.passes; pass++) {
      disk.push(diskCommitLatency(workDir));
      console.log(
        `pass ${pass + 1} the disk's own durable commit: p50 ${disk[pass]!.p50.toFixed(2)} p99 ${disk[pass]!.p99.toFixed(2)} ms`,
      );
      // A new order each pass: drift in the machine's load does not favour one subject.
      const order = subjects.map((_, i) => subjects[(i + pass) % subjects.length]!);
      for (const subject of order) {
        const figures = await measure(subject, settings, workDir, pass === 0);
        results.get(subject.name)!.push(figures);
        console.log(`pass ${pass + 1} ${subject.name}: ${describe(figures, settings)}`);
      }
    }
  } finally {
    rmSync(workDir, { recursive: true, force: true });
  }
  printSummary(results, subjects, comparison, settings);
  const durable = results.get(hashrelay.name)!;
  console.log(
    `\nthe disk's own durable commit: p50 ${median(disk.map((d) => d.p50)).toFixed(2)} ms, p99 ` +
      `${median(disk.map((d) => d.p99)).toFixed(2)} ms; hashrelay's answer over it, pass by pass: ` +
      settings.rates
        .map(
          (rate, r) =>
            `@${rate}/s p50 ${median(durable.map((run, pass) => run.latency[r]!.p50 / disk[pass]!.p50)).toFixed(1)}× ` +
            `p99 ${median(durable.map((run, pass) => run.latency[r]!.p99 / disk[pass]!.p99)).toFixed(1)}×`,
        )
        .join(', '),
  );
  console.log(`load average at the end ${loadText()}`);
}

async function measure(
  subject: Subject,
  settings: Settings,
  workDir: string,
  large: boolean,
): Promise<Figures> {
  const sink = await SinkPool.start({ difficulty: TINY_DIFFICULTY });
  let endpoint: Endpoint | undefined;
  const generators: LoadGenerator[] = [];
  const miners = (connections: number, name: string): LoadGenerator => {
    const generator = new LoadGenerator({
      host: endpoint!.host,
      port: endpoint!.port,
      connections,
      username: `bench.${name}`,
      // The same load for every subject; ckpool's proxy does not answer mining.configure.
      versionRollingMask: 0,
    });
    generators.push(generator);
    return generator;
  };
  try {
    endpoint = await subject.start(sink, workDir, settings);
    await sleep(1000);
    const rssIdle = endpoint.rss();
    const submitting = miners(settings.connections, 'submit');
    await submitting.connect();
    await sleep(1000);
    const rssMiners = endpoint.rss();
    const latency = [];
    for (const rate of settings.rates) {
      const log = await submitting.submitAtRate({ rate, seconds: settings.seconds });
      latency.push(answerLatency(log, settings.warmupSeconds));
    }
    let rssManyIdle: number | undefined;
    if (large && settings.idleConnections > settings.connections && endpoint.rss() !== undefined) {
      await miners(settings.idleConnections - settings.connections, 'idle').connect();
      await sleep(2000);
      rssManyIdle = endpoint.rss();
    }
    return { rssIdle, rssMiners, rssManyIdle, latency };
  } finally {
    for (const generator of generators) generator.close();
    await endpoint?.stop();
    await sink.close();
  }
}

/** Submit sent → answer read, for shares answered true and sent after the warm-up. */
function answerLatency(log: SubmitLog, warmupSeconds: number): Figures['latency'][number] {
  const from = log.startedAt + warmupSeconds * 1000;
  const samples: number[] = [];
  for (let i = 0; i < log.count; i++) {
    if (log.sentAt[i]! >= from && log.reply[i] === ReplyKind.accepted)
      samples.push(log.replyAt[i]! - log.sentAt[i]!);
  }
  samples.sort((a, b) => a - b);
  const at = (q: number): number =>
    samples[Math.min(samples.length - 1, Math.floor(q * samples.length))] ?? NaN;
  if (samples.length < log.count * 0.5)
    console.log(
      `  only ${samples.length} of ${log.count} submits answered true (errors: ${JSON.stringify([...log.errors])})`,
    );
  return { p50: at(0.5), p99: at(0.99), answered: samples.length };
}

/** 300 bare durable commits of two small rows in a fresh file under `dir`, ms. */
function diskCommitLatency(dir: string): Figures['latency'][number] {
  const path = join(dir, 'disk-probe.sqlite');
  const db = new Database(path);
  try {
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = FULL');
    db.exec('CREATE TABLE probe (bytes BLOB)');
    const insert = db.prepare('INSERT INTO probe VALUES (?)');
    const commit = db.transaction(() => {
      insert.run(Buffer.alloc(100));
      insert.run(Buffer.alloc(100));
    });
    const samples: number[] = [];
    for (let i = 0; i < 300; i++) {
      const started = performance.now();
      commit();
      samples.push(performance.now() - started);
    }
    samples.sort((a, b) => a - b);
    return { p50: samples[150]!, p99: samples[297]!, answered: samples.length };
  } finally {
    db.close();
    for (const suffix of ['', '-wal', '-shm']) rmSync(path + suffix, { force: true });
  }
}

const hashrelay: Subject = {
  name: 'hashrelay',
  start: (sink, workDir, settings) => startHashrelay(sink, workDir, settings, settings.nodeFlags),
};

function baseline(cli: string | undefined, nodeFlags: readonly string[] | undefined): Subject {
  return {
    name: 'baseline',
    start: (sink, workDir, settings) =>
      startHashrelay(sink, workDir, settings, nodeFlags ?? settings.nodeFlags, cli),
  };
}

const durabilityOff: Subject = {
  name: 'durability off',
  start: (sink, workDir, settings) =>
    startHashrelay(sink, workDir, settings, [
      ...settings.nodeFlags,
      '--require',
      fileURLToPath(new URL('./ledger-durability-off.cjs', import.meta.url)),
    ]),
};

const direct: Subject = {
  name: 'direct to pool',
  start: (sink) =>
    Promise.resolve({
      host: sink.host,
      port: sink.port,
      rss: () => undefined,
      stop: () => Promise.resolve(),
    }),
};

function peerSubject(template: string): Subject {
  return {
    name: 'peer',
    start: async (sink) => {
      const peer = await PeerProxyProcess.start(template, {
        host: sink.host,
        port: sink.port,
        user: 'bench',
        pass: 'x',
      });
      await waitUntil(
        () => sink.subscribedConnections > 0,
        15_000,
        'the peer to subscribe to the pool',
        () => peer.logTail,
      );
      const endpoint = {
        host: '127.0.0.1',
        port: peer.port,
        rss: () => peer.memory().rss,
        stop: () => peer.stop(),
      };
      await untilMinersGetWork(endpoint, () => peer.logTail);
      return endpoint;
    },
  };
}

/** A peer may listen before it has work to give (ckpool's generator): wait until a miner gets a job. */
async function untilMinersGetWork(endpoint: Endpoint, logTail: () => string): Promise<void> {
  const deadline = performance.now() + 15_000;
  for (;;) {
    const probe = new LoadGenerator({
      ...endpoint,
      connections: 1,
      username: 'bench.probe',
      versionRollingMask: 0,
    });
    try {
      await probe.connect();
      return;
    } catch (error) {
      if (performance.now() > deadline)
        throw new Error(`the peer gives miners no work: ${String(error)}\n${logTail()}`);
      await sleep(250);
    } finally {
      probe.close();
    }
  }
}

let serial = 0;

async function startHashrelay(
  sink: SinkPool,
  workDir: string,
  settings: Settings,
  nodeFlags: readonly string[],
  cli?: string,
): Promise<Endpoint> {
  const most = Math.max(settings.connections, settings.idleConnections);
  const perConnection = Math.ceil((10 * Math.max(...settings.rates)) / settings.connections);
  const proxy = await ProxyProcess.start({
    upstream: `stratum+tcp://bench:x@${sink.host}:${sink.port}`,
    ledgerPath: join(workDir, `ledger-${serial++}.sqlite`),
    workDir,
    nodeFlags,
    cli,
    env: { ...process.env, ...settings.env },
    config: {
      logLevel: 'info',
      vardiff: {
        initialDifficulty: TINY_DIFFICULTY,
        minDifficulty: TINY_DIFFICULTY,
        retargetSeconds: 1e9,
        burstShares: 0,
      },
      limits: {
        maxConnections: most + 1000,
        messagesPerSecond: Math.max(50, perConnection),
        messageBurst: Math.max(200, 4 * perConnection),
        handshakeSeconds: 120,
        // Every load-generator connection comes from one address.
        ...ADDRESS_LIMITS_OFF,
      },
      drainSeconds: 5,
    },
  });
  await waitUntil(() => sink.subscribedConnections > 0, 15_000, 'the proxy to subscribe to the pool');
  return {
    host: '127.0.0.1',
    port: proxy.port,
    rss: () => proxy.memory().rss,
    stop: async () => {
      await proxy.stop();
    },
  };
}

function printSummary(
  results: ReadonlyMap<string, Figures[]>,
  subjects: readonly Subject[],
  comparison: Subject,
  settings: Settings,
): void {
  const base = results.get(comparison.name)!;
  console.log(
    `\n## medians over ${settings.passes} passes; ratios are to ${comparison.name}, taken pass by pass`,
  );
  const header = ['', ...settings.rates.flatMap((rate) => [`p50 @${rate}/s`, `p99 @${rate}/s`])];
  const rows = subjects.map((subject) => {
    const runs = results.get(subject.name)!;
    const cells = settings.rates.flatMap((_, r) =>
      (['p50', 'p99'] as const).map((q) => {
        const value = median(runs.map((run) => run.latency[r]![q]));
        if (subject === comparison) return `${value.toFixed(2)} ms`;
        const ratio = median(runs.map((run, pass) => run.latency[r]![q] / base[pass]!.latency[r]![q]));
        return `${value.toFixed(2)} ms (${ratio.toFixed(1)}×)`;
      }),
    );
    return [subject.name, ...cells];
  });
  printTable([header, ...rows]);
  const memoryRows = subjects
    .filter((subject) => results.get(subject.name)![0]!.rssIdle !== undefined)
    .map((subject) => {
      const runs = results.get(subject.name)!;
      const mib = (values: (number | undefined)[]): string => {
        const known = values.filter((v): v is number => v !== undefined);
        return known.length === 0 ? '—' : `${(median(known) / MIB).toFixed(1)} MiB`;
      };
      return [
        subject.name,
        mib(runs.map((run) => run.rssIdle)),
        mib(runs.map((run) => run.rssMiners)),
        mib(runs.map((run) => run.rssManyIdle)),
      ];
    });
  console.log('');
  printTable([
    [
      'RSS',
      'no miners',
      `${settings.connections} miners`,
      settings.idleConnections > 0 ? `${settings.idleConnections} idle miners` : 'many idle (skipped)',
    ],
    ...memoryRows,
  ]);
  if (comparison === direct)
    console.log(
      '\nThe pool answers at once and checks or stores nothing: the ratios say how much longer a miner waits ' +
        'through hashrelay than from the pool itself (verify, commit durably, answer), not how hashrelay ' +
        'compares with another proxy. Set HASHRELAY_BENCH_PEER_PROXY for that.',
    );
}

function describe(figures: Figures, settings: Settings): string {
  const rss = (value: number | undefined): string => (value === undefined ? '—' : (value / MIB).toFixed(1));
  const latency = settings.rates
    .map(
      (rate, r) =>
        `@${rate}/s p50 ${figures.latency[r]!.p50.toFixed(2)} p99 ${figures.latency[r]!.p99.toFixed(2)} ms`,
    )
    .join(', ');
  return `${latency}; RSS MiB ${rss(figures.rssIdle)} / ${rss(figures.rssMiners)} / ${rss(figures.rssManyIdle)}`;
}

function printTable(rows: readonly (readonly string[])[]): void {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((row) => row[c]!.length)));
  for (const row of rows) console.log(row.map((cell, c) => cell.padEnd(widths[c]!)).join('  '));
}

function median(values: readonly number[]): number {
  const sorted = values.filter((v) => !Number.isNaN(v)).sort((a, b) => a - b);
  if (sorted.length === 0) return NaN;
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

function loadText(): string {
  return loadavg()
    .map((load) => load.toFixed(2))
    .join(' ');
}

function readSettings(): Settings {
  const number = (name: string, fallback: number, min: number): number => {
    const text = process.env[name];
    if (text === undefined || text.trim() === '') return fallback;
    const value = Number(text);
    if (!Number.isFinite(value) || value < min)
      throw new Error(`${name} must be a number ≥ ${min}, got '${text}'`);
    return value;
  };
  const ratesText = process.env.HASHRELAY_BENCH_RATES;
  const rates =
    ratesText === undefined || ratesText.trim() === ''
      ? [500, 2000]
      : ratesText.split(',').map((r) => Number(r.trim()));
  if (rates.some((rate) => !Number.isFinite(rate) || rate <= 0))
    throw new Error(`HASHRELAY_BENCH_RATES must be positive numbers separated by commas, got '${ratesText}'`);
  const seconds = number('HASHRELAY_BENCH_SECONDS', 10, 1);
  const warmupSeconds = number('HASHRELAY_BENCH_WARMUP_SECONDS', 2, 0);
  if (warmupSeconds >= seconds)
    throw new Error('HASHRELAY_BENCH_WARMUP_SECONDS must be shorter than the window');
  const peer = process.env.HASHRELAY_BENCH_PEER_PROXY;
  const baselineCli = process.env.HASHRELAY_BENCH_BASELINE_CLI;
  const baselineNodeFlags = process.env.HASHRELAY_BENCH_BASELINE_NODE_FLAGS;
  const unit = proxyUnitStart();
  const { NODE_OPTIONS: unitNodeOptions = '', ...unitEnv } = unit.env;
  const deployFlags = [...unitNodeOptions.split(' '), ...unit.nodeFlags];
  return {
    passes: Math.round(number('HASHRELAY_BENCH_PASSES', 3, 1)),
    connections: Math.round(number('HASHRELAY_BENCH_CONNECTIONS', 1000, 1)),
    rates,
    seconds,
    warmupSeconds,
    idleConnections: Math.round(number('HASHRELAY_BENCH_IDLE_CONNECTIONS', 10_000, 0)),
    durabilityOff: process.env.HASHRELAY_BENCH_DURABILITY_OFF !== '0',
    peer: peer === undefined || peer.trim() === '' ? undefined : peer,
    nodeFlags: (process.env.HASHRELAY_BENCH_NODE_FLAGS ?? deployFlags.join(' ')).split(' ').filter(Boolean),
    env: unitEnv,
    baselineCli: baselineCli === undefined || baselineCli.trim() === '' ? undefined : baselineCli,
    baselineNodeFlags: baselineNodeFlags?.split(' ').filter(Boolean),
  };
}
