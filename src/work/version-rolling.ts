import type { U32 } from './types.js';

/** The BIP 320 general-purpose bits: what pools offer when a miner asks for version rolling. */
export const BIP320_VERSION_MASK: U32 = 0x1fffe000;

export type RolledVersion =
  { readonly ok: true; readonly version: U32 } | { readonly ok: false; readonly stray: U32 };

/**
 * BIP 310: nVersion = (job_version & ~mask) | (version_bits & mask).
 *
 * Bits outside the mask are refused, with one allowance: some miners send the full rolled
 * version rather than the rolled bits alone, so outside-mask bits equal to the job's own are
 * accepted (they change nothing). Anything else outside the mask is refused and
 * reported as `stray` (the bits outside the mask, as sent). XOR, as
 * public-pool and TaoHASH do, would break those miners and is not used.
 */
export function rollVersion(jobVersion: U32, mask: U32, versionBits: U32): RolledVersion {
  const outside = (versionBits & ~mask) >>> 0;
  if (outside !== 0 && outside !== (jobVersion & ~mask) >>> 0) {
    return { ok: false, stray: outside };
  }
  return { ok: true, version: ((jobVersion & ~mask) | (versionBits & mask)) >>> 0 };
}

/** The mask a miner may roll: what the upstream allows and the miner asked for. */
export function negotiateVersionMask(upstreamMask: U32, minerMask: U32): U32 {
  return (upstreamMask & minerMask) >>> 0;
}

/**
 * The mask a miner may roll on a job: what the upstream allows and the miner asked for, less the
 * bits the job's version sets. BIP 310 builds `(v & ~m) | (b & m)`, ckpool `v | b`; the two agree
 * exactly when `v & m = 0`, so under this mask every pool hashes the header the proxy checked.
 */
export function rollableMask(upstreamMask: U32, minerMask: U32, jobVersion: U32): U32 {
  return (upstreamMask & minerMask & ~jobVersion) >>> 0;
}

/**
 * The version bits to send a pool for a share rolled to `version`: the version under the pool's
 * mask. A BIP 310 pool keeps the job's bits outside the mask and takes these inside it; an OR pool
 * adds these to the job's version: both give `version` back (given {@link rollableMask}).
 */
export function upstreamVersionBits(version: U32, upstreamMask: U32): U32 {
  return (version & upstreamMask) >>> 0;
}
