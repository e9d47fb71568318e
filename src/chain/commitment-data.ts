import { u8aToHex } from '@polkadot/util';

/** The largest `Raw<N>` variant of the commitments pallet's `Data` (longer text needs `BigRaw`). */
export const MAX_RAW_COMMITMENT_BYTES = 128;

/**
 * The `info` argument of `Commitments.set_commitment` for a text: one `Raw<N>` field holding
 * its UTF-8 bytes (`{ fields: [{ Raw42: '0x…' }] }`, as polkadot-js builds the enum).
 */
export function commitmentInfoForText(text: string): { fields: Record<string, string>[] } {
  const bytes = new TextEncoder().encode(text);
  if (bytes.length > MAX_RAW_COMMITMENT_BYTES) {
    throw new RangeError(
      `commitment text is ${bytes.length} bytes; the chain's Raw fields hold at most ${MAX_RAW_COMMITMENT_BYTES}`,
    );
  }
  return { fields: [{ [`Raw${bytes.length}`]: u8aToHex(bytes) }] };
}

/** One decoded `Data` field: its variant name and, for `Raw<N>` / `BigRaw`, its bytes. */
export interface DataField {
  readonly variant: string;
  readonly bytes: Uint8Array | undefined;
}

/**
 * The text of a commitment's fields: the UTF-8 of its `Raw<N>`/`BigRaw` fields in order. Hash
 * and timelocked fields carry no readable text and are skipped; undefined when none is raw.
 */
export function textOfCommitmentFields(fields: readonly DataField[]): string | undefined {
  const raw = fields.filter((field) => /^(Raw\d+|BigRaw)$/.test(field.variant) && field.bytes !== undefined);
  if (raw.length === 0) return undefined;
  const total = raw.reduce((sum, field) => sum + field.bytes!.length, 0);
  const joined = new Uint8Array(total);
  let offset = 0;
  for (const field of raw) {
    joined.set(field.bytes!, offset);
    offset += field.bytes!.length;
  }
  return new TextDecoder('utf-8', { fatal: false }).decode(joined);
}
