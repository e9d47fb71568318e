import type { U32 } from './types.js';

/**
 * Stratum sends prevhash with each 4-byte word byte-swapped relative to the header. The swap
 * is its own inverse, so this converts in both directions.
 */
export function swapPrevhashWords(prevhash: Uint8Array): Uint8Array {
  if (prevhash.length !== 32) throw new RangeError(`prevhash must be 32 bytes, got ${prevhash.length}`);
  const out = new Uint8Array(32);
  for (let i = 0; i < 32; i += 4) {
    out[i] = prevhash[i + 3]!;
    out[i + 1] = prevhash[i + 2]!;
    out[i + 2] = prevhash[i + 1]!;
    out[i + 3] = prevhash[i]!;
  }
  return out;
}

export interface HeaderFields {
  readonly version: U32;
  /** As sent in `mining.notify` (word-swapped). */
  readonly prevhash: Uint8Array;
  /** Internal byte order. */
  readonly merkleRoot: Uint8Array;
  readonly ntime: U32;
  readonly nbits: U32;
  readonly nonce: U32;
}

/** The 80-byte header: LE32(version) ‖ prevhash ‖ root ‖ LE32(ntime) ‖ LE32(nbits) ‖ LE32(nonce). */
export function buildHeader(fields: HeaderFields): Uint8Array {
  if (fields.merkleRoot.length !== 32) throw new RangeError('merkle root must be 32 bytes');
  const header = new Uint8Array(80);
  const view = new DataView(header.buffer);
  view.setUint32(0, fields.version, true);
  header.set(swapPrevhashWords(fields.prevhash), 4);
  header.set(fields.merkleRoot, 36);
  view.setUint32(68, fields.ntime, true);
  view.setUint32(72, fields.nbits, true);
  view.setUint32(76, fields.nonce, true);
  return header;
}
