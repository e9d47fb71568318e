import { bls12_381 as bls } from '@noble/curves/bls12-381.js';
import { QUICKNET_DST, roundMessage, type DrandBeacon } from '../../src/chain/timelock.js';

/** A drand-like beacon whose secret key the test holds, so it can sign any round (quicknet's scheme). */
export interface TestBeacon extends DrandBeacon {
  /** The beacon's signature of `round`: compressed G1, what a pulse carries. */
  sign(round: bigint): Uint8Array;
}

export function testBeacon(genesisTime = 1692803367, periodSeconds = 3): TestBeacon {
  const secretKey = bls.utils.randomSecretKey();
  return {
    publicKey: bls.shortSignatures.getPublicKey(secretKey).toBytes(true),
    genesisTime,
    periodSeconds,
    sign: (round) =>
      bls.shortSignatures
        .sign(bls.shortSignatures.hash(roundMessage(round), QUICKNET_DST), secretKey)
        .toBytes(true),
  };
}

/** drand quicknet's round 1000, the pulse subtensor's own tests use (CHAIN.md). */
export const QUICKNET_ROUND_1000 = {
  round: 1000n,
  signature: Uint8Array.from(
    Buffer.from(
      'b44679b9a59af2ec876b1a6b1ad52ea9b1615fc3982b19576350f93447cb1125e342b73a8dd2bacbe47e4b6b63ed5e39',
      'hex',
    ),
  ),
  randomness: 'fe290beca10872ef2fb164d2aa4442de4566183ec51c56ff3cd603d930e54fdd',
} as const;
