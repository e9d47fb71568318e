import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { JobRecord, LedgerJobId, ShareRecord } from '../../src/ledger/ledger.js';

/**
 * Records for ledger tests and the ledger's child-process writer: every field set, each a
 * function of a sequence number, so a share can be rebuilt from the number alone and compared
 * with what the ledger gives back.
 */

const dirs: string[] = [];

/** A fresh directory under the OS temp dir for one test's ledger files. */
export function ledgerDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'hashrelay-ledger-'));
  dirs.push(dir);
  return dir;
}

/** Removes every directory ledgerDir made (call once the ledgers in them are closed). */
export function removeLedgerDirs(): void {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
}

/** `length` bytes counting up from `seed` (mod 256). */
export function seededBytes(length: number, seed: number): Uint8Array {
  return Uint8Array.from({ length }, (_, i) => (seed + i * 7) & 0xff);
}

export function makeJob(n: number, overrides: Partial<JobRecord> = {}): JobRecord {
  return {
    receivedAt: 1_700_000_000_000 + n * 30_000,
    upstream: `pool-${n % 3}`,
    upstreamSession: `pool-${n % 3}/session-${n}`,
    upstreamJobId: `up${n.toString(16)}`,
    proxyJobId: `p${n}`,
    prevhash: seededBytes(32, n),
    coinb1: seededBytes(60 + (n % 5), n + 1),
    coinb2: seededBytes(140, n + 2),
    merkleBranch: Array.from({ length: n % 13 }, (_, i) => seededBytes(32, n * 13 + i)),
    version: 0x20000000,
    nbits: 0x17034219,
    ntime: 0x67000000 + n,
    cleanJobs: n % 2 === 0,
    extranonce1: seededBytes(4, n + 3),
    extranonce2Size: 8,
    ...overrides,
  };
}

export function makeShare(
  n: number,
  jobId: LedgerJobId | null,
  overrides: Partial<ShareRecord> = {},
): ShareRecord {
  const hashed = n % 5 !== 4;
  return {
    time: 1_700_000_000_000 + n,
    miner: `5Hotkey${(n % 17).toString().padStart(41, 'x')}`,
    worker: `rig${n % 3}`,
    upstream: `pool-${n % 3}`,
    upstreamSession: `pool-${n % 3}/session-1`,
    jobId,
    extranonce2: seededBytes(8, n),
    ntime: 0x67000000 + (n % 600),
    nonce: (n * 2654435761) >>> 0,
    versionBits: n % 2 === 0 ? null : (n << 13) & 0x1fffe000,
    assignedDifficulty: 2 ** (n % 11),
    shareDifficulty: hashed ? 2 ** (n % 11) * 1.5 : null,
    hash: hashed ? proofHash(n) : null,
    verdict: hashed ? 'accepted' : 'stale',
    upstreamVerdict: hashed ? 'pending' : 'not-forwarded',
    isBlock: n % 1000 === 999,
    ...overrides,
  };
}

/** A distinct 32-byte hash per share number: the ledger credits a proof (a hash) once. */
export function proofHash(n: number): Uint8Array {
  return Uint8Array.from(createHash('sha256').update(`share-${n}`).digest());
}
