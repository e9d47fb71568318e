/**
 * What an open status page costs the proxy: 1,000 miners (load generator) → hashrelay proxy (a
 * child process, SQLite ledger) → sink pool, at a farm's share rate, for two equal windows:
 * nobody watching, then a page polling GET /api/status as the page does (every 2 s, one
 * viewer per HASHRELAY_BENCH_VIEWERS). Prints the proxy's CPU (cores), its event-loop delay
 * (p99 and max, from its own /metrics, reset at each scrape), the JSON's size and how long
 * each answer took; and the page's own weight (GET / plus one JSON).
 *
 * Environment (defaults in brackets):
 *   HASHRELAY_BENCH_CONNECTIONS  miners                                  [1000]
 *   HASHRELAY_BENCH_RATE         shares/s offered in total (a miner's ~1 per 3.3 s) [300]
 *   HASHRELAY_BENCH_SECONDS      each window                             [20]
 *   HASHRELAY_BENCH_VIEWERS      pages open in the second window         [1]
 *
 * npm run bench -- status-page
 */
import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { STATUS_POLL_MS } from '../proxy/status-page.js';
import { ConfigProxyProcess } from './config-proxy-process.js';
import { LoadGenerator } from './loadgen.js';
import { SinkPool } from './sink-pool.js';
import { freePort } from '../test/support/ports.js';
import { machineBusySeconds } from './proc-stats.js';

const TINY_DIFFICULTY = 2 ** -32;

interface WindowFigures {
  readonly cores: number;
  readonly othersCores: number;
  readonly loopP99Ms: number;
  readonly loopMaxMs: number;
  readonly accepted: number;
  readonly polls: readonly { readonly ms: number; readonly bytes: number }[];
}

function envNumber(name: string, fallback: number): number {
  const value = process.env[name];
  return value === undefined || value === '' ? fallback : Number(value);
}

/** GET as a browser does (gzip accepted): the bytes on the wire, not decompressed. */
function getOnWire(url: string): Promise<number> {
  return new Promise((resolve, reject) => {
    http
      .get(url, { headers: { 'accept-encoding': 'gzip' } }, (response) => {
        let bytes = 0;
        response.on('data', (chunk: Buffer) => (bytes += chunk.length));
        response.on('end', () => {
          resolve(bytes);
        });
      })
      .on('error', reject);
  });
}

async function scrape(url: string): Promise<Map<string, number>> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const values = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line.startsWith('#') || line === '') continue;
    const [name, value] = [line.slice(0, line.lastIndexOf(' ')), line.slice(line.lastIndexOf(' ') + 1)];
    values.set(name, Number(value));
  }
  return values;
}

export async function runStatusPageBench(): Promise<void> {
  const connections = envNumber('HASHRELAY_BENCH_CONNECTIONS', 1000);
  const rate = envNumber('HASHRELAY_BENCH_RATE', 300);
  const seconds = envNumber('HASHRELAY_BENCH_SECONDS', 20);
  const viewers = envNumber('HASHRELAY_BENCH_VIEWERS', 1);
  const workDir = mkdtempSync(join(tmpdir(), 'hashrelay-bench-status-'));
  const sink = await SinkPool.start({ difficulty: TINY_DIFFICULTY });
  const adminPort = await freePort();
  const admin = `http://127.0.0.1:${adminPort}`;
  const proxy = await ConfigProxyProcess.start(
    {
      listen: ['127.0.0.1:0'],
      upstreams: [{ url: `stratum+tcp://bench:x@127.0.0.1:${sink.port}`, name: 'sink' }],
      ledger: `sqlite:${join(workDir, 'ledger.sqlite')}`,
      metrics: `127.0.0.1:${adminPort}`,
      admin: { publicStatus: true },
      logLevel: 'info', // the port is read from the 'listening for miners' line
      vardiff: {
        initialDifficulty: TINY_DIFFICULTY,
        minDifficulty: TINY_DIFFICULTY,
        retargetSeconds: 100_000,
        burstShares: 0,
        noShareTargets: 0,
        firstShareTargets: 0,
        honourMinerFloor: false,
      },
      limits: { maxConnectionsPerAddress: 0, maxUnauthenticatedPerAddress: 0 },
    },
    workDir,
  );
  const loadgen = new LoadGenerator({
    host: '127.0.0.1',
    port: proxy.port,
    connections,
    username: 'bench.rig',
  });
  try {
    const { seconds: connectSeconds } = await loadgen.connect();
    console.log(`status-page: ${connections} miners connected in ${connectSeconds.toFixed(1)} s`);
    const html = await getOnWire(`${admin}/`);
    // A share each so every miner has a row with numbers, then the two windows.
    await loadgen.submitAtRate({ rate: Math.max(rate, connections / 5), seconds: 5 });
    const json = Buffer.byteLength(await (await fetch(`${admin}/api/status`)).text());
    const jsonOnWire = await getOnWire(`${admin}/api/status`);
    console.log(
      `status-page: page weight on the wire ${html} bytes (GET /, gzip) + ${jsonOnWire} bytes of JSON ` +
        `(${json} uncompressed) at ${connections} miners`,
    );
    const quiet = await measureWindow(proxy, loadgen, admin, rate, seconds, 0);
    const watched = await measureWindow(proxy, loadgen, admin, rate, seconds, viewers);
    for (const [label, figures] of [
      ['no page open', quiet],
      [`${viewers} page(s) open`, watched],
    ] as const) {
      const polls = figures.polls;
      const pollMs = polls.map((poll) => poll.ms).sort((a, b) => a - b);
      const pollText =
        polls.length === 0
          ? ''
          : `; /api/status ${polls.length} answers, median ${pollMs[Math.floor(pollMs.length / 2)]!.toFixed(1)} ms, ` +
            `max ${pollMs.at(-1)!.toFixed(1)} ms, ${polls[0]!.bytes} bytes on the wire`;
      console.log(
        `status-page: ${label}: proxy ${figures.cores.toFixed(3)} cores, event-loop delay p99 ` +
          `${figures.loopP99Ms.toFixed(1)} ms / max ${figures.loopMaxMs.toFixed(1)} ms, ` +
          `${(figures.accepted / seconds).toFixed(0)} shares/s accepted${pollText} ` +
          `(other processes: ${figures.othersCores.toFixed(2)} cores)`,
      );
    }
  } finally {
    loadgen.close();
    await proxy.stop();
    await sink.close();
    rmSync(workDir, { recursive: true, force: true });
  }
}

async function measureWindow(
  proxy: ConfigProxyProcess,
  loadgen: LoadGenerator,
  admin: string,
  rate: number,
  seconds: number,
  viewers: number,
): Promise<WindowFigures> {
  await scrape(admin); // resets the event-loop histogram
  const cpuBefore = proxy.cpuSeconds();
  const busyBefore = machineBusySeconds();
  const started = performance.now();
  const polls: { ms: number; bytes: number }[] = [];
  let watching = viewers > 0;
  const viewer = async (): Promise<void> => {
    while (watching) {
      const sent = performance.now();
      const bytes = await getOnWire(`${admin}/api/status`);
      polls.push({ ms: performance.now() - sent, bytes });
      await sleep(STATUS_POLL_MS);
    }
  };
  const viewing = Array.from({ length: viewers }, () => viewer());
  const log = await loadgen.submitAtRate({ rate, seconds });
  watching = false;
  await Promise.all(viewing);
  const wall = (performance.now() - started) / 1000;
  const cpu = proxy.cpuSeconds() - cpuBefore;
  const metrics = await scrape(admin);
  let accepted = 0;
  for (let i = 0; i < log.count; i++) if (log.reply[i] === 1) accepted++;
  return {
    cores: cpu / wall,
    othersCores: (machineBusySeconds() - busyBefore) / wall - cpu / wall,
    loopP99Ms: (metrics.get('hashrelay_nodejs_eventloop_lag_p99_seconds') ?? Number.NaN) * 1000,
    loopMaxMs: (metrics.get('hashrelay_nodejs_eventloop_lag_max_seconds') ?? Number.NaN) * 1000,
    accepted,
    polls,
  };
}
