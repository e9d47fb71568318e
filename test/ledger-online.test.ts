import { mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, expect, test } from 'vitest';
import Database from 'better-sqlite3';
import { backupSqliteLedger } from '../src/ledger/sqlite-ledger-backup.js';
import { openSqliteLedger } from '../src/ledger/sqlite-ledger.js';
import { EVERYTHING } from './support/ledger-contract.js';
import { ledgerDir, makeJob, makeShare, removeLedgerDirs } from './support/ledger-records.js';
import { CpuMiner, type MinerSubmit } from './peers/cpu-miner.js';
import { TestPool } from './peers/test-pool.js';
import { runCliAsync } from './support/cli.js';
import { acknowledgedMissing, spawnProxy } from './support/proxy-process.js';

/**
 * A SQLite ledger in use: `hashrelay ledger backup` and `hashrelay audit` run against the file
 * a `hashrelay proxy` process is writing, as an operator would run them, and neither needs the
 * proxy stopped nor takes its lock.
 */

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => undefined);
  removeLedgerDirs();
});

const acceptedBy = (miners: readonly CpuMiner[]): number =>
  miners.reduce((sum, m) => sum + m.acceptedCount, 0);

test('while a proxy process writes: the backup holds every share acknowledged before it, and the audit reads the live file', async () => {
  const pool = await TestPool.start({ difficulty: 2 ** -18, sniff: false });
  cleanups.push(() => pool.stop());
  const dir = mkdtempSync(join(tmpdir(), 'hashrelay-online-'));
  const ledgerPath = join(dir, 'ledger.sqlite');
  const copyPath = join(dir, 'backup.sqlite');
  const started = Date.now();
  const proxy = await spawnProxy(pool.port, ledgerPath, cleanups);
  const miners: CpuMiner[] = [];
  for (const name of ['ann', 'bob']) {
    const miner = await CpuMiner.connect({ port: proxy.port, username: `${name}.rig`, sniff: false });
    cleanups.push(() => miner.close());
    miners.push(miner);
  }
  await miners[0]!.waitFor(() => acceptedBy(miners) >= 30, 60_000, '30 acknowledged shares');

  // What the miners had been told `true` when the backup starts (copies: replies land later).
  const acknowledged: MinerSubmit[] = miners
    .flatMap((m) => m.submits.filter((s) => s.reply === true))
    .map((s) => ({ ...s }));
  const backupStarted = Date.now();
  const backup = await runCliAsync([
    'ledger',
    'backup',
    '--ledger',
    `sqlite:${ledgerPath}`,
    '--to',
    copyPath,
  ]);
  expect(backup.stderr).toBe('');
  expect(backup.code).toBe(0);
  expect(backup.stdout).toMatch(/^backed up .* shares up to id \d+/);
  expect(readdirSync(dir).filter((name) => name.includes('.partial-'))).toEqual([]);

  // The proxy was never paused: it goes on acknowledging (and so committing) after the backup.
  const afterBackup = acceptedBy(miners);
  await miners[0]!.waitFor(() => acceptedBy(miners) >= afterBackup + 5, 30_000, 'shares after the backup');
  expect(proxy.child.exitCode).toBeNull();

  // The audit opens the file the proxy holds (no copy, no lock), over a window that has closed.
  const audit = await runCliAsync([
    'audit',
    '--ledger',
    `sqlite:${ledgerPath}`,
    '--from',
    String(started),
    '--to',
    String(backupStarted),
    '--json',
  ]);
  expect(audit.stderr).toBe('');
  expect(audit.code).toBe(0);
  const report = JSON.parse(audit.stdout) as { ok: boolean; sharesChecked: number; failureCounts: object };
  expect(report.ok).toBe(true);
  expect(report.failureCounts).toEqual({});
  expect(report.sharesChecked).toBeGreaterThanOrEqual(
    acknowledged.filter((s) => s.sentAt < backupStarted).length,
  );
  expect(proxy.child.exitCode).toBeNull();

  // The copy opens as a ledger and holds every share acknowledged before the backup began.
  const { acknowledged: count, missing } = await acknowledgedMissing(copyPath, acknowledged);
  expect(count).toBe(acknowledged.length);
  expect(count).toBeGreaterThanOrEqual(30);
  expect(missing).toEqual([]);
});

test('commits going on all through a backup in small steps: the copy is the snapshot at its start, never started over', async () => {
  const dir = ledgerDir();
  const path = join(dir, 'ledger.sqlite');
  const ledger = await openSqliteLedger(path);
  cleanups.push(() => ledger.close());
  const jobId = ledger.recordJob(makeJob(1));
  await Promise.all(Array.from({ length: 3000 }, (_, n) => ledger.recordShare(makeShare(n, jobId))));

  const writing = { on: true };
  let committedDuring = 0;
  const writer = (async () => {
    for (let n = 3000; writing.on; n++) {
      await ledger.recordShare(makeShare(n, jobId));
      committedDuring++;
    }
  })();
  const copy = await backupSqliteLedger(path, join(dir, 'copy.sqlite'), { pagesPerStep: 5 });
  writing.on = false;
  await writer;

  expect(committedDuring).toBeGreaterThan(0);
  expect(copy.restarts).toBe(0);
  expect(copy.lastShareId).toBeGreaterThanOrEqual(3000);
  const restored = await openSqliteLedger(copy.to);
  cleanups.push(() => restored.close());
  const ids = (await restored.shares(EVERYTHING)).map((share) => share.id);
  expect(ids).toEqual(Array.from({ length: copy.lastShareId }, (_, i) => i + 1));
});

test('a backup refuses to overwrite a file, and a file that is not a ledger', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'hashrelay-backup-'));
  const other = join(dir, 'other.sqlite');
  const db = new Database(other);
  db.exec('CREATE TABLE notes (text TEXT)');
  db.close();
  const foreign = await runCliAsync([
    'ledger',
    'backup',
    '--ledger',
    `sqlite:${other}`,
    '--to',
    join(dir, 'o'),
  ]);
  expect(foreign.code).toBe(1);
  expect(foreign.stderr).toMatch(/not a hashrelay ledger/);
  const ledgerPath = join(dir, 'ledger.sqlite');
  await (await openSqliteLedger(ledgerPath)).close();
  const existing = await runCliAsync([
    'ledger',
    'backup',
    '--ledger',
    `sqlite:${ledgerPath}`,
    '--to',
    ledgerPath,
  ]);
  expect(existing.code).toBe(1);
  expect(existing.stderr).toMatch(/another file than the ledger/);
  const copy = join(dir, 'copy.sqlite');
  expect(
    (await runCliAsync(['ledger', 'backup', '--ledger', `sqlite:${ledgerPath}`, '--to', copy])).code,
  ).toBe(0);
  const again = await runCliAsync(['ledger', 'backup', '--ledger', `sqlite:${ledgerPath}`, '--to', copy]);
  expect(again.code).toBe(1);
  expect(again.stderr).toMatch(/exists: a backup never overwrites/);
  const missing = await runCliAsync([
    'ledger',
    'backup',
    '--ledger',
    `sqlite:${join(dir, 'nope.sqlite')}`,
    '--to',
    join(dir, 'x'),
  ]);
  expect(missing.code).toBe(1);
  expect(missing.stderr).toMatch(/no ledger at/);
});
