import type { Uid, WeightsVector } from './chain.js';
import { encodeCompact, encodeVecU16, u64le } from './commit-hash.js';
import { QUICKNET, roundAt, timelockEncrypt, type DrandBeacon } from './timelock.js';

/**
 * The weights a drand-timelocked commit carries (CHAIN.md, "Drand-timelocked commits"), and the
 * drand round it is locked to. subtensor decrypts the commit itself once that round's pulse is on
 * chain, decodes this payload and sets the weights as the committing hotkey.
 */

/** The largest commit `commit_timelocked_weights` takes (`MAX_CRV3_COMMIT_SIZE_BYTES`). */
export const MAX_TIMELOCKED_COMMIT_BYTES = 5000;
/**
 * Blocks into the reveal epoch the pulse is aimed at (the Python SDK's `SECURITY_BLOCK_OFFSET`):
 * the pulse must be on chain while the reveal epoch runs, and it reaches the chain a little late.
 */
export const REVEAL_MARGIN_BLOCKS = 3;

export interface WeightsPayload extends WeightsVector {
  /**
   * The committing hotkey's 32-byte public key; the runtime reveals only if it is the signer.
   * Absent: the legacy payload (`{ uids, values, version_key }`), the only one older runtimes with
   * just `commit_crv3_weights` decode.
   */
  readonly hotkey: Uint8Array | undefined;
}

/** SCALE `WeightsTlockPayload { hotkey: Vec<u8>, uids: Vec<u16>, values: Vec<u16>, version_key: u64 }`. */
export function encodeWeightsPayload(payload: WeightsPayload): Uint8Array {
  if (payload.uids.length !== payload.values.length) {
    throw new RangeError(`${payload.uids.length} uids but ${payload.values.length} values`);
  }
  if (payload.versionKey < 0n || payload.versionKey >= 2n ** 64n) {
    throw new RangeError(`versionKey ${payload.versionKey} is not a u64`);
  }
  const parts: Uint8Array[] = [];
  if (payload.hotkey !== undefined) {
    if (payload.hotkey.length !== 32) {
      throw new RangeError(`hotkey is ${payload.hotkey.length} bytes; an AccountId32 is 32`);
    }
    parts.push(encodeCompact(32), payload.hotkey);
  }
  parts.push(
    encodeVecU16('uids', payload.uids),
    encodeVecU16('values', payload.values),
    u64le(payload.versionKey),
  );
  return new Uint8Array(Buffer.concat(parts));
}

/**
 * The legacy payload alone, every byte of it: what a runtime from before the hotkey field
 * (spec 293's `commit_crv3_weights`) can read. Undefined: not exactly that.
 */
export function decodeLegacyWeightsPayload(bytes: Uint8Array): WeightsPayload | undefined {
  return readPayload(bytes, false, true);
}

/**
 * Reads a payload the way the runtime does: the form with the hotkey first, then the legacy
 * form (also when the hotkey field does not hold a 32-byte account). Undefined: neither fits.
 */
export function decodeWeightsPayload(bytes: Uint8Array): WeightsPayload | undefined {
  const withHotkey = readPayload(bytes, true);
  if (withHotkey?.hotkey !== undefined && withHotkey.hotkey.length >= 32) {
    return { ...withHotkey, hotkey: withHotkey.hotkey.slice(0, 32) };
  }
  return readPayload(bytes, false);
}

/** Encrypts the payload to `round` of the beacon; what `commit_timelocked_weights` carries. */
export function encryptWeightsPayload(
  payload: WeightsPayload,
  round: bigint,
  beacon: DrandBeacon = QUICKNET,
): Uint8Array {
  const commit = timelockEncrypt(encodeWeightsPayload(payload), round, beacon);
  if (commit.length > MAX_TIMELOCKED_COMMIT_BYTES) {
    throw new RangeError(
      `the timelocked commit is ${commit.length} bytes; the chain takes at most ${MAX_TIMELOCKED_COMMIT_BYTES} (${payload.uids.length} weights)`,
    );
  }
  return commit;
}

export interface RevealTiming {
  /** The best block and its timestamp (`Timestamp.Now`, ms). */
  readonly block: number;
  readonly blockTimestampMs: number;
  /** Milliseconds per block (the chain's slot duration). */
  readonly blockTimeMs: number;
  /** The first block of the epoch the commit is revealed in, from the chain's epoch schedule. */
  readonly revealEpochStartBlock: number;
}

/**
 * The round whose pulse should open the commit: the time of the reveal epoch's first block plus
 * `REVEAL_MARGIN_BLOCKS`, projected from the best block at the chain's block time, rounded down
 * so the pulse is out by then (the Python SDK's `generate_commit`, on the chain's clock).
 */
export function revealRound(timing: RevealTiming, beacon: DrandBeacon = QUICKNET): bigint {
  const target = timing.revealEpochStartBlock + REVEAL_MARGIN_BLOCKS;
  const ahead = Math.max(target - timing.block, 0);
  return roundAt((timing.blockTimestampMs + ahead * timing.blockTimeMs) / 1000, beacon);
}

function readPayload(bytes: Uint8Array, withHotkey: boolean, whole = false): WeightsPayload | undefined {
  const reader = new ScaleReader(bytes);
  try {
    const hotkey = withHotkey ? reader.bytes(reader.compact()) : undefined;
    const uids: Uid[] = reader.u16s(reader.compact());
    const values = reader.u16s(reader.compact());
    const versionKey = reader.u64();
    if (whole && !reader.atEnd()) return undefined;
    return { hotkey, uids, values, versionKey };
  } catch {
    return undefined;
  }
}

/** Just enough SCALE decoding for the payload; throws past the end. */
class ScaleReader {
  #offset = 0;
  readonly #view: DataView;
  constructor(private readonly data: Uint8Array) {
    this.#view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  }

  compact(): number {
    const first = this.#byte();
    switch (first & 0b11) {
      case 0b00:
        return first >> 2;
      case 0b01:
        return (first | (this.#byte() << 8)) >> 2;
      case 0b10: {
        this.#need(3);
        const value = this.#view.getUint32(this.#offset - 1, true) >>> 2;
        this.#offset += 3;
        return value;
      }
      default:
        // Big-integer mode: lengths this large cannot fit in a 5000-byte commit anyway.
        throw new RangeError('compact length out of range');
    }
  }

  bytes(length: number): Uint8Array {
    this.#need(length);
    const out = this.data.slice(this.#offset, this.#offset + length);
    this.#offset += length;
    return out;
  }

  u16s(count: number): number[] {
    this.#need(count * 2);
    const out: number[] = [];
    for (let i = 0; i < count; i++) out.push(this.#view.getUint16(this.#offset + i * 2, true));
    this.#offset += count * 2;
    return out;
  }

  u64(): bigint {
    this.#need(8);
    const value = this.#view.getBigUint64(this.#offset, true);
    this.#offset += 8;
    return value;
  }

  atEnd(): boolean {
    return this.#offset === this.data.length;
  }

  #byte(): number {
    this.#need(1);
    return this.data[this.#offset++]!;
  }

  #need(length: number): void {
    if (this.#offset + length > this.data.length) throw new RangeError('payload ends early');
  }
}
