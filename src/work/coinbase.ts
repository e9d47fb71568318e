import { concatBytes } from './bytes.js';
import { sha256d } from './sha256.js';

/** coinb1 ‖ extranonce1 ‖ extranonce2 ‖ coinb2: the coinbase transaction the miner hashed. */
export function assembleCoinbase(
  coinb1: Uint8Array,
  extranonce1: Uint8Array,
  extranonce2: Uint8Array,
  coinb2: Uint8Array,
): Uint8Array {
  return concatBytes(coinb1, extranonce1, extranonce2, coinb2);
}

/** The coinbase's txid in internal byte order (its non-witness serialisation is what Stratum carries). */
export function coinbaseTxid(coinbase: Uint8Array): Uint8Array {
  return sha256d(coinbase);
}
