import type { ShareHashJob } from './share-hash-job.js';

/**
 * A double-SHA-256 implementation: the native addon (SHA-NI, ARMv8 SHA2 or portable C) or the
 * JavaScript one. Both take the same arguments, write the same bytes and refuse the same calls.
 * Outputs go into caller-given arrays so a batch allocates nothing per item.
 */
export interface Sha256dBackend {
  /** `sha-ni`, `armv8-sha2`, `portable` (the addon's C) or `js`. */
  readonly name: string;
  /** out (32 bytes) = sha256(sha256(message)). */
  sha256d(message: Uint8Array, out: Uint8Array): void;
  /** sha256d of each `messageLength`-byte message in `messages`, 32 bytes apart in `out`. */
  sha256dEach(messages: Uint8Array, messageLength: number, out: Uint8Array): void;
  /**
   * Every sha256d of each share record in `shares` (records `stride` bytes apart; see
   * writeShareRecord): header ‖ sha256d(header) ‖ coinbase txid, 144 bytes per share in `out`.
   */
  hashShares(job: ShareHashJob, shares: Uint8Array, stride: number, out: Uint8Array): void;
}

/** The count of `messageLength`-byte messages, after the checks both backends make. */
export function messageCount(messages: Uint8Array, messageLength: number, out: Uint8Array): number {
  if (!Number.isInteger(messageLength) || messageLength <= 0)
    throw new RangeError('messageLength must be positive');
  if (messages.length % messageLength !== 0) {
    throw new RangeError('messages must be a whole number of messageLength-byte messages');
  }
  const count = messages.length / messageLength;
  if (out.length !== 32 * count) throw new RangeError('out must be 32 bytes per message');
  return count;
}
