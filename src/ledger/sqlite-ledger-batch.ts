import type { LedgerShareId, ShareRecord } from './ledger.js';
import type { ShareRow as TableShareRow } from './ledger-rows.js';
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
    const i = this.next();
    this.putNumbers(i, id, share.time, share.jobId, share.ntime, share.nonce, share.versionBits);
    this.numbers[i * NUMBER_COLUMNS + 6] = share.assignedDifficulty;
    this.numbers[i * NUMBER_COLUMNS + 7] = share.shareDifficulty ?? Number.NaN;
    const t = i * TEXT_COLUMNS;
    const text = this.text;
    text[t] = this.intern(share.miner);
    text[t + 1] = this.intern(share.worker);
    text[t + 2] = this.intern(share.upstream);
    text[t + 3] = this.intern(share.upstreamSession);
    text[t + 4] = this.intern(share.verdict);
    text[t + 5] = this.intern(share.upstreamVerdict);
    this.putBytes(i, share.extranonce2, share.hash, share.isBlock);
  }

  /**
   * Copies a row read back from either backend in (the audit's pages): the difficulty may be
   * numeric text (PostgreSQL), a flag a boolean.
   */
  addRow(row: Readonly<TableShareRow>): void {
    // Both schemas hold these; a file edited past its CHECKs would otherwise shift every later share.
    if ((row[13] !== null && row[13].length !== 32) || row[7].length > 0xffff) {
      throw new RangeError(
        `share ${row[0]} has a ${row[13]?.length ?? 0}-byte hash and a ${row[7].length}-byte extranonce2, ` +
          'which the ledger schema forbids: the ledger was edited outside hashrelay',
      );
    }
    const i = this.next();
    this.putNumbers(i, row[0], row[1], row[6], row[8], row[9], row[10]);
    this.numbers[i * NUMBER_COLUMNS + 6] = Number(row[11]);
    this.numbers[i * NUMBER_COLUMNS + 7] = row[12] ?? Number.NaN;
    const t = i * TEXT_COLUMNS;
    const text = this.text;
    text[t] = this.intern(row[2]);
    text[t + 1] = this.intern(row[3]);
    text[t + 2] = this.intern(row[4]);
    text[t + 3] = this.intern(row[5]);
    text[t + 4] = this.intern(row[14]);
    text[t + 5] = this.intern(row[15]);
    this.putBytes(i, row[7], row[13], Boolean(row[16]));
  }

  private next(): number {
    if (this.count === this.capacity) this.grow();
    return this.count++;
  }

  private putNumbers(
    i: number,
    id: number,
    time: number,
    jobId: number | null,
    ntime: number,
    nonce: number,
    versionBits: number | null,
  ): void {
    const n = i * NUMBER_COLUMNS;
    const numbers = this.numbers;
    numbers[n] = id;
    numbers[n + 1] = time;
    numbers[n + 2] = jobId ?? Number.NaN;
    numbers[n + 3] = ntime;
    numbers[n + 4] = nonce;
    numbers[n + 5] = versionBits ?? Number.NaN;
  }

  private putBytes(i: number, extranonce2: Uint8Array, hash: Uint8Array | null, isBlock: boolean): void {
    this.extranonce2Lengths[i] = extranonce2.length;
    this.flags[i] = (isBlock ? IS_BLOCK : 0) | (hash === null ? 0 : HAS_HASH);
    this.append(extranonce2);
    if (hash !== null) this.append(hash);
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
    return { columns, transfer: columnBuffers(columns) };
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

/** The buffers under the columns: what to list to move them to another thread rather than copy them. */
export function columnBuffers(columns: ShareColumns): ArrayBuffer[] {
  const { numbers, text, extranonce2Lengths, flags, bytes } = columns;
  return [numbers, text, extranonce2Lengths, flags, bytes].map((array) => array.buffer as ArrayBuffer);
}

/** The id of a page's last share (pages are in id order), or `fallback` for an empty page. */
export function lastShareId(columns: ShareColumns, fallback: LedgerShareId): LedgerShareId {
  return columns.count === 0 ? fallback : columns.numbers[(columns.count - 1) * NUMBER_COLUMNS]!;
}

/** A page of shares from rows in SHARE_COLUMNS order, whichever backend read them. */
export function shareColumnsOf(rows: Iterable<Readonly<TableShareRow>>): ShareColumns {
  const builder = new ShareColumnsBuilder();
  for (const row of rows) builder.addRow(row);
  return builder.finish().columns;
}

/** The ledger jobs a page's shares name. */
export function jobIdsOf(columns: ShareColumns): Set<number> {
  const ids = new Set<number>();
  for (let n = 2; n < columns.count * NUMBER_COLUMNS; n += NUMBER_COLUMNS) {
    const jobId = columns.numbers[n]!;
    if (!Number.isNaN(jobId)) ids.add(jobId);
  }
  return ids;
}

/**
 * A page of shares read in place, share by share index: no object or array is made a share,
 * which in the audit's loops over millions is what the garbage collector would otherwise spend
 * its time on.
 */
export class ShareColumnsView {
  readonly count: number;
  readonly bytes: Uint8Array;
  /** Where each share's extranonce2 starts in `bytes` (its hash, if any, follows it). */
  private readonly starts: Uint32Array;

  constructor(readonly columns: ShareColumns) {
    this.count = columns.count;
    this.bytes = columns.bytes;
    this.starts = new Uint32Array(columns.count);
    for (let i = 0, offset = 0; i < columns.count; i++) {
      this.starts[i] = offset;
      offset += columns.extranonce2Lengths[i]! + ((columns.flags[i]! & HAS_HASH) !== 0 ? 32 : 0);
    }
  }

  id(i: number): number {
    return this.columns.numbers[i * NUMBER_COLUMNS]!;
  }

  time(i: number): number {
    return this.columns.numbers[i * NUMBER_COLUMNS + 1]!;
  }

  jobId(i: number): number | null {
    return orNull(this.columns.numbers[i * NUMBER_COLUMNS + 2]!);
  }

  ntime(i: number): number {
    return this.columns.numbers[i * NUMBER_COLUMNS + 3]!;
  }

  nonce(i: number): number {
    return this.columns.numbers[i * NUMBER_COLUMNS + 4]!;
  }

  versionBits(i: number): number | null {
    return orNull(this.columns.numbers[i * NUMBER_COLUMNS + 5]!);
  }

  assignedDifficulty(i: number): number {
    return this.columns.numbers[i * NUMBER_COLUMNS + 6]!;
  }

  miner(i: number): string {
    return this.columns.strings[this.columns.text[i * TEXT_COLUMNS]!]!;
  }

  worker(i: number): string {
    return this.columns.strings[this.columns.text[i * TEXT_COLUMNS + 1]!]!;
  }

  verdict(i: number): string {
    return this.columns.strings[this.columns.text[i * TEXT_COLUMNS + 4]!]!;
  }

  extranonce2Start(i: number): number {
    return this.starts[i]!;
  }

  extranonce2Length(i: number): number {
    return this.columns.extranonce2Lengths[i]!;
  }

  extranonce2(i: number): Uint8Array {
    const start = this.starts[i]!;
    return this.bytes.subarray(start, start + this.columns.extranonce2Lengths[i]!);
  }

  /** Where the share's 32-byte hash starts in `bytes`, or -1 when it has none. */
  hashStart(i: number): number {
    return (this.columns.flags[i]! & HAS_HASH) === 0
      ? -1
      : this.starts[i]! + this.columns.extranonce2Lengths[i]!;
  }

  hash(i: number): Uint8Array | null {
    const start = this.hashStart(i);
    return start < 0 ? null : this.bytes.subarray(start, start + 32);
  }
}

function orNull(value: number): number | null {
  return Number.isNaN(value) ? null : value;
}
