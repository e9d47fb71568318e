import { afterAll, afterEach, expect, test } from 'vitest';
import { join } from 'node:path';
import {
  openSqliteLedger,
  type SqliteLedger,
  type SqliteLedgerOptions,
} from '../src/ledger/sqlite-ledger.js';
import { EVERYTHING } from './support/ledger-contract.js';
import { ledgerDir, makeJob, makeShare, removeLedgerDirs } from './support/ledger-records.js';

// Upstream verdicts and reject summaries have nobody waiting on them: they must not start a
// commit (an fsync) of their own, which a share arriving meanwhile would wait behind; they ride
// with the next share, or go at a flush, or alone once their delay is up.

const opened: SqliteLedger[] = [];
afterEach(async () => {
  for (const ledger of opened.splice(0)) await ledger.close().catch(() => undefined);
});
afterAll(removeLedgerDirs);

async function open(options: SqliteLedgerOptions): Promise<SqliteLedger> {
  const ledger = await openSqliteLedger(join(ledgerDir(), 'ledger.sqlite'), options);
  opened.push(ledger);
  return ledger;
}

/** A few turns of the event loop: what the old queue waited before committing a lone verdict. */
async function turns(count: number): Promise<void> {
  for (let i = 0; i < count; i++) await new Promise((resolve) => setImmediate(resolve));
}

async function upstreamVerdictOf(ledger: SqliteLedger, id: number): Promise<string | undefined> {
  return (await ledger.shares(EVERYTHING)).find((share) => share.id === id)?.upstreamVerdict;
}

test('a verdict rides with the next share: one commit for both, not two', async () => {
  const ledger = await open({ lateRecordDelayMs: 3_600_000 });
  const jobId = ledger.recordJob(makeJob(1));
  const first = await ledger.recordShare(makeShare(1, jobId));
  const before = ledger.stats().commits;

  ledger.recordUpstreamVerdict({ shareId: first, verdict: 'accepted', error: null });
  await turns(5);
  expect(ledger.stats().commits).toBe(before);
  expect(ledger.stats().queuedRecords).toBe(1);

  const second = await ledger.recordShare(makeShare(2, jobId));
  expect(ledger.stats().commits).toBe(before + 1);
  expect(await upstreamVerdictOf(ledger, first)).toBe('accepted');
  expect(await upstreamVerdictOf(ledger, second)).toBe('pending');
});

test('a flush commits waiting verdicts at once', async () => {
  const ledger = await open({ lateRecordDelayMs: 3_600_000 });
  const jobId = ledger.recordJob(makeJob(1));
  const id = await ledger.recordShare(makeShare(1, jobId));
  ledger.recordUpstreamVerdict({ shareId: id, verdict: 'rejected', error: 'low difficulty' });
  await ledger.flush();
  expect(ledger.stats().queuedRecords).toBe(0);
  expect(await upstreamVerdictOf(ledger, id)).toBe('rejected');
});

test('a verdict with no share after it commits alone once its delay is up, and a close commits it too', async () => {
  const ledger = await open({ lateRecordDelayMs: 20 });
  const jobId = ledger.recordJob(makeJob(1));
  const id = await ledger.recordShare(makeShare(1, jobId));
  const before = ledger.stats().commits;
  ledger.recordUpstreamVerdict({ shareId: id, verdict: 'accepted', error: null });
  await expect.poll(() => ledger.stats().commits, { timeout: 10_000, interval: 10 }).toBe(before + 1);
  expect(await upstreamVerdictOf(ledger, id)).toBe('accepted');

  const path = ledger.path;
  await ledger.close();
  const reopened = await openSqliteLedger(path, { lateRecordDelayMs: 3_600_000 });
  opened.push(reopened);
  const job2 = reopened.recordJob(makeJob(2));
  const id2 = await reopened.recordShare(makeShare(2, job2));
  reopened.recordUpstreamVerdict({ shareId: id2, verdict: 'accepted', error: null });
  await reopened.close();
  const again = await openSqliteLedger(path);
  opened.push(again);
  expect(await upstreamVerdictOf(again, id2)).toBe('accepted');
});
