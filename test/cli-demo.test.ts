import { expect, test } from 'vitest';
import { runCliAsync } from './support/cli.js';

test('hashrelay demo runs pool, proxy and miners, and every side counts the same shares', async () => {
  const run = await runCliAsync(['demo', '--seconds', '8', '--miners', '2', '--metrics', 'off']);
  expect(run.code).toBe(0);
  const last = run.stdout.trim().split('\n').at(-1) ?? '';
  const match = /miners told "accepted": (\d+); pool accepted (\d+), rejected (\d+)/.exec(last);
  expect(match, run.stdout).not.toBeNull();
  const [, told, accepted, rejected] = match!.map(Number);
  expect(told).toBeGreaterThan(0);
  // Every acknowledged share reached the pool (difficulty is the pool's); only stale ones may differ.
  expect(accepted! + rejected!).toBe(told);
  expect(last).toMatch(/miner1: \d+ shares/);
});
