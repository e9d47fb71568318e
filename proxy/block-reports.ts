import type { Logger } from 'pino';

const MINUTE_MS = 60_000;

/** A block as the log tells it: enough for an operator to submit it by hand. */
export interface FoundBlock {
  readonly upstream: string;
  readonly miner: string;
  readonly worker: string;
  /** Display hex (byte-reversed), as explorers show it. */
  readonly hash: string;
  /** The 80-byte header, hex. */
  readonly header: string;
  /** The whole coinbase transaction (non-witness), hex. */
  readonly coinbase: string;
  readonly merkleBranch: readonly string[];
  /** The mining.submit params the pool was (or would have been) sent for it. */
  readonly submit: readonly string[];
  readonly shareDifficulty: number;
  /** False when no ready session could take it: only this log line holds it. */
  readonly forwarded: boolean;
}

/**
 * 'block found' log lines: each block logged whole up to `perMinute`; past that (regtest, where
 * nearly every share is a block) blocks are counted, and one summary line a minute says how many.
 */
export class BlockReports {
  private logged = 0;
  private unlogged = 0;
  private windowStart = Date.now();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly log: Logger,
    private readonly perMinute: number,
  ) {}

  start(): void {
    this.timer = setInterval(() => {
      this.flush(Date.now());
    }, MINUTE_MS);
    this.timer.unref();
  }

  /** Stops the timer and writes the summary of what is counted. */
  stop(): void {
    clearInterval(this.timer);
    this.flush(Date.now());
  }

  /** `describe` runs only for a block that is logged whole (hex of a header and coinbase costs). */
  found(describe: () => FoundBlock, now = Date.now()): void {
    if (now - this.windowStart >= MINUTE_MS) this.flush(now);
    if (this.logged >= this.perMinute) {
      this.unlogged += 1;
      return;
    }
    this.logged += 1;
    const block = describe();
    if (block.forwarded) this.log.info(block, 'block found');
    else this.log.warn(block, 'block found but not forwarded (no ready upstream session): submit it by hand');
  }

  private flush(now: number): void {
    if (this.unlogged > 0) {
      this.log.info(
        {
          blocks: this.unlogged,
          loggedWhole: this.logged,
          seconds: Math.round((now - this.windowStart) / 1000),
        },
        'blocks found (summary)',
      );
    }
    this.logged = 0;
    this.unlogged = 0;
    this.windowStart = now;
  }
}
