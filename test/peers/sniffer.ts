import type { PoolMessage } from '../../src/stratum/messages.js';

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

/**
 * The log entry for a line a miner-side peer read: `message` as parsed (undefined if it did not
 * parse), `answered` the method of our request a response answers, when known.
 */
export function inboundLine(
  line: string,
  message: PoolMessage | undefined,
  answered: string | undefined,
): SniffedLine {
  const method =
    message === undefined
      ? undefined
      : message.kind === 'response'
        ? answered
        : message.kind === 'unknown'
          ? message.method
          : message.kind;
  return { direction: 'in', at: performance.now(), line, method, reply: message?.kind === 'response' };
}

/** What a miner sends and receives, in order, from configure to its first job. */
export const MINER_HANDSHAKE_SEQUENCE: readonly string[] = [
  'out mining.configure',
  'in reply mining.configure',
  'out mining.subscribe',
  'in reply mining.subscribe',
  'out mining.authorize',
  'in reply mining.authorize',
  'in mining.set_difficulty',
  'in mining.notify',
];
