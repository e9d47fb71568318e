import { expect, test } from 'vitest';
import { runCliAsync } from './support/cli.js';
import { freePort } from './support/ports.js';

test('hashrelay demo runs the whole loop: farms split by stake, validators post weights for both farms', async () => {
  const metrics = `127.0.0.1:${await freePort()}`;
  const run = await runCliAsync(['demo', '--seconds', '30', '--miners', '3', '--metrics', metrics]);
  expect(run.code, run.stderr).toBe(0);
  const lines = run.stdout.trim().split('\n');
  // Each farm reports its split against the stake targets (75 % / 25 %).
  const split = lines.filter((line) => /farm-1: validator-a target 75\.0 % realised/.test(line));
  expect(split.length, run.stdout).toBeGreaterThan(0);
  expect(lines.some((line) => /farm-2: validator-a target 75\.0 % realised \d/.test(line))).toBe(true);
  // Both validators posted weights that name both farms.
  for (const validator of ['validator-a', 'validator-b']) {
    const posts = lines.filter((line) => line.includes(`${validator} posted weights at block`));
    expect(
      posts.some((line) => line.includes('farm-1 (uid') && line.includes('farm-2 (uid')),
      run.stdout,
    ).toBe(true);
  }
  const pool = /pool accepted (\d+) shares, rejected (\d+)/.exec(lines.at(-1) ?? '');
  expect(Number(pool?.[1])).toBeGreaterThan(0);
});
