import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import {
  bytesToWords,
  sha256d,
  sha256dFromMidstate,
  sha256dHeaderWords,
  sha256dPairWords,
  sha256Midstate,
  wordsToBytes,
} from '../src/work/sha256.js';

// The oracle is OpenSSL through createHash, a different code path from the JS words here.
function oracleSha256d(data: Uint8Array): Uint8Array {
  const once = createHash('sha256').update(data).digest();
  return Uint8Array.from(createHash('sha256').update(once).digest());
}

const bytes = (length: number) => fc.uint8Array({ minLength: length, maxLength: length });

describe('sha256 words', () => {
  test('a merkle step equals sha256d of the 64 concatenated bytes', () => {
    fc.assert(
      fc.property(bytes(32), bytes(32), (left, right) => {
        const out = new Int32Array(8);
        sha256dPairWords(bytesToWords(left), bytesToWords(right), out);
        expect(wordsToBytes(out)).toEqual(oracleSha256d(Uint8Array.from([...left, ...right])));
      }),
      { numRuns: 300 },
    );
  });

  test('a merkle step may write over its left input', () => {
    const left = bytesToWords(Uint8Array.from({ length: 32 }, (_, i) => i));
    const right = bytesToWords(Uint8Array.from({ length: 32 }, (_, i) => 255 - i));
    const expected = oracleSha256d(Uint8Array.from([...wordsToBytes(left), ...wordsToBytes(right)]));
    sha256dPairWords(left, right, left);
    expect(wordsToBytes(left)).toEqual(expected);
  });

  test('an 80-byte header hashes as sha256d', () => {
    fc.assert(
      fc.property(bytes(80), (header) => {
        const out = new Int32Array(8);
        sha256dHeaderWords(bytesToWords(header), out);
        expect(wordsToBytes(out)).toEqual(oracleSha256d(header));
      }),
      { numRuns: 300 },
    );
  });

  test('midstate plus parts equals sha256d of the whole, across every padding boundary', () => {
    for (let prefixLength = 0; prefixLength <= 130; prefixLength += 13) {
      for (let restLength = 0; restLength <= 140; restLength++) {
        const prefix = Uint8Array.from({ length: prefixLength }, (_, i) => (i * 7 + 1) & 0xff);
        const rest = Uint8Array.from({ length: restLength }, (_, i) => (i * 13 + 5) & 0xff);
        const split = restLength >> 1;
        const out = new Int32Array(8);
        sha256dFromMidstate(sha256Midstate(prefix), [rest.subarray(0, split), rest.subarray(split)], out);
        expect(wordsToBytes(out), `prefix ${prefixLength} rest ${restLength}`).toEqual(
          oracleSha256d(Uint8Array.from([...prefix, ...rest])),
        );
      }
    }
  });

  test('midstate hashing matches for random splits', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 400 }),
        fc.array(fc.uint8Array({ maxLength: 100 }), { maxLength: 4 }),
        (prefix, parts) => {
          const out = new Int32Array(8);
          sha256dFromMidstate(sha256Midstate(prefix), parts, out);
          expect(wordsToBytes(out)).toEqual(
            oracleSha256d(Uint8Array.from([prefix, ...parts].flatMap((p) => [...p]))),
          );
        },
      ),
    );
  });

  test('native sha256d matches the oracle on known input', () => {
    // sha256d("hello"): a widely published value.
    expect(Buffer.from(sha256d(new TextEncoder().encode('hello'))).toString('hex')).toBe(
      '9595c9df90075148eb06860365df33584b75bff782a510c6cd4883a419833d50',
    );
  });

  test('bytesToWords refuses lengths that are not whole words', () => {
    expect(() => bytesToWords(new Uint8Array(5))).toThrow(/multiple of 4/);
  });
});
