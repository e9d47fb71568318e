import { StratumLimits } from './limits.js';

const LF = 0x0a;
const CR = 0x0d;
const INITIAL_CAPACITY = 256;
/** Every framer starts on this one (never written: `append` grows first): ~200 B less per connection. */
const EMPTY = Buffer.alloc(0);

export interface LineFramerOptions {
  /** Longest line accepted, in bytes, not counting `\n` or `\r\n`. Default 16 KiB. */
  readonly maxLineLength?: number;
}

export interface FramerResult {
  /** Complete lines in arrival order, UTF-8 decoded, without terminators; empty lines are skipped. */
  readonly lines: readonly string[];
  /**
   * A line was longer than the limit. Its bytes were dropped up to the next `\n`, so framing
   * carries on, but a peer that does this is misbehaving.
   */
  readonly overflow: boolean;
}

/**
 * Splits a TCP byte stream into `\n`- or `\r\n`-terminated lines. The unfinished line is copied
 * into one buffer that grows by doubling and never holds more than `maxLineLength` bytes, so
 * memory stays bounded and a line arriving a byte at a time costs linear time.
 */
export class LineFramer {
  readonly maxLineLength: number;
  private pending: Buffer = EMPTY;
  private pendingLength = 0;
  /**
   * A `\r` that arrived when the buffer already held a full-length line. Kept as a flag rather
   * than a byte: it ends the line if `\n` follows, and makes the line too long otherwise.
   */
  private pendingCarriageReturn = false;
  /** Inside a line that overflowed; everything up to the next `\n` is dropped. */
  private discarding = false;

  constructor(options: LineFramerOptions = {}) {
    const maxLineLength = options.maxLineLength ?? StratumLimits.maxMinerLineBytes;
    if (!Number.isSafeInteger(maxLineLength) || maxLineLength < 1) {
      throw new RangeError(`maxLineLength must be a positive integer, got ${maxLineLength}`);
    }
    this.maxLineLength = maxLineLength;
  }

  /** Bytes of the unfinished line held; never more than `maxLineLength`. */
  get bufferedBytes(): number {
    return this.pendingLength;
  }

  push(chunk: Uint8Array): FramerResult {
    const bytes = Buffer.isBuffer(chunk)
      ? chunk
      : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    const lines: string[] = [];
    let overflow = false;
    let start = 0;

    if (this.pendingCarriageReturn && bytes.length > 0) {
      this.pendingCarriageReturn = false;
      if (bytes[0] === LF) {
        lines.push(this.pending.toString('utf8', 0, this.pendingLength));
        this.pendingLength = 0;
        start = 1;
      } else {
        overflow = true;
        this.startDiscarding();
      }
    }

    while (start < bytes.length) {
      const newline = bytes.indexOf(LF, start);
      if (newline === -1) {
        if (!this.discarding && !this.keep(bytes, start)) overflow = true;
        break;
      }
      if (this.discarding) {
        this.discarding = false;
      } else if (!this.finishLine(bytes, start, newline, lines)) {
        overflow = true;
      }
      start = newline + 1;
    }
    return { lines, overflow };
  }

  /** Ends the pending line with `bytes[start, end)`; false if the whole line is too long. */
  private finishLine(bytes: Buffer, start: number, end: number, lines: string[]): boolean {
    let segmentEnd = end;
    if (end > start) {
      if (bytes[end - 1] === CR) segmentEnd -= 1;
    } else if (this.pendingLength > 0 && this.pending[this.pendingLength - 1] === CR) {
      this.pendingLength -= 1;
    }
    const length = this.pendingLength + (segmentEnd - start);
    if (length > this.maxLineLength) {
      this.pendingLength = 0;
      return false;
    }
    if (length > 0) {
      if (this.pendingLength === 0) {
        lines.push(bytes.toString('utf8', start, segmentEnd));
      } else {
        this.append(bytes, start, segmentEnd);
        lines.push(this.pending.toString('utf8', 0, this.pendingLength));
      }
    }
    this.pendingLength = 0;
    return true;
  }

  /** Buffers the unterminated tail `bytes[start..]`; false if that makes the line too long. */
  private keep(bytes: Buffer, start: number): boolean {
    let end = bytes.length;
    if (this.pendingLength + (end - start) === this.maxLineLength + 1 && bytes[end - 1] === CR) {
      end -= 1;
      this.pendingCarriageReturn = true;
    }
    if (this.pendingLength + (end - start) > this.maxLineLength) {
      this.startDiscarding();
      return false;
    }
    this.append(bytes, start, end);
    return true;
  }

  private append(bytes: Buffer, start: number, end: number): void {
    const needed = this.pendingLength + (end - start);
    if (needed > this.pending.length) {
      const capacity = Math.min(
        this.maxLineLength,
        Math.max(needed, this.pending.length * 2, INITIAL_CAPACITY),
      );
      const grown = Buffer.allocUnsafe(capacity);
      this.pending.copy(grown, 0, 0, this.pendingLength);
      this.pending = grown;
    }
    bytes.copy(this.pending, this.pendingLength, start, end);
    this.pendingLength = needed;
  }

  private startDiscarding(): void {
    this.pendingLength = 0;
    this.discarding = true;
  }
}
