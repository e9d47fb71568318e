import { setTimeout as delay } from 'node:timers/promises';

/**
 * Ids for one kind of record, drawn from a PostgreSQL sequence a block at a time: each draw
 * (`nextval`, whose increment is the block size) is the first id of `size` ids that no other
 * instance writing to the same database will use, so several proxies share one ledger without
 * colliding and without asking the database for each id. Hibernate's "pooled" sequence
 * optimizer works the same way.
 *
 * `take` answers at once (recordJob must return its id synchronously): a second block is kept
 * in reserve and drawn again in the background as soon as it is put to use, so the ids run dry
 * only if the database stays unreachable for a whole block.
 */
export class IdBlocks {
  private next = 0;
  private end = 0;
  private reserve: number | null = null;
  private drawing: Promise<void> | null = null;
  private lastFailureAt = Number.NEGATIVE_INFINITY;
  /** Why the last draw failed, for the error when the ids run dry. */
  lastError: Error | null = null;

  constructor(
    /** Draws a block from the sequence and resolves with its first id. */
    private readonly draw: () => Promise<number>,
    readonly size: number,
    /** After a failed draw, how long before another is tried. */
    private readonly retryMs: number,
  ) {}

  /** Draws the first block and its reserve. */
  async start(): Promise<void> {
    const first = await this.draw();
    this.next = first;
    this.end = first + this.size;
    this.reserve = await this.draw();
  }

  /** The next id, or undefined if both blocks are used up and no new one has arrived yet. */
  take(): number | undefined {
    if (this.next === this.end) {
      if (this.reserve === null) {
        this.refill();
        return undefined;
      }
      this.next = this.reserve;
      this.end = this.reserve + this.size;
      this.reserve = null;
    }
    if (this.reserve === null) this.refill();
    return this.next++;
  }

  /** The next id, waiting for a block if need be; rejects once `signal` aborts. */
  async takeWhenReady(signal: AbortSignal): Promise<number> {
    for (;;) {
      const id = this.take();
      if (id !== undefined) return id;
      await (this.drawing ?? delay(this.retryMs, undefined, { signal }));
      signal.throwIfAborted();
    }
  }

  private refill(): void {
    if (this.drawing !== null || performance.now() - this.lastFailureAt < this.retryMs) return;
    this.drawing = this.draw().then(
      (first) => {
        this.reserve = first;
        this.lastError = null;
        this.drawing = null;
      },
      (error: unknown) => {
        this.lastError = error instanceof Error ? error : new Error(String(error));
        this.lastFailureAt = performance.now();
        this.drawing = null;
      },
    );
  }
}
