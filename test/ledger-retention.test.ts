import { join } from 'node:path';
import { Registry } from 'prom-client';
import { afterAll, afterEach, describe, expect, test } from 'vitest';
import { ConfigError, parseProxyConfig } from '../src/config/proxy-config.js';
import { parseValidatorConfig } from '../src/config/validator-config.js';
import type { Ledger, LedgerJobId, RejectSummary } from '../src/ledger/ledger.js';
import { openPgLedger } from '../src/ledger/pg-ledger.js';
import { DAY_MS } from '../src/ledger/retention.js';
import { openSqliteLedger } from '../src/ledger/sqlite-ledger.js';
import { prunedRowsCounter } from '../src/metrics/ledger-retention-metrics.js';
import { LedgerRetention, pruneLedger } from '../proxy/ledger-retention.js';
import { runCli } from './support/cli.js';
import { EVERYTHING } from './support/ledger-contract.js';
import { ledgerDir, makeJob, makeShare, removeLedgerDirs } from './support/ledger-records.js';
import { memoryLogger } from './support/memory-logger.js';
import { testPostgres } from './support/postgres.js';

/**
 * Retention deletes what is older than the configured days — shares, reject summaries, and
 * jobs no kept share names — and nothing younger, on both backends, through the Ledger API.
 */

const found = await testPostgres();
if (typeof found === 'string') console.warn(`skipping the PostgreSQL retention test: ${found}`);
const postgres = typeof found === 'string' ? null : found;
afterAll(async () => {
  await postgres?.release();
  removeLedgerDirs();
});

const opened: Ledger[] = [];
afterEach(async () => {
  await Promise.allSettled(opened.splice(0).map((ledger) => ledger.close()));
});

const backends: [string, (() => Promise<Ledger>) | null][] = [
  ['SQLite', () => openSqliteLedger(join(ledgerDir(), 'ledger.sqlite'))],
  [
    'PostgreSQL',
    postgres === null ? null : () => openPgLedger(postgres.url, { schema: postgres.freshSchema() }),
  ],
];

interface Written {
  readonly old: { readonly jobs: LedgerJobId[]; readonly shares: number[] };
  readonly kept: { readonly jobs: LedgerJobId[]; readonly shares: number[] };
  readonly keptSummaries: RejectSummary[];
}

/**
 * Ten days ago: two jobs whose shares are all old, one job with no share, and one whose last
 * share is recent (so it stays). An hour ago: a job with recent shares and one with none.
 */
async function writeHistory(ledger: Ledger, now: number): Promise<Written> {
  const old = now - 10 * DAY_MS;
  const recent = now - 3_600_000;
  const job = (n: number, at: number): LedgerJobId => ledger.recordJob(makeJob(n, { receivedAt: at }));
  const [oldA, oldB, oldUnused, oldStillNamed] = [
    job(1, old),
    job(2, old + 1),
    job(3, old + 2),
    job(4, old + 3),
  ];
  const [recentJob, recentUnused] = [job(5, recent), job(6, recent + 1)];
  const share = (n: number, jobId: LedgerJobId, time: number): Promise<number> =>
    ledger.recordShare(makeShare(n, jobId, { time }));
  const oldShares = await Promise.all(
    Array.from({ length: 30 }, (_, i) =>
      share(i, [oldA, oldB, oldStillNamed][i % 3]!, old + 1000 + i * 60_000),
    ),
  );
  const keptShares = await Promise.all([
    share(100, oldStillNamed, recent),
    ...Array.from({ length: 9 }, (_, i) => share(101 + i, recentJob, recent + 1000 + i)),
  ]);
  const summary = (from: number): RejectSummary => ({
    from,
    to: from + 60_000,
    miner: 'm',
    worker: 'm.w',
    upstream: 'pool-0',
    verdict: 'low-difficulty',
    shares: 3,
  });
  const keptSummaries = [summary(recent), summary(recent + 60_000)];
  for (let i = 0; i < 12; i++) ledger.recordRejectSummary(summary(old + i * 60_000));
  for (const kept of keptSummaries) ledger.recordRejectSummary(kept);
  await ledger.flush();
  return {
    old: { jobs: [oldA, oldB, oldUnused], shares: oldShares },
    kept: { jobs: [oldStillNamed, recentJob, recentUnused], shares: keptShares },
    keptSummaries,
  };
}

async function expectOnlyKept(ledger: Ledger, written: Written): Promise<void> {
  expect((await ledger.shares(EVERYTHING)).map((s) => s.id).sort((a, b) => a - b)).toEqual(
    [...written.kept.shares].sort((a, b) => a - b),
  );
  for (const id of written.old.jobs) expect(await ledger.job(id), `old job ${id}`).toBeUndefined();
  for (const id of written.kept.jobs) expect((await ledger.job(id))?.id, `kept job ${id}`).toBe(id);
  expect(await ledger.rejectSummaries(EVERYTHING)).toEqual(written.keptSummaries);
}

describe.each(backends)('retention, %s ledger', (name, open) => {
  test.skipIf(open === null)(
    'deletes rows older than the cutoff in small batches; keeps recent rows and every job a kept share names',
    async () => {
      const ledger = await open!();
      opened.push(ledger);
      const now = Date.now();
      const written = await writeHistory(ledger, now);

      const totals = await pruneLedger(ledger, now - 2 * DAY_MS, { batchRows: 7 });
      expect(totals).toMatchObject({ shares: 30, jobs: 3, rejectSummaries: 12 });
      expect(totals.batches).toBeGreaterThanOrEqual(6); // 30 shares, 7 at a time, then an empty batch
      if (name === 'SQLite') expect(totals.freeBytes).toBeGreaterThan(0);
      await expectOnlyKept(ledger, written);

      // Recording goes on, and a second pass finds nothing.
      const later = await ledger.recordShare(makeShare(500, written.kept.jobs[1]!, { time: now }));
      expect((await ledger.shares({ from: now, to: now + 1 })).map((s) => s.id)).toEqual([later]);
      expect(await pruneLedger(ledger, now - 2 * DAY_MS)).toMatchObject({
        shares: 0,
        jobs: 0,
        rejectSummaries: 0,
      });
    },
  );

  test.skipIf(open === null)('the retention timer logs what it deleted and counts it by table', async () => {
    const ledger = await open!();
    opened.push(ledger);
    const now = Date.now();
    const written = await writeHistory(ledger, now);
    const registry = new Registry();
    const { logger, lines } = memoryLogger();
    const retention = new LedgerRetention(
      ledger,
      { days: 2, intervalMinutes: 60 },
      logger,
      prunedRowsCounter(registry),
    );
    await retention.runOnce();
    await retention.stop();

    await expectOnlyKept(ledger, written);
    const metrics = await registry.metrics();
    expect(metrics).toContain('hashrelay_ledger_pruned_rows_total{table="shares"} 30');
    expect(metrics).toContain('hashrelay_ledger_pruned_rows_total{table="jobs"} 3');
    expect(metrics).toContain('hashrelay_ledger_pruned_rows_total{table="reject_summaries"} 12');
    const line = lines.find((l) => l.msg === 'ledger retention deleted old rows');
    expect(line).toMatchObject({ days: 2, shares: 30, jobs: 3, rejectSummaries: 12 });
  });
});

describe('a retention too short for scoring and audits is refused', () => {
  const proxy = { listen: ['127.0.0.1:0'], upstreams: ['stratum+tcp://u:p@127.0.0.1:3333'] };

  test('config: under 1 day fails naming the key; 0 keeps everything; the default is 30 days', () => {
    expect(() => parseProxyConfig({ ...proxy, ledgerRetention: { days: 0.5 } })).toThrow(ConfigError);
    expect(() => parseProxyConfig({ ...proxy, ledgerRetention: { days: 0.5 } })).toThrow(
      /ledgerRetention\.days: 0\.5 days is shorter than the 1 day the ledger must keep/,
    );
    expect(() => parseProxyConfig({ ...proxy, ledgerRetention: { days: -1 } })).toThrow(
      /ledgerRetention\.days/,
    );
    expect(parseProxyConfig({ ...proxy, ledgerRetention: { days: 0 } }).ledgerRetention.days).toBe(0);
    expect(parseProxyConfig(proxy).ledgerRetention).toEqual({ days: 30, intervalMinutes: 60 });
  });

  test('validator config: a retention shorter than the window a post may score is refused', () => {
    const base = { chain: 'ws://127.0.0.1:9944', netuid: 1, hotkey: { file: '/x' } };
    const config = (days: number, intervalBlocks: number) => ({
      ...base,
      weights: { intervalBlocks },
      proxy: { ...proxy, ledgerRetention: { days } },
    });
    // 7200 blocks (a day) per post: a post may score two days.
    expect(() => parseValidatorConfig(config(1, 7200))).toThrow(
      /proxy\.ledgerRetention\.days: 1 days is shorter than the 2\.00 days a post may score/,
    );
    expect(parseValidatorConfig(config(2, 7200)).proxy.ledgerRetention.days).toBe(2);
    expect(parseValidatorConfig(config(0, 7200)).proxy.ledgerRetention.days).toBe(0);
    expect(parseValidatorConfig({ ...base, proxy }).proxy.ledgerRetention.days).toBe(30);
  });

  test('hashrelay ledger prune --older-than under 1 day is a usage error, and deletes nothing', async () => {
    const path = join(ledgerDir(), 'ledger.sqlite');
    const ledger = await openSqliteLedger(path);
    const written = await writeHistory(ledger, Date.now());
    await ledger.close();
    for (const days of ['0.5', '0', 'soon']) {
      const result = runCli(['ledger', 'prune', '--ledger', `sqlite:${path}`, '--older-than', days]);
      expect(result.code, days).toBe(2);
      expect(result.stderr).toMatch(/--older-than/);
    }
    const pruned = runCli(['ledger', 'prune', '--ledger', `sqlite:${path}`, '--older-than', '2']);
    expect(pruned.stderr).toBe('');
    expect(pruned.code).toBe(0);
    expect(pruned.stdout).toMatch(/30 shares, 3 jobs, 12 reject summaries/);
    const reopened = await openSqliteLedger(path);
    opened.push(reopened);
    await expectOnlyKept(reopened, written);
  });
});
