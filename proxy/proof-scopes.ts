import { ProofSet } from './proof-set.js';

/**
 * Where a proof of work may be credited once: every job on one prevhash, across all upstream
 * sessions. A header hash commits to the prevhash, coinbase (so session extranonce and miner
 * slot), merkle branch, version, ntime, nbits and nonce, so the same proof can reappear only
 * under a job with the same prevhash: a pool re-sending a job under a new id, a non-clean
 * refresh, a session reconnecting with its old extranonce, a slot reused by another
 * connection. Keying duplicates on the prevhash epoch instead of the proxy job catches all of
 * them.
 */
export interface ProofScope {
  readonly prevhash: string;
  readonly proofs: ProofSet;
  /**
   * No session has worked on this prevhash for the grace period: its proofs are forgotten, and
   * a share still arriving on it is stale (the chain moved on), never credited.
   */
  dropped: boolean;
}

interface ScopeEntry {
  readonly scope: ProofScope;
  /** Sessions whose latest job is on this prevhash. */
  readonly holders: Set<string>;
  /** When the last holder left; undefined while held. */
  idleSince: number | undefined;
}

/** The live duplicate scopes, one per prevhash some session works on (memory: bounded by them). */
export class ProofScopes {
  private readonly scopes = new Map<string, ScopeEntry>();
  private readonly sessionPrevhash = new Map<string, string>();
  private readonly graceMs: number;

  /** `graceMs`: how long an abandoned prevhash keeps its proofs for late shares. */
  constructor(graceMs: number) {
    this.graceMs = graceMs;
  }

  /** Scopes kept, and proofs held across them (for metrics). */
  get scopeCount(): number {
    return this.scopes.size;
  }

  get proofCount(): number {
    let total = 0;
    for (const entry of this.scopes.values()) total += entry.scope.proofs.size;
    return total;
  }

  /** The scope for a job `sessionId` just issued on `prevhash`; the session now works on it. */
  forJob(sessionId: string, prevhash: Uint8Array, now: number): ProofScope {
    const key = Buffer.from(prevhash).toString('hex');
    const previous = this.sessionPrevhash.get(sessionId);
    if (previous !== key) {
      if (previous !== undefined) this.leave(sessionId, previous, now);
      this.sessionPrevhash.set(sessionId, key);
    }
    let entry = this.scopes.get(key);
    if (entry === undefined) {
      entry = {
        scope: { prevhash: key, proofs: new ProofSet(), dropped: false },
        holders: new Set(),
        idleSince: undefined,
      };
      this.scopes.set(key, entry);
    }
    entry.holders.add(sessionId);
    entry.idleSince = undefined;
    this.prune(now);
    return entry.scope;
  }

  /** The session is gone: its prevhash stays deduplicated for the grace period, then is dropped. */
  sessionClosed(sessionId: string, now: number): void {
    const key = this.sessionPrevhash.get(sessionId);
    if (key === undefined) return;
    this.sessionPrevhash.delete(sessionId);
    this.leave(sessionId, key, now);
    this.prune(now);
  }

  private leave(sessionId: string, key: string, now: number): void {
    const entry = this.scopes.get(key);
    if (entry === undefined) return;
    entry.holders.delete(sessionId);
    if (entry.holders.size === 0) entry.idleSince = now;
  }

  private prune(now: number): void {
    for (const [key, entry] of this.scopes) {
      if (entry.idleSince === undefined || now - entry.idleSince < this.graceMs) continue;
      entry.scope.dropped = true;
      this.scopes.delete(key);
    }
  }
}
