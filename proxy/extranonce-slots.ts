/**
 * Fixed extranonce1 slots for miners (the extranonce fold, STRATUM.md). Each miner keeps its
 * slot for its whole connection, unique across every upstream session, so moving it between
 * sessions needs no set_extranonce. A released slot goes into quarantine until every job
 * issued under it is stale, so no two miners ever search the same space of a live job.
 */
export class ExtranonceSlots {
  readonly slotBytes: number;
  private readonly capacity: number;
  private nextFresh = 0;
  private readonly inUse = new Set<number>();
  /** Released slots with the time they were released, oldest first. */
  private readonly quarantine: { slot: number; releasedAt: number }[] = [];

  constructor(slotBytes: number) {
    if (!Number.isInteger(slotBytes) || slotBytes < 1 || slotBytes > 4) {
      throw new RangeError(`slot size must be 1 to 4 bytes, got ${slotBytes}`);
    }
    this.slotBytes = slotBytes;
    this.capacity = 2 ** (8 * slotBytes);
  }

  get used(): number {
    return this.inUse.size;
  }

  /**
   * A free slot, or undefined when all are taken. `staleBefore` is the time before which every
   * job of every session is stale (the oldest session's last clean job): slots released before
   * then may be reused.
   */
  allocate(staleBefore: number): Uint8Array | undefined {
    let slot: number | undefined;
    if (this.nextFresh < this.capacity) {
      slot = this.nextFresh++;
    } else if (this.quarantine.length > 0 && this.quarantine[0]!.releasedAt < staleBefore) {
      slot = this.quarantine.shift()!.slot;
    }
    if (slot === undefined) return undefined;
    this.inUse.add(slot);
    return this.encode(slot);
  }

  release(slot: Uint8Array, now: number): void {
    const value = this.decode(slot);
    if (!this.inUse.delete(value)) return;
    this.quarantine.push({ slot: value, releasedAt: now });
  }

  private encode(value: number): Uint8Array {
    const bytes = new Uint8Array(this.slotBytes);
    for (let i = this.slotBytes - 1; i >= 0; i--) {
      bytes[i] = value & 0xff;
      value = Math.floor(value / 256);
    }
    return bytes;
  }

  private decode(bytes: Uint8Array): number {
    let value = 0;
    for (const byte of bytes) value = value * 256 + byte;
    return value;
  }
}
