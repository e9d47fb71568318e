import { performance } from 'node:perf_hooks';
import { encryptWeightsPayload } from '../src/chain/timelocked-weights.js';

/**
 * The cost of one drand-timelocked weights commit (`encryptWeightsPayload`: hash-to-curve, two
 * G2 multiplications, one pairing, AES-GCM) for a 256-entry vector: the first call in a process
 * (which builds noble's precomputed tables) and the median of warm calls. A validator makes one
 * per posting interval, on the main thread.
 */
export function runTimelockEncryptBench(): void {
  const uids = Array.from({ length: 256 }, (_, i) => i);
  const payload = {
    hotkey: new Uint8Array(32).fill(7),
    uids,
    values: uids.map((i) => 65535 - i),
    versionKey: 0n,
  };
  const time = (): number => {
    const started = performance.now();
    encryptWeightsPayload(payload, 20_000_000n);
    return performance.now() - started;
  };
  const firstMs = time();
  const warm = Array.from({ length: 15 }, time).sort((a, b) => a - b);
  const medianMs = warm[Math.floor(warm.length / 2)]!;
  console.log(
    JSON.stringify({
      bench: 'timelock-encrypt',
      entries: 256,
      firstMs: round(firstMs),
      medianMs: round(medianMs),
      maxMs: round(warm.at(-1)!),
    }),
  );
}

function round(ms: number): number {
  return Math.round(ms * 10) / 10;
}
