import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, test } from 'vitest';
import { CpuMiner } from './peers/cpu-miner.js';
import { TestPool } from './peers/test-pool.js';
import { acknowledgedMissing, spawnProxy } from './support/proxy-process.js';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => undefined);
});

async function pool(): Promise<TestPool> {
  const started = await TestPool.start({ difficulty: 2 ** -18, sniff: false });
  cleanups.push(() => started.stop());
  return started;
}

describe('the proxy as a process', () => {
  test('kill -9 mid-stream: every share a miner was told "true" is in the ledger', async () => {
    const poolA = await pool();
    const ledgerPath = join(mkdtempSync(join(tmpdir(), 'hashrelay-kill-')), 'ledger.sqlite');
    const proxy = await spawnProxy(poolA.port, ledgerPath, cleanups);
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

    const { acknowledged, missing } = await acknowledgedMissing(
      ledgerPath,
      miners.flatMap((m) => m.submits),
    );
    expect(acknowledged).toBeGreaterThanOrEqual(40);
    expect(missing).toEqual([]);
  });

  test('SIGTERM drains: exit 0, every acknowledged share recorded, metrics served while running', async () => {
    const poolA = await pool();
    const ledgerPath = join(mkdtempSync(join(tmpdir(), 'hashrelay-term-')), 'ledger.sqlite');
    const proxy = await spawnProxy(poolA.port, ledgerPath, cleanups, true);
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
    const { acknowledged, missing } = await acknowledgedMissing(ledgerPath, miner.submits);
    expect(acknowledged).toBeGreaterThanOrEqual(5);
    expect(missing).toEqual([]);
  });
});
