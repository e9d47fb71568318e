/**
 * Hostile-miner benchmark: an honest miner's accepted shares per second and submit → answer
 * latency (p50/p99) at a validator proxy, alone and then during each attack of
 * hostile-attacks.ts, side by side. Target: under every attack the honest miner keeps ≥ 90 %
 * of its rate alone and its p99 stays under 2× its p99 alone; no share is credited twice; a
 * fresh honest connection still gets work.
 *
 * Each attack gets a fresh world: a sink pool, the proxy engine in the validator role (a child
 * process: `hashrelay validator` on an in-memory chain, admission at its defaults, a SQLite
 * ledger on tmpfs unless --disk), the honest miner (one connection, a signed registered
 * hotkey, valid shares at `rate`/s from 127.0.0.1) and a probe that opens a fresh honest
 * connection every 2 s and waits for its first job. After a warm-up the honest window is
 * measured alone, then the attack starts from 127.0.0.2 (so a per-address limit can tell the
 * two apart), ramps, and the same window is measured again: both windows share the proxy and
 * the moment, so a busy machine shifts both. The proxy's RSS peak, its event-loop lag under
 * attack (/metrics), its disconnect reasons and, from the ledger, credited rows beyond the
 * first per header hash are reported beside it.
 *
 *   npm run bench -- hostile-miners [--quick] [--seconds N] [--rate R] [--phase NAME ...] [--disk]
 *                                    [--never-reading-rate N] [--cpu-profile DIR]
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import Database from 'better-sqlite3';
import { Keyring } from '@polkadot/keyring';
import type { KeyringPair } from '@polkadot/keyring/types';
import { cryptoWaitReady, mnemonicGenerate } from '@polkadot/util-crypto';
import { AttackClient, type Endpoint } from './attack-client.js';
import { ATTACK_PHASES, AttackOnWorker } from './attack-worker.js';
import { signedCredentials, type Attack, type AttackReport } from './hostile-attacks.js';
import { LoadGenerator, ReplyKind, type SubmitLog } from './loadgen.js';
import { ProxyProcess } from './proxy-process.js';
import { SinkPool } from './sink-pool.js';
import { REGISTERED_ENV, VALIDATOR_MNEMONIC_ENV, VALIDATOR_ROLE_SCRIPT } from './validator-role.js';

const HONEST_ADDRESS = '127.0.0.1';
const ATTACKER_ADDRESS = '127.0.0.2';
/** The attacker's registered key; the attack worker derives it again from this. */
const ATTACKER_URI = '//HostileMiner';
/** The honest miner's difficulty: ~4,096 hashes a share, so a garbage nonce is almost never one. */
const MINER_DIFFICULTY = 2 ** -20;
const RATE_TARGET = 0.9;
const P99_TARGET = 2;
const PROBE_INTERVAL_MS = 2000;
const PROBE_TIMEOUT_MS = 5000;

interface Settings {
  readonly seconds: number;
  readonly warmupSeconds: number;
  readonly rampSeconds: number;
  readonly rate: number;
  readonly phases: readonly string[] | undefined;
  /** Requests per second each never-reading connection sends (each asks a ~12 KB answer). */
  readonly neverReadingRate: number;
  /** Write each phase's proxy CPU profile (node --cpu-prof) here. */
  readonly cpuProfileDir: string | undefined;
  /** Where the ledger lives: tmpfs by default, so the disk's flush latency is not what is measured. */
  readonly workRoot: string;
}

interface Keys {
  readonly validatorMnemonic: string;
  readonly validator: KeyringPair;
  readonly honest: KeyringPair;
  readonly attacker: KeyringPair;
}

interface ProbeResult {
  readonly tried: number;
  readonly ok: number;
  readonly medianMs: number;
}

interface LedgerCredit {
  readonly rows: number;
  readonly credited: number;
  /** Credited rows beyond the first for the same header hash. */
  readonly duplicates: number;
}

/** The honest miner over one window. */
interface HonestWindow {
  readonly acceptedPerSecond: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  /** Shares not answered within the drain after the window, or not sent (no work). */
  readonly unanswered: number;
  readonly errors: string;
  readonly probe: ProbeResult;
  /** This process's own event-loop delay p99 (ms): the attack runs here too, and a busy loop delays answers read. */
  readonly benchLagP99Ms: number;
}

interface PhaseResult {
  readonly name: string;
  /** The same honest miner on the same proxy just before the attack started. */
  readonly alone: HonestWindow;
  readonly attacked: HonestWindow;
  readonly attack: AttackReport;
  readonly rssPeakMb: number;
  readonly lagMaxMs: number;
  readonly disconnects: string;
  readonly ledger: LedgerCredit;
  /** Why the phase could not be measured (the proxy crashed, …). */
  readonly failure: string | undefined;
}

function parseSettings(argv: readonly string[]): Settings {
  const quick = argv.includes('--quick');
  const value = (flag: string): string | undefined => {
    const i = argv.indexOf(flag);
    return i < 0 ? undefined : argv[i + 1];
  };
  const phases = argv.flatMap((arg, i) =>
    arg === '--phase' && argv[i + 1] !== undefined ? [argv[i + 1]!] : [],
  );
  const unknown = phases.filter((name) => !ATTACK_PHASES.includes(name));
  if (unknown.length > 0)
    throw new Error(`unknown phase ${unknown.join(', ')}: choose from ${ATTACK_PHASES.join(', ')}`);
  return {
    seconds: Number(value('--seconds') ?? (quick ? 8 : 20)),
    warmupSeconds: quick ? 2 : 3,
    rampSeconds: quick ? 2 : 4,
    rate: Number(value('--rate') ?? 10),
    phases: phases.length === 0 ? undefined : phases,
    neverReadingRate: Number(value('--never-reading-rate') ?? 1),
    cpuProfileDir: value('--cpu-profile'),
    workRoot: argv.includes('--disk') || !existsSync('/dev/shm') ? tmpdir() : '/dev/shm',
  };
}

async function makeKeys(): Promise<Keys> {
  await cryptoWaitReady();
  const ring = new Keyring({ type: 'sr25519', ss58Format: 42 });
  const validatorMnemonic = mnemonicGenerate();
  return {
    validatorMnemonic,
    validator: ring.addFromMnemonic(validatorMnemonic),
    honest: ring.addFromUri('//HonestMiner'),
    attacker: ring.addFromUri(ATTACKER_URI),
  };
}

/** A fresh honest connection every PROBE_INTERVAL_MS: can an honest miner (re)connect now? */
class ConnectProbe {
  private readonly handshakes: number[] = [];
  private tried = 0;
  private timer: NodeJS.Timeout | undefined;
  private readonly live = new Set<AttackClient>();

  constructor(
    private readonly endpoint: Endpoint,
    private readonly keys: Keys,
  ) {}

  start(): void {
    this.timer = setInterval(() => {
      this.once();
    }, PROBE_INTERVAL_MS);
  }

  async stop(): Promise<ProbeResult> {
    clearInterval(this.timer);
    for (const client of this.live) client.close();
    await sleep(0);
    const sorted = [...this.handshakes].sort((a, b) => a - b);
    return { tried: this.tried, ok: sorted.length, medianMs: quantile(sorted, 0.5) };
  }

  private once(): void {
    this.tried++;
    const client = new AttackClient(this.endpoint, { read: true });
    this.live.add(client);
    const { username, password } = signedCredentials(this.keys.honest, this.keys.validator.address, 'probe');
    client.handshake(username, password);
    const done = (): void => {
      clearTimeout(timeout);
      this.live.delete(client);
      client.close();
    };
    const timeout = setTimeout(done, PROBE_TIMEOUT_MS);
    client.onJob = () => {
      this.handshakes.push(performance.now() - client.openedAt);
      done();
    };
    client.onClose = () => {
      clearTimeout(timeout);
      this.live.delete(client);
    };
  }
}

function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

function honestFigures(log: SubmitLog, probe: ProbeResult, benchLagP99Ms: number): HonestWindow {
  let accepted = 0;
  const latencies: number[] = [];
  for (let i = 0; i < log.count; i++) {
    if (log.reply[i] === ReplyKind.accepted) accepted++;
    if (log.reply[i] !== ReplyKind.none) latencies.push(log.replyAt[i]! - log.sentAt[i]!);
  }
  latencies.sort((a, b) => a - b);
  return {
    acceptedPerSecond: accepted / log.seconds,
    p50Ms: quantile(latencies, 0.5),
    p99Ms: quantile(latencies, 0.99),
    unanswered: log.count - latencies.length + log.skipped,
    errors: [...log.errors].map(([error, count]) => `${count}× ${error}`).join('; '),
    probe,
    benchLagP99Ms,
  };
}

/** One sample of a Prometheus text exposition (the first line matching name and labels). */
function metricValue(text: string, name: string): number {
  const match = new RegExp(`^${name} ([0-9.eE+-]+)$`, 'm').exec(text);
  return match === null ? Number.NaN : Number(match[1]);
}

/** `label=value` for every non-zero sample of a labelled counter, e.g. disconnects by reason. */
function countsBy(text: string, name: string, label: string): string {
  const counts: string[] = [];
  for (const match of text.matchAll(new RegExp(`^${name}\\{${label}="([^"]+)"\\} (\\d+)`, 'gm')))
    if (Number(match[2]) > 0) counts.push(`${match[1]}=${match[2]}`);
  return counts.join(' ');
}

/** Why the proxy closed or turned away connections, and what malformed input it saw. */
function disconnectReasons(text: string): string {
  const parts = [
    ['', countsBy(text, 'hashrelay_miner_disconnects_total', 'reason')],
    ['refused ', countsBy(text, 'hashrelay_connections_refused_total', 'reason')],
    ['protocol errors ', countsBy(text, 'hashrelay_protocol_errors_total', 'kind')],
  ] as const;
  return parts
    .filter(([, counts]) => counts !== '')
    .map(([heading, counts]) => heading + counts)
    .join('; ');
}

function ledgerCredit(path: string): LedgerCredit {
  const db = new Database(path, { readonly: true, fileMustExist: true });
  try {
    const rows = (db.prepare('SELECT COUNT(*) AS n FROM shares').get() as { n: number }).n;
    const credit = db
      .prepare(
        `SELECT COUNT(*) AS credited, COUNT(DISTINCT hash) AS distinctHashes
           FROM shares WHERE verdict = 'accepted'`,
      )
      .get() as { credited: number; distinctHashes: number };
    return { rows, credited: credit.credited, duplicates: credit.credited - credit.distinctHashes };
  } finally {
    db.close();
  }
}

async function runPhase(phase: string, keys: Keys, settings: Settings, root: string): Promise<PhaseResult> {
  const workDir = mkdtempSync(join(root, `${phase}-`));
  const ledgerPath = join(workDir, 'ledger.sqlite');
  const pool = await SinkPool.start();
  let proxy: ProxyProcess | undefined;
  let honest: LoadGenerator | undefined;
  let attack: Attack | undefined;
  let probe: ConnectProbe | undefined;
  try {
    proxy = await ProxyProcess.start({
      upstream: `stratum+tcp://bench.validator:x@127.0.0.1:${pool.port}`,
      ledgerPath,
      workDir,
      cpuProfileDir: settings.cpuProfileDir === undefined ? undefined : join(settings.cpuProfileDir, phase),
      config: {
        metrics: '127.0.0.1:0',
        logLevel: 'info',
        vardiff: {
          initialDifficulty: MINER_DIFFICULTY,
          minDifficulty: 2 ** -32,
          retargetSeconds: 100_000,
          burstShares: 0,
        },
      },
      role: {
        script: VALIDATOR_ROLE_SCRIPT,
        env: {
          [VALIDATOR_MNEMONIC_ENV]: keys.validatorMnemonic,
          [REGISTERED_ENV]: `${keys.honest.address},${keys.attacker.address}`,
        },
      },
    });
    const credentials = signedCredentials(keys.honest, keys.validator.address, 'rig');
    honest = new LoadGenerator({
      host: '127.0.0.1',
      port: proxy.port,
      connections: 1,
      username: credentials.username,
      password: credentials.password,
      localAddress: HONEST_ADDRESS,
    });
    await honest.connect();
    const endpoint = (localAddress: string): Endpoint => ({
      host: '127.0.0.1',
      port: proxy!.port,
      localAddress,
    });
    // The honest miner alone, then under attack: each window with its own reconnect probe.
    const window = async (): Promise<HonestWindow> => {
      probe = new ConnectProbe(endpoint(HONEST_ADDRESS), keys);
      probe.start();
      const lag = monitorEventLoopDelay({ resolution: 10 });
      lag.enable();
      const log = await honest!.submitAtRate({ rate: settings.rate, seconds: settings.seconds });
      lag.disable();
      return honestFigures(log, await probe.stop(), lag.percentile(99) / 1e6);
    };
    await honest.submitAtRate({ rate: settings.rate, seconds: settings.warmupSeconds });
    const alone = await window();

    attack = new AttackOnWorker(
      phase,
      {
        phase,
        endpoint: endpoint(ATTACKER_ADDRESS),
        validatorHotkey: keys.validator.address,
        attackerUri: ATTACKER_URI,
        neverReadingRate: settings.neverReadingRate,
      },
      () => {
        pool.resendJob();
      },
    );
    attack.start();
    await sleep(settings.rampSeconds * 1000);
    // The event-loop lag gauges restart at each scrape; a proxy too busy to answer is reported below.
    await proxy.scrapeMetrics(10_000).catch(() => undefined);
    const attacked = await window();
    let metrics = '';
    let failure: string | undefined;
    try {
      metrics = await proxy.scrapeMetrics(15_000);
    } catch (error) {
      failure = proxy.running ? `no /metrics: ${(error as Error).message}` : 'the proxy died';
    }
    const memory = proxy.running ? proxy.memory() : { rss: Number.NaN, peak: Number.NaN };
    const report = await attack.stop();
    honest.close();
    await proxy.stop();
    return {
      name: phase,
      alone,
      attacked,
      attack: report,
      rssPeakMb: memory.peak / 2 ** 20,
      lagMaxMs: metricValue(metrics, 'hashrelay_nodejs_eventloop_lag_max_seconds') * 1000,
      disconnects: disconnectReasons(metrics),
      ledger: ledgerCredit(ledgerPath),
      failure,
    };
  } finally {
    await probe?.stop();
    await attack?.stop();
    honest?.close();
    proxy?.kill();
    await proxy?.stop(5000);
    await pool.close();
  }
}

/** Why a phase misses the target (none when it meets it). */
function shortfalls(result: PhaseResult): string[] {
  const { alone, attacked } = result;
  const misses: string[] = [];
  if (result.failure !== undefined) misses.push(result.failure);
  if (!(attacked.acceptedPerSecond >= RATE_TARGET * alone.acceptedPerSecond)) misses.push('rate');
  if (!(attacked.p99Ms <= P99_TARGET * alone.p99Ms)) misses.push('p99');
  if (result.ledger.duplicates > 0) misses.push('double credit');
  if (attacked.probe.ok < attacked.probe.tried) misses.push('reconnect');
  return misses;
}

function pad(text: string, width: number): string {
  return text.length >= width ? text : text + ' '.repeat(width - text.length);
}

function printTables(results: readonly PhaseResult[], settings: Settings): void {
  const ms = (value: number): string => (Number.isNaN(value) ? '—' : value.toFixed(1));
  const side = (alone: string, attacked: string): string => `${alone} → ${attacked}`;
  const probe = (window: HonestWindow): string => `${window.probe.ok}/${window.probe.tried}`;
  const honestRows = [
    [
      'attack',
      'accepted/s',
      '% alone',
      'p50 ms',
      'p99 ms',
      'p99 ratio',
      'reconnects ok',
      'bench lag p99 ms',
      'result',
    ],
    ...results.map((result) => {
      const { alone, attacked } = result;
      const misses = shortfalls(result);
      return [
        result.name,
        side(alone.acceptedPerSecond.toFixed(2), attacked.acceptedPerSecond.toFixed(2)),
        `${((100 * attacked.acceptedPerSecond) / alone.acceptedPerSecond).toFixed(0)} %`,
        side(ms(alone.p50Ms), ms(attacked.p50Ms)),
        side(ms(alone.p99Ms), ms(attacked.p99Ms)),
        `${(attacked.p99Ms / alone.p99Ms).toFixed(2)}×`,
        side(probe(alone), probe(attacked)),
        side(ms(alone.benchLagP99Ms), ms(attacked.benchLagP99Ms)),
        misses.length === 0 ? 'pass' : `FAIL: ${misses.join(', ')}`,
      ];
    }),
  ];
  const proxyRows = [
    ['attack', 'attacker conns', 'RSS peak MB', 'lag max ms', 'ledger rows', 'dup credits', 'attack figures'],
    ...results.map((result) => [
      result.name,
      `${result.attack.opened} opened, ${result.attack.closedByProxy} closed`,
      result.rssPeakMb.toFixed(0),
      ms(result.lagMaxMs),
      String(result.ledger.rows),
      String(result.ledger.duplicates),
      Object.entries(result.attack.figures)
        .map(([name, value]) => `${name}=${value}`)
        .join(' '),
    ]),
  ];
  const print = (rows: string[][]): void => {
    const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => row[column]!.length)));
    for (const row of rows)
      console.log(`  ${row.map((cell, i) => pad(cell, widths[i]!)).join('  ')}`.trimEnd());
  };
  console.log(
    `\nhostile-miners: one honest miner at ${settings.rate} shares/s, ${settings.seconds} s alone then ${settings.seconds} s ` +
      `under each attack (alone → attacked). Target: ≥ ${RATE_TARGET * 100} % of the rate alone, p99 ≤ ${P99_TARGET}× ` +
      'the p99 alone, no share credited twice, honest reconnects succeed.',
  );
  print(honestRows);
  console.log('\n  the proxy under each attack:');
  print(proxyRows);
  for (const result of results) {
    const notes = [
      result.disconnects === '' ? '' : `disconnects ${result.disconnects}`,
      result.attacked.unanswered > 0
        ? `${result.attacked.unanswered} honest shares unanswered or unsent`
        : '',
      result.attacked.errors === '' ? '' : `honest errors: ${result.attacked.errors}`,
    ].filter((note) => note !== '');
    if (notes.length > 0) console.log(`  ${result.name}: ${notes.join('; ')}`);
  }
}

export async function runHostileMinersBench(argv: readonly string[] = process.argv.slice(2)): Promise<void> {
  const settings = parseSettings(argv);
  const keys = await makeKeys();
  const root = mkdtempSync(join(settings.workRoot, 'hashrelay-hostile-'));
  const cleanUp = (): void => {
    rmSync(root, { recursive: true, force: true });
  };
  process.once('exit', cleanUp);
  try {
    const results: PhaseResult[] = [];
    for (const phase of ATTACK_PHASES) {
      if (settings.phases !== undefined && !settings.phases.includes(phase)) continue;
      console.log(`hostile-miners: ${phase} …`);
      results.push(await runPhase(phase, keys, settings, root));
    }
    printTables(results, settings);
  } finally {
    cleanUp();
    process.off('exit', cleanUp);
  }
}
