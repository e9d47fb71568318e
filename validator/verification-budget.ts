import { DEFAULT_VERIFICATION_BUDGET } from '../src/config/validator-config.js';

/**
 * How many sr25519 verifications of signed authorizes the validator spends, per source address
 * and in all (issue 10): each one costs about 0.25 ms of the main thread, so without a budget a
 * flood of forged signatures starves every honest miner's shares. Token buckets: a steady rate
 * and a burst above it; a request over either is refused without being verified.
 */

export interface VerificationBudgetOptions {
  /** Verifications per second from one source address (an IPv6 /64 counts as one address). */
  readonly perAddressPerSecond: number;
  readonly perAddressBurst: number;
  /** Verifications per second from all addresses: keeps the event loop for the miners already in. */
  readonly perSecond: number;
  readonly burst: number;
}

export type BudgetDecision = 'granted' | 'address-exhausted' | 'global-exhausted';

/** Buckets kept before full (idle) ones are swept; a full bucket is the same as none. */
const MIN_SWEEP_SIZE = 1024;

class TokenBucket {
  private tokens: number;
  private at: number;

  constructor(
    private readonly perSecond: number,
    private readonly burst: number,
    now: number,
  ) {
    this.tokens = burst;
    this.at = now;
  }

  /** Tokens now (refilled up to the burst). */
  level(now: number): number {
    this.tokens = Math.min(this.burst, this.tokens + (Math.max(0, now - this.at) / 1000) * this.perSecond);
    this.at = now;
    return this.tokens;
  }

  take(): void {
    this.tokens -= 1;
  }

  isFull(now: number): boolean {
    return this.level(now) >= this.burst;
  }
}

export class VerificationBudget {
  private readonly options: VerificationBudgetOptions;
  private readonly global: TokenBucket;
  private readonly byAddress = new Map<string, TokenBucket>();
  private sweepAt = MIN_SWEEP_SIZE;
  private readonly clock: () => number;

  /** `clock`: milliseconds, monotonic; a parameter for tests. */
  constructor(
    options: Partial<VerificationBudgetOptions> = {},
    clock: () => number = () => performance.now(),
  ) {
    this.options = { ...DEFAULT_VERIFICATION_BUDGET, ...options };
    for (const [key, value] of Object.entries(this.options)) {
      if (!(typeof value === 'number' && value > 0 && Number.isFinite(value)))
        throw new RangeError(`verification budget ${key} ${String(value)} must be a positive number`);
    }
    this.clock = clock;
    this.global = new TokenBucket(this.options.perSecond, this.options.burst, clock());
  }

  /** Buckets held now (bounded: only a granted verification makes one, and those are capped). */
  get addressCount(): number {
    return this.byAddress.size;
  }

  /** Spends one verification for `remoteAddress` if both its bucket and the global one allow. */
  take(remoteAddress: string): BudgetDecision {
    const now = this.clock();
    const key = addressKey(remoteAddress);
    const bucket = this.byAddress.get(key);
    if (bucket !== undefined && bucket.level(now) < 1) return 'address-exhausted';
    if (this.global.level(now) < 1) return 'global-exhausted';
    this.global.take();
    if (bucket !== undefined) {
      bucket.take();
      return 'granted';
    }
    const fresh = new TokenBucket(this.options.perAddressPerSecond, this.options.perAddressBurst, now);
    fresh.take();
    this.byAddress.set(key, fresh);
    if (this.byAddress.size >= this.sweepAt) this.sweep(now);
    return 'granted';
  }

  private sweep(now: number): void {
    for (const [key, bucket] of this.byAddress) if (bucket.isFull(now)) this.byAddress.delete(key);
    this.sweepAt = Math.max(MIN_SWEEP_SIZE, this.byAddress.size * 2);
  }
}

/**
 * The key a source address is budgeted under: IPv4 as is (also when IPv4-mapped), IPv6 by its
 * /64, since one holder of a /64 can rotate through its addresses at will.
 */
export function addressKey(address: string): string {
  const mapped = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(address);
  if (mapped !== null) return mapped[1]!;
  if (!address.includes(':')) return address;
  const bare = address.split('%')[0]!.toLowerCase(); // drop a zone id (fe80::1%eth0)
  const groupsOf = (part: string): string[] =>
    part === '' ? [] : part.split(':').flatMap((group) => (group.includes('.') ? ['0', '0'] : [group]));
  const [head = '', tail] = bare.split('::');
  const left = groupsOf(head);
  const right = tail === undefined ? [] : groupsOf(tail);
  const zeros = Array.from({ length: Math.max(0, 8 - left.length - right.length) }, () => '0');
  const groups = tail === undefined ? left : [...left, ...zeros, ...right];
  const prefix = groups.slice(0, 4).map((group) => (Number.parseInt(group, 16) || 0).toString(16));
  return `${prefix.join(':')}::/64`;
}
