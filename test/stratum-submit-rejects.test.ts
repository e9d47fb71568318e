import { describe, expect, test } from 'vitest';
import { blamesPool, classifySubmitReject } from '../src/stratum/submit-rejects.js';

describe('reading a pool refusal of a share', () => {
  test.each([
    // ckpool: bare strings (read as code 20)
    [20, 'Above target', 'low-difficulty'],
    [20, 'Stale', 'stale'],
    [20, 'Invalid JobID', 'stale'],
    [20, 'Duplicate', 'duplicate'],
    [20, 'Invalid version mask', 'other'],
    [20, 'Ntime out of range', 'other'],
    // the common numbering, with and without telling words
    [21, 'Job not found', 'stale'],
    [21, 'job 1a not found', 'stale'],
    [22, 'Duplicate share', 'duplicate'],
    [23, 'Low difficulty share', 'low-difficulty'],
    [23, 'rejected', 'low-difficulty'],
    [21, 'rejected', 'stale'],
    [22, 'rejected', 'duplicate'],
    // words decide before codes: some pools file everything under 20
    [20, 'low difficulty share: 0.1 < 0.2', 'low-difficulty'],
    [20, 'high-hash', 'low-difficulty'],
    [20, 'Difficulty too low', 'low-difficulty'],
    [20, 'this pool rejects every share (reject-all mode)', 'other'],
    [24, 'Unauthorized worker', 'other'],
  ] as const)('%i %s → %s', (code, message, reason) => {
    expect(classifySubmitReject({ code, message })).toBe(reason);
  });

  test('result false with no error reads as other', () => {
    expect(classifySubmitReject(null)).toBe('other');
  });

  test('only a fresh share that met the pool difficulty blames the pool, and never for stale or duplicate', () => {
    const good = { fresh: true, meetsUpstreamTarget: true };
    expect(blamesPool('other', good)).toBe(true);
    expect(blamesPool('low-difficulty', good)).toBe(true);
    expect(blamesPool('stale', good)).toBe(false);
    expect(blamesPool('duplicate', good)).toBe(false);
    // A block sent under the pool's difficulty, refused as a share: expected.
    expect(blamesPool('low-difficulty', { fresh: true, meetsUpstreamTarget: false })).toBe(false);
    expect(blamesPool('other', { fresh: true, meetsUpstreamTarget: false })).toBe(false);
    // A share on a replaced job: the pool may refuse it however it likes.
    expect(blamesPool('other', { fresh: false, meetsUpstreamTarget: true })).toBe(false);
  });
});
