import { randomBytes } from 'node:crypto';
import { describe, expect, test } from 'vitest';
import { ProofScopes } from '../proxy/proof-scopes.js';
import { ProofSet } from '../proxy/proof-set.js';

const prevhash = (byte: number): Uint8Array => new Uint8Array(32).fill(byte);

describe('ProofSet', () => {
  test('agrees with a Set of the hashes through growth, including an all-zero key', () => {
    const proofs = new ProofSet();
    const reference = new Set<string>();
    const hashes = Array.from({ length: 20_000 }, () => Uint8Array.from(randomBytes(32)));
    hashes.push(new Uint8Array(32)); // low 64 bits zero: the empty-slot marker's value
    for (const hash of hashes) {
      expect(proofs.add(hash)).toBe(!reference.has(Buffer.from(hash).toString('hex')));
      reference.add(Buffer.from(hash).toString('hex'));
    }
    expect(proofs.size).toBe(reference.size);
    for (const hash of hashes) {
      expect(proofs.has(hash)).toBe(true);
      expect(proofs.add(hash)).toBe(false);
    }
    for (let i = 0; i < 1000; i++) expect(proofs.has(Uint8Array.from(randomBytes(32)))).toBe(false);
  });

  test('keys on the hash bytes a header hash varies in', () => {
    const proofs = new ProofSet();
    const a = new Uint8Array(32);
    a[31] = 0; // the high end of a share hash is zeros; the low end is what differs
    const b = Uint8Array.from(a);
    b[0] = 1;
    expect(proofs.add(a)).toBe(true);
    expect(proofs.add(b)).toBe(true);
  });
});

describe('ProofScopes', () => {
  test('one scope per prevhash, shared by every session on it', () => {
    const scopes = new ProofScopes(60_000);
    const a = scopes.forJob('pool0/1', prevhash(1), 0);
    const b = scopes.forJob('pool1/1', prevhash(1), 0);
    expect(b).toBe(a);
    // The same session reconnected (a new session id) on the same prevhash: same scope.
    scopes.sessionClosed('pool0/1', 10);
    expect(scopes.forJob('pool0/2', prevhash(1), 20)).toBe(a);
  });

  test('a prevhash nobody works on is dropped after the grace, and shares on it become stale', () => {
    const scopes = new ProofScopes(60_000);
    const old = scopes.forJob('pool0/1', prevhash(1), 0);
    old.proofs.add(Uint8Array.from(randomBytes(32)));
    const next = scopes.forJob('pool0/1', prevhash(2), 1_000);
    expect(next).not.toBe(old);
    expect(old.dropped).toBe(false);
    expect(scopes.scopeCount).toBe(2);
    scopes.forJob('pool0/1', prevhash(2), 60_999);
    expect(old.dropped).toBe(false);
    scopes.forJob('pool0/1', prevhash(2), 61_000);
    expect(old.dropped).toBe(true);
    expect(scopes.scopeCount).toBe(1);
    expect(scopes.proofCount).toBe(0);
    // The same prevhash coming back later starts a new scope; jobs holding the old one see it dropped.
    expect(scopes.forJob('pool0/1', prevhash(1), 70_000)).not.toBe(old);
  });

  test('a prevhash still held by one session survives another moving on', () => {
    const scopes = new ProofScopes(1_000);
    const shared = scopes.forJob('a', prevhash(1), 0);
    scopes.forJob('b', prevhash(1), 0);
    scopes.forJob('a', prevhash(2), 10);
    scopes.forJob('a', prevhash(2), 100_000);
    expect(shared.dropped).toBe(false);
    scopes.sessionClosed('b', 100_000);
    scopes.forJob('a', prevhash(2), 101_000);
    expect(shared.dropped).toBe(true);
  });
});
