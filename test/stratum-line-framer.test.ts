import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { LineFramer } from '../src/stratum/line-framer.js';

const bytes = (text: string): Buffer => Buffer.from(text, 'utf8');

/** Feeds every chunk and gathers what came out. */
function feed(framer: LineFramer, chunks: readonly Uint8Array[]): { lines: string[]; overflows: number } {
  const lines: string[] = [];
  let overflows = 0;
  for (const chunk of chunks) {
    const result = framer.push(chunk);
    lines.push(...result.lines);
    if (result.overflow) overflows += 1;
  }
  return { lines, overflows };
}

describe('LineFramer', () => {
  it('returns several lines from one chunk, with \\n and \\r\\n, skipping empty ones', () => {
    const result = new LineFramer().push(bytes('{"a":1}\n\n{"b":2}\r\n\r\n{"c":3}\n'));
    expect(result).toEqual({ lines: ['{"a":1}', '{"b":2}', '{"c":3}'], overflow: false });
  });

  it('keeps an unterminated tail until its newline arrives', () => {
    const framer = new LineFramer();
    expect(framer.push(bytes('one\ntw')).lines).toEqual(['one']);
    expect(framer.bufferedBytes).toBe(2);
    expect(framer.push(bytes('o')).lines).toEqual([]);
    expect(framer.push(bytes('\nthree')).lines).toEqual(['two']);
    expect(framer.bufferedBytes).toBe(5);
  });

  it('reassembles lines split at every byte position', () => {
    const stream = bytes('{"id":1,"method":"mining.subscribe","params":[]}\r\n{"id":2}\nlast-line\r\n');
    for (let cut = 0; cut <= stream.length; cut++) {
      const { lines } = feed(new LineFramer(), [stream.subarray(0, cut), stream.subarray(cut)]);
      expect(lines, `cut at ${cut}`).toEqual([
        '{"id":1,"method":"mining.subscribe","params":[]}',
        '{"id":2}',
        'last-line',
      ]);
    }
  });

  it('reassembles lines split at every pair of byte positions', () => {
    const stream = bytes('ab\r\ncd\nef\r\n');
    for (let first = 0; first <= stream.length; first++) {
      for (let second = first; second <= stream.length; second++) {
        const chunks = [stream.subarray(0, first), stream.subarray(first, second), stream.subarray(second)];
        expect(feed(new LineFramer(), chunks).lines, `cuts at ${first}, ${second}`).toEqual([
          'ab',
          'cd',
          'ef',
        ]);
      }
    }
  });

  it('decodes multi-byte UTF-8 split inside a character', () => {
    const stream = bytes('señor ✓ 𝄞\n');
    for (let cut = 0; cut <= stream.length; cut++) {
      const { lines } = feed(new LineFramer(), [stream.subarray(0, cut), stream.subarray(cut)]);
      expect(lines).toEqual(['señor ✓ 𝄞']);
    }
  });

  it('accepts a plain Uint8Array chunk', () => {
    expect(new LineFramer().push(new Uint8Array([0x68, 0x69, 0x0a])).lines).toEqual(['hi']);
  });

  it('keeps a \\r inside a line', () => {
    expect(new LineFramer().push(bytes('a\rb\n')).lines).toEqual(['a\rb']);
  });

  describe('line length limit', () => {
    const max = 16;
    const exact = 'x'.repeat(max);

    it('accepts a line of exactly the limit, whole or a byte at a time, with either terminator', () => {
      for (const terminator of ['\n', '\r\n']) {
        const stream = bytes(exact + terminator);
        expect(new LineFramer({ maxLineLength: max }).push(stream)).toEqual({
          lines: [exact],
          overflow: false,
        });
        const byteAtATime = [...stream].map((byte) => Uint8Array.of(byte));
        expect(feed(new LineFramer({ maxLineLength: max }), byteAtATime)).toEqual({
          lines: [exact],
          overflows: 0,
        });
      }
    });

    it('accepts a line of exactly the limit split at every position before its \\r\\n', () => {
      const stream = bytes(`${exact}\r\nnext\n`);
      for (let cut = 0; cut <= stream.length; cut++) {
        const framer = new LineFramer({ maxLineLength: max });
        expect(feed(framer, [stream.subarray(0, cut), stream.subarray(cut)]), `cut at ${cut}`).toEqual({
          lines: [exact, 'next'],
          overflows: 0,
        });
      }
    });

    it('rejects a line one byte over the limit, in one chunk or split anywhere', () => {
      const long = `${exact}y`;
      for (const terminator of ['\n', '\r\n']) {
        const stream = bytes(`${long}${terminator}ok\n`);
        for (let cut = 0; cut <= stream.length; cut++) {
          const framer = new LineFramer({ maxLineLength: max });
          expect(feed(framer, [stream.subarray(0, cut), stream.subarray(cut)]), `cut at ${cut}`).toEqual({
            lines: ['ok'],
            overflows: 1,
          });
        }
      }
    });

    it('treats a \\r after a full-length line that is not followed by \\n as content', () => {
      const framer = new LineFramer({ maxLineLength: max });
      expect(framer.push(bytes(`${exact}\r`))).toEqual({ lines: [], overflow: false });
      expect(framer.bufferedBytes).toBe(max);
      expect(framer.push(bytes('\r\nok\n'))).toEqual({ lines: ['ok'], overflow: true });
    });

    it('drops an overlong line up to its newline, reports it once, then frames normally', () => {
      const framer = new LineFramer({ maxLineLength: max });
      const first = framer.push(bytes(`good\n${'z'.repeat(max + 5)}`));
      expect(first).toEqual({ lines: ['good'], overflow: true });
      expect(framer.bufferedBytes).toBe(0);
      expect(framer.push(bytes('z'.repeat(1000)))).toEqual({ lines: [], overflow: false });
      expect(framer.bufferedBytes).toBe(0);
      expect(framer.push(bytes('zz\nafter\n'))).toEqual({ lines: ['after'], overflow: false });
    });

    it('reports an overlong line that arrives complete in one chunk', () => {
      const framer = new LineFramer({ maxLineLength: max });
      expect(framer.push(bytes(`${'q'.repeat(100)}\nfine\n`))).toEqual({ lines: ['fine'], overflow: true });
      expect(framer.bufferedBytes).toBe(0);
    });

    it('defaults to 16 KiB', () => {
      const framer = new LineFramer();
      expect(framer.maxLineLength).toBe(16384);
      expect(framer.push(bytes(`${'a'.repeat(16384)}\n`)).lines[0]).toHaveLength(16384);
      expect(framer.push(bytes(`${'a'.repeat(16385)}\n`)).overflow).toBe(true);
    });

    it('refuses a nonsensical limit', () => {
      expect(() => new LineFramer({ maxLineLength: 0 })).toThrow(RangeError);
      expect(() => new LineFramer({ maxLineLength: 1.5 })).toThrow(RangeError);
    });
  });

  it('assembles a long line fed one byte at a time, holding only that line', () => {
    // Speed is a benchmark matter; here: the result is right and the buffer never exceeds the line.
    const length = 64 * 1024;
    const framer = new LineFramer({ maxLineLength: length });
    const byte = Uint8Array.of(0x61);
    for (let i = 0; i < length; i++) {
      framer.push(byte);
      if (framer.bufferedBytes !== i + 1)
        throw new Error(`buffered ${framer.bufferedBytes} after ${i + 1} bytes`);
    }
    const { lines } = framer.push(Uint8Array.of(0x0a));
    expect(lines[0]).toHaveLength(length);
    expect(framer.bufferedBytes).toBe(0);
  });

  describe('properties', () => {
    it('matches splitting the whole stream, however it is chunked', () => {
      const line = fc.string({ unit: 'binary', maxLength: 30 }).map((text) => text.replace(/[\r\n]/g, ''));
      fc.assert(
        fc.property(
          fc.array(fc.tuple(line, fc.constantFrom('\n', '\r\n')), { maxLength: 10 }),
          fc.array(fc.nat(), { maxLength: 8 }),
          (entries, cuts) => {
            const stream = bytes(entries.map(([text, terminator]) => text + terminator).join(''));
            const positions = [...new Set(cuts.map((cut) => cut % (stream.length + 1)))].sort(
              (a, b) => a - b,
            );
            const chunks: Buffer[] = [];
            let previous = 0;
            for (const position of [...positions, stream.length]) {
              chunks.push(stream.subarray(previous, position));
              previous = position;
            }
            // Lone surrogates become U+FFFD in UTF-8, so compare with the same round trip.
            const expected = entries
              .map(([text]) => Buffer.from(text, 'utf8').toString('utf8'))
              .filter((text) => text.length > 0);
            expect(feed(new LineFramer(), chunks)).toEqual({ lines: expected, overflows: 0 });
          },
        ),
      );
    });

    it('agrees with splitting the concatenated stream, overlong lines dropped, however it is chunked', () => {
      fc.assert(
        fc.property(
          fc.integer({ min: 1, max: 12 }),
          fc.array(fc.constantFrom(0x0a, 0x0d, 0x61, 0x62), { maxLength: 120 }),
          fc.array(fc.nat(), { maxLength: 10 }),
          (maxLineLength, soup, cuts) => {
            const stream = Buffer.from(soup);
            const positions = [...new Set(cuts.map((cut) => cut % (stream.length + 1)))].sort(
              (a, b) => a - b,
            );
            const chunks = [0, ...positions].map((start, i) =>
              stream.subarray(start, positions[i] ?? stream.length),
            );

            const pieces = stream.toString('latin1').split('\n');
            const tail = pieces.pop() ?? '';
            const complete = pieces.map((piece) => piece.replace(/\r$/, ''));
            const tooLongTail = tail.replace(/\r$/, '').length > maxLineLength;
            const expectedLines = complete.filter((line) => line.length > 0 && line.length <= maxLineLength);
            const expectOverflow = complete.some((line) => line.length > maxLineLength) || tooLongTail;

            const { lines, overflows } = feed(new LineFramer({ maxLineLength }), chunks);
            expect(lines).toEqual(expectedLines);
            expect(overflows > 0).toBe(expectOverflow);
          },
        ),
      );
    });

    it('never throws and never buffers more than the limit, whatever bytes arrive', () => {
      fc.assert(
        fc.property(
          fc.integer({ min: 1, max: 64 }),
          fc.array(
            fc.oneof(
              fc.uint8Array({ maxLength: 200 }),
              // Byte soup rich in terminators, to reach the \r and \n edge cases often.
              fc
                .array(fc.constantFrom(0x0a, 0x0d, 0x61, 0xe2), { maxLength: 100 })
                .map((xs) => Uint8Array.from(xs)),
            ),
            { maxLength: 30 },
          ),
          (maxLineLength, chunks) => {
            const framer = new LineFramer({ maxLineLength });
            for (const chunk of chunks) {
              const { lines } = framer.push(chunk);
              expect(framer.bufferedBytes).toBeLessThanOrEqual(maxLineLength);
              for (const line of lines) {
                expect(line.length).toBeGreaterThan(0);
                expect(Buffer.byteLength(line, 'utf8')).toBeLessThanOrEqual(maxLineLength * 3);
              }
            }
          },
        ),
      );
    });
  });
});
