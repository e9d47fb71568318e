/**
 * What a test peer saw on its socket, line by line, so that tests can assert the order and
 * content of messages the way the Stratum V2 reference implementation's sniffer tests do.
 */
export interface SniffedLine {
  /** `in`: read from the socket; `out`: written to it. */
  readonly direction: 'in' | 'out';
  /** `performance.now()` when the line was read or written. */
  readonly at: number;
  /** The line without its terminator. */
  readonly line: string;
  /** The request's method; for a reply, the method of the request it answers, when known. */
  readonly method: string | undefined;
  readonly reply: boolean;
}

/** One entry as `in mining.subscribe`, `out reply mining.subscribe`, `out mining.notify`. */
export function describeLine(entry: SniffedLine): string {
  const what = entry.method ?? 'unknown';
  return `${entry.direction} ${entry.reply ? `reply ${what}` : what}`;
}

/** The log as {@link describeLine} strings, optionally only one direction, for order assertions. */
export function messageSequence(log: readonly SniffedLine[], direction?: 'in' | 'out'): string[] {
  return log.filter((entry) => direction === undefined || entry.direction === direction).map(describeLine);
}

/**
 * Whether `expected` occurs in `actual` in order (other entries may sit between), e.g.
 * configure → subscribe → authorize → set_difficulty → notify.
 */
export function inOrder(actual: readonly string[], expected: readonly string[]): boolean {
  let next = 0;
  for (const entry of actual) {
    if (next < expected.length && entry === expected[next]) next += 1;
  }
  return next === expected.length;
}
