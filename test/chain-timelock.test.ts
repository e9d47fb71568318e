import { createHash } from 'node:crypto';
import { bls12_381 as bls } from '@noble/curves/bls12-381.js';
import { TypeRegistry } from '@polkadot/types';
import { u8aToHex } from '@polkadot/util';
import { describe, expect, test } from 'vitest';
import {
  AES_GCM_SUITE,
  QUICKNET,
  TimelockError,
  parseTimelockCiphertext,
  roundAt,
  serializeCiphertext,
  timelockDecrypt,
  timelockEncrypt,
  verifyPulse,
} from '../src/chain/timelock.js';
import {
  decodeLegacyWeightsPayload,
  decodeWeightsPayload,
  encodeWeightsPayload,
  encryptWeightsPayload,
  revealRound,
  type WeightsPayload,
} from '../src/chain/timelocked-weights.js';
import { QUICKNET_ROUND_1000, testBeacon } from './support/drand-beacon.js';

const { round, signature } = QUICKNET_ROUND_1000;
const hotkey = Uint8Array.from({ length: 32 }, (_, i) => i + 1);
const payload: WeightsPayload = { hotkey, uids: [0, 3, 7], values: [65535, 1200, 7], versionKey: 4_000_123n };

describe('drand quicknet pulses', () => {
  test('the round-1000 pulse verifies against quicknet, and its randomness is sha256(signature)', () => {
    expect(verifyPulse(round, signature)).toBe(true);
    expect(createHash('sha256').update(signature).digest('hex')).toBe(QUICKNET_ROUND_1000.randomness);
  });

  test('the same signature is not the pulse of another round; a damaged one is not a pulse', () => {
    expect(verifyPulse(round + 1n, signature)).toBe(false);
    const damaged = signature.slice();
    damaged[47] = damaged[47]! ^ 1;
    expect(verifyPulse(round, damaged)).toBe(false);
    expect(verifyPulse(round, signature.subarray(0, 40))).toBe(false);
  });

  test('a signature of another beacon does not verify under quicknet', () => {
    const beacon = testBeacon();
    expect(verifyPulse(round, beacon.sign(round), beacon)).toBe(true);
    expect(verifyPulse(round, beacon.sign(round))).toBe(false);
  });

  test('round at a time: the latest round out by then', () => {
    expect(roundAt(QUICKNET.genesisTime + 3 * 999)).toBe(1000n - 1n);
    expect(roundAt(QUICKNET.genesisTime + 3 * 999 + 2.9)).toBe(999n);
    expect(roundAt(QUICKNET.genesisTime + 3 * 1000)).toBe(1000n);
  });
});

describe('timelock encryption (tle format)', () => {
  test('encrypt to round 1000, decrypt with its quicknet signature: the payload comes back', () => {
    const commit = encryptWeightsPayload(payload, round);
    const plaintext = timelockDecrypt(commit, signature);
    expect(plaintext).toEqual(encodeWeightsPayload(payload));
    expect(decodeWeightsPayload(plaintext)).toEqual(payload);
  });

  test('another round cannot be opened with the round-1000 signature', () => {
    const commit = encryptWeightsPayload(payload, round + 1n);
    expect(() => timelockDecrypt(commit, signature)).toThrow(TimelockError);
  });

  test("another beacon's signature of the same round does not open it", () => {
    const commit = encryptWeightsPayload(payload, round);
    expect(() => timelockDecrypt(commit, testBeacon().sign(round))).toThrow(TimelockError);
  });

  test('a test beacon locks and opens any round (what the in-memory chain relies on)', () => {
    const beacon = testBeacon();
    const commit = encryptWeightsPayload(payload, 123_456n, beacon);
    expect(decodeWeightsPayload(timelockDecrypt(commit, beacon.sign(123_456n)))).toEqual(payload);
    expect(() => timelockDecrypt(commit, beacon.sign(123_457n))).toThrow(TimelockError);
  });

  test('a changed byte in the AES body fails authentication', () => {
    const commit = encryptWeightsPayload(payload, round);
    const tampered = commit.slice();
    tampered[199] = tampered[199]! ^ 0x40; // inside the AES ciphertext, which starts at 96 + 80 + 16
    expect(() => timelockDecrypt(tampered, signature)).toThrow(/does not authenticate/);
  });

  test("layout: U is a G2 point, V and W 32 bytes, body { ciphertext ‖ tag, 12-byte nonce }, 'AES_GCM_'", () => {
    const plaintext = encodeWeightsPayload(payload);
    const commit = encryptWeightsPayload(payload, round);
    // u 96 + (8+32)·2 + body (8 + 8+len+16 + 8+12) + suite 8+8
    expect(commit.length).toBe(96 + 80 + 8 + (8 + plaintext.length + 16 + 8 + 12) + 16);
    const le64 = (at: number): number => Number(new DataView(commit.buffer).getBigUint64(at, true));
    expect(le64(96)).toBe(32);
    expect(le64(96 + 40)).toBe(32);
    expect(le64(96 + 80)).toBe(8 + plaintext.length + 16 + 8 + 12);
    expect(le64(96 + 88)).toBe(plaintext.length + 16);
    expect(le64(96 + 96 + plaintext.length + 16)).toBe(12);
    expect(commit.subarray(commit.length - 16)).toEqual(
      Uint8Array.of(8, 0, 0, 0, 0, 0, 0, 0, ...AES_GCM_SUITE),
    );
    const parsed = parseTimelockCiphertext(commit);
    // zcash compression flag set, point on the curve and in the subgroup.
    expect(parsed.u[0]! & 0x80).toBe(0x80);
    expect(() => {
      bls.G2.Point.fromHex(parsed.u).assertValidity();
    }).not.toThrow();
    expect(parsed.nonce.length).toBe(12);
    expect(serializeCiphertext(parsed)).toEqual(commit);
  });

  test('U, V and W follow FullIdent from the σ, key and nonce drawn', () => {
    const draws = [0x11, 0x22, 0x33].map((fill) => (length: number) => new Uint8Array(length).fill(fill));
    let next = 0;
    const commit = timelockEncrypt(Uint8Array.of(1, 2, 3), round, QUICKNET, (length) =>
      draws[next++]!(length),
    );
    const key = new Uint8Array(32).fill(0x11);
    const sigma = new Uint8Array(32).fill(0x22);
    const sha = (bytes: Uint8Array): Uint8Array =>
      new Uint8Array(createHash('sha256').update(bytes).digest());
    const r =
      BigInt(`0x${Buffer.from(sha(Buffer.concat([sigma, key]))).toString('hex')}`) % bls.fields.Fr.ORDER;
    const parsed = parseTimelockCiphertext(commit);
    expect(parsed.u).toEqual(bls.G2.Point.BASE.multiply(r).toBytes(true));
    expect(parsed.w).toEqual(key.map((byte, i) => byte ^ sha(sigma)[i]!));
    expect(parsed.nonce).toEqual(new Uint8Array(12).fill(0x33));
    expect(timelockDecrypt(commit, signature)).toEqual(Uint8Array.of(1, 2, 3));
  });

  test('truncated, padded or mislabelled ciphertexts are refused with the field named', () => {
    const commit = encryptWeightsPayload(payload, round);
    expect(() => parseTimelockCiphertext(commit.subarray(0, 150))).toThrow(/header\.w/);
    expect(() => parseTimelockCiphertext(Uint8Array.of(...commit, 0))).toThrow(/after its last field/);
    const badV = commit.slice();
    badV[96] = 31;
    expect(() => parseTimelockCiphertext(badV)).toThrow(/header\.v is 31 bytes/);
    const parsed = parseTimelockCiphertext(commit);
    const otherSuite = serializeCiphertext({ ...parsed, cipherSuite: new TextEncoder().encode('CHACHA20') });
    expect(() => timelockDecrypt(otherSuite, signature)).toThrow(/cipher suite/);
  });
});

describe('weights payload', () => {
  const registry = new TypeRegistry();

  test('SCALE bytes equal @polkadot/types for the hotkey form and the legacy form', () => {
    const withHotkey = registry
      .createType('(Vec<u8>, Vec<u16>, Vec<u16>, u64)', [
        u8aToHex(hotkey),
        payload.uids,
        payload.values,
        payload.versionKey,
      ])
      .toU8a();
    expect(encodeWeightsPayload(payload)).toEqual(withHotkey);
    const legacy = registry
      .createType('(Vec<u16>, Vec<u16>, u64)', [payload.uids, payload.values, payload.versionKey])
      .toU8a();
    expect(encodeWeightsPayload({ ...payload, hotkey: undefined })).toEqual(legacy);
    expect(decodeWeightsPayload(legacy)).toEqual({ ...payload, hotkey: undefined });
    expect(decodeLegacyWeightsPayload(legacy)).toEqual({ ...payload, hotkey: undefined });
    expect(decodeLegacyWeightsPayload(withHotkey)).toBeUndefined();
  });

  test('a 256-entry vector fits the 5000-byte commit limit; one too large for it is refused', () => {
    const uids = Array.from({ length: 256 }, (_, i) => i);
    const big = { ...payload, uids, values: uids.map(() => 65535) };
    expect(encryptWeightsPayload(big, round).length).toBeLessThanOrEqual(5000);
    const uids2 = Array.from({ length: 1300 }, (_, i) => i);
    expect(() => encryptWeightsPayload({ ...payload, uids: uids2, values: uids2 }, round)).toThrow(
      /at most 5000/,
    );
  });

  test('uids and values of different lengths are refused', () => {
    expect(() => encodeWeightsPayload({ ...payload, values: [1] })).toThrow(/3 uids but 1 values/);
  });
});

describe('reveal round', () => {
  test('the time of the reveal epoch start + 3 blocks, projected at the block time, rounded down', () => {
    // Block 100 at genesis + 3000 s; the reveal epoch starts at 197, so the target is block 200,
    // 100 blocks of 12 s later: genesis + 4200 s, round 1400.
    const timing = {
      block: 100,
      blockTimestampMs: (QUICKNET.genesisTime + 3000) * 1000,
      blockTimeMs: 12_000,
      revealEpochStartBlock: 197,
    };
    expect(revealRound(timing)).toBe(1400n);
    expect(revealRound({ ...timing, blockTimestampMs: timing.blockTimestampMs + 2999 })).toBe(1400n);
    expect(revealRound({ ...timing, blockTimestampMs: timing.blockTimestampMs + 3000 })).toBe(1401n);
    expect(revealRound({ ...timing, revealEpochStartBlock: 198 })).toBe(1404n);
  });

  test('a reveal block already passed aims at now', () => {
    const timing = {
      block: 500,
      blockTimestampMs: (QUICKNET.genesisTime + 30) * 1000,
      blockTimeMs: 12_000,
      revealEpochStartBlock: 400,
    };
    expect(revealRound(timing)).toBe(10n);
  });
});
