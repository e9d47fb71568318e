import { Batch } from './group-commit-queue.js';
import type { JobRecord, LedgerJobId, RejectSummary, ShareRecord, UpstreamVerdictUpdate } from './ledger.js';

/**
 * The records of one PostgreSQL commit, kept as PostgreSQL array-literal elements, one list a
 * column. The commit sends each column as a single `text[]`-style parameter that the statement
 * unnests (pg-ledger-writer.ts): one statement and one round trip for any batch size, and
 * the same prepared statement every time. Each record is turned into text once, here, as it
 * arrives; the commit only joins.
 */

const JOB_COLUMNS = 16;
/** The shares' columns without the id, which is drawn when the batch is sent. */
const SHARE_COLUMNS = 16;
const SUMMARY_COLUMNS = 7;

export class PgBatch extends Batch {
  private readonly jobColumns: string[][] = columns(JOB_COLUMNS);
  private readonly shareColumns: string[][] = columns(SHARE_COLUMNS);
  /** Verdict updates by share id: the last one for a share wins, as applying them in order would. */
  private readonly verdicts = new Map<number, UpstreamVerdictUpdate>();
  private readonly summaryColumns: string[][] = columns(SUMMARY_COLUMNS);
  private sharesAdded = 0;
  private firstJobId: LedgerJobId | null = null;
  /** Filled when the batch is sent; a share's id is shareIds[its index in the batch]. */
  shareIds: readonly number[] = [];

  get jobCount(): number {
    return this.jobColumns[0]!.length;
  }

  get shareCount(): number {
    return this.sharesAdded;
  }

  get verdictCount(): number {
    return this.verdicts.size;
  }

  get summaryCount(): number {
    return this.summaryColumns[0]!.length;
  }

  addSummary(summary: RejectSummary): void {
    push(
      this.summaryColumns,
      String(summary.from),
      String(summary.to),
      text(summary.miner),
      text(summary.worker),
      text(summary.upstream),
      text(summary.verdict),
      String(summary.shares),
    );
  }

  addJob(id: LedgerJobId, job: JobRecord): void {
    this.firstJobId ??= id;
    push(
      this.jobColumns,
      String(id),
      String(job.receivedAt),
      text(job.upstream),
      text(job.upstreamSession),
      text(job.upstreamJobId),
      text(job.proxyJobId),
      bytea(job.prevhash),
      bytea(job.coinb1),
      bytea(job.coinb2),
      byteaConcat(job.merkleBranch),
      String(job.version),
      String(job.nbits),
      String(job.ntime),
      job.cleanJobs ? 't' : 'f',
      bytea(job.extranonce1),
      String(job.extranonce2Size),
    );
  }

  /** Returns the share's index in the batch. */
  addShare(share: ShareRecord): number {
    push(
      this.shareColumns,
      String(share.time),
      text(share.miner),
      text(share.worker),
      text(share.upstream),
      text(share.upstreamSession),
      share.jobId === null ? 'NULL' : String(share.jobId),
      bytea(share.extranonce2),
      String(share.ntime),
      String(share.nonce),
      share.versionBits === null ? 'NULL' : String(share.versionBits),
      exactDecimal(share.assignedDifficulty),
      share.shareDifficulty === null ? 'NULL' : String(share.shareDifficulty),
      share.hash === null ? 'NULL' : bytea(share.hash),
      text(share.verdict),
      text(share.upstreamVerdict),
      share.isBlock ? 't' : 'f',
    );
    return this.sharesAdded++;
  }

  addVerdict(update: UpstreamVerdictUpdate): void {
    // Delete first so a later update for the same share moves to the end, as its UPDATE would run last.
    this.verdicts.delete(update.shareId);
    this.verdicts.set(update.shareId, update);
  }

  /**
   * A record whose presence proves the batch committed (a batch commits whole), for the check
   * after a connection was lost mid-commit; null for a batch of verdict updates alone, which
   * can simply be applied again.
   */
  marker(): { readonly table: 'shares' | 'jobs'; readonly id: number } | null {
    const share = this.shareIds[0];
    if (share !== undefined) return { table: 'shares', id: share };
    if (this.firstJobId !== null) return { table: 'jobs', id: this.firstJobId };
    return null;
  }

  /** The commit statement's parameters: the job columns, the share columns (id first), the verdicts, the summaries. */
  parameters(): string[] {
    const verdictIds: string[] = [];
    const verdicts: string[] = [];
    const errors: string[] = [];
    for (const update of this.verdicts.values()) {
      verdictIds.push(String(update.shareId));
      verdicts.push(text(update.verdict));
      errors.push(update.error === null ? 'NULL' : text(update.error));
    }
    return [
      ...this.jobColumns.map(literal),
      literal(this.shareIds.map(String)),
      ...this.shareColumns.map(literal),
      literal(verdictIds),
      literal(verdicts),
      literal(errors),
      ...this.summaryColumns.map(literal),
    ];
  }
}

function columns(count: number): string[][] {
  return Array.from({ length: count }, () => []);
}

function push(target: string[][], ...values: string[]): void {
  values.forEach((value, i) => target[i]!.push(value));
}

function literal(elements: readonly string[]): string {
  return `{${elements.join(',')}}`;
}

/**
 * A quoted array element. PostgreSQL text cannot hold U+0000, so it is stored as U+FFFD, as
 * both backends already store UTF-16 that is not valid Unicode (a lone surrogate).
 */
export function text(value: string): string {
  const clean = value.includes('\u0000') ? value.replaceAll('\u0000', '\uFFFD') : value;
  return /["\\]/.test(clean) ? `"${clean.replace(/["\\]/g, '\\$&')}"` : `"${clean}"`;
}

/** An unquoted bytea element in hex form; the array parser turns `\\x` into `\x`. */
function bytea(value: Uint8Array): string {
  return `\\\\x${Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('hex')}`;
}

function byteaConcat(parts: readonly Uint8Array[]): string {
  let hex = '\\\\x';
  for (const part of parts) hex += Buffer.from(part.buffer, part.byteOffset, part.byteLength).toString('hex');
  return hex;
}

/**
 * The exact decimal value of a finite double ≥ 0, e.g. 0.1 → 0.1000000000000000055511151231257827…
 * `String(x)` gives the shortest text that reads back as x, which as a numeric is a different
 * number, and sums of those would differ from sums of the doubles.
 */
export function exactDecimal(value: number): string {
  if (Number.isSafeInteger(value)) return String(value);
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, value);
  const bits = view.getBigUint64(0);
  const biased = Number((bits >> 52n) & 0x7ffn);
  let mantissa = bits & 0xfffffffffffffn;
  let exponent: number;
  if (biased === 0) {
    exponent = -1074;
  } else {
    mantissa |= 1n << 52n;
    exponent = biased - 1075;
  }
  if (exponent >= 0) return (mantissa << BigInt(exponent)).toString();
  while ((mantissa & 1n) === 0n && exponent < 0) {
    mantissa >>= 1n;
    exponent++;
  }
  if (exponent === 0) return mantissa.toString();
  // mantissa / 2^k = mantissa · 5^k / 10^k
  const places = -exponent;
  const digits = (mantissa * 5n ** BigInt(places)).toString().padStart(places + 1, '0');
  return `${digits.slice(0, -places)}.${digits.slice(-places)}`;
}
