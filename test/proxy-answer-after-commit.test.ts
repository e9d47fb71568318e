import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, expect, test } from 'vitest';
import { parseProxyConfig } from '../src/config/proxy-config.js';
import type { Ledger, LedgerShareId, ShareRecord } from '../src/ledger/ledger.js';
import { openSqliteLedger } from '../src/ledger/sqlite-ledger.js';
import { silentLogger } from '../src/log/logger.js';
import { ProxyMetrics } from '../src/metrics/proxy-metrics.js';
import { Proxy as HashrelayProxy } from '../proxy/proxy.js';
import { RawStratumClient } from './peers/raw-client.js';
import { TestPool } from './peers/test-pool.js';
import { craftShare } from './support/craft-share.js';
import { ledgerShares, testConfig } from './support/proxy-harness.js';

// Ack-after-durable: a submit is answered only once the ledger says its row is committed. The
// ledger here commits for real, then holds each share's promise until the test lets it go; an
// answer that did not wait for that promise would reach the miner while it is held.

const DIFFICULTY = 2 ** -16;
const SHARES = 6;

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => undefined);
});

/** The real SQLite ledger, with every share's promise held after its commit until `release`. */
function heldLedger(
  real: Ledger,
  shares: number,
): { ledger: Ledger; allCommitted: Promise<void>; release: () => void } {
  let release!: () => void;
  const released = new Promise<void>((resolve) => (release = resolve));
  let committed = 0;
  let allIn!: () => void;
  const allCommitted = new Promise<void>((resolve) => (allIn = resolve));
  const recordShare = async (share: ShareRecord): Promise<LedgerShareId> => {
    const id = await real.recordShare(share);
    if (++committed === shares) allIn();
    await released;
    return id;
  };
  const ledger = new Proxy(real, {
    get(target, key) {
      if (key === 'recordShare') return recordShare;
      const value: unknown = Reflect.get(target, key, target);
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
  return { ledger, allCommitted, release };
}

test('no submit is answered before its commit resolves, even one committed in a batch of many', async () => {
  const pool = await TestPool.start({ difficulty: DIFFICULTY });
  cleanups.push(() => pool.stop());
  const real = await openSqliteLedger(join(mkdtempSync(join(tmpdir(), 'hashrelay-held-')), 'ledger.sqlite'));
  cleanups.push(() => real.close());
  const { ledger, allCommitted, release } = heldLedger(real, SHARES);
  const proxy = new HashrelayProxy({
    config: parseProxyConfig(testConfig([pool.port])),
    ledger,
    logger: silentLogger(),
    metrics: new ProxyMetrics(undefined, { defaultMetrics: false }),
  });
  const [bound] = await proxy.start();
  cleanups.push(() => proxy.drain());
  const client = await RawStratumClient.connect(bound!.port);
  cleanups.push(() => client.close());
  await client.subscribe();
  expect(await client.authorize('dave.rig1')).toBe(true);
  await client.waitFor((c) => c.jobs.length > 0 && c.difficulties.length > 0, 5000, 'first job');

  // Sent together, so they share commits; answers are counted as they arrive.
  let answered = 0;
  const answers = Array.from({ length: SHARES }, () =>
    client.submit(craftShare(client)).then((answer) => {
      answered++;
      return answer;
    }),
  );
  await allCommitted;
  // Lines are answered in order: once this later request is answered, any answer to the
  // submits that did not wait for the held promises has gone out before it.
  const probe = await client.request('mining.extranonce.subscribe', []);
  expect(probe.result).toBe(true);
  expect(answered).toBe(0);

  release();
  const replies = await Promise.all(answers);
  expect(replies.map((reply) => reply.result)).toEqual(Array<boolean>(SHARES).fill(true));
  const stored = await ledgerShares(real);
  expect(stored.filter((share) => share.verdict === 'accepted')).toHaveLength(SHARES);
});
