import { afterEach } from 'vitest';
import type { ProxyConfigInput } from '../../src/config/proxy-config.js';
import { CpuMiner, type CpuMinerOptions } from '../peers/cpu-miner.js';
import { TestPool, type TestPoolOptions } from '../peers/test-pool.js';
import { startProxy, testConfig, type RunningProxy } from './proxy-harness.js';

/**
 * Peers started by a test, stopped after it whatever happened (reverse order: miners, then
 * the proxy, then pools). Call `testScope()` once at the top of a test file.
 */
export function testScope(defaults: { difficulty: number }) {
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => undefined);
  });
  return {
    defer: (cleanup: () => Promise<void>): void => {
      cleanups.push(cleanup);
    },
    pool: async (options: TestPoolOptions = {}): Promise<TestPool> => {
      const started = await TestPool.start({ difficulty: defaults.difficulty, ...options });
      cleanups.push(() => started.stop());
      return started;
    },
    proxy: async (ports: number[], overrides: Partial<ProxyConfigInput> = {}): Promise<RunningProxy> => {
      const running = await startProxy(testConfig(ports, overrides));
      cleanups.push(() => running.stop());
      return running;
    },
    miner: async (port: number, options: Partial<CpuMinerOptions> = {}): Promise<CpuMiner> => {
      const connected = await CpuMiner.connect({ port, username: 'alice.rig1', ...options });
      cleanups.push(() => connected.close());
      return connected;
    },
  };
}
