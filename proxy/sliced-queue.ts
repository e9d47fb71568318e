/**
 * Runs tasks at once while few have run this event-loop turn, and queues the rest a slice per
 * turn, so that a burst (every reply released by one ledger commit, say) cannot hold the loop
 * while submits wait unread. Running the first slice at once spares a lone reply the wait for
 * the turn's end (behind every other socket the poll returned), the larger part of its latency
 * after the commit.
 */
export class SlicedQueue {
  private readonly tasks: (() => void)[] = [];
  private head = 0;
  private scheduled = false;
  /** Tasks run at once since the turn began; reset when it ends. */
  private ranThisTurn = 0;

  constructor(private readonly sliceSize = 256) {}

  push(task: () => void): void {
    // Order holds: once anything waits, everything after it waits too.
    if (!this.scheduled && this.ranThisTurn < this.sliceSize) {
      if (this.ranThisTurn++ === 0) setImmediate(this.endTurn);
      task();
      return;
    }
    this.tasks.push(task);
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(this.runSlice);
    }
  }

  private readonly endTurn = (): void => {
    this.ranThisTurn = 0;
  };

  private readonly runSlice = (): void => {
    const end = Math.min(this.tasks.length, this.head + this.sliceSize);
    for (; this.head < end; this.head++) this.tasks[this.head]!();
    if (this.head < this.tasks.length) {
      setImmediate(this.runSlice);
      return;
    }
    this.tasks.length = 0;
    this.head = 0;
    this.scheduled = false;
  };
}
