import type { Reporter, TestCase, TestModule, TestSuite } from 'vitest/node';

interface SkippedGroup {
  readonly file: string;
  readonly name: string;
  readonly needs: string;
  tests: number;
}

const NEEDS = /\(skipped: (.+)\)$/;

/** The outermost suite that was itself skipped (describe.skipIf), else the test. */
function skippedGroup(test: TestCase): TestCase | TestSuite {
  let group: TestCase | TestSuite = test;
  for (let parent = test.parent; parent.type === 'suite'; parent = parent.parent)
    if (parent.options.mode === 'skip') group = parent;
  return group;
}

/**
 * After vitest's summary: each skipped group with what it needs to run (the "(skipped: …)"
 * in its name, or the note given to ctx.skip), then the counts on one plain closing line.
 */
export default class SkippedGroupsReporter implements Reporter {
  onTestRunEnd(testModules: readonly TestModule[]): void {
    const groups = new Map<string, SkippedGroup>();
    const count = { passed: 0, failed: 0, skipped: 0 };
    for (const module of testModules) {
      // A file that failed to load has no tests to count: it counts as one failure.
      if (module.state() === 'failed' && module.errors().length > 0) count.failed++;
      for (const test of module.children.allTests()) {
        const result = test.result();
        if (result.state === 'passed') count.passed++;
        else if (result.state === 'failed') count.failed++;
        if (result.state !== 'skipped') continue;
        count.skipped++;
        const group = skippedGroup(test);
        const key = `${module.relativeModuleId}\u0000${group.fullName}`;
        const known = groups.get(key);
        if (known !== undefined) known.tests++;
        else
          groups.set(key, {
            file: module.relativeModuleId,
            name: group.fullName.replace(NEEDS, '').trim(),
            needs: NEEDS.exec(group.name)?.[1] ?? result.note ?? '',
            tests: 1,
          });
      }
    }
    const lines: string[] = [];
    const named = [...groups.values()].filter((group) => group.needs !== '');
    const unnamed = [...groups.values()].reduce(
      (sum, group) => sum + (group.needs === '' ? group.tests : 0),
      0,
    );
    if (groups.size > 0)
      lines.push('', `Skipped (${count.skipped} tests), and what each group needs to run:`);
    for (const group of named)
      lines.push(
        `  ${group.file} › ${group.name} (${group.tests} test${group.tests === 1 ? '' : 's'}): ${group.needs}`,
      );
    if (unnamed > 0)
      lines.push(
        `  ${unnamed} more with no reason named (a -t filter, .only, .skip, or a gate without skipNote)`,
      );
    lines.push('', `tests: ${count.passed} passed, ${count.failed} failed, ${count.skipped} skipped`, '');
    process.stdout.write(lines.join('\n'));
  }
}
