import type { LedgerShareId, ShareRecord } from './ledger.js';
import type { ShareRow } from './sqlite-ledger-protocol.js';

/**
 * The shares of one commit, column by column in a few typed arrays. The main thread fills them
 * for a fraction of a microsecond a share and posts them by transfer, not by copy: structured
 * cloning the same shares as objects, each with its own Uint8Arrays, costs the main thread
 * microseconds a share and stalls it for milliseconds per large batch.
 */
export interface ShareColumns {
  readonly count: number;
  /** NUMBER_COLUMNS numbers a share (see ShareColumnsBuilder.add); NaN stands for null. */
  readonly numbers: Float64Array;
  /** TEXT_COLUMNS indexes into `strings` a share. */
  readonly text: Uint32Array;
  readonly strings: readonly string[];
  /** A share's extranonce2 length. */
  readonly extranonce2Lengths: Uint16Array;
  /** A share's flags: IS_BLOCK, HAS_HASH. */
  readonly flags: Uint8Array;
  /** Each share's extranonce2, then its hash if it has one, share after share. */
  readonly bytes: Uint8Array;
}

const NUMBER_COLUMNS = 8;
const TEXT_COLUMNS = 6;
const IS_BLOCK = 1;
const HAS_HASH = 2;

/** Fills a ShareColumns one share at a time (main thread). */
export class ShareColumnsBuilder {
  private count = 0;
  private capacity = 64;
  private numbers = new Float64Array(this.capacity * NUMBER_COLUMNS);
  private text = new Uint32Array(this.capacity * TEXT_COLUMNS);
  private extranonce2Lengths = new Uint16Array(this.capacity);
  private flags = new Uint8Array(this.capacity);
  private bytes = new Uint8Array(this.capacity * 48);
  private bytesUsed = 0;
  private readonly strings: string[] = [];
  private readonly stringIndex = new Map<string, number>();

  get size(): number {
    return this.count;
  }

  /** Copies the share in: the caller may reuse its byte arrays as soon as this returns. */
  add(id: LedgerShareId, share: ShareRecord): void {
    if (this.count === this.capacity) this.grow();
    const i = this.count++;
    const n = i * NUMBER_COLUMNS;
    const numbers = this.numbers;
    numbers[n] = id;
    numbers[n + 1] = share.time;
    numbers[n + 2] = share.jobId ?? Number.NaN;
    numbers[n + 3] = share.ntime;
    numbers[n + 4] = share.nonce;
    numbers[n + 5] = share.versionBits ?? Number.NaN;
    numbers[n + 6] = share.assignedDifficulty;
    numbers[n + 7] = share.shareDifficulty ?? Number.NaN;
    const t = i * TEXT_COLUMNS;
    const text = this.text;
    text[t] = this.intern(share.miner);
    text[t + 1] = this.intern(share.worker);
    text[t + 2] = this.intern(share.upstream);
    text[t + 3] = this.intern(share.upstreamSession);
    text[t + 4] = this.intern(share.verdict);
    text[t + 5] = this.intern(share.upstreamVerdict);
    this.extranonce2Lengths[i] = share.extranonce2.length;
    this.flags[i] = (share.isBlock ? IS_BLOCK : 0) | (share.hash === null ? 0 : HAS_HASH);
    this.append(share.extranonce2);
    if (share.hash !== null) this.append(share.hash);
  }

  /** The columns, and the buffers to transfer with them (unusable here afterwards). */
  finish(): { columns: ShareColumns; transfer: ArrayBuffer[] } {
    const columns: ShareColumns = {
      count: this.count,
      numbers: this.numbers,
      text: this.text,
      strings: this.strings,
      extranonce2Lengths: this.extranonce2Lengths,
      flags: this.flags,
      bytes: this.bytes.subarray(0, this.bytesUsed),
    };
    const transfer = [this.numbers, this.text, this.extranonce2Lengths, this.flags, this.bytes].map(
      (array) => array.buffer,
    );
    return { columns, transfer };
  }

  private intern(value: string): number {
    let index = this.stringIndex.get(value);
    if (index === undefined) {
      index = this.strings.length;
      this.strings.push(value);
      this.stringIndex.set(value, index);
    }
    return index;
  }

  private append(part: Uint8Array): void {
    if (this.bytesUsed + part.length > this.bytes.length) {
      this.bytes = grown(this.bytes, Math.max(this.bytes.length * 2, this.bytesUsed + part.length));
    }
    this.bytes.set(part, this.bytesUsed);
    this.bytesUsed += part.length;
  }

  private grow(): void {
    this.capacity *= 2;
    this.numbers = grown(this.numbers, this.capacity * NUMBER_COLUMNS);
    this.text = grown(this.text, this.capacity * TEXT_COLUMNS);
    this.extranonce2Lengths = grown(this.extranonce2Lengths, this.capacity);
    this.flags = grown(this.flags, this.capacity);
  }
}

function grown<T extends Float64Array | Uint32Array | Uint16Array | Uint8Array>(array: T, length: number): T {
  const bigger = new (array.constructor as new (length: number) => T)(length);
  bigger.set(array);
  return bigger;
}

/** Calls `insert` with each share as a row in `shares` column order (database thread). */
export function forEachShareRow(columns: ShareColumns, insert: (row: ShareRow) => void): void {
  const { numbers, text, strings, extranonce2Lengths, flags, bytes } = columns;
  const orNull = (value: number): number | null => (Number.isNaN(value) ? null : value);
  let offset = 0;
  for (let i = 0; i < columns.count; i++) {
    const n = i * NUMBER_COLUMNS;
    const t = i * TEXT_COLUMNS;
    const extranonce2End = offset + extranonce2Lengths[i]!;
    const extranonce2 = bytes.subarray(offset, extranonce2End);
    const hasHash = (flags[i]! & HAS_HASH) !== 0;
    offset = hasHash ? extranonce2End + 32 : extranonce2End;
    insert([
      numbers[n]!,
      numbers[n + 1]!,
      strings[text[t]!]!,
      strings[text[t + 1]!]!,
      strings[text[t + 2]!]!,
      strings[text[t + 3]!]!,
      orNull(numbers[n + 2]!),
      extranonce2,
      numbers[n + 3]!,
      numbers[n + 4]!,
      orNull(numbers[n + 5]!),
      numbers[n + 6]!,
      orNull(numbers[n + 7]!),
      hasHash ? bytes.subarray(extranonce2End, offset) : null,
      strings[text[t + 4]!]!,
      strings[text[t + 5]!]!,
      (flags[i]! & IS_BLOCK) !== 0 ? 1 : 0,
    ]);
  }
}
