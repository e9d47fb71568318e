import { hash as nativeHash } from 'node:crypto';

/**
 * SHA-256 for the share check's hot path.
 *
 * Node's one-shot `crypto.hash` runs SHA-NI speed on large inputs but costs ~2.5 µs per call
 * on this class of machine, which dwarfs hashing 64 bytes. A share check hashes a handful of
 * fixed-size inputs (64-byte merkle nodes, the 80-byte header, 32-byte digests), so those run
 * here on 32-bit words with the padding schedules precomputed, and never leave word form
 * between merkle steps. Everything else (and every test oracle) uses the native hash.
 */

const K = Int32Array.from([
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5, 0xd807aa98,
  0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786,
  0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8,
  0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13,
  0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819,
  0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a,
  0x5b9cca4f, 0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
  0xc67178f2,
]);

export const SHA256_IV: Readonly<Int32Array> = Int32Array.from([
  0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
]);

/** A SHA-256 chaining state: 8 words. */
export type Sha256State = Int32Array;

const schedule = new Int32Array(64);

function expand(w: Int32Array): void {
  for (let i = 16; i < 64; i++) {
    const w15 = w[i - 15]!;
    const w2 = w[i - 2]!;
    const s0 = ((w15 >>> 7) | (w15 << 25)) ^ ((w15 >>> 18) | (w15 << 14)) ^ (w15 >>> 3);
    const s1 = ((w2 >>> 17) | (w2 << 15)) ^ ((w2 >>> 19) | (w2 << 13)) ^ (w2 >>> 10);
    w[i] = (w[i - 16]! + s0 + w[i - 7]! + s1) | 0;
  }
}

/**
 * The 64 rounds over an already expanded schedule, added into `state`. Unrolled by eight with
 * the working variables renamed each round instead of shifted: ~20 % faster here, measured.
 */
function rounds(state: Sha256State, w: Int32Array): void {
  let a = state[0]!;
  let b = state[1]!;
  let c = state[2]!;
  let d = state[3]!;
  let e = state[4]!;
  let f = state[5]!;
  let g = state[6]!;
  let h = state[7]!;
  for (let i = 0; i < 64; i += 8) {
    h =
      (h +
        ((((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7))) +
          (g ^ (e & (f ^ g))) +
          ((K[i]! + w[i]!) | 0))) |
      0;
    d = (d + h) | 0;
    h =
      (h +
        ((((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10))) +
          ((a & b) | (c & (a | b))))) |
      0;
    g =
      (g +
        ((((d >>> 6) | (d << 26)) ^ ((d >>> 11) | (d << 21)) ^ ((d >>> 25) | (d << 7))) +
          (f ^ (d & (e ^ f))) +
          ((K[i + 1]! + w[i + 1]!) | 0))) |
      0;
    c = (c + g) | 0;
    g =
      (g +
        ((((h >>> 2) | (h << 30)) ^ ((h >>> 13) | (h << 19)) ^ ((h >>> 22) | (h << 10))) +
          ((h & a) | (b & (h | a))))) |
      0;
    f =
      (f +
        ((((c >>> 6) | (c << 26)) ^ ((c >>> 11) | (c << 21)) ^ ((c >>> 25) | (c << 7))) +
          (e ^ (c & (d ^ e))) +
          ((K[i + 2]! + w[i + 2]!) | 0))) |
      0;
    b = (b + f) | 0;
    f =
      (f +
        ((((g >>> 2) | (g << 30)) ^ ((g >>> 13) | (g << 19)) ^ ((g >>> 22) | (g << 10))) +
          ((g & h) | (a & (g | h))))) |
      0;
    e =
      (e +
        ((((b >>> 6) | (b << 26)) ^ ((b >>> 11) | (b << 21)) ^ ((b >>> 25) | (b << 7))) +
          (d ^ (b & (c ^ d))) +
          ((K[i + 3]! + w[i + 3]!) | 0))) |
      0;
    a = (a + e) | 0;
    e =
      (e +
        ((((f >>> 2) | (f << 30)) ^ ((f >>> 13) | (f << 19)) ^ ((f >>> 22) | (f << 10))) +
          ((f & g) | (h & (f | g))))) |
      0;
    d =
      (d +
        ((((a >>> 6) | (a << 26)) ^ ((a >>> 11) | (a << 21)) ^ ((a >>> 25) | (a << 7))) +
          (c ^ (a & (b ^ c))) +
          ((K[i + 4]! + w[i + 4]!) | 0))) |
      0;
    h = (h + d) | 0;
    d =
      (d +
        ((((e >>> 2) | (e << 30)) ^ ((e >>> 13) | (e << 19)) ^ ((e >>> 22) | (e << 10))) +
          ((e & f) | (g & (e | f))))) |
      0;
    c =
      (c +
        ((((h >>> 6) | (h << 26)) ^ ((h >>> 11) | (h << 21)) ^ ((h >>> 25) | (h << 7))) +
          (b ^ (h & (a ^ b))) +
          ((K[i + 5]! + w[i + 5]!) | 0))) |
      0;
    g = (g + c) | 0;
    c =
      (c +
        ((((d >>> 2) | (d << 30)) ^ ((d >>> 13) | (d << 19)) ^ ((d >>> 22) | (d << 10))) +
          ((d & e) | (f & (d | e))))) |
      0;
    b =
      (b +
        ((((g >>> 6) | (g << 26)) ^ ((g >>> 11) | (g << 21)) ^ ((g >>> 25) | (g << 7))) +
          (a ^ (g & (h ^ a))) +
          ((K[i + 6]! + w[i + 6]!) | 0))) |
      0;
    f = (f + b) | 0;
    b =
      (b +
        ((((c >>> 2) | (c << 30)) ^ ((c >>> 13) | (c << 19)) ^ ((c >>> 22) | (c << 10))) +
          ((c & d) | (e & (c | d))))) |
      0;
    a =
      (a +
        ((((f >>> 6) | (f << 26)) ^ ((f >>> 11) | (f << 21)) ^ ((f >>> 25) | (f << 7))) +
          (h ^ (f & (g ^ h))) +
          ((K[i + 7]! + w[i + 7]!) | 0))) |
      0;
    e = (e + a) | 0;
    a =
      (a +
        ((((b >>> 2) | (b << 30)) ^ ((b >>> 13) | (b << 19)) ^ ((b >>> 22) | (b << 10))) +
          ((b & c) | (d & (b | c))))) |
      0;
  }
  state[0] = (state[0]! + a) | 0;
  state[1] = (state[1]! + b) | 0;
  state[2] = (state[2]! + c) | 0;
  state[3] = (state[3]! + d) | 0;
  state[4] = (state[4]! + e) | 0;
  state[5] = (state[5]! + f) | 0;
  state[6] = (state[6]! + g) | 0;
  state[7] = (state[7]! + h) | 0;
}

/** Compresses one 16-word block taken from `words` at `offset` into `state`. */
export function compressWords(state: Sha256State, words: Int32Array, offset: number): void {
  const w = schedule;
  for (let i = 0; i < 16; i++) w[i] = words[offset + i]!;
  expand(w);
  rounds(state, w);
}

/** Compresses one 64-byte block taken from `bytes` at `offset` into `state`. */
export function compressBytes(state: Sha256State, bytes: Uint8Array, offset: number): void {
  const w = schedule;
  for (let i = 0, j = offset; i < 16; i++, j += 4) {
    w[i] = (bytes[j]! << 24) | (bytes[j + 1]! << 16) | (bytes[j + 2]! << 8) | bytes[j + 3]!;
  }
  expand(w);
  rounds(state, w);
}

function expandedPadding(messageBytes: number): Int32Array {
  const w = new Int32Array(64);
  w[0] = 0x80000000 | 0;
  w[15] = messageBytes * 8;
  expand(w);
  return w;
}

// The second block of any 64-byte message is the same: its schedule is computed once.
const PAD_AFTER_64 = expandedPadding(64);

const block = new Int32Array(16);
const inner = new Int32Array(8);

/** sha256(sha256(x)) where sha256(x) is `inner`: hashes the 32-byte digest into `out`. */
function secondHash(out: Sha256State): void {
  for (let i = 0; i < 8; i++) block[i] = inner[i]!;
  block[8] = 0x80000000 | 0;
  block[9] = 0;
  block[10] = 0;
  block[11] = 0;
  block[12] = 0;
  block[13] = 0;
  block[14] = 0;
  block[15] = 256;
  out.set(SHA256_IV);
  compressWords(out, block, 0);
}

/**
 * sha256d of the 64 bytes `left ‖ right`, both given as 8 big-endian words; the digest is
 * written to `out` as 8 big-endian words. This is one merkle step.
 */
export function sha256dPairWords(left: Int32Array, right: Int32Array, out: Int32Array): void {
  for (let i = 0; i < 8; i++) {
    block[i] = left[i]!;
    block[i + 8] = right[i]!;
  }
  inner.set(SHA256_IV);
  compressWords(inner, block, 0);
  rounds(inner, PAD_AFTER_64);
  secondHash(out);
}

/** sha256d of a 20-word (80-byte) message, e.g. a block header, into `out`. */
export function sha256dHeaderWords(header: Int32Array, out: Int32Array): void {
  inner.set(SHA256_IV);
  compressWords(inner, header, 0);
  block[0] = header[16]!;
  block[1] = header[17]!;
  block[2] = header[18]!;
  block[3] = header[19]!;
  block[4] = 0x80000000 | 0;
  for (let i = 5; i < 15; i++) block[i] = 0;
  block[15] = 640;
  compressWords(inner, block, 0);
  secondHash(out);
}

/**
 * A SHA-256 state after some whole 64-byte blocks of a message, plus the bytes that did not
 * fill a block. Lets the fixed prefix of every coinbase of a job be hashed once.
 */
export interface Sha256Midstate {
  readonly state: Readonly<Int32Array>;
  readonly tail: Uint8Array;
  readonly length: number;
}

export function sha256Midstate(prefix: Uint8Array): Sha256Midstate {
  const state = Int32Array.from(SHA256_IV);
  const whole = prefix.length - (prefix.length % 64);
  for (let offset = 0; offset < whole; offset += 64) compressBytes(state, prefix, offset);
  return { state, tail: prefix.slice(whole), length: prefix.length };
}

const scratch = new Uint8Array(64);

/**
 * sha256d of `midstate's prefix ‖ parts...`, written to `out` as 8 big-endian words. The
 * remainder is streamed through one 64-byte scratch block; nothing is allocated.
 */
export function sha256dFromMidstate(
  midstate: Sha256Midstate,
  parts: readonly Uint8Array[],
  out: Int32Array,
): void {
  inner.set(midstate.state);
  let fill = midstate.tail.length;
  scratch.set(midstate.tail, 0);
  let total = midstate.length;
  for (const part of parts) {
    total += part.length;
    let offset = 0;
    // A byte loop rather than set(subarray): no view is allocated per block on the hot path.
    while (offset < part.length) {
      scratch[fill++] = part[offset++]!;
      if (fill === 64) {
        compressBytes(inner, scratch, 0);
        fill = 0;
      }
    }
  }
  scratch[fill++] = 0x80;
  if (fill > 56) {
    scratch.fill(0, fill, 64);
    compressBytes(inner, scratch, 0);
    fill = 0;
  }
  scratch.fill(0, fill, 56);
  const bits = total * 8;
  writeUint32BE(scratch, 56, Math.floor(bits / 0x100000000));
  writeUint32BE(scratch, 60, bits >>> 0);
  compressBytes(inner, scratch, 0);
  secondHash(out);
}

function writeUint32BE(bytes: Uint8Array, offset: number, value: number): void {
  bytes[offset] = value >>> 24;
  bytes[offset + 1] = value >>> 16;
  bytes[offset + 2] = value >>> 8;
  bytes[offset + 3] = value;
}

/** Big-endian words → bytes (the digest's byte order). Shifts, not a DataView: this runs per share. */
export function wordsToBytes(words: Int32Array): Uint8Array {
  const bytes = new Uint8Array(words.length * 4);
  for (let i = 0, j = 0; i < words.length; i++, j += 4) {
    const word = words[i]!;
    bytes[j] = word >>> 24;
    bytes[j + 1] = word >>> 16;
    bytes[j + 2] = word >>> 8;
    bytes[j + 3] = word;
  }
  return bytes;
}

/** Bytes → big-endian words; `bytes.length` must be a multiple of 4. */
export function bytesToWords(bytes: Uint8Array): Int32Array {
  if (bytes.length % 4 !== 0) throw new RangeError(`expected a multiple of 4 bytes, got ${bytes.length}`);
  const words = new Int32Array(bytes.length / 4);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let i = 0; i < words.length; i++) words[i] = view.getInt32(i * 4, false);
  return words;
}

/** Native sha256. */
export function sha256(data: Uint8Array): Uint8Array {
  return nativeHash('sha256', data, 'buffer');
}

/** Native sha256d: used off the hot path (txids, test peers, oracles). */
export function sha256d(data: Uint8Array): Uint8Array {
  return nativeHash('sha256', nativeHash('sha256', data, 'buffer'), 'buffer');
}
