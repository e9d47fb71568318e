/** A connection whose unsent output counts against the budget. */
export interface QueuedOutput {
  readonly pendingWriteBytes: number;
  close(reason: string): void;
}

/**
 * A bound on the bytes queued to all miners together: the per-connection limit alone lets a
 * thousand connections that never read hold a thousand times that. Only sockets whose kernel
 * buffer is full queue anything in the process (a write to a reading peer goes straight to the
 * kernel), so an honest miner's queue is empty or briefly small; the largest queues, which are
 * the peers that stopped reading, are closed first.
 */
export class OutputBudget<Connection extends QueuedOutput> {
  /** The connections with output queued, by the bytes last seen queued (an upper bound). */
  private readonly queued = new Map<Connection, number>();
  private total = 0;

  constructor(private maxBytes: number) {}

  /** A new bound (a configuration reload), enforced from the next write. */
  setMaxBytes(maxBytes: number): void {
    this.maxBytes = maxBytes;
  }

  /** The last seen total: at least what is queued now. */
  get bytes(): number {
    return this.total;
  }

  /** After a write to `connection` or a drain of it. */
  update(connection: Connection): void {
    const now = connection.pendingWriteBytes;
    this.total += now - (this.queued.get(connection) ?? 0);
    if (now === 0) this.queued.delete(connection);
    else this.queued.set(connection, now);
    if (this.total > this.maxBytes) this.enforce();
  }

  forget(connection: Connection): void {
    const counted = this.queued.get(connection);
    if (counted === undefined) return;
    this.total -= counted;
    this.queued.delete(connection);
  }

  private enforce(): void {
    // Queues shrink without an event (a partial flush): recount before closing anyone.
    this.total = 0;
    for (const connection of [...this.queued.keys()]) {
      const now = connection.pendingWriteBytes;
      if (now === 0) this.queued.delete(connection);
      else this.queued.set(connection, now);
      this.total += now;
    }
    if (this.total <= this.maxBytes) return;
    const largestFirst = [...this.queued].sort((a, b) => b[1] - a[1]);
    for (const [connection, bytes] of largestFirst) {
      if (this.total <= this.maxBytes) break;
      // close() reaches forget() through the host, which takes the bytes off the total.
      connection.close(
        `not reading: ${bytes} bytes queued while all miners' output is over ${this.maxBytes} bytes`,
      );
      this.forget(connection);
    }
  }
}
