import { messageCount, type Sha256dBackend } from './sha256d-backend.js';
import {
  sha256dFromMidstate,
  sha256dHeaderWords,
  sha256dPairWords,
  sha256Midstate,
  type Sha256Midstate,
} from './sha256.js';
import {
  HEADER_ROOT_OFFSET,
  OUT_HASH_OFFSET,
  OUT_TXID_OFFSET,
  SHARE_HASH_OUT_BYTES,
  SHARE_RECORD_FIXED_BYTES,
  shareRecordCount,
  type ShareHashJob,
} from './share-hash-job.js';

// Scratch words reused across calls: every call is synchronous, so one set suffices.
const root = new Int32Array(8);
const header = new Int32Array(20);
const digest = new Int32Array(8);
const EMPTY_MIDSTATE: Sha256Midstate = sha256Midstate(new Uint8Array(0));

function writeWords(out: Uint8Array, offset: number, words: Int32Array): void {
  for (let i = 0, j = offset; i < words.length; i++, j += 4) {
    const word = words[i]!;
    out[j] = word >>> 24;
    out[j + 1] = word >>> 16;
    out[j + 2] = word >>> 8;
    out[j + 3] = word;
  }
}

/** The JavaScript SHA-256 (src/work/sha256.ts): the fallback when the addon cannot load. */
export const jsSha256dBackend: Sha256dBackend = {
  name: 'js',

  sha256d(message, out) {
    if (out.length !== 32) throw new RangeError('out must be 32 bytes');
    sha256dFromMidstate(EMPTY_MIDSTATE, [message], digest);
    writeWords(out, 0, digest);
  },

  sha256dEach(messages, messageLength, out) {
    const count = messageCount(messages, messageLength, out);
    for (let i = 0; i < count; i++) {
      sha256dFromMidstate(
        EMPTY_MIDSTATE,
        [messages.subarray(i * messageLength, (i + 1) * messageLength)],
        digest,
      );
      writeWords(out, 32 * i, digest);
    }
  },

  hashShares(job: ShareHashJob, shares, stride, out) {
    const count = shareRecordCount(shares, stride, out);
    const view = new DataView(shares.buffer, shares.byteOffset, shares.byteLength);
    for (let i = 0; i < count; i++) {
      const record = i * stride;
      const extranonce2Length = view.getUint32(record + 12, true);
      if (extranonce2Length > stride - SHARE_RECORD_FIXED_BYTES) {
        throw new RangeError("a share record's extranonce2 runs past its stride");
      }
      const extranonce2Start = record + SHARE_RECORD_FIXED_BYTES;
      const extranonce2 = shares.subarray(extranonce2Start, extranonce2Start + extranonce2Length);
      const at = SHARE_HASH_OUT_BYTES * i;

      sha256dFromMidstate(job.coinbasePrefix, [extranonce2, job.coinb2], root);
      writeWords(out, at + OUT_TXID_OFFSET, root);
      for (const branch of job.branchWords) sha256dPairWords(root, branch, root);

      // The record's LE32 fields are the header's bytes: read big-endian, they are its words.
      header[0] = view.getInt32(record, false);
      header.set(job.prevhashWords, 1);
      header.set(root, HEADER_ROOT_OFFSET / 4);
      header[17] = view.getInt32(record + 4, false);
      header[18] = job.nbitsWord;
      header[19] = view.getInt32(record + 8, false);
      sha256dHeaderWords(header, digest);
      writeWords(out, at, header);
      writeWords(out, at + OUT_HASH_OFFSET, digest);
    }
  },
};
