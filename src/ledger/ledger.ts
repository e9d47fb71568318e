import type { U32 } from '../work/types.js';
import type { ShareColumns } from './sqlite-ledger-batch.js';

/**
 * The share ledger: every job a proxy issued work from and every share it judged, durably.
 * Two backends implement it (SQLite, the embedded default, and PostgreSQL); the proxy, the
 * validator and the audit tool only see this interface.
 */

/** A ledger-assigned job id (not the Stratum job id, which restarts with the process). */
export type LedgerJobId = number;
/** A ledger-assigned share id. */
export type LedgerShareId = number;

/** Enough of a job to re-verify any share on it: the upstream's job plus its session extranonce. */
export interface JobRecord {
  /** Milliseconds since the epoch when the job arrived from upstream. */
  readonly receivedAt: number;
  /** The upstream's configured name (a pool, or a validator). */
  readonly upstream: string;
  /** One connection to that upstream (a proxy may hold several). */
  readonly upstreamSession: string;
  /** The job id as the upstream sent it. */
  readonly upstreamJobId: string;
  /** The job id as the proxy sent it to miners. */
  readonly proxyJobId: string;
  readonly prevhash: Uint8Array;
  readonly coinb1: Uint8Array;
  readonly coinb2: Uint8Array;
  readonly merkleBranch: readonly Uint8Array[];
  readonly version: U32;
  readonly nbits: U32;
  readonly ntime: U32;
  readonly cleanJobs: boolean;
  /** The upstream session's extranonce1. */
  readonly extranonce1: Uint8Array;
  /** The upstream session's extranonce2 size (what the full extranonce2 below must be). */
  readonly extranonce2Size: number;
}

/** The proxy's own judgement of a share: accepted, or the reason it was not. */
export type LocalVerdict =
  | 'accepted'
  | 'low-difficulty'
  | 'stale'
  | 'duplicate'
  | 'unknown-job'
  | 'ntime-out-of-window'
  | 'version-bits-outside-mask'
  | 'bad-extranonce2-size'
  | 'unauthorized-worker';

/** What the upstream said of a forwarded share; `not-forwarded` when it never went upstream. */
export type UpstreamVerdict = 'pending' | 'accepted' | 'rejected' | 'not-forwarded' | 'no-answer';

export interface ShareRecord {
  /** Milliseconds since the epoch when the submit arrived. */
  readonly time: number;
  /** The identity the connection authorized as (the username, e.g. a hotkey). */
  readonly miner: string;
  /** The worker name carried in the submit. */
  readonly worker: string;
  readonly upstream: string;
  readonly upstreamSession: string;
  /** Null when the share named a job the proxy does not know. */
  readonly jobId: LedgerJobId | null;
  /** The extranonce2 as the upstream sees it (pad ‖ miner slot ‖ miner extranonce2). */
  readonly extranonce2: Uint8Array;
  readonly ntime: U32;
  readonly nonce: U32;
  readonly versionBits: U32 | null;
  /** The difficulty in force for this miner on this job: what an accepted share is credited. */
  readonly assignedDifficulty: number;
  /** T1 / hash; null when the share was refused before hashing. */
  readonly shareDifficulty: number | null;
  /** sha256d(header), internal byte order; null when not hashed. */
  readonly hash: Uint8Array | null;
  readonly verdict: LocalVerdict;
  readonly upstreamVerdict: UpstreamVerdict;
  readonly isBlock: boolean;
}

export interface UpstreamVerdictUpdate {
  readonly shareId: LedgerShareId;
  readonly verdict: Exclude<UpstreamVerdict, 'pending' | 'not-forwarded'>;
  /** The upstream's error text for a rejection. */
  readonly error: string | null;
}

/** A half-open window [from, to) in milliseconds since the epoch. */
export interface TimeWindow {
  readonly from: number;
  readonly to: number;
}

export interface WorkTotals {
  /** Σ assigned difficulty of locally accepted shares. */
  readonly creditedDifficulty: number;
  /** Σ D · 2^32 / window seconds, hashes per second. */
  readonly hashrate: number;
  readonly sharesByVerdict: Readonly<Partial<Record<LocalVerdict, number>>>;
  readonly sharesByUpstreamVerdict: Readonly<Partial<Record<UpstreamVerdict, number>>>;
}

export interface MinerTotals extends WorkTotals {
  readonly miner: string;
  readonly worker: string;
}

export interface UpstreamTotals extends WorkTotals {
  readonly upstream: string;
}

/**
 * Rejected shares counted instead of recorded one by one: what a connection sends past its
 * budget of individually recorded rejects (the proxy's `limits.rejectBudget`), one row per
 * miner, worker, upstream and verdict per interval, so junk is kept as evidence without
 * letting one miner grow the ledger without bound.
 */
export interface RejectSummary {
  /** The interval the shares arrived in, [from, to) milliseconds since the epoch. */
  readonly from: number;
  readonly to: number;
  readonly miner: string;
  readonly worker: string;
  readonly upstream: string;
  readonly verdict: Exclude<LocalVerdict, 'accepted'>;
  /** Shares counted (at least 1). */
  readonly shares: number;
}

/**
 * Whether the ledger can record now. `impaired`: commits fail for a reason that may pass (a
 * full disk); shares are refused at once, jobs are kept, and the ledger retries by itself.
 * `stopped`: failed for good, or closed; only a restart helps.
 */
export type LedgerHealth =
  | { readonly state: 'ok' }
  | { readonly state: 'impaired'; readonly reason: string; readonly since: number }
  | { readonly state: 'stopped'; readonly reason: string };

export interface StoredShare extends ShareRecord {
  readonly id: LedgerShareId;
  readonly upstreamError: string | null;
}

/** How many shares a window holds, and the ids they lie between (both 0 when there are none). */
export interface ShareSpan {
  readonly count: number;
  readonly firstId: LedgerShareId;
  readonly lastId: LedgerShareId;
}

/** One page of the audit's stream: the next `limit` shares with ids in (afterId, throughId]. */
export interface SharePageRequest {
  readonly afterId: LedgerShareId;
  readonly throughId: LedgerShareId;
  readonly limit: number;
}

export interface StoredJob extends JobRecord {
  readonly id: LedgerJobId;
}

export interface Ledger {
  /**
   * Queues a job and returns its id at once. It is committed no later than any share that
   * names it, so a durable share always has its job.
   */
  recordJob(job: JobRecord): LedgerJobId;
  /**
   * Queues a share and resolves with its id once the share is durably committed. The proxy
   * acknowledges a share to the miner only after this resolves.
   */
  recordShare(share: ShareRecord): Promise<LedgerShareId>;
  /** Queues an upstream verdict for a share already recorded (committed with a later batch). */
  recordUpstreamVerdict(update: UpstreamVerdictUpdate): void;
  /** Queues a summary of rejected shares not recorded one by one (committed with a later batch). */
  recordRejectSummary(summary: RejectSummary): void;
  /** Resolves when everything queued so far is durable. */
  flush(): Promise<void>;
  /** Whether records are being committed now (cheap: for readiness checks and metrics). */
  health(): LedgerHealth;
  /** Per miner and worker, over a window. */
  minerTotals(window: TimeWindow): Promise<MinerTotals[]>;
  /** Per upstream, over a window. */
  upstreamTotals(window: TimeWindow): Promise<UpstreamTotals[]>;
  /** Shares in a window in id order (for audit and tests). */
  shares(window: TimeWindow): Promise<StoredShare[]>;
  job(id: LedgerJobId): Promise<StoredJob | undefined>;
  /** Where the audit's stream of a window starts and ends, and how long it is. */
  shareSpan(window: TimeWindow): Promise<ShareSpan>;
  /**
   * The audit's stream: a window's shares page by page in id order, each page as columns
   * (sqlite-ledger-batch.ts) rather than an object a share, so that millions cross cheaply.
   * A page shorter than `limit` is the last.
   */
  sharePage(window: TimeWindow, page: SharePageRequest): Promise<ShareColumns>;
  /** Reject summaries whose interval starts in a window, oldest first. */
  rejectSummaries(window: TimeWindow): Promise<RejectSummary[]>;
  /**
   * Deletes up to `maxRows` rows of each table from before `before` (ms since the epoch): shares
   * stamped before it, reject summaries whose interval starts before it, and jobs received
   * before it that no share left names. One short transaction: call again until nothing is
   * deleted (proxy/ledger-retention.ts). Rejects with LEDGER_PRUNE_FAILED; recording goes on.
   */
  pruneBefore(before: number, maxRows: number): Promise<PrunedRows>;
  /** Flushes and releases the backend. */
  close(): Promise<void>;
}

/** What one `pruneBefore` call deleted. */
export interface PrunedRows {
  readonly shares: number;
  readonly jobs: number;
  readonly rejectSummaries: number;
  /** Bytes of the file free for new rows afterwards (SQLite reuses them; the file does not shrink). */
  readonly freeBytes?: number;
}

/**
 * The reading half of a ledger: what scoring and the audit need. A ledger opened read-only
 * (open-ledger.ts, `openLedgerReader`) is only this, and takes no writer's lock.
 */
export type LedgerReader = Pick<
  Ledger,
  | 'flush'
  | 'minerTotals'
  | 'upstreamTotals'
  | 'shares'
  | 'job'
  | 'shareSpan'
  | 'sharePage'
  | 'rejectSummaries'
  | 'close'
>;
