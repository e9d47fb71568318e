import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterEach, expect, test } from 'vitest';
import { startProxyRuntime, type ProxyRuntime } from '../cli/proxy-runtime.js';
import { parseProxyConfig } from '../src/config/proxy-config.js';
import { ProxyMetrics } from '../src/metrics/proxy-metrics.js';
import { CpuMiner } from './peers/cpu-miner.js';
import { TestPool } from './peers/test-pool.js';
import { EVERYTHING } from './support/ledger-contract.js';
import { memoryLogger } from './support/memory-logger.js';
import { freePort } from './support/ports.js';
import { testConfig } from './support/proxy-harness.js';
import { SmallDisk } from './support/small-disk.js';
import { skipNote } from './support/skip-note.js';

const DIFFICULTY = 2 ** -16;
const unavailable = SmallDisk.unavailable();
if (unavailable !== null) console.warn(`skipping the full-disk test: ${unavailable}`);

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await Promise.resolve(cleanup()).catch(() => undefined);
});

async function readyz(runtime: ProxyRuntime): Promise<{ status: number; body: string }> {
  const { port } = runtime.admin!.address() as AddressInfo;
  const response = await fetch(`http://127.0.0.1:${port}/readyz`);
  return { status: response.status, body: await response.text() };
}

test.skipIf(unavailable !== null)(
  `a full disk: no share acknowledged, not ready, one log line, no crash; ready and recording again once space is freed${skipNote(unavailable)}`,
  async () => {
    // 64 MiB is what the ledger waits for before it records again (recoveryFreeBytes).
    const disk = SmallDisk.mount(80);
    cleanups.push(() => {
      disk.unmount();
    });
    const pool = await TestPool.start({ difficulty: DIFFICULTY });
    cleanups.push(() => pool.stop());
    const minerPort = await freePort();
    const { logger, lines } = memoryLogger();
    const config = parseProxyConfig({
      ...testConfig([pool.port]),
      listen: [`127.0.0.1:${minerPort}`],
      ledger: `sqlite:${join(disk.dir, 'ledger.sqlite')}`,
      metrics: '127.0.0.1:0',
    });
    const runtime = await startProxyRuntime(config, logger, {
      metrics: new ProxyMetrics(undefined, { defaultMetrics: false }),
    });
    cleanups.push(() => runtime.stop());
    const miner = await CpuMiner.connect({ port: minerPort, username: 'alice.rig1' });
    cleanups.push(() => miner.close());
    await miner.waitFor((m) => m.acceptedCount >= 3, 20_000, 'shares before the disk fills');
    expect(await readyz(runtime)).toEqual({ status: 200, body: 'ready\n' });

    disk.fill();
    await expect
      .poll(async () => (await readyz(runtime)).status, { timeout: 30_000, interval: 100 })
      .toBe(503);
    const fullFrom = miner.submits.length;
    expect((await readyz(runtime)).body).toMatch(/^ledger cannot record: .*disk holding the ledger is full/);
    const healthy = await runtime.metrics.ledgerHealthy.get();
    expect(healthy.values[0]?.value).toBe(0);

    // A new job while full (the old code threw here, uncaught, and the process died).
    await pool.newJob({ clean: true });
    const sentWhileFull = miner.submits.length;
    await miner.waitFor(
      (m) => m.submits.slice(sentWhileFull).filter((s) => s.reply !== undefined).length >= 10,
      20_000,
      'shares answered while the disk is full',
    );
    expect((await readyz(runtime)).status).toBe(503);
    const refusedWhileFull = miner.submits.slice(sentWhileFull).filter((s) => s.reply !== undefined);
    expect(refusedWhileFull.every((s) => s.reply !== true)).toBe(true);
    expect(refusedWhileFull[0]!.reply).toMatchObject({
      message: 'proxy could not record the share; it is not credited',
    });
    const failures = (await runtime.metrics.ledgerFailures.get()).values[0]?.value ?? 0;
    expect(failures).toBeGreaterThanOrEqual(10);
    // One line for many refusals (one per 30 s at most).
    const failureLines = lines.filter((l) => l.msg.startsWith('ledger cannot record'));
    expect(failureLines).toHaveLength(1);

    disk.free();
    const freedAt = miner.submits.length;
    await expect
      .poll(async () => (await readyz(runtime)).status, { timeout: 30_000, interval: 100 })
      .toBe(200);
    expect(lines.some((l) => l.msg.startsWith('ledger records again'))).toBe(true);
    expect((await runtime.metrics.ledgerHealthy.get()).values[0]?.value).toBe(1);
    const acceptedBefore = miner.acceptedCount;
    await miner.waitFor((m) => m.acceptedCount >= acceptedBefore + 3, 20_000, 'shares accepted again');

    // Nothing sent while the disk was full was acknowledged; everything acknowledged is in the ledger.
    const whileFull = miner.submits.slice(fullFrom, freedAt);
    expect(whileFull.length).toBeGreaterThan(0);
    expect(whileFull.filter((s) => s.reply === true)).toEqual([]);
    miner.pause();
    await miner.waitFor((m) => m.submits.every((s) => s.reply !== undefined), 10_000, 'all answered');
    await runtime.ledger.flush();
    const stored = new Set(
      (await runtime.ledger.shares(EVERYTHING))
        .filter((s) => s.verdict === 'accepted')
        .map((s) => `${s.ntime}/${s.nonce}/${Buffer.from(s.extranonce2).toString('hex').slice(-8)}`),
    );
    const acknowledged = miner.submits.filter((s) => s.reply === true);
    expect(acknowledged.filter((s) => !stored.has(`${s.ntime}/${s.nonce}/${s.extranonce2}`))).toEqual([]);
    // The shares after recovery name jobs the ledger holds (jobs taken while full were kept).
    const last = (await runtime.ledger.shares(EVERYTHING)).at(-1)!;
    expect(await runtime.ledger.job(last.jobId!)).toBeDefined();
  },
  120_000,
);
