/**
 * Bounds applied when decoding. They are far above anything real (coinbase parts are a few
 * hundred bytes, merkle branches about 12 deep) and exist so that hostile input stays small.
 */
export const StratumLimits = {
  /** Longest line the downstream framer accepts by default. */
  maxMinerLineBytes: 16 * 1024,
  /** Longest coinb1 or coinb2 accepted in a `mining.notify`. */
  maxCoinbasePartBytes: 100_000,
  /** Most merkle branches in a `mining.notify`; 32 levels would cover 2^32 transactions. */
  maxMerkleBranches: 32,
  maxExtranonce1Bytes: 32,
  /** Largest extranonce2_size a pool may hand out. */
  maxExtranonce2Size: 16,
  /** Extranonce2 bytes accepted in a submit; whether the size fits the job is judged later. */
  maxSubmitExtranonce2Bytes: 32,
  maxHostLength: 255,
  /**
   * Longest string id accepted. Every answer echoes the id, so a long one turns each request
   * into an equally long reply: an amplifier against a proxy's memory and its peers' buffers.
   */
  maxIdLength: 64,
} as const;
