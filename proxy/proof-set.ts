/**
 * A set of proofs of work keyed by 64 bits of their header hash, in flat typed arrays.
 *
 * A duplicate scope lives for a whole prevhash epoch (minutes to hours) and may hold millions
 * of shares; a `Set<bigint>` costs ~70 bytes an entry, this costs 16 at most (open addressing,
 * load ≤ ½). 64 bits of sha256d output stand for the whole hash: an accidental collision among
 * 10 million shares has odds of about 3·10⁻⁶, and choosing one costs ~2⁶⁴ hashes at difficulty.
 */
export class ProofSet {
  private high = new Uint32Array(1024);
  private low = new Uint32Array(1024);
  /** Slots in use; an empty slot is (0, 0), and a real (0, 0) key is kept aside. */
  private used = 0;
  private hasZero = false;

  get size(): number {
    return this.used + (this.hasZero ? 1 : 0);
  }

  /** Adds the proof; false if it was already there. `hash` is sha256d(header), internal order. */
  add(hash: Uint8Array): boolean {
    const lowWord = readWord(hash, 0);
    const highWord = readWord(hash, 4);
    if (lowWord === 0 && highWord === 0) {
      if (this.hasZero) return false;
      this.hasZero = true;
      return true;
    }
    if ((this.used + 1) * 2 > this.high.length) this.grow();
    return this.insert(highWord, lowWord);
  }

  has(hash: Uint8Array): boolean {
    const lowWord = readWord(hash, 0);
    const highWord = readWord(hash, 4);
    if (lowWord === 0 && highWord === 0) return this.hasZero;
    const mask = this.high.length - 1;
    for (let i = mix(highWord, lowWord) & mask; ; i = (i + 1) & mask) {
      const h = this.high[i]!;
      const l = this.low[i]!;
      if (h === 0 && l === 0) return false;
      if (h === highWord && l === lowWord) return true;
    }
  }

  private insert(highWord: number, lowWord: number): boolean {
    const mask = this.high.length - 1;
    for (let i = mix(highWord, lowWord) & mask; ; i = (i + 1) & mask) {
      const h = this.high[i]!;
      const l = this.low[i]!;
      if (h === highWord && l === lowWord) return false;
      if (h === 0 && l === 0) {
        this.high[i] = highWord;
        this.low[i] = lowWord;
        this.used += 1;
        return true;
      }
    }
  }

  private grow(): void {
    const { high, low } = this;
    this.high = new Uint32Array(high.length * 2);
    this.low = new Uint32Array(low.length * 2);
    this.used = 0;
    for (let i = 0; i < high.length; i++) {
      if (high[i] !== 0 || low[i] !== 0) this.insert(high[i]!, low[i]!);
    }
  }
}

function readWord(bytes: Uint8Array, at: number): number {
  return (bytes[at]! | (bytes[at + 1]! << 8) | (bytes[at + 2]! << 16) | (bytes[at + 3]! << 24)) >>> 0;
}

/** The hash bytes are uniform already; mixing the words only spreads keys a caller may skew. */
function mix(highWord: number, lowWord: number): number {
  return (Math.imul(lowWord ^ (highWord >>> 7), 0x9e3779b1) ^ highWord) >>> 0;
}
