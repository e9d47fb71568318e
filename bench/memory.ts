/**
 * Memory of `hashrelay proxy`, started as deploy/ starts it: the environment comes from the
 * `Environment=` lines of deploy/systemd/hashrelay-proxy.service (NODE_OPTIONS, MALLOC_ARENA_MAX…)
 * and node's own flags from its `ExecStart=`; the config has metrics on as deploy/config/proxy.json. RSS is read from /proc with no miner,
 * with 1,000 and with 10,000 idle miners (subscribed, authorized, holding a job; load generator).
 *
 * Variants run in the same pass, each pass in a new order, so an A/B compares like with like on a
 * shared machine. Figures are medians over the passes.
 *
 * Environment (defaults in brackets):
 *   HASHRELAY_BENCH_PASSES           passes                                              [3]
 *   HASHRELAY_BENCH_MEMORY_STEPS     idle miner counts, comma-separated                  [1000,10000]
 *   HASHRELAY_BENCH_MEMORY_VARIANTS  extra variants beside `deploy`, separated by `;`, each
 *                                    `name:VAR=value VAR2=value` (set over the unit's environment;
 *                                    `VAR=` unsets; `,` in a value is a space; `node=--a,--b` adds
 *                                    node flags, `execflags=--a,--b` replaces the unit's (`execflags=`:
 *                                    none); `cli=PATH` runs another build's dist/cli/main.js),
 *                                    e.g. `arena8:MALLOC_ARENA_MAX=8`
 *   HASHRELAY_BENCH_SETTLE_SECONDS   wait before each reading                            [3]
 *   HASHRELAY_BENCH_RATE             shares/s the first step's miners then submit, to see what
 *                                    a flag costs in CPU and answer latency; 0 skips   [0]
 *   HASHRELAY_BENCH_SECONDS          how long they submit                                [10]
 *
 * `npm run bench -- memory` (runs niced on a shared machine: `nice -n -15 npm run ...`).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { ADDRESS_LIMITS_OFF } from './address-limits-off.js';
import { PROXY_UNIT, proxyUnitStart, type UnitStart } from './deploy-start.js';
import { LoadGenerator, ReplyKind, type SubmitLog } from './loadgen.js';
import { ProxyProcess } from './proxy-process.js';
import { SinkPool } from './sink-pool.js';
import { waitUntil } from './wait.js';

const MIB = 1024 * 1024;
const TINY_DIFFICULTY = 2 ** -32;

interface Variant {
  readonly name: string;
  /** Environment over this process's; undefined unsets. */
  readonly env: Readonly<Record<string, string | undefined>>;
  /** Node flags after the unit's own. */
  readonly nodeFlags: readonly string[];
  /** Instead of the unit's ExecStart flags. */
  readonly execFlags?: readonly string[];
  readonly cli?: string;
}

function parseVariants(text: string | undefined): Variant[] {
  if (text === undefined || text.trim() === '') return [];
  return text
    .split(';')
    .filter((part) => part.trim() !== '')
    .map((part) => {
      const colon = part.indexOf(':');
      if (colon <= 0) throw new Error(`HASHRELAY_BENCH_MEMORY_VARIANTS: '${part}' is not name:VAR=value…`);
      const env: Record<string, string | undefined> = {};
      const nodeFlags: string[] = [];
      let cli: string | undefined;
      let execFlags: string[] | undefined;
      for (const assignment of part
        .slice(colon + 1)
        .trim()
        .split(/\s+/)
        .filter(Boolean)) {
        const equals = assignment.indexOf('=');
        if (equals <= 0) throw new Error(`HASHRELAY_BENCH_MEMORY_VARIANTS: '${assignment}' is not VAR=value`);
        const [name, value] = [assignment.slice(0, equals), assignment.slice(equals + 1)];
        if (name === 'node') nodeFlags.push(...value.split(',').filter(Boolean));
        else if (name === 'cli') cli = value;
        else if (name === 'execflags') execFlags = value.split(',').filter(Boolean);
        else env[name] = value === '' ? undefined : value.replaceAll(',', ' ');
      }
      return {
        name: part.slice(0, colon).trim(),
        env,
        nodeFlags,
        ...(cli === undefined ? {} : { cli }),
        ...(execFlags === undefined ? {} : { execFlags }),
      };
    });
}

/** RSS per step; with a share load, the proxy's CPU ms per share and answer p50/p99 ms. */
interface Figures {
  readonly rss: number[];
  readonly load?: { readonly cpuMsPerShare: number; readonly p50: number; readonly p99: number };
}

interface Load {
  readonly rate: number;
  readonly seconds: number;
}

function answerPercentiles(log: SubmitLog): { p50: number; p99: number } {
  const samples: number[] = [];
  for (let i = 0; i < log.count; i++)
    if (log.reply[i] === ReplyKind.accepted) samples.push(log.replyAt[i]! - log.sentAt[i]!);
  samples.sort((a, b) => a - b);
  const at = (q: number): number =>
    samples[Math.min(samples.length - 1, Math.floor(q * samples.length))] ?? NaN;
  return { p50: at(0.5), p99: at(0.99) };
}

async function measure(
  variant: Variant,
  unit: UnitStart,
  steps: readonly number[],
  settleMs: number,
  load: Load | undefined,
  workDir: string,
  serial: number,
): Promise<Figures> {
  const sink = await SinkPool.start();
  const generators: LoadGenerator[] = [];
  const env: Record<string, string | undefined> = { ...process.env, ...unit.env, ...variant.env };
  let proxy: ProxyProcess | undefined;
  try {
    proxy = await ProxyProcess.start({
      upstream: `stratum+tcp://bench:x@${sink.host}:${sink.port}`,
      ledgerPath: join(workDir, `ledger-${serial}.sqlite`),
      workDir,
      env,
      nodeFlags: [...(variant.execFlags ?? unit.nodeFlags), ...variant.nodeFlags],
      ...(variant.cli === undefined ? {} : { cli: variant.cli }),
      config: {
        logLevel: 'info',
        metrics: '127.0.0.1:0',
        // One hash finds a share: the load generator's CPU stays out of the way.
        vardiff: {
          initialDifficulty: TINY_DIFFICULTY,
          minDifficulty: TINY_DIFFICULTY,
          retargetSeconds: 1e9,
          burstShares: 0,
        },
        limits: {
          maxConnections: Math.max(...steps) + 1000,
          handshakeSeconds: 120,
          messagesPerSecond: 50,
          messageBurst: 200,
          ...ADDRESS_LIMITS_OFF,
        },
        drainSeconds: 2,
      },
    });
    await waitUntil(() => sink.subscribedConnections > 0, 15_000, 'the proxy to subscribe to the pool');
    await sleep(settleMs);
    const rss = [proxy.memory().rss];
    let loaded: Figures['load'];
    let connected = 0;
    for (const step of steps) {
      const generator = new LoadGenerator({
        host: '127.0.0.1',
        port: proxy.port,
        connections: step - connected,
        username: `bench.idle${serial}`,
        versionRollingMask: 0,
      });
      generators.push(generator);
      await generator.connect();
      connected = step;
      await sleep(settleMs);
      rss.push(proxy.memory().rss);
      if (load !== undefined && loaded === undefined) {
        const cpuBefore = proxy.cpuSeconds();
        const log = await generator.submitAtRate(load);
        const accepted = log.reply.filter((reply) => reply === ReplyKind.accepted).length;
        loaded = {
          cpuMsPerShare: ((proxy.cpuSeconds() - cpuBefore) * 1000) / Math.max(1, accepted),
          ...answerPercentiles(log),
        };
      }
    }
    return { rss, load: loaded };
  } finally {
    for (const generator of generators) generator.close();
    await proxy?.stop();
    await sink.close();
  }
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

function shuffle<T>(items: T[]): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [items[i], items[j]] = [items[j]!, items[i]!];
  }
  return items;
}

export async function runMemoryBench(): Promise<void> {
  const passes = Math.max(1, Math.round(Number(process.env.HASHRELAY_BENCH_PASSES ?? '3')));
  const steps = (process.env.HASHRELAY_BENCH_MEMORY_STEPS ?? '1000,10000')
    .split(',')
    .map((step) => Math.round(Number(step.trim())));
  if (steps.some((step, i) => !(step > 0) || (i > 0 && step <= steps[i - 1]!)))
    throw new Error('HASHRELAY_BENCH_MEMORY_STEPS must be increasing positive numbers, e.g. 1000,10000');
  const settleMs = 1000 * Number(process.env.HASHRELAY_BENCH_SETTLE_SECONDS ?? '3');
  const rate = Number(process.env.HASHRELAY_BENCH_RATE ?? '0');
  const load = rate > 0 ? { rate, seconds: Number(process.env.HASHRELAY_BENCH_SECONDS ?? '10') } : undefined;
  const unit = proxyUnitStart();
  const variants: Variant[] = [
    { name: 'deploy', env: {}, nodeFlags: [] },
    ...parseVariants(process.env.HASHRELAY_BENCH_MEMORY_VARIANTS),
  ];
  const loadAverage = (): string =>
    loadavg()
      .map((value) => value.toFixed(2))
      .join(' ');
  console.log(
    `memory: hashrelay proxy as ${PROXY_UNIT} starts it (${Object.entries(unit.env)
      .map(([name, value]) => `${name}=${value}`)
      .join(' ')} node ${unit.nodeFlags.join(' ')}); ${passes} passes; load average ${loadAverage()}`,
  );
  const results = new Map<string, Figures[]>(variants.map((variant) => [variant.name, []]));
  const workDir = mkdtempSync(join(tmpdir(), 'hashrelay-memory-'));
  let serial = 0;
  try {
    for (let pass = 0; pass < passes; pass++) {
      for (const variant of shuffle([...variants])) {
        const figures = await measure(variant, unit, steps, settleMs, load, workDir, serial++);
        results.get(variant.name)!.push(figures);
        console.log(
          `  pass ${pass + 1} ${variant.name}: RSS MiB ${figures.rss.map((rss) => (rss / MIB).toFixed(1)).join(' / ')}` +
            (figures.load === undefined ? '' : `; ${loadText(figures.load)}`),
        );
      }
    }
  } finally {
    rmSync(workDir, { recursive: true, force: true });
  }
  const header = ['variant', 'no miners', ...steps.map((step) => `${step.toLocaleString('en')} idle`)];
  console.log(
    `\n${header.join(' | ')} | KiB per miner (last step)` +
      (load === undefined ? '' : ` | ${load.rate} shares/s: CPU ms/share, p50/p99 ms`) +
      '   (RSS MiB, medians)',
  );
  for (const variant of variants) {
    const runs = results.get(variant.name)!;
    const columns = header.slice(1).map((_, i) => median(runs.map((run) => run.rss[i]!)));
    const last = steps.length;
    const perMiner = (columns[last]! - columns[0]!) / steps[last - 1]! / 1024;
    const loads = runs.flatMap((run) => (run.load === undefined ? [] : [run.load]));
    const loaded =
      loads.length === 0
        ? ''
        : ` | ${loadText({
            cpuMsPerShare: median(loads.map((l) => l.cpuMsPerShare)),
            p50: median(loads.map((l) => l.p50)),
            p99: median(loads.map((l) => l.p99)),
          })}`;
    console.log(
      `${variant.name} | ${columns.map((rss) => (rss / MIB).toFixed(1)).join(' | ')} | ${perMiner.toFixed(2)}${loaded}`,
    );
  }
  console.log(`load average at the end ${loadAverage()}`);
}

function loadText(load: NonNullable<Figures['load']>): string {
  return `CPU ${load.cpuMsPerShare.toFixed(3)} ms/share, answer p50 ${load.p50.toFixed(2)} / p99 ${load.p99.toFixed(2)} ms`;
}
