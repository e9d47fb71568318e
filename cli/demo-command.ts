import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { parseProxyConfig } from '../src/config/proxy-config.js';
import { openSqliteLedger } from '../src/ledger/sqlite-ledger.js';
import { createLogger } from '../src/log/logger.js';
import { ProxyMetrics } from '../src/metrics/proxy-metrics.js';
import { startAdminServer } from '../proxy/admin-server.js';
import { Proxy } from '../proxy/proxy.js';
import { CpuMiner } from '../test/peers/cpu-miner.js';
import { TestPool } from '../test/peers/test-pool.js';
import { ExitCode, type CommandResult } from './command.js';

export const demoHelp = `Usage: hashrelay demo [--miners N] [--seconds S] [--ledger PATH] [--metrics HOST:PORT]

Runs the proxy on this machine with nothing else needed: a local test pool (real block
templates, its own share check), the proxy in front of it with a SQLite ledger, and N CPU
miners doing real sha256d at a low difficulty. Prints what each side counted every 5 s.

  --miners N          CPU miners (default 3)
  --seconds S         stop after S seconds (default: run until Ctrl-C)
  --ledger PATH       SQLite ledger file (default: a new file in the temp directory)
  --metrics HOST:PORT serve Prometheus metrics (default 127.0.0.1:9464; "off" to disable)
`;

const DIFFICULTY = 2 ** -16;

export async function runDemoCommand(args: readonly string[]): Promise<CommandResult> {
  const { values } = parseArgs({
    args: [...args],
    options: {
      help: { type: 'boolean', short: 'h' },
      miners: { type: 'string', default: '3' },
      seconds: { type: 'string' },
      ledger: { type: 'string' },
      metrics: { type: 'string', default: '127.0.0.1:9464' },
    },
  });
  if (values.help === true) return { code: ExitCode.ok, stdout: demoHelp };
  const minerCount = Number(values.miners);
  if (!Number.isInteger(minerCount) || minerCount < 1 || minerCount > 64) {
    return { code: ExitCode.usage, stderr: 'hashrelay demo: --miners must be 1 to 64\n' };
  }
  const seconds = values.seconds === undefined ? undefined : Number(values.seconds);
  if (seconds !== undefined && !(seconds > 0))
    return { code: ExitCode.usage, stderr: 'hashrelay demo: --seconds must be positive\n' };

  const logger = createLogger('warn');
  const pool = await TestPool.start({ name: 'demo-pool', difficulty: DIFFICULTY, sniff: false });
  const ledgerPath = values.ledger ?? join(mkdtempSync(join(tmpdir(), 'hashrelay-demo-')), 'ledger.sqlite');
  const ledger = await openSqliteLedger(ledgerPath);
  const config = parseProxyConfig({
    listen: ['127.0.0.1:0'],
    upstreams: [{ url: `stratum+tcp://demo-farm:x@127.0.0.1:${pool.port}`, name: 'demo-pool' }],
    ledger: `sqlite:${ledgerPath}`,
    vardiff: {
      initialDifficulty: DIFFICULTY,
      minDifficulty: DIFFICULTY,
      maxDifficulty: 1,
      targetShareSeconds: 3.3,
      retargetSeconds: 30,
      honourMinerFloor: false,
    },
  });
  const metrics = new ProxyMetrics();
  const proxy = new Proxy({ config, ledger, logger, metrics });
  const [bound] = await proxy.start();
  const admin =
    values.metrics === 'off'
      ? undefined
      : await startAdminServer({
          host: values.metrics.slice(0, values.metrics.lastIndexOf(':')),
          port: Number(values.metrics.slice(values.metrics.lastIndexOf(':') + 1)),
          registry: metrics.registry,
          ready: () => proxy.links.some((link) => link.healthy),
          logger,
        });
  const miners: CpuMiner[] = [];
  for (let i = 0; i < minerCount; i++) {
    miners.push(
      await CpuMiner.connect({
        port: bound!.port,
        username: `miner${i + 1}.rig`,
        sniff: false,
        versionRolling: i % 2 === 1 ? { mask: 0x1fffe000 } : undefined,
      }),
    );
  }
  const out = (line: string): void => {
    process.stdout.write(`${line}\n`);
  };
  out(
    `hashrelay demo: pool 127.0.0.1:${pool.port} ← proxy 127.0.0.1:${bound!.port} ← ${minerCount} CPU miners (difficulty 2^-16)`,
  );
  out(`ledger ${ledgerPath}${admin === undefined ? '' : `; metrics http://${values.metrics}/metrics`}`);

  const started = Date.now();
  const report = async (): Promise<void> => {
    await ledger.flush();
    const totals = await ledger.minerTotals({ from: started, to: Date.now() + 1 });
    const acceptedByMiners = miners.reduce((sum, m) => sum + m.acceptedCount, 0);
    const perMiner = totals
      .map(
        (t) => `${t.miner}: ${t.sharesByVerdict.accepted ?? 0} shares, ${(t.hashrate / 1e3).toFixed(0)} kH/s`,
      )
      .join('; ');
    out(
      `[${Math.round((Date.now() - started) / 1000)} s] miners told "accepted": ${acceptedByMiners}; pool accepted ${pool.acceptedCount}, rejected ${pool.rejectedCount}; ledger: ${perMiner}`,
    );
  };
  const timer = setInterval(() => void report(), 5000);
  await new Promise<void>((resolve) => {
    if (seconds !== undefined) setTimeout(resolve, seconds * 1000);
    process.once('SIGINT', () => {
      resolve();
    });
    process.once('SIGTERM', () => {
      resolve();
    });
  });
  clearInterval(timer);
  // Stop hashing, let every submit get its answer, then count: the sides must agree.
  for (const miner of miners) miner.pause();
  for (const miner of miners) {
    await miner.waitFor((m) => m.submits.every((s) => s.reply !== undefined), 5000).catch(() => undefined);
  }
  await report();
  for (const miner of miners) await miner.close();
  await proxy.drain();
  admin?.closeAllConnections();
  admin?.close();
  await ledger.close();
  await pool.stop();
  return { code: ExitCode.ok };
}
