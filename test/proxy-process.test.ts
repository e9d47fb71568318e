import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterEach, describe, expect, test } from 'vitest';
import { openSqliteLedger } from '../src/ledger/sqlite-ledger.js';
import { CpuMiner } from './peers/cpu-miner.js';
import { TestPool } from './peers/test-pool.js';
import { CLI } from './support/cli.js';
import { ledgerShares, shareKey, testConfig } from './support/proxy-harness.js';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => undefined);
});

interface ProxyProcess {
  readonly child: ChildProcess;
  readonly port: number;
  readonly metricsPort: number | undefined;
  readonly exited: Promise<number | null>;
}

/** Starts `hashrelay proxy` as an operator would and reads its bound port from the JSON log. */
async function spawnProxy(poolPort: number, ledgerPath: string, metrics = false): Promise<ProxyProcess> {
  const dir = mkdtempSync(join(tmpdir(), 'hashrelay-cfg-'));
  const configPath = join(dir, 'proxy.json');
  const { vardiff, upstream } = testConfig([poolPort]);
  writeFileSync(
    configPath,
    JSON.stringify({ vardiff: { ...vardiff, initialDifficulty: 2 ** -18 }, upstream }),
  );
  const args = [
    CLI,
    'proxy',
    '--listen',
    '127.0.0.1:0',
    '--upstream',
    `stratum+tcp://farm:x@127.0.0.1:${poolPort}`,
    '--ledger',
    `sqlite:${ledgerPath}`,
    '--config',
    configPath,
  ];
  if (metrics) args.push('--metrics', '127.0.0.1:0');
  const child = spawn(process.execPath, args, {
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, HASHRELAY_LOG_FORMAT: 'json' },
  });
  const exited = new Promise<number | null>((resolve) =>
    child.once('exit', (code) => {
      resolve(code);
    }),
  );
  cleanups.push(async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await exited;
  });
  const lines = createInterface({ input: child.stdout });
  let port: number | undefined;
  let metricsPort: number | undefined;
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      reject(new Error('proxy did not report its port'));
    }, 15_000);
    lines.on('line', (line) => {
      const event = JSON.parse(line) as { msg?: string; port?: number; address?: { port?: number } };
      if (event.msg === 'listening for miners') port = event.port;
      if (event.msg?.startsWith('admin listener') === true) metricsPort = event.address?.port;
      if (port !== undefined && (!metrics || metricsPort !== undefined)) {
        clearTimeout(timer);
        resolve();
      }
    });
  });
  return { child, port: port!, metricsPort, exited };
}

async function pool(): Promise<TestPool> {
  const started = await TestPool.start({ difficulty: 2 ** -18, sniff: false });
  cleanups.push(() => started.stop());
  return started;
}

async function acknowledgedMissing(
  ledgerPath: string,
  miners: CpuMiner[],
): Promise<{ acknowledged: number; missing: string[] }> {
  const ledger = await openSqliteLedger(ledgerPath);
  try {
    const stored = new Set(
      (await ledgerShares(ledger))
        .filter((s) => s.verdict === 'accepted')
        .map((s) =>
          shareKey(
            s.proxyJobId ?? '',
            Buffer.from(s.extranonce2).toString('hex').slice(-8),
            s.ntime,
            s.nonce,
          ),
        ),
    );
    let acknowledged = 0;
    const missing: string[] = [];
    for (const miner of miners) {
      for (const submit of miner.submits) {
        if (submit.reply !== true) continue;
        acknowledged += 1;
        const key = shareKey(submit.jobId, submit.extranonce2, submit.ntime, submit.nonce);
        if (!stored.has(key)) missing.push(key);
      }
    }
    return { acknowledged, missing };
  } finally {
    await ledger.close();
  }
}

describe('the proxy as a process', () => {
  test('kill -9 mid-stream: every share a miner was told "true" is in the ledger', async () => {
    const poolA = await pool();
    const ledgerPath = join(mkdtempSync(join(tmpdir(), 'hashrelay-kill-')), 'ledger.sqlite');
    const proxy = await spawnProxy(poolA.port, ledgerPath);
    const miners: CpuMiner[] = [];
    for (const name of ['kim', 'lee', 'max']) {
      const miner = await CpuMiner.connect({ port: proxy.port, username: `${name}.rig`, sniff: false });
      cleanups.push(() => miner.close());
      miners.push(miner);
    }
    await miners[0]!.waitFor(
      () => miners.reduce((sum, m) => sum + m.acceptedCount, 0) >= 40,
      60_000,
      '40 acknowledged shares',
    );
    proxy.child.kill('SIGKILL');
    await proxy.exited;
    for (const miner of miners) miner.pause();

    const { acknowledged, missing } = await acknowledgedMissing(ledgerPath, miners);
    expect(acknowledged).toBeGreaterThanOrEqual(40);
    expect(missing).toEqual([]);
  });

  test('SIGTERM drains: exit 0, every acknowledged share recorded, metrics served while running', async () => {
    const poolA = await pool();
    const ledgerPath = join(mkdtempSync(join(tmpdir(), 'hashrelay-term-')), 'ledger.sqlite');
    const proxy = await spawnProxy(poolA.port, ledgerPath, true);
    const miner = await CpuMiner.connect({ port: proxy.port, username: 'ned.rig', sniff: false });
    cleanups.push(() => miner.close());
    await miner.waitFor((m) => m.acceptedCount >= 5, 30_000);

    const metrics = await (await fetch(`http://127.0.0.1:${proxy.metricsPort}/metrics`)).text();
    expect(metrics).toMatch(/hashrelay_shares_total\{verdict="accepted"\} [1-9]/);
    expect(metrics).toMatch(/hashrelay_upstream_up\{upstream="127\.0\.0\.1:\d+"\} 1/);
    expect((await fetch(`http://127.0.0.1:${proxy.metricsPort}/readyz`)).status).toBe(200);

    proxy.child.kill('SIGTERM');
    expect(await proxy.exited).toBe(0);
    miner.pause();
    const { acknowledged, missing } = await acknowledgedMissing(ledgerPath, [miner]);
    expect(acknowledged).toBeGreaterThanOrEqual(5);
    expect(missing).toEqual([]);
  });
});
