/**
 * Runs queued tasks a slice at a time, one slice per event-loop turn, so that a burst (every
 * reply released by one ledger commit, say) cannot hold the loop while submits wait unread.
 */
export class SlicedQueue {
  private readonly tasks: (() => void)[] = [];
  private head = 0;
  private scheduled = false;

  constructor(private readonly sliceSize = 256) {}

  push(task: () => void): void {
    this.tasks.push(task);
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(this.runSlice);
    }
  }

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
