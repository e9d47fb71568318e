import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  bytesToHex,
  decodeHex,
  decodeU32Hex,
  hexProblem,
  hexToBytes,
  hexToU32,
  u32ToHex,
} from '../src/stratum/hex.js';

describe('hex', () => {
  it('decodes either case into a plain Uint8Array', () => {
    const bytes = hexToBytes('00ffAbcD');
    expect(bytes).toEqual(Uint8Array.of(0x00, 0xff, 0xab, 0xcd));
    expect(Object.getPrototypeOf(bytes)).toBe(Uint8Array.prototype);
    expect(hexToBytes('')).toEqual(new Uint8Array(0));
  });

  it('encodes lowercase', () => {
    expect(bytesToHex(Uint8Array.of(0xde, 0xad, 0xbe, 0xef, 0x01))).toBe('deadbeef01');
    // A view into a larger buffer encodes only its own bytes.
    expect(bytesToHex(Uint8Array.of(1, 2, 3, 4).subarray(1, 3))).toBe('0203');
  });

  it('rejects odd length, non-hex characters and wrong lengths with a reason', () => {
    expect(hexProblem('abc')).toBe('must have an even number of hex characters, got 3');
    expect(hexProblem('0g')).toBe('must be hex, got "0g" ("g" at position 1 is not a hex digit)');
    expect(hexProblem(' 0')).toMatch(/" " at position 0/);
    expect(hexProblem('0x00')).toMatch(/"x" at position 1/);
    expect(hexProblem('12345', { bytes: 4 })).toBe('must be 8 hex characters, got "12345"');
    expect(hexProblem('', { minBytes: 1, maxBytes: 32 })).toBe('must be 1 to 32 bytes of hex, got 0 bytes');
    expect(hexProblem('00'.repeat(33), { minBytes: 1, maxBytes: 32 })).toBe(
      'must be 1 to 32 bytes of hex, got 33 bytes',
    );
    expect(hexProblem('00', { minBytes: 2 })).toBe('must be at least 2 bytes of hex, got 1 bytes');
    expect(hexProblem('0011', { bytes: 2 })).toBeUndefined();
    expect(() => hexToBytes('zz')).toThrow(/not a hex digit/);
    expect(decodeHex('abc')).toEqual({
      ok: false,
      problem: 'must have an even number of hex characters, got 3',
    });
  });

  it('cuts long values short in messages', () => {
    const problem = hexProblem('ab'.repeat(5000), { bytes: 32 });
    expect(problem).toMatch(/^must be 64 hex characters, got "abab.*…" \(10000 characters\)$/);
    expect(problem?.length).toBeLessThan(120);
  });

  it('reads u32 as 8 big-endian hex characters', () => {
    expect(hexToU32('4d1b2237')).toBe(0x4d1b2237);
    expect(hexToU32('FFFFFFFF')).toBe(0xffffffff);
    expect(hexToU32('00000000')).toBe(0);
    expect(decodeU32Hex('1234567')).toEqual({
      ok: false,
      problem: 'must be 8 hex characters, got "1234567"',
    });
    expect(decodeU32Hex('+1234567').ok).toBe(false);
    expect(decodeU32Hex('-1234567').ok).toBe(false);
    expect(() => hexToU32('123456789')).toThrow(RangeError);
  });

  it('writes u32 as 8 lowercase hex characters and refuses non-u32', () => {
    expect(u32ToHex(1)).toBe('00000001');
    expect(u32ToHex(0x1fffe000)).toBe('1fffe000');
    expect(u32ToHex(0xffffffff)).toBe('ffffffff');
    expect(() => u32ToHex(-1)).toThrow(RangeError);
    expect(() => u32ToHex(2 ** 32)).toThrow(RangeError);
    expect(() => u32ToHex(1.5)).toThrow(RangeError);
  });

  it('round-trips any bytes and any u32', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 100 }), (bytes) => {
        const hex = bytesToHex(bytes);
        expect(hex).toMatch(/^[0-9a-f]*$/);
        expect(hexToBytes(hex)).toEqual(bytes);
        expect(hexToBytes(hex.toUpperCase())).toEqual(bytes);
      }),
    );
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 0xffffffff }), (value) => {
        expect(hexToU32(u32ToHex(value))).toBe(value);
      }),
    );
  });

  it('never decodes a string that is not pure hex', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string({ unit: 'binary', maxLength: 20 }),
          // Long, mostly-hex strings take the native decoding path; one stray character must still fail.
          fc
            .tuple(fc.uint8Array({ minLength: 60, maxLength: 200 }), fc.nat(), fc.string({ maxLength: 1 }))
            .map(([bytes, at, stray]) => {
              const hex = Buffer.from(bytes).toString('hex');
              const position = at % hex.length;
              return hex.slice(0, position) + stray + hex.slice(position + 1);
            }),
        ),
        (text) => {
          const decoded = decodeHex(text);
          const isHex = /^(?:[0-9a-fA-F]{2})*$/.test(text);
          expect(decoded.ok).toBe(isHex);
          if (decoded.ok) expect(decoded.bytes).toEqual(Uint8Array.from(Buffer.from(text, 'hex')));
          expect(decodeU32Hex(text).ok).toBe(isHex && text.length === 8);
        },
      ),
    );
  });
});
