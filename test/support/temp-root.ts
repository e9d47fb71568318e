import { rmSync } from 'node:fs';

/**
 * vitest global setup: removes, when the run ends, the directory that vitest.config.ts made
 * for the run's temporary files (TMPDIR of the tests and of every process they start).
 */
export default function setup(): () => void {
  const root = process.env.HASHRELAY_TEST_TMPDIR;
  return () => {
    if (root === undefined) return;
    try {
      rmSync(root, { recursive: true, force: true, maxRetries: 3 });
    } catch (error) {
      // A tmpfs that a failed test left mounted cannot be removed: say where it is.
      process.stderr.write(
        `cannot remove the tests' temporary directory ${root}: ${(error as Error).message}\n`,
      );
    }
  };
}
