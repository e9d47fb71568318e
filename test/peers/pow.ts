/**
 * Proof-of-work maths for the test peers, written apart from src/work on purpose: if the
 * proxy's share check and these peers shared code, a bug in it would make them agree. Hashing
 * is node:crypto, header layout is plain Buffer writes, targets are exact bigint arithmetic.
 */
import { hash } from 'node:crypto';
import type { Job } from '../../src/work/job.js';

/** The difficulty-1 target, 0x00000000FFFF0000…0000. */
export const DIFFICULTY_1_TARGET = 0xffffn << 208n;
const MAX_HASH_VALUE = (1n << 256n) - 1n;

export function sha256d(data: Uint8Array): Buffer {
  return hash('sha256', hash('sha256', data, 'buffer'), 'buffer');
}

/** A 32-byte hash as Bitcoin compares it: a little-endian unsigned integer. */
export function hashValue(digest: Uint8Array): bigint {
  return BigInt(`0x${Buffer.from(digest).reverse().toString('hex')}`);
}

/** Hex as block explorers show hashes: the digest's bytes reversed. */
export function displayHex(digest: Uint8Array): string {
  return Buffer.from(digest).reverse().toString('hex');
}

/**
 * floor(T1 / D), exact for every positive finite double: D is `scaled / 2^shift` with `scaled`
 * an integer (doubling a double is exact), so T1 / D = (T1 · 2^shift) / scaled.
 */
export function targetForDifficulty(difficulty: number): bigint {
  if (!Number.isFinite(difficulty) || difficulty <= 0) {
    throw new RangeError(`difficulty must be a positive finite number, got ${difficulty}`);
  }
  let scaled = difficulty;
  let shift = 0n;
  while (!Number.isInteger(scaled)) {
    scaled *= 2;
    shift += 1n;
  }
  const target = (DIFFICULTY_1_TARGET << shift) / BigInt(scaled);
  return target > MAX_HASH_VALUE ? MAX_HASH_VALUE : target;
}

/** A hash's own difficulty, T1 / h (a reported figure, never credited). */
export function shareDifficulty(value: bigint): number {
  return value === 0n ? Infinity : Number(DIFFICULTY_1_TARGET) / Number(value);
}

/** BIP 310: the rolled bits replace the job's bits under the mask; never XOR. */
export function rolledVersion(jobVersion: number, mask: number, versionBits: number): number {
  return ((jobVersion & ~mask) | (versionBits & mask)) >>> 0;
}

export function bitCount(mask: number): number {
  let count = 0;
  for (let bits = mask >>> 0; bits !== 0; bits >>>= 1) count += bits & 1;
  return count;
}

/** The `index`-th value under `mask`: index's low bits spread over the mask's set bits. */
export function versionBitsAt(index: number, mask: number): number {
  let bits = 0;
  let rest = index;
  for (let bit = 0; bit < 32 && rest > 0; bit++) {
    const place = 2 ** bit;
    if ((mask >>> 0) & place) {
      if (rest % 2 === 1) bits += place;
      rest = Math.floor(rest / 2);
    }
  }
  return bits >>> 0;
}

/** coinb1 ‖ extranonce1 ‖ extranonce2 ‖ coinb2. */
export function coinbaseBytes(job: Job, extranonce1: Uint8Array, extranonce2: Uint8Array): Buffer {
  return Buffer.concat([job.coinb1, extranonce1, extranonce2, job.coinb2]);
}

/** root = sha256d(coinbase), then root = sha256d(root ‖ branch) for each branch as sent. */
export function merkleRoot(coinbase: Uint8Array, branches: readonly Uint8Array[]): Buffer {
  let root = sha256d(coinbase);
  for (const branch of branches) root = sha256d(Buffer.concat([root, branch]));
  return root;
}

/** The 80-byte header with the nonce left zero, ready for a nonce loop to write offset 76. */
export function headerTemplate(
  job: Job,
  extranonce1: Uint8Array,
  extranonce2: Uint8Array,
  version: number,
  ntime: number = job.ntime,
): Buffer {
  const header = Buffer.alloc(80);
  header.writeUInt32LE(version >>> 0, 0);
  // The notify's prevhash has each 4-byte word byte-swapped; swap32 undoes it.
  Buffer.from(job.prevhash).swap32().copy(header, 4);
  merkleRoot(coinbaseBytes(job, extranonce1, extranonce2), job.merkleBranch).copy(header, 36);
  header.writeUInt32LE(ntime >>> 0, 68);
  header.writeUInt32LE(job.nbits >>> 0, 72);
  return header;
}

export interface GroundNonce {
  readonly nonce: number;
  readonly hash: Buffer;
  readonly value: bigint;
}

/**
 * Walks nonces from `startNonce` until `accept(hashValue)` holds; for tests that need a share
 * that does (or does not) meet some target.
 */
export function grindNonce(
  header: Buffer,
  accept: (value: bigint) => boolean,
  { startNonce = 0, maxHashes = 50_000_000 }: { startNonce?: number; maxHashes?: number } = {},
): GroundNonce {
  const work = Buffer.from(header);
  for (let i = 0; i < maxHashes; i++) {
    const nonce = (startNonce + i) >>> 0;
    work.writeUInt32LE(nonce, 76);
    const digest = sha256d(work);
    const value = hashValue(digest);
    if (accept(value)) return { nonce, hash: digest, value };
  }
  throw new Error(`no acceptable nonce within ${maxHashes} hashes`);
}
