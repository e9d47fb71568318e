/**
 * `waitFor` for the test peers: predicates are re-checked whenever the peer reports a change
 * (a line arrived, a share was judged), so a test waits on events rather than on polling.
 */
export class Waiters<Subject> {
  private readonly checks = new Set<() => void>();

  constructor(private readonly subject: Subject) {}

  get waiting(): boolean {
    return this.checks.size > 0;
  }

  /** Re-evaluates every pending predicate; peers call it after each change a test could wait on. */
  changed(): void {
    for (const check of [...this.checks]) check();
  }

  waitFor(
    predicate: (subject: Subject) => boolean,
    timeoutMs: number,
    what = 'the condition',
  ): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const finish = (error?: Error): void => {
        clearTimeout(timer);
        this.checks.delete(check);
        if (error === undefined) resolve();
        else reject(error);
      };
      const check = (): void => {
        let met: boolean;
        try {
          met = predicate(this.subject);
        } catch (error) {
          finish(error instanceof Error ? error : new Error(String(error)));
          return;
        }
        if (met) finish();
      };
      const timer = setTimeout(() => {
        finish(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`));
      }, timeoutMs);
      this.checks.add(check);
      check();
    });
  }
}
