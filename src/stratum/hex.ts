import type { U32 } from '../work/types.js';
import { quote } from './describe-value.js';

/** Byte-length bounds for a hex field; `bytes` is an exact length. */
export interface HexLength {
  readonly bytes?: number;
  readonly minBytes?: number;
  readonly maxBytes?: number;
}

export type HexDecoding =
  { readonly ok: true; readonly bytes: Uint8Array } | { readonly ok: false; readonly problem: string };

export type U32Decoding =
  { readonly ok: true; readonly value: U32 } | { readonly ok: false; readonly problem: string };

const NON_HEX = /[^0-9a-fA-F]/;
/** Strings up to this length decode in a JS loop; longer ones through Buffer's native decoder. */
const SHORT_HEX = 128;
/** Value of each ASCII hex digit, -1 for every other character code below 128. */
const DIGIT_VALUES = Int8Array.from({ length: 128 }, (_, code) => {
  const digit = Number.parseInt(String.fromCharCode(code), 16);
  return Number.isNaN(digit) ? -1 : digit;
});

function digitAt(hex: string, index: number): number {
  return DIGIT_VALUES[hex.charCodeAt(index)] ?? -1;
}

/**
 * What is wrong with `hex` as a hex string of the given length, phrased to follow a field name
 * ("must be 8 hex characters, got \"12345\""), or undefined if nothing is.
 */
export function hexProblem(hex: string, length: HexLength = {}): string | undefined {
  return lengthProblem(hex, length) ?? digitProblem(hex);
}

function lengthProblem(
  hex: string,
  { bytes, minBytes = 0, maxBytes = Infinity }: HexLength,
): string | undefined {
  if (bytes !== undefined && hex.length !== bytes * 2) {
    return `must be ${bytes * 2} hex characters, got ${quote(hex)}`;
  }
  if (hex.length % 2 !== 0) {
    return `must have an even number of hex characters, got ${hex.length}`;
  }
  const byteLength = hex.length / 2;
  if (byteLength < minBytes || byteLength > maxBytes) {
    const range = maxBytes === Infinity ? `at least ${minBytes}` : `${minBytes} to ${maxBytes}`;
    return `must be ${range} bytes of hex, got ${byteLength} bytes`;
  }
  return undefined;
}

function digitProblem(hex: string): string | undefined {
  const bad = NON_HEX.exec(hex);
  if (bad === null) return undefined;
  return `must be hex, got ${quote(hex)} (${JSON.stringify(bad[0])} at position ${bad.index} is not a hex digit)`;
}

/** Decodes hex (either case) into a fresh Uint8Array, or says why it cannot. */
export function decodeHex(hex: string, length: HexLength = {}): HexDecoding {
  const problem = lengthProblem(hex, length);
  if (problem !== undefined) return { ok: false, problem };
  const bytes = new Uint8Array(hex.length / 2);
  if (hex.length <= SHORT_HEX) {
    // Submits carry only short fields; a plain loop beats setting up a Buffer for them.
    for (let i = 0; i < bytes.length; i++) {
      const high = digitAt(hex, 2 * i);
      const low = digitAt(hex, 2 * i + 1);
      if (high < 0 || low < 0) return { ok: false, problem: digitProblem(hex) ?? 'must be hex' };
      bytes[i] = (high << 4) | low;
    }
    return { ok: true, bytes };
  }
  const badDigit = digitProblem(hex);
  if (badDigit !== undefined) return { ok: false, problem: badDigit };
  // Buffer's decoder is native; the view writes straight into `bytes`.
  Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).write(hex, 'hex');
  return { ok: true, bytes };
}

/** Decodes exactly 8 hex characters as a big-endian u32, as Stratum sends ntime, nbits, nonce. */
export function decodeU32Hex(hex: string): U32Decoding {
  if (hex.length === 8) {
    let value = 0;
    let index = 0;
    for (; index < 8; index++) {
      const digit = digitAt(hex, index);
      if (digit < 0) break;
      value = value * 16 + digit;
    }
    if (index === 8) return { ok: true, value };
  }
  return { ok: false, problem: hexProblem(hex, { bytes: 4 }) ?? 'must be 8 hex characters' };
}

/** Throwing form of {@link decodeHex}, for trusted inputs such as test vectors and configuration. */
export function hexToBytes(hex: string, length: HexLength = {}): Uint8Array {
  const decoded = decodeHex(hex, length);
  if (!decoded.ok) throw new RangeError(`hex string ${decoded.problem}`);
  return decoded.bytes;
}

/** Throwing form of {@link decodeU32Hex}. */
export function hexToU32(hex: string): U32 {
  const decoded = decodeU32Hex(hex);
  if (!decoded.ok) throw new RangeError(`u32 hex ${decoded.problem}`);
  return decoded.value;
}

/** Lowercase hex, two characters a byte. */
export { toHex as bytesToHex } from '../work/bytes.js';

/** Eight lowercase hex characters, big-endian. */
export function u32ToHex(value: U32): string {
  // Not isU32: its type guard would narrow `value` to never in the message.
  if (!Number.isInteger(value) || value < 0 || value > 0xffffffff)
    throw new RangeError(`u32 must be an integer from 0 to 0xffffffff, got ${value}`);
  return value.toString(16).padStart(8, '0');
}
