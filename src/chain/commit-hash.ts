import { randomFillSync } from 'node:crypto';
import { blake2AsU8a, decodeAddress } from '@polkadot/util-crypto';
import type { NetUid, Uid } from './chain.js';
import type { Hotkey } from './hotkey.js';

/**
 * The hash a validator commits before revealing its weights (commit-reveal "v2"): blake2b-256
 * of the SCALE encoding of `(AccountId32 hotkey, u16 netuid, Vec<u16> uids, Vec<u16> values,
 * Vec<u16> salt, u64 version_key)`, as subtensor's `get_commit_hash` (`BlakeTwo256::hash_of`)
 * and the Python SDK's `generate_weight_hash` compute it. Encoded by hand so the validator does
 * not need a type registry for it.
 */
export function commitHash(
  hotkey: Hotkey,
  netuid: NetUid,
  uids: readonly Uid[],
  values: readonly number[],
  salt: readonly number[],
  versionKey: bigint,
): Uint8Array {
  return blake2AsU8a(encodeCommitPreimage(hotkey, netuid, uids, values, salt, versionKey), 256);
}

/** The SCALE bytes `commitHash` hashes (exported for tests and for debugging a mismatch). */
export function encodeCommitPreimage(
  hotkey: Hotkey,
  netuid: NetUid,
  uids: readonly Uid[],
  values: readonly number[],
  salt: readonly number[],
  versionKey: bigint,
): Uint8Array {
  let account: Uint8Array;
  try {
    account = decodeAddress(hotkey);
  } catch (error) {
    throw new RangeError(`hotkey '${hotkey}' is not an SS58 address: ${(error as Error).message}`);
  }
  if (account.length !== 32) {
    throw new RangeError(`hotkey '${hotkey}' decodes to ${account.length} bytes, an AccountId32 needs 32`);
  }
  checkU16('netuid', netuid);
  if (versionKey < 0n || versionKey > 0xffff_ffff_ffff_ffffn) {
    throw new RangeError(`versionKey ${versionKey} is not a u64`);
  }
  const parts = [
    account,
    u16le(netuid),
    encodeVecU16('uids', uids),
    encodeVecU16('values', values),
    encodeVecU16('salt', salt),
    u64le(versionKey),
  ];
  const out = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

/** A fresh salt for one commit: `length` u16s from the OS's CSPRNG. */
export function randomSalt(length = 8): number[] {
  if (!Number.isInteger(length) || length < 0) throw new RangeError(`salt length ${length} is not a count`);
  return Array.from(randomFillSync(new Uint16Array(length)));
}

/** SCALE `Compact<u>` for a non-negative safe integer (the length prefix of a `Vec`). */
export function encodeCompact(value: number): Uint8Array {
  if (!Number.isSafeInteger(value) || value < 0) throw new RangeError(`${value} is not a compact integer`);
  if (value < 1 << 6) return Uint8Array.of(value << 2);
  if (value < 1 << 14) return Uint8Array.of(((value << 2) | 0b01) & 0xff, value >> 6);
  if (value < 2 ** 30) {
    const out = new Uint8Array(4);
    new DataView(out.buffer).setUint32(0, ((value * 4) | 0b10) >>> 0, true);
    return out;
  }
  // Big-integer mode: a prefix byte with (byte count − 4), then the little-endian bytes.
  const bytes: number[] = [];
  for (let rest = BigInt(value); rest > 0n; rest >>= 8n) bytes.push(Number(rest & 0xffn));
  return Uint8Array.of(((bytes.length - 4) << 2) | 0b11, ...bytes);
}

/** SCALE `Vec<u16>`: a compact length, then each item little-endian (checked to be a u16). */
export function encodeVecU16(name: string, items: readonly number[]): Uint8Array {
  const prefix = encodeCompact(items.length);
  const out = new Uint8Array(prefix.length + items.length * 2);
  out.set(prefix, 0);
  const view = new DataView(out.buffer);
  items.forEach((item, i) => {
    checkU16(`${name}[${i}]`, item);
    view.setUint16(prefix.length + i * 2, item, true);
  });
  return out;
}

function u16le(value: number): Uint8Array {
  const out = new Uint8Array(2);
  new DataView(out.buffer).setUint16(0, value, true);
  return out;
}

/** SCALE `u64`: eight bytes little-endian. */
export function u64le(value: bigint): Uint8Array {
  const out = new Uint8Array(8);
  new DataView(out.buffer).setBigUint64(0, value, true);
  return out;
}

function checkU16(name: string, value: number): void {
  if (!Number.isInteger(value) || value < 0 || value > 0xffff)
    throw new RangeError(`${name} = ${value} is not a u16`);
}
