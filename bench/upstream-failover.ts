/**
 * Failover and failback times with the default upstream settings (issue 15): how long miners
 * stay on a primary that hangs (frozen like SIGSTOP; deaf: still sending jobs, never answering
 * a submit) or dies, and how soon they come back once it recovers.
 *
 * Real parts: the proxy engine in process (the harness the tests use, `upstream` at its
 * defaults), two test pools on real sockets, one CPU miner mining real sha256d shares. Times are
 * from the moment the pool's behaviour changes to the first share the other pool receives
 * (failover) or the recovered pool accepts on a new session (failback).
 *
 *   npm run bench -- upstream-failover [--outage S]   (how long the primary is down; default 60)
 */
import { CpuMiner } from '../test/peers/cpu-miner.js';
import { TestPool } from '../test/peers/test-pool.js';
import { startProxy, testConfig, type RunningProxy } from '../test/support/proxy-harness.js';
import { waitUntil } from './wait.js';

const DIFFICULTY = 2 ** -16;
/** Bounds every wait: a hang past this is a failure, not a figure. */
const WAIT_MS = 180_000;

interface World {
  readonly primary: TestPool;
  readonly backup: TestPool;
  readonly proxy: RunningProxy;
  readonly miner: CpuMiner;
  /** The primary's connection the miner worked on before the failure. */
  readonly original: number;
}

async function world(primaryOptions: { jobRefreshMs?: number } = {}): Promise<World> {
  const primary = await TestPool.start({
    name: 'primary',
    difficulty: DIFFICULTY,
    sniff: false,
    ...primaryOptions,
  });
  const backup = await TestPool.start({ name: 'backup', difficulty: DIFFICULTY, sniff: false });
  // `upstream: {}`: every upstream.* key at its default.
  const proxy = await startProxy(testConfig([primary.port, backup.port], { upstream: {} }));
  const miner = await CpuMiner.connect({
    port: proxy.port,
    username: 'bench.rig1',
    sniff: false,
    maxSharesPerSecond: 5,
  });
  await primary.waitFor((p) => p.acceptedCount >= 3, WAIT_MS, 'shares on the primary');
  return { primary, backup, proxy, miner, original: primary.connections[0]!.id };
}

async function close(w: World, primary = w.primary): Promise<void> {
  await w.miner.close();
  await w.proxy.stop();
  await primary.stop();
  await w.backup.stop();
}

/** Seconds from `since` (Date.now()) to the first share the backup received after it. */
async function failoverSeconds(w: World, since: number): Promise<number> {
  await w.backup.waitFor((p) => p.shares.some((s) => s.at >= since), WAIT_MS, 'a share at the backup');
  return (w.backup.shares.find((s) => s.at >= since)!.at - since) / 1000;
}

/** Seconds from `since` to the first share `pool` accepted after it on a session opened after the failure. */
async function failbackSeconds(pool: TestPool, since: number, original: number): Promise<number> {
  const back = (s: TestPool['shares'][number]): boolean =>
    s.accepted && s.at >= since && s.connectionId !== original;
  await pool.waitFor((p) => p.shares.some(back), WAIT_MS, 'a share back on the primary');
  return (pool.shares.find(back)!.at - since) / 1000;
}

function detectionSeconds(w: World, since: number): Promise<number> {
  return waitUntil(
    () => !w.proxy.proxy.state().upstreams[0]!.healthy,
    WAIT_MS,
    'the primary marked down',
  ).then(() => (Date.now() - since) / 1000);
}

async function frozen(): Promise<Record<string, number | string>> {
  const w = await world();
  const frozeAt = Date.now();
  w.primary.setMode('frozen');
  const detected = await detectionSeconds(w, frozeAt);
  const failover = await failoverSeconds(w, frozeAt);
  const thawAt = Date.now();
  w.primary.setMode('normal');
  const failback = await failbackSeconds(w.primary, thawAt, w.original);
  const state = w.proxy.proxy.state().upstreams[0]!;
  await close(w);
  return { case: 'frozen (SIGSTOP), then thawed', detected, failover, failback, lost: state.lostShares };
}

async function deaf(): Promise<Record<string, number | string>> {
  // A job every 5 s: never silent for silenceSeconds.
  const w = await world({ jobRefreshMs: 5000 });
  const deafAt = Date.now();
  w.primary.setMode('deaf');
  const detected = await detectionSeconds(w, deafAt);
  const failover = await failoverSeconds(w, deafAt);
  const lost = w.proxy.proxy.state().upstreams[0]!.lostShares;
  // A pool whose receiver died comes back by a restart.
  const port = w.primary.port;
  await w.primary.stop();
  const restartAt = Date.now();
  const restarted = await restartPrimary(port);
  const failback = await failbackSeconds(restarted, restartAt, -1);
  await close(w, restarted);
  return { case: 'deaf (jobs, no answers), then restarted', detected, failover, failback, lost };
}

async function down(outageSeconds: number): Promise<Record<string, number | string>> {
  const w = await world();
  const port = w.primary.port;
  const stopAt = Date.now();
  await w.primary.stop();
  const failover = await failoverSeconds(w, stopAt);
  await new Promise((resolve) => setTimeout(resolve, outageSeconds * 1000 - (Date.now() - stopAt)));
  const restartAt = Date.now();
  const restarted = await restartPrimary(port);
  const failback = await failbackSeconds(restarted, restartAt, -1);
  await close(w, restarted);
  return {
    case: `down ${outageSeconds} s (killed), then restarted`,
    detected: '-',
    failover,
    failback,
    lost: '-',
  };
}

export async function runUpstreamFailoverBench(argv = process.argv.slice(2)): Promise<void> {
  const at = argv.indexOf('--outage');
  const outage = at >= 0 ? Number(argv[at + 1]) : 60;
  if (!(outage > 0)) throw new RangeError('--outage takes a positive number of seconds');
  const rows = [await frozen(), await deaf(), await down(outage)];
  console.log('upstream-failover (defaults: submitAnswerSeconds 10, maxUnansweredSubmits 3, probeSeconds 5)');
  console.log(
    'seconds from the change to: primary marked down / first share at the backup / first share back',
  );
  console.table(rows);
}

/** The primary pool back on its old port (a restarted pool: new sessions, new jobs). */
function restartPrimary(port: number): Promise<TestPool> {
  return TestPool.start({ name: 'primary-again', port, difficulty: DIFFICULTY, sniff: false });
}
