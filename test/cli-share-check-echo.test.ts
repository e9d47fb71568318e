import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { toHex } from '../src/work/bytes.js';
import { runCli } from './support/cli.js';
import { buildOracleJob } from './support/oracle.js';

/** `hashrelay share check` names a bad field but echoes only a bounded cut of its value. */

const dir = mkdtempSync(join(tmpdir(), 'hashrelay-share-echo-'));
const HUGE = 'z'.repeat(100_000);
const HUGE_OBJECT = { padding: HUGE };

const oracle = buildOracleJob({ transactions: 2, extranonce2Size: 4 });
const hex8 = (n: number) => n.toString(16).padStart(8, '0');
const wellFormed = {
  notify: {
    job_id: 'j1',
    prevhash: toHex(oracle.job.prevhash),
    coinb1: toHex(oracle.job.coinb1),
    coinb2: toHex(oracle.job.coinb2),
    merkle_branch: oracle.job.merkleBranch.map(toHex),
    version: hex8(oracle.job.version),
    nbits: hex8(oracle.job.nbits),
    ntime: hex8(oracle.job.ntime),
    clean_jobs: true,
  },
  extranonce1: toHex(oracle.extranonce1),
  extranonce2_size: 4,
  submit: { extranonce2: '01020304', ntime: hex8(oracle.job.ntime), nonce: '00000000' },
  version_mask: '1fffe000',
  assigned_difficulty: 1,
};

type ShareFile = typeof wellFormed;
type Edit = (file: ShareFile, value: unknown) => unknown;

const fields: [string, Edit][] = [
  ['extranonce2_size', (file, value) => ({ ...file, extranonce2_size: value })],
  ['assigned_difficulty', (file, value) => ({ ...file, assigned_difficulty: value })],
  ['extranonce1', (file, value) => ({ ...file, extranonce1: value })],
  ['version_mask', (file, value) => ({ ...file, version_mask: value })],
  ['prevhash', (file, value) => ({ ...file, notify: { ...file.notify, prevhash: value } })],
  ['coinb1', (file, value) => ({ ...file, notify: { ...file.notify, coinb1: value } })],
  ['merkle_branch', (file, value) => ({ ...file, notify: { ...file.notify, merkle_branch: [value] } })],
  ['nbits', (file, value) => ({ ...file, notify: { ...file.notify, nbits: value } })],
  ['clean_jobs', (file, value) => ({ ...file, notify: { ...file.notify, clean_jobs: value } })],
  ['extranonce2', (file, value) => ({ ...file, submit: { ...file.submit, extranonce2: value } })],
  ['nonce', (file, value) => ({ ...file, submit: { ...file.submit, nonce: value } })],
  ['version_bits', (file, value) => ({ ...file, submit: { ...file.submit, version_bits: value } })],
];

let count = 0;
function check(content: unknown): ReturnType<typeof runCli> {
  const path = join(dir, `share-${count++}.json`);
  writeFileSync(path, typeof content === 'string' ? content : JSON.stringify(content));
  return runCli(['share', 'check', path]);
}

describe('share check echoes bounded values', () => {
  test('the well-formed base file is judged (an invalid share, not a malformed file)', () => {
    expect(check(wellFormed).code).toBe(1);
  });

  test.each(fields)('a 100 KB %s: the error names the field in under 1 KB', (name, edit) => {
    const run = check(edit(wellFormed, HUGE));
    expect(run.code).toBe(2);
    expect(run.stderr).toContain(name);
    expect(run.stderr.length).toBeLessThan(1024);
  });

  test('a 100 KB object where a number belongs is described, not printed', () => {
    for (const [name, edit] of fields.slice(0, 2)) {
      const run = check(edit(wellFormed, HUGE_OBJECT));
      expect(run.code).toBe(2);
      expect(run.stderr).toContain(name);
      expect(run.stderr.length).toBeLessThan(1024);
    }
  });

  test('a 100 KB file that is not JSON: the error stays under 1 KB', () => {
    const run = check(`{"notify": ${HUGE}`);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/not valid JSON/);
    expect(run.stderr.length).toBeLessThan(1024);
  });
});
