import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { toHex } from '../src/work/bytes.js';
import { difficultyToTarget } from '../src/work/target.js';
import { toDifficulty } from '../src/work/types.js';
import { runCli } from './support/cli.js';
import { buildOracleJob, grindShare, oracleHeader } from './support/oracle.js';
import { readShareVector } from './support/vectors.js';

const dir = mkdtempSync(join(tmpdir(), 'hashrelay-share-'));
let fileCount = 0;
function writeShareFile(content: unknown): string {
  const path = join(dir, `share-${fileCount++}.json`);
  writeFileSync(path, typeof content === 'string' ? content : JSON.stringify(content));
  return path;
}

const vector = readShareVector('block-100000.json');

interface Report {
  valid: boolean;
  reason: string | null;
  hash: string | null;
  share_difficulty: number | null;
  is_block: boolean;
  header: string | null;
  version: string | null;
}

describe('hashrelay share check', () => {
  test('the block 100000 vector is a valid share and a block', () => {
    const run = runCli(['share', 'check', writeShareFile(vector)]);
    expect(run.code).toBe(0);
    const report = JSON.parse(run.stdout) as Report;
    expect(report).toMatchObject({
      valid: true,
      reason: null,
      hash: vector.expect.block_hash_display,
      header: vector.expect.header,
      is_block: true,
    });
    expect(report.share_difficulty).toBeCloseTo(vector.expect.share_difficulty, 5);
  });

  test('a changed nonce is an invalid share: exit 1 with the reason', () => {
    const run = runCli([
      'share',
      'check',
      writeShareFile({ ...vector, submit: { ...vector.submit, nonce: '10572b10' } }),
    ]);
    expect(run.code).toBe(1);
    expect(JSON.parse(run.stdout)).toMatchObject({ valid: false, reason: 'low-difficulty', is_block: false });
  });

  test('an assigned difficulty above the share difficulty makes the block share invalid', () => {
    const run = runCli(['share', 'check', writeShareFile({ ...vector, assigned_difficulty: 20000 })]);
    expect(run.code).toBe(1);
    expect(JSON.parse(run.stdout)).toMatchObject({ valid: false, reason: 'low-difficulty', is_block: true });
  });

  test('wrong extranonce2 size and ntime out of window are reported by name', () => {
    const size = runCli(['share', 'check', writeShareFile({ ...vector, extranonce2_size: 4 })]);
    expect(size.code).toBe(1);
    expect(JSON.parse(size.stdout)).toMatchObject({ reason: 'bad-extranonce2-size', hash: null });
    const ntime = runCli([
      'share',
      'check',
      writeShareFile({ ...vector, submit: { ...vector.submit, ntime: '4d1b3ddf' } }),
    ]);
    expect(ntime.code).toBe(1);
    expect(JSON.parse(ntime.stdout)).toMatchObject({ reason: 'ntime-out-of-window' });
  });

  test('a version-rolled share mined with the bitcoinjs oracle, with and without an explicit mask', () => {
    const oracle = buildOracleJob({ transactions: 6, extranonce2Size: 4 });
    const difficulty = toDifficulty(2 ** -20);
    const version = 0x20000000 | 0x00e4a000;
    const share = grindShare(oracle, difficultyToTarget(difficulty), {
      extranonce2: Uint8Array.from([1, 2, 3, 4]),
      ntime: oracle.job.ntime + 5,
      version,
    });
    const hex8 = (n: number) => n.toString(16).padStart(8, '0');
    const file = {
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
      submit: {
        extranonce2: '01020304',
        ntime: hex8(share.ntime),
        nonce: hex8(share.nonce),
        version_bits: '00e4a000',
      },
      assigned_difficulty: difficulty,
    };
    const expectedHeader = toHex(oracleHeader(oracle, share).header);
    for (const content of [file, { ...file, version_mask: '1fffe000' }]) {
      const run = runCli(['share', 'check', writeShareFile(content)]);
      expect(run.code).toBe(0);
      expect(JSON.parse(run.stdout)).toMatchObject({
        valid: true,
        header: expectedHeader,
        version: hex8(version),
      });
    }
    const narrow = runCli(['share', 'check', writeShareFile({ ...file, version_mask: '00ff0000' })]);
    expect(narrow.code).toBe(1);
    expect(JSON.parse(narrow.stdout)).toMatchObject({ reason: 'version-bits-outside-mask' });
  });

  test.each([
    ['not JSON', '{ "notify": '],
    ['no notify', { ...vector, notify: undefined }],
    ['prevhash too short', { ...vector, notify: { ...vector.notify, prevhash: 'abcd' } }],
    ['non-hex coinb1', { ...vector, notify: { ...vector.notify, coinb1: 'zz' } }],
    ['nonce of 7 characters', { ...vector, submit: { ...vector.submit, nonce: '10572b0' } }],
    ['extranonce2_size a string', { ...vector, extranonce2_size: '1' }],
    ['negative assigned difficulty', { ...vector, assigned_difficulty: -5 }],
    ['bad version mask', { ...vector, version_mask: 'xyz' }],
    ['nbits that encodes a negative target', { ...vector, notify: { ...vector.notify, nbits: '04923456' } }],
  ])('a malformed file (%s) exits 2 with the problem on stderr', (_name, content) => {
    const run = runCli(['share', 'check', writeShareFile(content)]);
    expect(run.code).toBe(2);
    expect(run.stdout).toBe('');
    expect(run.stderr).toMatch(/^hashrelay share check: .+: .+/);
  });

  test('the error names the field that is wrong', () => {
    const run = runCli([
      'share',
      'check',
      writeShareFile({ ...vector, notify: { ...vector.notify, prevhash: 'abcd' } }),
    ]);
    expect(run.stderr).toMatch(/prevhash/);
    const missing = runCli(['share', 'check', join(dir, 'no-such-file.json')]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/cannot read/);
  });

  test('--help and usage errors', () => {
    expect(runCli(['share', '--help'])).toMatchObject({
      code: 0,
      stdout: expect.stringMatching(/Usage: hashrelay share check FILE/) as unknown,
    });
    expect(runCli(['--help'])).toMatchObject({ code: 0, stdout: expect.stringMatching(/share/) as unknown });
    expect(runCli(['share'])).toMatchObject({ code: 2 });
    expect(runCli(['share', 'check', '--bogus', 'x'])).toMatchObject({
      code: 2,
      stderr: expect.stringMatching(/bogus/) as unknown,
    });
    expect(runCli(['nonsense'])).toMatchObject({
      code: 2,
      stderr: expect.stringMatching(/unknown command/) as unknown,
    });
  });
});
