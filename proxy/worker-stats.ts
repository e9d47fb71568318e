/**
 * Per-worker tallies for the status page: credited difficulty and accepted shares, rejects by
 * verdict, last share, and credited difficulty in time buckets (hashrate over 5 minutes and an
 * hour, and the whole proxy's hashrate over time). Fed once per judged share; read only when a
 * page or script asks, so the hot path is a few additions.
 */

/** Hashes per unit of difficulty: a difficulty-1 share takes 2^32 hashes on average. */
export const HASHES_PER_DIFFICULTY = 2 ** 32;

/** Credited difficulty per fixed-width time bucket, over a ring of `count` buckets. */
export class TimeBuckets {
  private readonly sums: Float64Array;
  /** Index (time / width) of the newest bucket written. */
  private head = -1;

  constructor(
    readonly widthMs: number,
    readonly count: number,
  ) {
    this.sums = new Float64Array(count);
  }

  add(amount: number, now: number): void {
    const index = Math.floor(now / this.widthMs);
    if (index > this.head) {
      // Buckets skipped since the last write held nothing.
      for (let i = Math.max(this.head + 1, index - this.count + 1); i <= index; i++)
        this.sums[i % this.count] = 0;
      this.head = index;
    }
    if (index > this.head - this.count) this.sums[index % this.count]! += amount;
  }

  /** Σ over the bucket holding `now` and the `buckets - 1` before it. */
  sumOfLast(buckets: number, now: number): number {
    const newest = Math.floor(now / this.widthMs);
    let sum = 0;
    for (let i = newest - buckets + 1; i <= newest; i++) if (this.holds(i)) sum += this.sums[i % this.count]!;
    return sum;
  }

  /** Bucket `index` is still in the ring. */
  private holds(index: number): boolean {
    return index >= 0 && index <= this.head && index > this.head - this.count;
  }

  /** Each bucket of the ring up to `now`, oldest first: [bucket start ms, sum]. */
  series(now: number): [number, number][] {
    const newest = Math.floor(now / this.widthMs);
    const out: [number, number][] = [];
    for (let i = newest - this.count + 1; i <= newest; i++) {
      out.push([i * this.widthMs, this.holds(i) ? this.sums[i % this.count]! : 0]);
    }
    return out;
  }
}

const MINUTE_MS = 60_000;

/** One worker's tallies on one connection. */
export interface WorkerTally {
  accepted: number;
  creditedDifficulty: number;
  readonly rejected: Map<string, number>;
  lastShareAt: number | null;
  /** Credited difficulty per minute, the last hour; made at the first credit. */
  minutes: TimeBuckets | undefined;
}

/** A worker's hashrate over `minutes` minutes to the minute, not longer than it has been connected. */
export function hashrateOver(tally: WorkerTally, minutes: number, connectedAt: number, now: number): number {
  if (tally.minutes === undefined) return 0;
  const windowMs = (minutes - 1) * MINUTE_MS + (now % MINUTE_MS);
  const spanMs = Math.max(1000, Math.min(windowMs, now - connectedAt));
  return (tally.minutes.sumOfLast(minutes, now) * HASHES_PER_DIFFICULTY) / (spanMs / 1000);
}

function emptyTally(): WorkerTally {
  return { accepted: 0, creditedDifficulty: 0, rejected: new Map(), lastShareAt: null, minutes: undefined };
}

/** Width of the whole proxy's hashrate-over-time buckets, and how many are kept (an hour). */
export const HISTORY_BUCKET_MS = 10_000;
const HISTORY_BUCKETS = 360;

/** A worker as the proxy sees it now: who, since when, at what difficulty, on which upstream. */
export interface LiveWorker {
  readonly connection: number;
  readonly worker: string;
  /** Who its work is credited to (a hotkey at a validator). */
  readonly identity: string;
  readonly connectedAt: number;
  readonly upstream: string | null;
  readonly difficulty: number;
}

/** One row of the status page's worker table (GET /api/status `workers`). */
export interface WorkerRow extends LiveWorker {
  /** When the connection closed, and why; null while it is connected. */
  readonly goneAt: number | null;
  readonly goneReason: string | null;
  readonly accepted: number;
  readonly creditedDifficulty: number;
  /** Rejected submits by verdict (stale, duplicate, low-difficulty, ...). */
  readonly rejected: Readonly<Record<string, number>>;
  readonly lastShareAt: number | null;
  /** Hashes per second from credited difficulty over the last 5 minutes and the last hour. */
  readonly hashrate5m: number;
  readonly hashrate1h: number;
}

interface GoneWorker {
  readonly live: LiveWorker;
  readonly tally: WorkerTally;
  readonly goneAt: number;
  readonly goneReason: string;
}

/** Workers of closed connections stay listed (as gone) this long, at most GONE_KEPT of them. */
export const GONE_KEPT_MS = 60 * MINUTE_MS;
const GONE_KEPT = 1000;

/** The tallies of every live connection's workers, by connection id, and of recently gone ones. */
export class WorkerStats {
  private readonly byConnection = new Map<number, Map<string, WorkerTally>>();
  private gone: GoneWorker[] = [];
  /** The whole proxy's credited difficulty, 10-second buckets over the last hour. */
  readonly history = new TimeBuckets(HISTORY_BUCKET_MS, HISTORY_BUCKETS);

  /** One judged share: credited (`difficulty` > 0 with verdict accepted) or rejected with its verdict. */
  share(connection: number, worker: string, verdict: string, difficulty: number, now: number): void {
    const tally = this.tally(connection, worker);
    tally.lastShareAt = now;
    if (verdict !== 'accepted') {
      tally.rejected.set(verdict, (tally.rejected.get(verdict) ?? 0) + 1);
      return;
    }
    tally.accepted += 1;
    tally.creditedDifficulty += difficulty;
    (tally.minutes ??= new TimeBuckets(MINUTE_MS, 60)).add(difficulty, now);
    this.history.add(difficulty, now);
  }

  /** The tallies of a connection's worker (zero until its first share). */
  of(connection: number, worker: string): WorkerTally {
    return this.byConnection.get(connection)?.get(worker) ?? emptyTally();
  }

  /** A connection closed: its workers are listed as gone for a while. */
  closed(workers: readonly LiveWorker[], reason: string, now: number): void {
    for (const live of workers)
      this.gone.push({ live, tally: this.of(live.connection, live.worker), goneAt: now, goneReason: reason });
    for (const live of workers) this.byConnection.delete(live.connection);
    if (this.gone.length > GONE_KEPT) this.gone = this.gone.slice(-GONE_KEPT);
  }

  /** Rows for the live workers given, then the gone ones (newest first). */
  rows(live: Iterable<LiveWorker>, now: number): WorkerRow[] {
    while (this.gone.length > 0 && this.gone[0]!.goneAt < now - GONE_KEPT_MS) this.gone.shift();
    const rows: WorkerRow[] = [];
    for (const worker of live)
      rows.push(row(worker, this.of(worker.connection, worker.worker), null, null, now));
    for (let i = this.gone.length - 1; i >= 0; i--) {
      const { live: worker, tally, goneAt, goneReason } = this.gone[i]!;
      rows.push(row(worker, tally, goneAt, goneReason, now));
    }
    return rows;
  }

  private tally(connection: number, worker: string): WorkerTally {
    let workers = this.byConnection.get(connection);
    if (workers === undefined) {
      workers = new Map();
      this.byConnection.set(connection, workers);
    }
    let tally = workers.get(worker);
    if (tally === undefined) {
      tally = emptyTally();
      workers.set(worker, tally);
    }
    return tally;
  }
}

function row(
  live: LiveWorker,
  tally: WorkerTally,
  goneAt: number | null,
  goneReason: string | null,
  now: number,
): WorkerRow {
  return {
    ...live,
    goneAt,
    goneReason,
    accepted: tally.accepted,
    creditedDifficulty: tally.creditedDifficulty,
    rejected: Object.fromEntries(tally.rejected),
    lastShareAt: tally.lastShareAt,
    // Whole hashes per second: more digits would only lengthen the JSON.
    hashrate5m: Math.round(hashrateOver(tally, 5, live.connectedAt, now)),
    hashrate1h: Math.round(hashrateOver(tally, 60, live.connectedAt, now)),
  };
}
