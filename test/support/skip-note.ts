/**
 * The suffix of a gated group's name when it skips, saying what it needs to run; the end of
 * `npm test` lists every skipped group with it (test/support/skipped-groups-reporter.ts).
 */
export function skipNote(needs: string | null | undefined): string {
  return needs === null || needs === undefined || needs === '' ? '' : ` (skipped: ${needs})`;
}
