/**
 * Where a slot's jobs came from: an upstream session, whose clean jobs bump `generation`
 * (jobs of an older generation are stale), and which can close.
 */
export interface JobSource {
  readonly generation: number;
  /** 'closed' once it sends no more jobs. */
  readonly state: string;
}

/** A job generation on which the slot's miner had work credited (or still being judged). */
export interface SlotClaim<Source extends JobSource> {
  readonly source: Source;
  readonly generation: number;
}

/**
 * Fixed extranonce1 slots for miners (the extranonce fold, STRATUM.md). Each miner keeps its
 * slot for its whole connection, unique across every upstream session, so moving it between
 * sessions needs no set_extranonce. A released slot is quarantined only while a share its
 * miner had credited is on a job that is still live: a newcomer on that slot, sent the same
 * job, would search the same space and find the same shares (duplicates). A slot with no such
 * claim, e.g. a connection that subscribed and left, is free at once.
 */
export class ExtranonceSlots<Source extends JobSource = JobSource> {
  readonly slotBytes: number;
  private readonly capacity: number;
  private nextFresh = 0;
  private readonly inUse = new Set<number>();
  /** Released slots ready for reuse, reused before fresh ones (the slot space stays compact). */
  private readonly free: number[] = [];
  /** Quarantined slot → how many of its claims are still live. */
  private readonly liveClaims = new Map<number, number>();
  /** Source → generation → slots with a claim on it: expired a whole generation at a time. */
  private readonly claimsBySource = new Map<Source, Map<number, number[]>>();

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

  get quarantined(): number {
    return this.liveClaims.size;
  }

  /** A free slot, or undefined when every slot is in use or quarantined. */
  allocate(): Uint8Array | undefined {
    if (this.free.length === 0 && this.nextFresh >= this.capacity) this.expireClaims();
    let slot = this.free.pop();
    if (slot === undefined && this.nextFresh < this.capacity) slot = this.nextFresh++;
    if (slot === undefined) return undefined;
    this.inUse.add(slot);
    return this.encode(slot);
  }

  /** The slot's miner left; `claims` are the job generations it had shares credited on. */
  release(slot: Uint8Array, claims: Iterable<SlotClaim<Source>>): void {
    const value = this.decode(slot);
    if (!this.inUse.delete(value)) return;
    let live = 0;
    for (const { source, generation } of distinct(claims)) {
      if (isStale(source, generation)) continue;
      let generations = this.claimsBySource.get(source);
      if (generations === undefined) {
        generations = new Map();
        this.claimsBySource.set(source, generations);
      }
      let slots = generations.get(generation);
      if (slots === undefined) {
        slots = [];
        generations.set(generation, slots);
      }
      slots.push(value);
      live += 1;
    }
    if (live === 0) this.free.push(value);
    else this.liveClaims.set(value, live);
  }

  /** Frees quarantined slots whose every claim is now on a stale generation or a closed source. */
  private expireClaims(): void {
    for (const [source, generations] of this.claimsBySource) {
      for (const [generation, slots] of generations) {
        if (!isStale(source, generation)) continue;
        generations.delete(generation);
        for (const slot of slots) {
          const left = this.liveClaims.get(slot)! - 1;
          if (left > 0) {
            this.liveClaims.set(slot, left);
          } else {
            this.liveClaims.delete(slot);
            this.free.push(slot);
          }
        }
      }
      if (generations.size === 0) this.claimsBySource.delete(source);
    }
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

/** No miner can be sent a job of this generation again. */
export function isStale(source: JobSource, generation: number): boolean {
  return source.state === 'closed' || source.generation > generation;
}

function distinct<Source extends JobSource>(claims: Iterable<SlotClaim<Source>>): SlotClaim<Source>[] {
  const seen = new Map<Source, Set<number>>();
  const out: SlotClaim<Source>[] = [];
  for (const claim of claims) {
    let generations = seen.get(claim.source);
    if (generations === undefined) {
      generations = new Set();
      seen.set(claim.source, generations);
    }
    if (generations.has(claim.generation)) continue;
    generations.add(claim.generation);
    out.push(claim);
  }
  return out;
}
