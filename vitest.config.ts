import { chmodSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defineConfig } from 'vitest/config';

// Every temporary file of a run (the tests' and their processes') goes under one directory,
// which test/support/temp-root.ts removes when the run ends.
const tempRoot = process.env.HASHRELAY_TEST_TMPDIR ?? mkdtempSync(join(tmpdir(), 'hashrelay-tests-'));
process.env.HASHRELAY_TEST_TMPDIR = tempRoot;
// Open to other users as /tmp is: as root, the tests' own PostgreSQL clusters run as `postgres`.
chmodSync(tempRoot, 0o1777);

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/support/build.ts', 'test/support/temp-root.ts'],
    env: { TMPDIR: tempRoot },
    testTimeout: 60_000,
    // After the summary: each skipped group and what it needs, then one plain closing count.
    reporters: ['default', './test/support/skipped-groups-reporter.ts'],
  },
});
