import { Keyring } from '@polkadot/keyring';
import { compactToU8a, u8aToHex } from '@polkadot/util';
import { blake2AsU8a, cryptoWaitReady } from '@polkadot/util-crypto';
import fc from 'fast-check';
import { beforeAll, describe, expect, test } from 'vitest';
import { commitHash, encodeCommitPreimage, encodeCompact, randomSalt } from '../src/chain/commit-hash.js';
import type { Hotkey } from '../src/chain/hotkey.js';

let alice: Hotkey;
let alicePublicKey: Uint8Array;
beforeAll(async () => {
  await cryptoWaitReady();
  const pair = new Keyring({ type: 'sr25519', ss58Format: 42 }).addFromUri('//Alice');
  alice = pair.address as Hotkey;
  alicePublicKey = pair.publicKey;
});

/** The tuple's SCALE bytes built a second way: plain byte arrays, lengths from compactToU8a. */
function expectedPreimage(
  account: Uint8Array,
  netuid: number,
  uids: number[],
  values: number[],
  salt: number[],
  versionKey: bigint,
): Uint8Array {
  const le16 = (x: number): number[] => [x & 0xff, x >> 8];
  const vec = (xs: number[]): number[] => [...compactToU8a(xs.length), ...xs.flatMap(le16)];
  const le64: number[] = [];
  for (let i = 0n; i < 8n; i++) le64.push(Number((versionKey >> (8n * i)) & 0xffn));
  return Uint8Array.from([...account, ...le16(netuid), ...vec(uids), ...vec(values), ...vec(salt), ...le64]);
}

describe('commit hash', () => {
  test('known answers agree with two independent encoders', () => {
    // Derived once, two ways, which agreed: (1) @polkadot/types 16.5.6
    // `createType('(AccountId32, u16, Vec<u16>, Vec<u16>, Vec<u16>, u64)', …)` + blake2AsHex(…, 256);
    // (2) Python: struct.pack of the same fields after Alice's public key, then
    // hashlib.blake2b(data, digest_size=32), the SDK's generate_weight_hash route.
    const preimage = encodeCommitPreimage(
      alice,
      7,
      [0, 3, 65535],
      [65535, 32768, 1],
      [1, 2, 3, 4, 5, 6, 7, 8],
      0x0102030405060708n,
    );
    expect(u8aToHex(preimage)).toBe(
      '0xd43593c715fdd31c61141abd04a99fd6822c8558854ccde39a5684e7a56da27d' +
        '0700' +
        '0c' +
        '00000300ffff' +
        '0c' +
        'ffff00800100' +
        '20' +
        '01000200030004000500060007000800' +
        '0807060504030201',
    );
    expect(
      u8aToHex(
        commitHash(alice, 7, [0, 3, 65535], [65535, 32768, 1], [1, 2, 3, 4, 5, 6, 7, 8], 0x0102030405060708n),
      ),
    ).toBe('0xf2148db154164ddf03b66669fcce9b9e1c859790846a61cef0cfd386f3371bd4');
    // 70 entries: the length prefix takes the two-byte compact form.
    const uids = Array.from({ length: 70 }, (_, i) => i);
    const values = uids.map((i) => (i * 937) % 65536);
    expect(u8aToHex(commitHash(alice, 65535, uids, values, [], 0n))).toBe(
      '0x18a992f1ccc615214590dd3a0695cca7eb940f44f93fe9e786f8c564c9883084',
    );
  });

  test('any vector encodes to the independently built bytes', () => {
    const u16 = fc.integer({ min: 0, max: 0xffff });
    fc.assert(
      fc.property(
        u16,
        fc.array(u16, { maxLength: 300 }),
        fc.array(u16, { maxLength: 80 }),
        fc.array(u16, { maxLength: 20 }),
        fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
        (netuid, uids, values, salt, versionKey) => {
          const preimage = encodeCommitPreimage(alice, netuid, uids, values, salt, versionKey);
          const expected = expectedPreimage(alicePublicKey, netuid, uids, values, salt, versionKey);
          expect(preimage).toEqual(expected);
          expect(commitHash(alice, netuid, uids, values, salt, versionKey)).toEqual(
            blake2AsU8a(expected, 256),
          );
        },
      ),
    );
  });

  test('compact integers match @polkadot/util in every width', () => {
    for (const value of [0, 1, 63, 64, 16383, 16384, 2 ** 30 - 1, 2 ** 30, 2 ** 32, 2 ** 53 - 1]) {
      expect(encodeCompact(value), String(value)).toEqual(compactToU8a(value));
    }
    fc.assert(
      fc.property(fc.nat({ max: Number.MAX_SAFE_INTEGER }), (value) => {
        expect(encodeCompact(value)).toEqual(compactToU8a(value));
      }),
    );
  });

  test('every field changes the hash', () => {
    const base = [alice, 1, [1, 2], [3, 4], [5, 6], 1n] as const;
    const hash = u8aToHex(commitHash(...base));
    const bob = new Keyring({ type: 'sr25519', ss58Format: 42 }).addFromUri('//Bob').address as Hotkey;
    const variants = [
      commitHash(bob, 1, [1, 2], [3, 4], [5, 6], 1n),
      commitHash(alice, 2, [1, 2], [3, 4], [5, 6], 1n),
      commitHash(alice, 1, [2, 1], [3, 4], [5, 6], 1n),
      commitHash(alice, 1, [1, 2], [3, 5], [5, 6], 1n),
      commitHash(alice, 1, [1, 2], [3, 4], [5, 6, 0], 1n),
      commitHash(alice, 1, [1, 2], [3, 4], [5, 6], 2n),
    ].map((h) => u8aToHex(h));
    expect(new Set([hash, ...variants]).size).toBe(7);
  });

  test('rejects what cannot be encoded, naming the argument', () => {
    expect(() => commitHash('not-an-address' as Hotkey, 1, [], [], [], 0n)).toThrow(
      /hotkey 'not-an-address'/,
    );
    expect(() => commitHash(alice, 65536, [], [], [], 0n)).toThrow(/netuid = 65536 is not a u16/);
    expect(() => commitHash(alice, 1, [1, -1], [1, 1], [], 0n)).toThrow(/uids\[1\] = -1/);
    expect(() => commitHash(alice, 1, [1], [1.5], [], 0n)).toThrow(/values\[0\] = 1.5/);
    expect(() => commitHash(alice, 1, [], [], [70000], 0n)).toThrow(/salt\[0\] = 70000/);
    expect(() => commitHash(alice, 1, [], [], [], 2n ** 64n)).toThrow(/not a u64/);
    expect(() => commitHash(alice, 1, [], [], [], -1n)).toThrow(/not a u64/);
  });

  test('random salts are u16s of the asked length and differ between calls', () => {
    const salts = Array.from({ length: 4 }, () => randomSalt());
    for (const salt of salts) {
      expect(salt).toHaveLength(8);
      for (const value of salt) expect(Number.isInteger(value) && value >= 0 && value <= 0xffff).toBe(true);
    }
    // Four equal 128-bit salts from a CSPRNG would mean it is broken.
    expect(new Set(salts.map((s) => s.join(','))).size).toBe(4);
    expect(randomSalt(0)).toEqual([]);
    expect(randomSalt(32)).toHaveLength(32);
    expect(() => randomSalt(-1)).toThrow(/not a count/);
  });
});
