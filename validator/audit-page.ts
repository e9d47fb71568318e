import type { LedgerJobId, LocalVerdict, StoredJob } from '../src/ledger/ledger.js';
import { ShareColumnsView, type ShareColumns } from '../src/ledger/sqlite-ledger-batch.js';
import { bswap32, toDisplayHex } from '../src/work/bytes.js';
import { checkShare, prepareJob, type PreparedJob, type ShareVerdict } from '../src/work/share-check.js';
import { sha256dFromMidstate, sha256dHeaderWords, sha256dPairWords } from '../src/work/sha256.js';
import { sha256dSelection } from '../src/work/sha256d-native.js';
import {
  OUT_HASH_OFFSET,
  SHARE_HASH_OUT_BYTES,
  SHARE_RECORD_FIXED_BYTES,
  writeShareRecord,
} from '../src/work/share-hash-job.js';
import { difficultyToTarget } from '../src/work/target.js';
import { toDifficulty, toJobId, type Difficulty, type U32 } from '../src/work/types.js';
import { BIP320_VERSION_MASK, rollVersion } from '../src/work/version-rolling.js';

/**
 * The audit's share check over one page of the ledger's stream (`Ledger.sharePage`): rebuilds
 * each share's header from its stored job and compares its sha256d with the stored hash. Pure
 * apart from its caches, so it runs the same on the main thread or in a worker
 * (audit-worker.ts): a job is prepared once (coinbase midstate, branches as words), and the
 * merkle root of a (job, extranonce2), the bulk of the hashing, is kept for the shares that
 * repeat it (a miner rolls nonce, ntime and version bits before it moves extranonce2).
 */

/** What the check says of one share; the caller judges duplicates and difficulty against the ledger. */
export const ShareCheck = {
  /** Not checked: refused without a job or a hash (nothing to rebuild), as the proxy records them. */
  skipped: 0,
  /** Rebuilds to its stored hash, which meets the difficulty assigned. */
  meets: 1,
  /** Rebuilds to its stored hash, which does not meet the difficulty assigned. */
  below: 2,
  missingJob: 3,
  malformed: 4,
  hashMismatch: 5,
} as const;
export type ShareCheckCode = (typeof ShareCheck)[keyof typeof ShareCheck];

/** The checks of a page's shares, in page order. */
export interface PageVerdicts {
  /** A ShareCheck code a share. */
  readonly codes: Uint8Array;
  /** Why, for each share that failed: [index in the page, detail]. */
  readonly details: readonly (readonly [number, string])[];
}

/**
 * Which shares of a page a checker takes when `of` checkers share it: those whose (job,
 * extranonce2) falls to `index`, so that every share on one merkle root meets the same cache.
 */
export interface PagePart {
  readonly index: number;
  readonly of: number;
}

const WHOLE_PAGE: PagePart = { index: 0, of: 1 };

/** The code of a share another checker's part holds. */
export const NOT_IN_PART = 255;

/** The part a share falls to: its job and extranonce2 hashed (FNV-1a); shares without a job by index. */
function partOf(view: ShareColumnsView, i: number, of: number): number {
  const jobId = view.jobId(i);
  if (jobId === null) return i % of;
  let h = Math.imul(0x811c9dc5 ^ jobId, 0x01000193);
  const bytes = view.bytes;
  const end = view.extranonce2Start(i) + view.extranonce2Length(i);
  for (let b = view.extranonce2Start(i); b < end; b++) h = Math.imul(h ^ bytes[b]!, 0x01000193);
  return (h >>> 0) % of;
}

/** A page's jobs as the checker is taught them: null for a job the ledger does not hold. */
export type PageJobs = readonly (readonly [LedgerJobId, StoredJob | null])[];

// The proxy never accepts ntime before the job's; how far ahead it allows is its own setting.
const ANY_NTIME_AHEAD = 2 ** 32;
const ALL_BITS: U32 = 0xffffffff;
/** Merkle roots kept per checker: a few seconds of a large farm's shares. */
const MERKLE_ROOTS_KEPT = 65_536;

type AuditJob =
  { readonly prepared: PreparedJob; readonly extranonce2Size: number } | { readonly error: string };

/** The fields of a share the check reads. */
interface CheckedShare {
  readonly jobId: LedgerJobId | null;
  readonly extranonce2: Uint8Array;
  readonly ntime: U32;
  readonly nonce: U32;
  readonly versionBits: U32 | null;
  readonly assignedDifficulty: number;
  readonly hash: Uint8Array | null;
  readonly verdict: LocalVerdict;
}

type ShareOutcome =
  | { readonly code: typeof ShareCheck.skipped }
  | { readonly code: typeof ShareCheck.meets | typeof ShareCheck.below }
  | {
      readonly code:
        typeof ShareCheck.missingJob | typeof ShareCheck.malformed | typeof ShareCheck.hashMismatch;
      readonly detail: string;
    };

/**
 * Merkle roots by (job, extranonce2), the most recently used kept: two generations, the older
 * dropped whole when the newer fills. (A Map evicting its first key one at a time slows to a
 * crawl in V8: the deleted entries at its front are walked past on every eviction.)
 */
class RecentRoots {
  private newer = new Map<string, Int32Array>();
  private older = new Map<string, Int32Array>();

  constructor(private readonly capacity: number) {}

  get(key: string): Int32Array | undefined {
    const root = this.newer.get(key);
    if (root !== undefined) return root;
    const old = this.older.get(key);
    if (old !== undefined) this.set(key, old);
    return old;
  }

  set(key: string, root: Int32Array): void {
    if (this.newer.size >= this.capacity / 2) {
      this.older = this.newer;
      this.newer = new Map();
    }
    this.newer.set(key, root);
  }

  clear(): void {
    this.newer.clear();
    this.older.clear();
  }
}

/** One thread's share checker: the jobs it was taught, and the merkle roots it computed. */
export class PageChecker {
  private readonly jobs = new Map<LedgerJobId, AuditJob | undefined>();
  private readonly roots = new RecentRoots(MERKLE_ROOTS_KEPT);

  get jobsKnown(): number {
    return this.jobs.size;
  }

  /** Learns jobs (prepared once each); `forget` drops every job learnt before, and their roots. */
  learn(jobs: PageJobs, forget = false): void {
    if (forget) {
      this.jobs.clear();
      this.roots.clear();
    }
    for (const [id, job] of jobs) {
      if (!this.jobs.has(id)) this.jobs.set(id, job === null ? undefined : toAuditJob(job));
    }
  }

  /** Checks every share of the page; each job it names must have been learnt. */
  check(page: ShareColumns, part: PagePart = WHOLE_PAGE): PageVerdicts {
    const view = new ShareColumnsView(page);
    const codes = new Uint8Array(page.count);
    const details: [number, string][] = [];
    for (let i = 0; i < view.count; i++) {
      if (part.of > 1 && partOf(view, i, part.of) !== part.index) {
        codes[i] = NOT_IN_PART;
        continue;
      }
      const code = this.fastCheck(view, i);
      if (code !== undefined) {
        codes[i] = code;
        continue;
      }
      // Anything else (malformed, not its stored hash, no job): the full check, for the same verdict and its reason.
      const jobId = view.jobId(i);
      const outcome = slowCheck(shareAt(view, i), jobId === null ? undefined : this.jobs.get(jobId));
      codes[i] = outcome.code;
      if ('detail' in outcome) details.push([i, outcome.detail]);
    }
    return { codes, details };
  }

  /**
   * A well-formed share that rebuilds to its stored hash, checked with its merkle root cached:
   * meets or below. Undefined for anything else, which the full check then explains.
   */
  private fastCheck(view: ShareColumnsView, i: number): ShareCheckCode | undefined {
    const jobId = view.jobId(i);
    const hashAt = view.hashStart(i);
    if (jobId === null || hashAt < 0) return undefined;
    const job = this.jobs.get(jobId);
    if (job === undefined || 'error' in job) return undefined;
    const assigned = view.assignedDifficulty(i);
    const positive = assigned > 0 && Number.isFinite(assigned);
    if (!positive && view.verdict(i) === 'accepted') return undefined;
    const ntime = view.ntime(i);
    // What checkShare refuses before hashing.
    if (view.extranonce2Length(i) !== job.extranonce2Size || ntime < job.prepared.job.ntime) return undefined;
    const nonce = view.nonce(i);
    const candidates = candidateVersionsInto(job.prepared.job.version, view.versionBits(i), versions);
    // The native addon hashes a whole share (coinbase, branches, header) faster than JavaScript
    // hashes a header from a cached root; the JavaScript path keeps the cache.
    const root = NATIVE ? undefined : this.merkleRoot(jobId, job.prepared, view, i);
    for (let v = 0; v < candidates; v++) {
      if (root === undefined) nativeShareHash(job.prepared, versions[v]!, ntime, nonce, view.extranonce2(i));
      else hashHeader(job.prepared, root, versions[v]!, ntime, nonce, hashWords);
      if (sameHash(hashWords, view.bytes, hashAt)) {
        return positive && meets(hashWords, assigned) ? ShareCheck.meets : ShareCheck.below;
      }
    }
    return undefined;
  }

  /** The merkle root for this job and the share's extranonce2, computed once while it stays cached. */
  private merkleRoot(jobId: LedgerJobId, job: PreparedJob, view: ShareColumnsView, i: number): Int32Array {
    const bytes = view.bytes;
    const end = view.extranonce2Start(i) + view.extranonce2Length(i);
    let key = `${jobId}:`;
    for (let b = view.extranonce2Start(i); b < end; b++) key += String.fromCharCode(bytes[b]!);
    let root = this.roots.get(key);
    if (root !== undefined) return root;
    root = new Int32Array(8);
    merkleRootWords(job, view.extranonce2(i), root);
    this.roots.set(key, root);
    return root;
  }
}

// Scratch words: the check is synchronous, so one set per thread suffices.
const header = new Int32Array(20);
const hashWords = new Int32Array(8);
const versions = new Uint32Array(3);

const NATIVE = sha256dSelection.backend.name !== 'js';
let shareRecord = new Uint8Array(SHARE_RECORD_FIXED_BYTES + 32);
const shareOut = new Uint8Array(SHARE_HASH_OUT_BYTES);

/** Every sha256d of one share in one native call; its header hash lands in `hashWords`. */
function nativeShareHash(
  job: PreparedJob,
  version: U32,
  ntime: U32,
  nonce: U32,
  extranonce2: Uint8Array,
): void {
  const stride = SHARE_RECORD_FIXED_BYTES + extranonce2.length;
  if (shareRecord.length < stride) shareRecord = new Uint8Array(stride);
  const record = shareRecord.subarray(0, stride);
  writeShareRecord(record, 0, { version, ntime, nonce, extranonce2 });
  sha256dSelection.backend.hashShares(job.hashJob, record, stride, shareOut);
  for (let k = 0, j = OUT_HASH_OFFSET; k < 8; k++, j += 4)
    hashWords[k] =
      (shareOut[j]! << 24) | (shareOut[j + 1]! << 16) | (shareOut[j + 2]! << 8) | shareOut[j + 3]!;
}

/** sha256d of the coinbase, then up the merkle branches: the bulk of a share's hashing. */
export function merkleRootWords(job: PreparedJob, extranonce2: Uint8Array, out: Int32Array): void {
  sha256dFromMidstate(job.hashJob.coinbasePrefix, [extranonce2, job.job.coinb2], out);
  for (const branch of job.hashJob.branchWords) sha256dPairWords(out, branch, out);
}

/** The one sha256d a share costs once its merkle root is known (a faster hash slots in here). */
export function hashHeader(
  job: PreparedJob,
  root: Int32Array,
  version: U32,
  ntime: U32,
  nonce: U32,
  out: Int32Array,
): void {
  header[0] = bswap32(version);
  header.set(job.hashJob.prevhashWords, 1);
  header.set(root, 9);
  header[17] = bswap32(ntime);
  header[18] = bswap32(job.job.nbits);
  header[19] = bswap32(nonce);
  sha256dHeaderWords(header, out);
}

/** Whether the words are the 32 bytes at `offset`. */
function sameHash(words: Int32Array, bytes: Uint8Array, offset: number): boolean {
  for (let i = 0, j = offset; i < 8; i++, j += 4) {
    const word = words[i]!;
    if (
      bytes[j] !== word >>> 24 ||
      bytes[j + 1] !== ((word >>> 16) & 0xff) ||
      bytes[j + 2] !== ((word >>> 8) & 0xff) ||
      bytes[j + 3] !== (word & 0xff)
    ) {
      return false;
    }
  }
  return true;
}

// The target of the difficulty last asked about, as 32-bit limbs, most significant first.
let lastDifficulty = Number.NaN;
const targetLimbs = new Uint32Array(8);

/** h ≤ T1 / D with the hash read as a little-endian integer, compared limb by limb. */
function meets(words: Int32Array, difficulty: number): boolean {
  if (difficulty !== lastDifficulty) {
    const target = difficultyToTarget(toDifficulty(difficulty));
    for (let k = 0; k < 8; k++) targetLimbs[k] = Number((target >> BigInt(32 * (7 - k))) & 0xffffffffn);
    lastDifficulty = difficulty;
  }
  for (let k = 0; k < 8; k++) {
    // Limb k from the top is hash bytes 28 - 4k .. 31 - 4k, i.e. word 7 - k byte-swapped.
    const limb = bswap32(words[7 - k]!);
    const bound = targetLimbs[k]!;
    if (limb !== bound) return limb < bound;
  }
  return true;
}

function shareAt(view: ShareColumnsView, i: number): CheckedShare {
  return {
    jobId: view.jobId(i),
    extranonce2: view.extranonce2(i),
    ntime: view.ntime(i),
    nonce: view.nonce(i),
    versionBits: view.versionBits(i),
    assignedDifficulty: view.assignedDifficulty(i),
    hash: view.hash(i),
    verdict: view.verdict(i) as LocalVerdict,
  };
}

function toAuditJob(job: StoredJob): AuditJob {
  try {
    const prepared = prepareJob(
      {
        jobId: toJobId(job.upstreamJobId),
        prevhash: job.prevhash,
        coinb1: job.coinb1,
        coinb2: job.coinb2,
        merkleBranch: job.merkleBranch,
        version: job.version,
        nbits: job.nbits,
        ntime: job.ntime,
        cleanJobs: job.cleanJobs,
      },
      job.extranonce1,
    );
    return { prepared, extranonce2Size: job.extranonce2Size };
  } catch (error) {
    return { error: `job ${job.id} cannot be mined: ${(error as Error).message}` };
  }
}

/**
 * The header versions a share may have been hashed with. The ledger keeps the version bits as
 * sent but not the mask negotiated with the miner, so the audit rolls them under the BIP 320
 * mask (what the proxy offers and pools grant), then takes them as a full version (miners that
 * send the whole rolled version, or a mask wider than BIP 320). The proxy keeps the job version's
 * own bits out of the mask it offers, so its header is the job version OR the rolled bits: first.
 */
export function candidateVersions(jobVersion: U32, versionBits: U32 | null): U32[] {
  const out = new Uint32Array(3);
  return Array.from(out.subarray(0, candidateVersionsInto(jobVersion, versionBits, out)));
}

/** candidateVersions written into `out` (3 long), without allocating; returns how many. */
function candidateVersionsInto(jobVersion: U32, versionBits: U32 | null, out: Uint32Array): number {
  if (versionBits === null) {
    out[0] = jobVersion;
    return 1;
  }
  const rolled = rollVersion(jobVersion, BIP320_VERSION_MASK, versionBits);
  if (!rolled.ok) {
    out[0] = versionBits;
    return 1;
  }
  let count = 0;
  const add = (version: U32): void => {
    for (let k = 0; k < count; k++) if (out[k] === version) return;
    out[count++] = version;
  };
  add((jobVersion | (versionBits & BIP320_VERSION_MASK)) >>> 0);
  add(rolled.version);
  add(versionBits);
  return count;
}

/**
 * Rebuilds one share's header from its job with the full share check, hashes it and compares
 * it with the stored hash: the reference the fast path agrees with, and the reason when it fails.
 */
function slowCheck(share: CheckedShare, job: AuditJob | undefined): ShareOutcome {
  const accepted = share.verdict === 'accepted';
  if (share.jobId === null) {
    return accepted
      ? { code: ShareCheck.missingJob, detail: 'accepted without naming a job' }
      : { code: ShareCheck.skipped };
  }
  if (job === undefined) {
    return { code: ShareCheck.missingJob, detail: `job ${share.jobId} is not in the ledger` };
  }
  if ('error' in job) return { code: ShareCheck.malformed, detail: job.error };
  if (share.hash === null) {
    return accepted
      ? { code: ShareCheck.malformed, detail: 'accepted but no hash was stored' }
      : { code: ShareCheck.skipped };
  }
  const positive = share.assignedDifficulty > 0 && Number.isFinite(share.assignedDifficulty);
  if (accepted && !positive) {
    return {
      code: ShareCheck.malformed,
      detail: `accepted at difficulty ${share.assignedDifficulty}, which is not positive`,
    };
  }
  const difficulty: Difficulty = toDifficulty(positive ? share.assignedDifficulty : 1);
  let last: ShareVerdict | undefined;
  for (const version of candidateVersions(job.prepared.job.version, share.versionBits)) {
    last = checkShare({
      job: job.prepared,
      extranonce2Size: job.extranonce2Size,
      submission: {
        extranonce2: share.extranonce2,
        ntime: share.ntime,
        nonce: share.nonce,
        versionBits: version,
      },
      versionMask: ALL_BITS, // `version` is already the full header version
      assignedDifficulty: difficulty,
      maxNtimeAheadSeconds: ANY_NTIME_AHEAD,
    });
    if (last.work === null) return { code: ShareCheck.malformed, detail: last.detail };
    if (sameBytes(last.work.hash, share.hash)) {
      return { code: positive && last.valid ? ShareCheck.meets : ShareCheck.below };
    }
  }
  return {
    code: ShareCheck.hashMismatch,
    detail:
      `stored hash ${toDisplayHex(share.hash)}; the header rebuilt from job ${share.jobId} hashes to ` +
      toDisplayHex(last!.work!.hash),
  };
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
