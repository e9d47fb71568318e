import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { bls12_381 as bls } from '@noble/curves/bls12-381.js';

/**
 * Timelock encryption to a drand round, byte-compatible with the `tle` crate (ideal-lab5/timelock)
 * that subtensor uses to open drand-timelocked weight commits (CHAIN.md, "Drand-timelocked
 * commits"). Boneh–Franklin FullIdent on BLS12-381 wraps a random AES-256-GCM key; the identity
 * is the round, and the drand signature of that round is the decryption key, so nobody (the
 * sender included) can open a ciphertext before the beacon publishes that round.
 */

/** A drand beacon with signatures on G1 and its public key on G2 ("unchained", like quicknet). */
export interface DrandBeacon {
  /** The group public key, a zcash-compressed G2 point (96 bytes). */
  readonly publicKey: Uint8Array;
  /** Unix time (s) of round 1. */
  readonly genesisTime: number;
  readonly periodSeconds: number;
}

/** drand quicknet, the beacon subtensor's Drand pallet stores pulses of. */
export const QUICKNET: DrandBeacon = {
  publicKey: fromHex(
    '83cf0f2896adee7eb8b5f01fcad3912212c437e0073e911fb90022d3e760183c8c4b450b6a0a6c3ac6a5776a2d1064510d1fec758c921cc22b0e17e63aaf4bcb5ed66304de9cf809bd274ca73bab4af5a6e9c76a4bc09e76eae8991ef5ece45a',
  ),
  genesisTime: 1692803367,
  periodSeconds: 3,
};

/** Hash-to-curve domain of quicknet signatures (and so of tle identities). */
export const QUICKNET_DST = 'BLS_SIG_BLS12381G1_XMD:SHA-256_SSWU_RO_NUL_';
/** tle's name for its AES-256-GCM layer, stored in every ciphertext. */
export const AES_GCM_SUITE = new TextEncoder().encode('AES_GCM_');

const G2_BYTES = 96;
const G1_BYTES = 48;
const HASH_BYTES = 32;
const NONCE_BYTES = 12;
const TAG_BYTES = 16;
const FP_BYTES = 48;
const ORDER = bls.fields.Fr.ORDER;

export class TimelockError extends Error {}

/** A tle ciphertext, as `parseTimelockCiphertext` reads it. */
export interface TimelockCiphertext {
  /** U = r·G2, zcash-compressed. */
  readonly u: Uint8Array;
  /** V = σ ⊕ H(e(Q, P)^r). */
  readonly v: Uint8Array;
  /** W = key ⊕ sha256(σ). */
  readonly w: Uint8Array;
  /** AES-256-GCM output with its 16-byte tag appended. */
  readonly aesCiphertext: Uint8Array;
  readonly nonce: Uint8Array;
  readonly cipherSuite: Uint8Array;
}

/** What a round's identity hashes: sha256 of the round as a big-endian u64 (drand's message). */
export function roundMessage(round: bigint): Uint8Array {
  checkRound(round);
  const bytes = new Uint8Array(8);
  new DataView(bytes.buffer).setBigUint64(0, round, false);
  return sha256(bytes);
}

/** Whether `signature` (48 bytes, compressed G1) is the beacon's signature of `round`. */
export function verifyPulse(round: bigint, signature: Uint8Array, beacon: DrandBeacon = QUICKNET): boolean {
  let point;
  try {
    point = bls.G1.Point.fromHex(checkLength('signature', signature, G1_BYTES));
  } catch {
    return false;
  }
  return bls.shortSignatures.verify(point, identity(round), beacon.publicKey);
}

/** The round the beacon publishes at unix time `seconds` (the latest one out by then). */
export function roundAt(seconds: number, beacon: DrandBeacon = QUICKNET): bigint {
  if (!Number.isFinite(seconds)) throw new RangeError(`time ${seconds} is not a number of seconds`);
  return BigInt(Math.max(Math.floor((seconds - beacon.genesisTime) / beacon.periodSeconds), 1));
}

/**
 * Encrypts `plaintext` so that only the beacon's signature of `round` opens it. `random` is
 * for known-answer tests; in production the OS's CSPRNG supplies the AES key, σ and the nonce.
 */
export function timelockEncrypt(
  plaintext: Uint8Array,
  round: bigint,
  beacon: DrandBeacon = QUICKNET,
  random: (length: number) => Uint8Array = randomBytes,
): Uint8Array {
  const publicKey = bls.G2.Point.fromHex(checkLength('beacon public key', beacon.publicKey, G2_BYTES));
  const q = identity(round);
  const key = checkLength('AES key', random(HASH_BYTES), HASH_BYTES);
  let sigma: Uint8Array;
  let r: bigint;
  do {
    sigma = checkLength('sigma', random(HASH_BYTES), HASH_BYTES);
    r = h3(sigma, key);
  } while (r === 0n);
  const u = bls.G2.Point.BASE.multiply(r).toBytes(true);
  const v = xor(sigma, gtHash(bls.pairing(q, publicKey.multiply(r))));
  const w = xor(key, sha256(sigma));
  const nonce = checkLength('nonce', random(NONCE_BYTES), NONCE_BYTES);
  const cipher = createCipheriv('aes-256-gcm', key, nonce);
  const aesCiphertext = concat(cipher.update(plaintext), cipher.final(), cipher.getAuthTag());
  return serializeCiphertext({ u, v, w, aesCiphertext, nonce, cipherSuite: AES_GCM_SUITE });
}

/**
 * Opens a ciphertext with the beacon's signature of its round (as the runtime does when the
 * pulse arrives). A wrong signature, a wrong round or altered bytes throw `TimelockError`.
 */
export function timelockDecrypt(ciphertext: Uint8Array, signature: Uint8Array): Uint8Array {
  const parsed = parseTimelockCiphertext(ciphertext);
  if (!equalBytes(parsed.cipherSuite, AES_GCM_SUITE)) {
    throw new TimelockError(`cipher suite '${new TextDecoder().decode(parsed.cipherSuite)}' is not AES_GCM_`);
  }
  let key: Uint8Array;
  try {
    const u = bls.G2.Point.fromHex(parsed.u);
    const sig = bls.G1.Point.fromHex(checkLength('signature', signature, G1_BYTES));
    const sigma = xor(parsed.v, gtHash(bls.pairing(sig, u)));
    key = xor(parsed.w, sha256(sigma));
    // FullIdent's check that U was made from this σ and key: fails for any other round's key.
    if (!bls.G2.Point.BASE.multiply(h3(sigma, key)).equals(u)) throw new Error('U ≠ H3(σ, key)·G2');
  } catch (error) {
    throw new TimelockError(`not the signature of this ciphertext's round: ${(error as Error).message}`);
  }
  try {
    const decipher = createDecipheriv('aes-256-gcm', key, parsed.nonce);
    decipher.setAuthTag(parsed.aesCiphertext.subarray(parsed.aesCiphertext.length - TAG_BYTES));
    return concat(
      decipher.update(parsed.aesCiphertext.subarray(0, parsed.aesCiphertext.length - TAG_BYTES)),
      decipher.final(),
    );
  } catch (error) {
    throw new TimelockError(`the AES-GCM body does not authenticate: ${(error as Error).message}`);
  }
}

/**
 * Reads tle's arkworks `serialize_compressed` layout: `{ header: { u: G2, v: Vec, w: Vec },
 * body: Vec (itself `{ ciphertext: Vec, nonce: Vec }`), cipher_suite: Vec }`, each `Vec` a u64
 * little-endian length and its bytes. Trailing bytes are refused.
 */
export function parseTimelockCiphertext(bytes: Uint8Array): TimelockCiphertext {
  const reader = new VecReader(bytes, 'ciphertext');
  const u = reader.take(G2_BYTES, 'header.u');
  const v = reader.vec('header.v', HASH_BYTES);
  const w = reader.vec('header.w', HASH_BYTES);
  const body = reader.vec('body');
  const cipherSuite = reader.vec('cipher_suite');
  reader.end();
  const bodyReader = new VecReader(body, 'body');
  const aesCiphertext = bodyReader.vec('body.ciphertext');
  const nonce = bodyReader.vec('body.nonce', NONCE_BYTES);
  bodyReader.end();
  if (aesCiphertext.length < TAG_BYTES) {
    throw new TimelockError(`body.ciphertext is ${aesCiphertext.length} bytes, shorter than the GCM tag`);
  }
  return { u, v, w, aesCiphertext, nonce, cipherSuite };
}

export function serializeCiphertext(parts: TimelockCiphertext): Uint8Array {
  const body = concat(vec(parts.aesCiphertext), vec(parts.nonce));
  return concat(parts.u, vec(parts.v), vec(parts.w), vec(body), vec(parts.cipherSuite));
}

/** The round's identity point on G1, as drand hashes the message it signs. */
function identity(round: bigint) {
  return bls.shortSignatures.hash(roundMessage(round), QUICKNET_DST);
}

/** tle's H3: sha256(σ ‖ key) read big-endian, reduced mod the group order. */
function h3(sigma: Uint8Array, key: Uint8Array): bigint {
  let r = 0n;
  for (const byte of sha256(concat(sigma, key))) r = (r << 8n) | BigInt(byte);
  return r % ORDER;
}

type Fp12 = ReturnType<typeof bls.pairing>;

/** tle's H2: sha256 of the pairing value as arkworks serialises Fq12 (12 × 48-byte LE limbs, c0 first). */
function gtHash(value: Fp12): Uint8Array {
  const limbs: bigint[] = [];
  for (const fp6 of [value.c0, value.c1])
    for (const fp2 of [fp6.c0, fp6.c1, fp6.c2]) limbs.push(fp2.c0, fp2.c1);
  const out = new Uint8Array(limbs.length * FP_BYTES);
  limbs.forEach((limb, i) => {
    let rest = limb;
    for (let j = 0; j < FP_BYTES; j++) {
      out[i * FP_BYTES + j] = Number(rest & 0xffn);
      rest >>= 8n;
    }
  });
  return sha256(out);
}

class VecReader {
  #offset = 0;
  constructor(
    private readonly bytes: Uint8Array,
    private readonly what: string,
  ) {}

  take(length: number, field: string): Uint8Array {
    if (this.#offset + length > this.bytes.length) {
      throw new TimelockError(
        `${this.what} ends inside ${field}: needs ${length} bytes at offset ${this.#offset} of ${this.bytes.length}`,
      );
    }
    const out = this.bytes.slice(this.#offset, this.#offset + length);
    this.#offset += length;
    return out;
  }

  vec(field: string, exactLength?: number): Uint8Array {
    const prefix = this.take(8, `${field} length`);
    const length = new DataView(prefix.buffer).getBigUint64(0, true);
    if (exactLength !== undefined && length !== BigInt(exactLength)) {
      throw new TimelockError(`${field} is ${length} bytes; tle writes ${exactLength}`);
    }
    if (length > BigInt(this.bytes.length)) {
      throw new TimelockError(`${field} claims ${length} bytes; ${this.what} has ${this.bytes.length}`);
    }
    return this.take(Number(length), field);
  }

  end(): void {
    if (this.#offset !== this.bytes.length) {
      throw new TimelockError(
        `${this.what} has ${this.bytes.length - this.#offset} bytes after its last field`,
      );
    }
  }
}

function vec(bytes: Uint8Array): Uint8Array {
  const prefix = new Uint8Array(8);
  new DataView(prefix.buffer).setBigUint64(0, BigInt(bytes.length), true);
  return concat(prefix, bytes);
}

function checkRound(round: bigint): void {
  if (round < 1n || round >= 2n ** 64n) throw new RangeError(`drand round ${round} is not a u64 ≥ 1`);
}

function checkLength(name: string, bytes: Uint8Array, length: number): Uint8Array {
  if (bytes.length !== length) throw new RangeError(`${name} is ${bytes.length} bytes, expected ${length}`);
  return bytes;
}

function sha256(bytes: Uint8Array): Uint8Array {
  return new Uint8Array(createHash('sha256').update(bytes).digest());
}

function xor(a: Uint8Array, b: Uint8Array): Uint8Array {
  return a.map((byte, i) => byte ^ b[i]!);
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((byte, i) => byte === b[i]);
}

function fromHex(hex: string): Uint8Array {
  return Uint8Array.from(Buffer.from(hex, 'hex'));
}
