import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Keyring } from '@polkadot/keyring';
import type { KeyringPair } from '@polkadot/keyring/types';
import { cryptoWaitReady, mnemonicGenerate } from '@polkadot/util-crypto';
import type { Chain } from '../src/chain/chain.js';
import type { Hotkey } from '../src/chain/hotkey.js';
import { MemoryChain } from '../src/chain/memory-chain.js';
import { parseHostPort } from '../src/config/endpoints.js';
import type { ProxyState } from '../proxy/proxy.js';
import type { TickReport } from '../validator/weight-poster.js';
import type { CpuMiner } from '../test/peers/cpu-miner.js';
import { ExitCode, type CommandResult } from './command.js';
import { DemoStop, type WatchedRole } from './demo-stop.js';
import { runMinerAgentCommand } from './miner-agent-command.js';
import { runValidatorCommand } from './validator-command.js';

export const demoHelp = `Usage: hashrelay demo [--miners N] [--seconds S] [--dir DIR] [--metrics HOST:PORT]

A development command: it runs the test pool and CPU miners of the source tree (test/peers),
which need the development dependencies (npm install in a checkout; npm start runs it).

Runs the whole loop on this machine with nothing else needed: an in-memory subtensor (one
block a second), a local test pool (real block templates, its own share check), two
validators with different stakes (each 'hashrelay validator' with its own SQLite ledger,
admitting only signed farms), two farms ('hashrelay miner-agent': a farm proxy that reads
the validators from the chain and splits its work between them by stake), and N CPU miners
doing real sha256d at a low difficulty. Every 5 s it prints the split each farm achieved
against its target, and the weights each validator posted on chain.

  --miners N          CPU miners, shared between the two farms (default 3: 2 and 1)
  --seconds S         stop after S seconds (default: run until Ctrl-C)
  --dir DIR           where the ledgers and configs go (default: a new temp directory)
  --metrics HOST:PORT the first farm's admin listener, for Prometheus (default 127.0.0.1:9464)
`;

const DIFFICULTY = 2 ** -18;
const NETUID = 1;
const TAO = 1_000_000_000n;
const VALIDATOR_STAKES = [
  ['validator-a', 3000n],
  ['validator-b', 1000n],
] as const;

interface DemoValidator {
  readonly name: string;
  readonly hotkey: KeyringPair;
  readonly stake: bigint;
  readonly admin: number;
  readonly posts: TickReport[];
  readonly role: WatchedRole;
}

interface DemoFarm {
  readonly name: string;
  readonly hotkey: KeyringPair;
  readonly listen: number;
  readonly admin: { host: string; port: number };
  readonly role: WatchedRole;
  readonly miners: number;
  readonly cpu: CpuMiner[];
}

type DemoPeers = Awaited<ReturnType<typeof loadDemoPeers>>;

/** The demo's pool and miners are test peers: loaded only here, so production installs never need them. */
async function loadDemoPeers() {
  const [{ CpuMiner }, { TestPool }, { freePort }] = await Promise.all([
    import('../test/peers/cpu-miner.js'),
    import('../test/peers/test-pool.js'),
    import('../test/support/ports.js'),
  ]);
  return { CpuMiner, TestPool, freePort };
}

const MISSING_DEV_DEPENDENCIES = `hashrelay demo: the demo runs the test pool and CPU miners of the source tree, which need the development dependencies; this install has none (npm install --omit=dev, or the Docker image).
Run it from a checkout: npm install && npm start (or npx hashrelay demo). The production roles (proxy, miner-agent, validator, audit, share) need none of them.
`;

function percent(ratio: number | null): string {
  return ratio === null ? '–' : `${(ratio * 100).toFixed(1)} %`;
}

export async function runDemoCommand(args: readonly string[]): Promise<CommandResult> {
  const { values } = parseArgs({
    args: [...args],
    options: {
      help: { type: 'boolean', short: 'h' },
      miners: { type: 'string', default: '3' },
      seconds: { type: 'string' },
      dir: { type: 'string' },
      metrics: { type: 'string', default: '127.0.0.1:9464' },
    },
  });
  if (values.help === true) return { code: ExitCode.ok, stdout: demoHelp };
  const minerCount = Number(values.miners);
  if (!Number.isInteger(minerCount) || minerCount < 2 || minerCount > 64)
    return { code: ExitCode.usage, stderr: 'hashrelay demo: --miners must be 2 to 64 (two farms)\n' };
  const seconds = values.seconds === undefined ? undefined : Number(values.seconds);
  if (seconds !== undefined && !(seconds > 0))
    return { code: ExitCode.usage, stderr: 'hashrelay demo: --seconds must be positive\n' };
  let farmAdmin: { host: string; port: number };
  try {
    farmAdmin = parseHostPort(values.metrics);
  } catch (error) {
    return { code: ExitCode.usage, stderr: `hashrelay demo: --metrics: ${(error as Error).message}\n` };
  }
  let peers: DemoPeers;
  try {
    peers = await loadDemoPeers();
  } catch (error) {
    if ((error as { code?: unknown }).code === 'ERR_MODULE_NOT_FOUND')
      return { code: ExitCode.failure, stderr: `${MISSING_DEV_DEPENDENCIES}(${(error as Error).message})\n` };
    throw error;
  }
  const stop = new DemoStop();
  try {
    return await runDemo(values.dir, farmAdmin, minerCount, seconds, peers, stop);
  } finally {
    stop.dispose();
  }
}

async function runDemo(
  dirOption: string | undefined,
  farmAdmin: { host: string; port: number },
  minerCount: number,
  seconds: number | undefined,
  { CpuMiner, TestPool, freePort }: DemoPeers,
  stop: DemoStop,
): Promise<CommandResult> {
  const out = (line: string): void => {
    process.stdout.write(`${line}\n`);
  };
  await cryptoWaitReady();
  const ring = new Keyring({ type: 'sr25519', ss58Format: 42 });
  const dir = dirOption ?? mkdtempSync(join(tmpdir(), 'hashrelay-demo-'));
  // A --dir that does not exist yet is made, as an operator naming a fresh directory expects.
  if (dirOption !== undefined) mkdirSync(dirOption, { recursive: true });
  const file = (name: string, content: unknown): string => {
    const path = join(dir, name);
    writeFileSync(path, JSON.stringify(content, null, 2));
    return path;
  };
  // The admin API (state and drain) of every role, with a token only this process knows.
  const token = randomBytes(24).toString('hex');
  process.env.HASHRELAY_ADMIN_TOKEN = token;
  // Fixed difficulty: a burst raise from a few clumped CPU-miner shares can overshoot (see vardiff).
  const vardiff = {
    initialDifficulty: DIFFICULTY,
    minDifficulty: 2 ** -32,
    retargetSeconds: 100_000,
    burstShares: 0,
  };

  const chain = new MemoryChain({ startBlock: 1 });
  const owner = ring.addFromUri('//DemoSubnetOwner');
  chain.addSubnet(NETUID, {
    tempo: 20,
    weightsRateLimit: 10,
    commitRevealEnabled: false,
    minAllowedWeights: 1,
    ownerHotkey: owner.address as Hotkey,
  });
  chain.register(NETUID, owner.address, { stake: 0n, validatorPermit: false });
  // Each role closes its chain when it stops; here they share one, which only the demo closes.
  const shared = new Proxy(chain, {
    get: (target, key) => {
      if (key === 'close') return () => Promise.resolve();
      const value: unknown = Reflect.get(target, key);
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
  const connectChain = (): Promise<Chain> => Promise.resolve(shared);
  const pool = await TestPool.start({ name: 'demo-pool', difficulty: DIFFICULTY, sniff: false });

  const adminUrl = (admin: { host: string; port: number }, path: string): string =>
    `http://${admin.host}:${admin.port}${path}`;
  const state = async (admin: { host: string; port: number }): Promise<ProxyState | undefined> => {
    const response = await fetch(adminUrl(admin, '/api/state'), {
      headers: { authorization: `Bearer ${token}` },
      signal: AbortSignal.timeout(2000),
    }).catch(() => undefined);
    return response?.ok === true ? ((await response.json()) as ProxyState) : undefined;
  };
  /**
   * Starts a role on ports picked free just before. Another process may bind one in between;
   * then the role exits at once saying so, and it is started again on fresh ports (three tries).
   * A port the operator chose (--metrics) is never picked again: that failure stands.
   */
  const startRole = async (
    launch: (ports: readonly number[]) => {
      exit: Promise<CommandResult>;
      admin: { host: string; port: number };
    },
    portCount: number,
  ): Promise<{
    ports: readonly number[];
    exit: Promise<CommandResult>;
    admin: { host: string; port: number };
  }> => {
    for (let attempt = 1; ; attempt++) {
      const ports: number[] = [];
      for (let i = 0; i < portCount; i++) ports.push(await freePort());
      const started = launch(ports);
      const outcome: { exited?: CommandResult } = {};
      void started.exit.then((result) => (outcome.exited = result));
      const deadline = Date.now() + 20_000;
      while (outcome.exited === undefined && !stop.requested && Date.now() < deadline) {
        if ((await state(started.admin)) !== undefined) return { ports, ...started };
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      const stderr = outcome.exited?.stderr ?? '';
      const taken = ports.some((port) => stderr.includes(`port ${port} in use`));
      if (!taken || attempt === 3) return { ports, ...started };
    }
  };

  const validators: DemoValidator[] = [];
  for (const [name, stake] of VALIDATOR_STAKES) {
    const mnemonic = mnemonicGenerate();
    const hotkey = ring.addFromMnemonic(mnemonic);
    chain.register(NETUID, hotkey.address, { stake: stake * TAO, validatorPermit: true });
    const env = `HASHRELAY_DEMO_${name.replace('-', '_').toUpperCase()}_MNEMONIC`;
    process.env[env] = mnemonic;
    const posts: TickReport[] = [];
    const { exit, admin } = await startRole(([listen, adminPort]) => {
      const admin = { host: '127.0.0.1', port: adminPort! };
      const config = file(`${name}.json`, {
        chain: 'ws://in-memory.invalid:1',
        netuid: NETUID,
        hotkey: { mnemonicEnv: env },
        publicEndpoint: `stratum+tcp://127.0.0.1:${listen}`,
        weights: { stateDir: join(dir, `${name}-state`), intervalBlocks: 10 },
        proxy: {
          listen: [`127.0.0.1:${listen}`],
          upstreams: [{ url: `stratum+tcp://${name}.account:x@127.0.0.1:${pool.port}`, name: 'pool' }],
          ledger: `sqlite:${join(dir, `${name}.sqlite`)}`,
          metrics: `127.0.0.1:${adminPort}`,
          admin: { publicStatus: true },
          logLevel: 'error',
          vardiff,
        },
      });
      const exit = runValidatorCommand(['--config', config], {
        connectChain,
        onTick: (report) => {
          if (report.post.kind === 'set') posts.push(report);
        },
      });
      return { exit, admin };
    }, 2);
    validators.push({ name, hotkey, stake, admin: admin.port, posts, role: stop.watch(name, exit) });
  }

  const farms: DemoFarm[] = [];
  for (const [index, name] of ['farm-1', 'farm-2'].entries()) {
    const mnemonic = mnemonicGenerate();
    const hotkey = ring.addFromMnemonic(mnemonic);
    chain.register(NETUID, hotkey.address, { stake: 0n, validatorPermit: false });
    const env = `HASHRELAY_DEMO_${name.replace('-', '_').toUpperCase()}_MNEMONIC`;
    process.env[env] = mnemonic;
    const chosenAdmin = index === 0 && farmAdmin.port !== 0 ? farmAdmin : undefined;
    const { ports, exit, admin } = await startRole(
      ([listen, adminPort]) => {
        const admin = chosenAdmin ?? { host: '127.0.0.1', port: adminPort! };
        const config = file(`${name}.json`, {
          chain: 'ws://in-memory.invalid:1',
          netuid: NETUID,
          hotkey: { mnemonicEnv: env },
          worker: 'demo',
          intervalBlocks: 5,
          probeTimeoutSeconds: 2,
          proxy: {
            listen: [`127.0.0.1:${listen}`],
            ledger: `sqlite:${join(dir, `${name}.sqlite`)}`,
            metrics: `${admin.host}:${admin.port}`,
            // Loopback only: the status pages open without the token this process keeps to itself.
            admin: { publicStatus: true },
            logLevel: 'error',
            routing: { minDwellSeconds: 2, windowSeconds: 60 },
            vardiff,
          },
        });
        return { exit: runMinerAgentCommand(['--config', config], { connectChain }), admin };
      },
      chosenAdmin === undefined ? 2 : 1,
    );
    const listen = ports[0]!;
    // Two thirds of the miners on the first farm, so the two farms' weights differ.
    const miners =
      index === 0 ? Math.ceil((minerCount * 2) / 3) : minerCount - Math.ceil((minerCount * 2) / 3);
    const hint =
      index === 0
        ? ` (${name}'s admin listener is the demo's --metrics; --metrics 127.0.0.1:0 takes a free port)`
        : '';
    farms.push({ name, hotkey, listen, admin, role: stop.watch(name, exit, hint), miners, cpu: [] });
  }
  chain.startAutoBlocks(1000);

  for (const farm of farms) {
    const deadline = Date.now() + 20_000;
    while (!stop.requested && !((await state(farm.admin))?.upstreams.some((u) => u.healthy) ?? false)) {
      if (Date.now() > deadline) {
        out(`hashrelay demo: ${farm.name} found no validator within 20 s`);
        break;
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    for (let i = 0; i < farm.miners && !stop.requested; i++) {
      try {
        farm.cpu.push(
          await CpuMiner.connect({
            port: farm.listen,
            username: `rig${i + 1}`,
            sniff: false,
            versionRolling: i % 2 === 1 ? { mask: 0x1fffe000 } : undefined,
          }),
        );
      } catch (error) {
        stop.fail(`a CPU miner could not connect to ${farm.name}: ${(error as Error).message}`);
      }
    }
  }

  const names = new Map<string, string>([
    [owner.address, 'subnet-owner (burn: no work yet)'],
    ...validators.map((v) => [v.hotkey.address, v.name] as const),
    ...farms.map((f) => [f.hotkey.address, f.name] as const),
  ]);
  const label = (hotkey: string): string => names.get(hotkey) ?? hotkey.slice(0, 8);
  const started = Date.now();
  const reported = new Map<string, number>();
  const report = async (): Promise<void> => {
    const elapsed = `[${Math.round((Date.now() - started) / 1000)} s]`;
    const block = await chain.currentBlock();
    for (const farm of farms) {
      const farmState = await state(farm.admin);
      const split = (farmState?.upstreams ?? [])
        .map((u) => `${label(u.name)} target ${percent(u.target)} realised ${percent(u.realised)}`)
        .join(' · ');
      const accepted = farm.cpu.reduce((sum, miner) => sum + miner.acceptedCount, 0);
      out(
        `${elapsed} block ${block} ${farm.name}: ${split || 'no validator yet'}; miners told "accepted": ${accepted}`,
      );
    }
    for (const v of validators) {
      const last = v.posts.at(-1);
      if (last === undefined || last.post.kind !== 'set' || reported.get(v.name) === last.block) continue;
      reported.set(v.name, last.block);
      const uidHotkey = new Map(
        (await chain.metagraph(NETUID)).neurons.map((n) => [n.uid, n.hotkey as string]),
      );
      const vector = last.post.vector.uids
        .map(
          (uid, i) =>
            `${label(uidHotkey.get(uid) ?? '')} (uid ${uid}) ${last.post.kind === 'set' ? last.post.vector.values[i] : ''}`,
        )
        .join(', ');
      out(`${elapsed} ${v.name} posted weights at block ${last.post.inclusion.block}: ${vector}`);
    }
    out(`${elapsed} pool accepted ${pool.acceptedCount} shares, rejected ${pool.rejectedCount}`);
  };
  if (!stop.requested) {
    out(
      `hashrelay demo: in-memory subtensor, subnet ${NETUID}, one block a second; ledgers and configs in ${dir}`,
    );
    for (const v of validators)
      out(
        `  ${v.name}: stake ${v.stake} (${percent(Number(v.stake) / 4000)}), hotkey ${v.hotkey.address}, in front of the test pool`,
      );
    for (const f of farms)
      out(
        `  ${f.name}: hotkey ${f.hotkey.address}, ${f.miners} CPU miner(s) at difficulty 2^-18, proxy 127.0.0.1:${f.listen}`,
      );
    out(`  Prometheus metrics of farm-1: ${adminUrl(farms[0]!.admin, '/metrics')}`);
    out('  Status pages (open in a browser; live):');
    for (const f of farms) out(`    ${f.name}: ${adminUrl(f.admin, '/')}`);
    for (const v of validators) out(`    ${v.name}: ${adminUrl({ host: '127.0.0.1', port: v.admin }, '/')}`);
    const timer = setInterval(() => void report(), 5000);
    const deadline =
      seconds === undefined
        ? undefined
        : setTimeout(() => {
            stop.request('time');
          }, seconds * 1000);
    await stop.stopped;
    clearInterval(timer);
    clearTimeout(deadline);
    await report();
  }

  // Miners first, then every role still running drains; one still starting (Ctrl-C early) has
  // no admin listener yet, so it is asked again until it answers or exits.
  for (const farm of farms) for (const miner of farm.cpu) await miner.close();
  const drain = async (admin: { host: string; port: number }, role: WatchedRole): Promise<void> => {
    while (!role.exited()) {
      const answered = await fetch(adminUrl(admin, '/api/drain'), {
        method: 'POST',
        headers: { authorization: `Bearer ${token}` },
      }).then(
        () => true,
        () => false,
      );
      if (answered) return;
      await Promise.race([role.exit, new Promise((resolve) => setTimeout(resolve, 100))]);
    }
  };
  for (const farm of farms) await drain(farm.admin, farm.role);
  for (const v of validators) await drain({ host: '127.0.0.1', port: v.admin }, v.role);
  const results = await Promise.all([...farms, ...validators].map((r) => r.role.exit));
  chain.stopAutoBlocks();
  await chain.close();
  await pool.stop();
  if (stop.failure !== undefined)
    return { code: ExitCode.failure, stderr: `hashrelay demo: ${stop.failure}\n` };
  const failed = results.find((result) => result.code !== ExitCode.ok);
  if (failed !== undefined) return { code: failed.code, stderr: failed.stderr };
  return { code: ExitCode.ok };
}
