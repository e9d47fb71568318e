import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Keyring } from '@polkadot/keyring';
import { cryptoWaitReady, mnemonicGenerate } from '@polkadot/util-crypto';
import { Registry } from 'prom-client';
import { afterEach, describe, expect, test } from 'vitest';
import { runMinerAgentCommand } from '../cli/miner-agent-command.js';
import { runValidatorCommand } from '../cli/validator-command.js';
import { MinerAgent } from '../miner-agent/agent.js';
import type { Hotkey } from '../src/chain/hotkey.js';
import { MemoryChain } from '../src/chain/memory-chain.js';
import { silentLogger } from '../src/log/logger.js';
import { ProxyMetrics } from '../src/metrics/proxy-metrics.js';
import type { ProxyState } from '../proxy/proxy.js';
import { admissionCounter } from '../validator/admission.js';
import { WeightMetrics, type TickReport } from '../validator/weight-poster.js';
import { CpuMiner } from './peers/cpu-miner.js';
import { RawStratumClient } from './peers/raw-client.js';
import { TestPool } from './peers/test-pool.js';
import { REPO_ROOT } from './support/cli.js';
import { craftShare } from './support/craft-share.js';
import { freePort } from './support/ports.js';
import { findBinary, startPrometheus, type RunningPrometheus } from './support/prometheus.js';

/**
 * The Grafana dashboards in deploy/grafana/dashboards against the metrics hashrelay exports: every
 * panel query must name metrics that exist, and — with a real Prometheus scraping a farm proxy
 * and a validator under load — must return data. A panel that shows nothing is a bug.
 */

const DASHBOARD_DIR = join(REPO_ROOT, 'deploy/grafana/dashboards');

/** What Grafana's built-in variables become in a test query (1 s scrapes, a minute or two of data). */
const BUILTINS: Readonly<Record<string, string>> = {
  __rate_interval: '15s',
  __interval: '5s',
  __range: '10m',
};

interface Dashboard {
  readonly uid: string;
  readonly title: string;
  readonly panels: readonly Panel[];
  readonly templating: { readonly list: readonly { readonly name: string; readonly type: string }[] };
}

interface Panel {
  readonly id: number;
  readonly type: string;
  readonly title: string;
  readonly datasource?: { readonly type: string; readonly uid: string };
  readonly gridPos: { readonly x: number; readonly y: number; readonly w: number; readonly h: number };
  readonly targets?: readonly { readonly expr: string; readonly refId: string }[];
}

interface PanelQuery {
  readonly dashboard: string;
  readonly panel: string;
  readonly expr: string;
  /** The expression as Prometheus gets it: variables substituted. */
  readonly promql: string;
}

function loadDashboard(name: string): Dashboard {
  return JSON.parse(readFileSync(join(DASHBOARD_DIR, `${name}.json`), 'utf8')) as Dashboard;
}

/** Replaces `$name` and `${name}` with what a test query should use: builtins, or `.*` (All). */
function substitute(expr: string, variables: readonly string[]): string {
  return expr.replace(
    /\$\{(\w+)\}|\$(\w+)/g,
    (match, braced: string | undefined, bare: string | undefined) => {
      const name = braced ?? bare ?? '';
      if (name in BUILTINS) return BUILTINS[name]!;
      if (variables.includes(name)) return '.*';
      throw new Error(`unknown Grafana variable ${match} in: ${expr}`);
    },
  );
}

function panelQueries(name: string): PanelQuery[] {
  const dashboard = loadDashboard(name);
  const variables = dashboard.templating.list.map((variable) => variable.name);
  return dashboard.panels.flatMap((panel) =>
    (panel.targets ?? []).map((target) => ({
      dashboard: name,
      panel: panel.title,
      expr: target.expr,
      promql: substitute(target.expr, variables),
    })),
  );
}

function metricsIn(expr: string): string[] {
  return [...new Set(expr.match(/\bhashrelay_[a-z0-9_]+/g) ?? [])];
}

const DASHBOARDS = readdirSync(DASHBOARD_DIR)
  .filter((file) => file.endsWith('.json'))
  .map((file) => file.slice(0, -'.json'.length))
  .sort();

/** Every metric name (with histogram series suffixes) that hashrelay's code can register. */
async function definedMetricNames(): Promise<Set<string>> {
  await cryptoWaitReady();
  const registry = new Registry();
  new ProxyMetrics(registry);
  new WeightMetrics(registry);
  admissionCounter(registry);
  const chain = new MemoryChain();
  new MinerAgent({
    chain,
    netuid: 1,
    hotkey: new Keyring({ type: 'sr25519' }).addFromUri('//Farm'),
    worker: undefined,
    filters: { requirePermit: true, minStake: 0n, blacklist: new Set(), maxValidators: 0 },
    intervalBlocks: 1,
    probeTimeoutMs: 1000,
    router: { setValidators: () => undefined, isHealthy: () => false },
    logger: silentLogger(),
    registry,
  });
  await chain.close();
  const names = new Set<string>();
  for (const metric of await registry.getMetricsAsJSON()) {
    names.add(metric.name);
    if (String(metric.type) === 'histogram')
      for (const suffix of ['_bucket', '_sum', '_count']) names.add(metric.name + suffix);
  }
  return names;
}

describe('Grafana dashboards', () => {
  test('there are farm, proxy and validator dashboards', () => {
    expect(DASHBOARDS).toEqual(['farm', 'proxy', 'validator']);
  });

  test.each(DASHBOARDS)(
    '%s: panels are well formed and query only metrics hashrelay defines',
    async (name) => {
      const dashboard = loadDashboard(name);
      expect(dashboard.uid).toBe(`hashrelay-${name}`);
      const ids = dashboard.panels.map((panel) => panel.id);
      expect(new Set(ids).size).toBe(ids.length);
      const defined = await definedMetricNames();
      const problems: string[] = [];
      for (const panel of dashboard.panels) {
        if (panel.gridPos.x + panel.gridPos.w > 24) problems.push(`${panel.title}: wider than the grid`);
        if (panel.type === 'row') continue;
        if (panel.datasource?.uid !== '${datasource}')
          problems.push(`${panel.title}: datasource is not the dashboard's $datasource`);
        if ((panel.targets ?? []).length === 0) problems.push(`${panel.title}: no query`);
      }
      for (const query of panelQueries(name)) {
        expect(query.promql).not.toContain('$');
        for (const metric of metricsIn(query.expr))
          if (!defined.has(metric)) problems.push(`${query.panel}: ${metric} is not a hashrelay metric`);
      }
      expect(problems).toEqual([]);
    },
  );
});

const PROMETHEUS = findBinary('prometheus');
if (PROMETHEUS === undefined)
  console.warn(
    'deploy-dashboards: no prometheus binary, skipping the live check; .ci/run installs it (apt-get install -y prometheus)',
  );

const DIFFICULTY = 2 ** -18;
/** Network target at difficulty 2^-15: about one share in eight is a block, so "Blocks found" has data. */
const EASY_NBITS = 0x1e7fff80;
const TAO = 1_000_000_000n;
const TOKEN = 'dashboards-admin-token-0123456789';

const cleanups: (() => Promise<void>)[] = [];
const savedEnv = { ...process.env };
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => undefined);
  process.env = { ...savedEnv };
});

async function until(
  check: () => boolean | Promise<boolean>,
  timeoutMs: number,
  what: string,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await Promise.resolve(check()).catch(() => false))) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** Sends a low-difficulty share, a duplicate, an unknown job and a malformed line, then hangs up. */
async function misbehave(port: number): Promise<void> {
  const client = await RawStratumClient.connect(port);
  try {
    await client.subscribe();
    expect(await client.authorize('bad.rig')).toBe(true);
    await client.waitFor((c) => c.jobs.length > 0 && c.difficulties.length > 0, 10_000, 'a job');
    const low = await client.submit(craftShare(client, { low: true, worker: 'bad.rig' }));
    expect(low.error?.code).toBe(23);
    const share = craftShare(client, { worker: 'bad.rig' });
    expect((await client.submit(share)).result).toBe(true);
    expect((await client.submit(share)).error?.code).toBe(22);
    expect((await client.submit({ ...share, jobId: 'no-such-job' })).error?.code).toBe(21);
    client.sendLine('this is not json-rpc');
    // Answered in order: once this reply is in, the malformed line has been counted.
    await client.request('mining.ping', []);
  } finally {
    await client.close();
  }
}

describe.skipIf(PROMETHEUS === undefined)(
  `with a real Prometheus${PROMETHEUS === undefined ? ' (skipped: no prometheus binary; .ci/run installs it)' : ''}`,
  () => {
    test('scraping a farm under load and a real validator (miners, bad shares, a rejecting and a failed validator, a burn and a post): every panel has data', async () => {
      await cryptoWaitReady();
      const ring = new Keyring({ type: 'sr25519', ss58Format: 42 });
      const mnemonic = mnemonicGenerate();
      const farm = ring.addFromMnemonic(mnemonic);
      const chain = new MemoryChain({ startBlock: 1 });
      cleanups.push(() => chain.close());
      const owner = ring.addFromUri('//DashboardsOwner');
      // Weights every block, one uid allowed: the validator burns before work arrives, then sets.
      chain.addSubnet(3, {
        tempo: 20,
        weightsRateLimit: 1,
        commitRevealEnabled: false,
        minAllowedWeights: 1,
        ownerHotkey: owner.address as Hotkey,
      });
      chain.register(3, owner.address, { stake: 0n, validatorPermit: false });
      chain.register(3, farm.address, { stake: 0n, validatorPermit: false });
      const dir = mkdtempSync(join(tmpdir(), 'hashrelay-dashboards-'));
      process.env.HASHRELAY_ADMIN_TOKEN = TOKEN;
      const headers = { authorization: `Bearer ${TOKEN}` };
      const pools: TestPool[] = [];
      for (const name of ['A', 'B', 'C']) {
        const pool = await TestPool.start({ name, difficulty: DIFFICULTY, nbits: EASY_NBITS, sniff: false });
        cleanups.push(() => pool.stop());
        pools.push(pool);
      }
      const [poolA, poolB, poolC] = pools as [TestPool, TestPool, TestPool];

      // Validator A is a real `hashrelay validator` in front of pool A; B and C are bare pools.
      const validatorMnemonic = mnemonicGenerate();
      const validatorA = ring.addFromMnemonic(validatorMnemonic);
      chain.register(3, validatorA.address, { stake: 500n * TAO, validatorPermit: true });
      process.env.HASHRELAY_DASHBOARDS_VALIDATOR_MNEMONIC = validatorMnemonic;
      const [validatorListen, validatorAdmin] = [await freePort(), await freePort()];
      const validatorConfig = join(dir, 'validator.json');
      writeFileSync(
        validatorConfig,
        JSON.stringify({
          chain: 'ws://127.0.0.1:1',
          netuid: 3,
          hotkey: { mnemonicEnv: 'HASHRELAY_DASHBOARDS_VALIDATOR_MNEMONIC' },
          publicEndpoint: `stratum+tcp://127.0.0.1:${validatorListen}`,
          weights: { stateDir: join(dir, 'validator-state'), intervalBlocks: 1 },
          proxy: {
            listen: [`127.0.0.1:${validatorListen}`],
            upstreams: [`stratum+tcp://validator.a:x@127.0.0.1:${poolA.port}`],
            ledger: `sqlite:${join(dir, 'validator.sqlite')}`,
            metrics: `127.0.0.1:${validatorAdmin}`,
            logLevel: 'silent',
            vardiff: {
              initialDifficulty: DIFFICULTY,
              minDifficulty: 2 ** -32,
              retargetSeconds: 100_000,
              burstShares: 0,
            },
            // This test chain's blocks are far under difficulty 1: count them as blocks all the same.
            blocks: { minDifficulty: 2 ** -32 },
          },
        }),
      );
      const ticks: TickReport[] = [];
      const validatorExit = runValidatorCommand(['--config', validatorConfig], {
        connectChain: () => Promise.resolve(chain),
        onTick: (report) => ticks.push(report),
      });
      let validatorDrained = false;
      const drainValidator = async (): Promise<void> => {
        if (validatorDrained) return;
        validatorDrained = true;
        await fetch(`http://127.0.0.1:${validatorAdmin}/api/drain`, { method: 'POST', headers });
        await validatorExit;
      };
      cleanups.push(drainValidator);
      for (const [name, stake, pool] of [
        ['B', 300n, poolB],
        ['C', 200n, poolC],
      ] as const) {
        const validator = ring.addFromUri(`//Validator${name}`);
        chain.register(3, validator.address, { stake: stake * TAO, validatorPermit: true });
        await chain.publishCommitment(validator, 3, `stratum+tcp://127.0.0.1:${pool.port}`);
      }
      await until(async () => (await chain.commitments(3)).size === 3, 10_000, 'validator A to publish');
      // No work yet: the first post weights the subnet owner (burn).
      const posted = (burn: boolean): boolean =>
        ticks.some((t) => t.post.kind === 'set' && t.post.scores.burn === burn);
      chain.advance(1);
      await until(() => posted(true), 10_000, 'validator A to post a burn');

      const [listen, admin] = [await freePort(), await freePort()];
      const configPath = join(dir, 'farm.json');
      writeFileSync(
        configPath,
        JSON.stringify({
          chain: 'ws://127.0.0.1:1',
          netuid: 3,
          intervalBlocks: 1000,
          probeTimeoutSeconds: 2,
          proxy: {
            listen: [`127.0.0.1:${listen}`],
            ledger: `sqlite:${join(dir, 'farm.sqlite')}`,
            metrics: `127.0.0.1:${admin}`,
            logLevel: 'silent',
            routing: { minDwellSeconds: 1, windowSeconds: 60 },
            vardiff: {
              initialDifficulty: DIFFICULTY,
              minDifficulty: 2 ** -32,
              retargetSeconds: 100_000,
              burstShares: 0,
            },
            // This test chain's blocks are far under difficulty 1: count them as blocks all the same.
            blocks: { minDifficulty: 2 ** -32 },
            upstream: {
              connectTimeoutSeconds: 2,
              backoffMinSeconds: 0.2,
              backoffMaxSeconds: 1,
              maxConsecutiveRejects: 5,
            },
          },
        }),
      );
      process.env.HASHRELAY_HOTKEY_MNEMONIC = mnemonic;
      const exit = runMinerAgentCommand(['--config', configPath], {
        connectChain: () => Promise.resolve(chain),
      });
      let drained = false;
      const drain = async (): Promise<void> => {
        if (drained) return;
        drained = true;
        await fetch(`http://127.0.0.1:${admin}/api/drain`, { method: 'POST', headers });
        await exit;
      };
      cleanups.push(drain);
      const state = async (): Promise<ProxyState> =>
        (await (await fetch(`http://127.0.0.1:${admin}/api/state`, { headers })).json()) as ProxyState;
      await until(
        async () => (await state()).upstreams.filter((u) => u.healthy).length === 3,
        15_000,
        'three validators up',
      );

      const prometheus: RunningPrometheus = await startPrometheus(PROMETHEUS!, {
        targets: [`127.0.0.1:${admin}`, `127.0.0.1:${validatorAdmin}`],
        scrapeIntervalSeconds: 1,
      });
      cleanups.push(() => prometheus.stop());

      for (const name of ['rig1', 'rig2', 'rig3']) {
        const miner = await CpuMiner.connect({
          port: listen,
          username: name,
          sniff: false,
          maxSharesPerSecond: 10,
        });
        cleanups.push(() => miner.close());
      }
      await until(
        () =>
          pools.every((pool) => pool.acceptedCount >= 3) &&
          pools.some((p) => p.shares.some((s) => s.isBlock)),
        90_000,
        'work, and a block, at every validator',
      );

      // A validator that rejects for a while, bad shares from a miner, then a validator that dies.
      poolB.setMode('reject-all');
      await until(() => poolB.rejectedCount >= 2, 30_000, 'validator B to reject shares');
      poolB.setMode('normal');
      await misbehave(listen);
      await poolC.stop();
      await until(
        async () => (await state()).upstreams.some((u) => !u.healthy),
        15_000,
        'validator C to be marked down',
      );
      // A block with the farm's work in it: validator A weights the farm.
      chain.advance(1);
      await until(() => posted(false), 10_000, "validator A to weight the farm's work");
      expect(poolA.acceptedCount).toBeGreaterThan(0);

      await prometheus.waitForScrapes(4);
      // What the reject, health and block panels show did happen, and reached Prometheus.
      for (const expr of [
        'hashrelay_shares_total{verdict="low-difficulty"} > 0',
        'hashrelay_shares_total{verdict="duplicate"} > 0',
        'hashrelay_shares_total{verdict="unknown-job"} > 0',
        'hashrelay_upstream_shares_total{result="rejected"} > 0',
        'hashrelay_upstream_up == 0',
        'hashrelay_upstream_failures_total > 0',
        'hashrelay_protocol_errors_total{kind="invalid-message"} > 0',
        'hashrelay_miner_disconnects_total > 0',
        'hashrelay_blocks_found_total > 0',
        'hashrelay_worker_credited_difficulty_total{worker="rig1"} > 0',
        'hashrelay_miner_credited_difficulty_total{miner="rig1"} > 0',
        `hashrelay_miner_credited_difficulty_total{miner="${farm.address}"} > 0`,
        'hashrelay_validator_admissions_total{result="accepted"} > 0',
        'hashrelay_weights_posted_total{result="set"} >= 2',
        'hashrelay_weights_burn_total > 0',
        'hashrelay_weights_last_posted_block > 1',
      ])
        expect(await prometheus.query(expr), expr).not.toEqual([]);

      const checked: string[] = [];
      const empty: string[] = [];
      for (const name of DASHBOARDS) {
        for (const query of panelQueries(name)) {
          const where = `${name} / ${query.panel}`;
          checked.push(where);
          try {
            const series = await prometheus.query(query.promql);
            if (series.length === 0) empty.push(`${where}: ${query.promql}`);
          } catch (error) {
            empty.push(`${where}: ${(error as Error).message}`);
          }
        }
      }
      expect(empty).toEqual([]);
      expect(checked.length).toBeGreaterThanOrEqual(60);

      await drain();
      expect((await exit).code).toBe(0);
      await drainValidator();
      expect((await validatorExit).code).toBe(0);
    }, 180_000);
  },
);
