/**
 * The hashes of the accepted shares an audit has verified so far, to catch one credited twice.
 * A day holds tens of millions: a Set of strings runs out of entries at 2^24 and costs ~100
 * bytes each, so this keeps 96 bits of each hash in an open-addressed table of 32-bit words
 * (12 bytes a hash, at most 3/4 full). 96 bits of sha256d output collide by chance once in
 * ~10^28 pairs; only hashes that rebuilt from their jobs are added, so none is chosen freely.
 */
export class CreditedHashes {
  private slots = new Uint32Array(3 << 16);
  private mask = (1 << 16) - 1;
  private count = 0;
  /** The all-zero key marks an empty slot, so that key is held apart. */
  private hasZero = false;

  get size(): number {
    return this.count + (this.hasZero ? 1 : 0);
  }

  /**
   * Adds the hash at `offset` in `bytes` (internal byte order; its first 12 bytes are kept);
   * false if it was already there.
   */
  add(bytes: Uint8Array, offset = 0): boolean {
    const a = word(bytes, offset);
    const b = word(bytes, offset + 4);
    const c = word(bytes, offset + 8);
    if ((a | b | c) === 0) {
      if (this.hasZero) return false;
      this.hasZero = true;
      return true;
    }
    if ((this.count + 1) * 4 > (this.mask + 1) * 3) this.grow();
    return this.insert(a, b, c);
  }

  private insert(a: number, b: number, c: number): boolean {
    const slots = this.slots;
    // The words are hash output already: a multiply spreads them over the table's bits.
    let i = Math.imul(a ^ c, 0x9e3779b1) & this.mask;
    for (;;) {
      const s = i * 3;
      const sa = slots[s]!;
      const sb = slots[s + 1]!;
      const sc = slots[s + 2]!;
      if ((sa | sb | sc) === 0) {
        slots[s] = a;
        slots[s + 1] = b;
        slots[s + 2] = c;
        this.count++;
        return true;
      }
      if (sa === a && sb === b && sc === c) return false;
      i = (i + 1) & this.mask;
    }
  }

  private grow(): void {
    const old = this.slots;
    this.mask = this.mask * 2 + 1;
    this.slots = new Uint32Array((this.mask + 1) * 3);
    this.count = 0;
    for (let s = 0; s < old.length; s += 3) {
      if ((old[s]! | old[s + 1]! | old[s + 2]!) !== 0) this.insert(old[s]!, old[s + 1]!, old[s + 2]!);
    }
  }
}

function word(bytes: Uint8Array, offset: number): number {
  return (
    (bytes[offset]! | (bytes[offset + 1]! << 8) | (bytes[offset + 2]! << 16) | (bytes[offset + 3]! << 24)) >>>
    0
  );
}
