const SHOWN_CHARACTERS = 40;

/**
 * How a received value reads in an error message. Long strings are cut so that a 100 KB
 * coinbase does not end up in a log line or an error reply.
 */
export function describeValue(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  if (typeof value === 'string') return quote(value);
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (Array.isArray(value)) return `an array of ${value.length}`;
  return 'an object';
}

export function quote(text: string): string {
  if (text.length <= SHOWN_CHARACTERS) return JSON.stringify(text);
  return `${JSON.stringify(`${text.slice(0, SHOWN_CHARACTERS - 8)}…`)} (${text.length} characters)`;
}
