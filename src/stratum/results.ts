import { describeValue } from './describe-value.js';
import { asParseError, JsonRpcErrorCode, StratumParseError } from './errors.js';
import { FieldReader, ownProperty } from './field-reader.js';
import { StratumLimits } from './limits.js';
import type { ConfigureResult, JsonRpcId, SubscribeResult } from './messages.js';

export type DecodeResult<T> =
  { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: StratumParseError };

/** `[[subscriptions...], extranonce1, extranonce2_size]`. */
export function decodeSubscribeResult(result: unknown, id: JsonRpcId = null): DecodeResult<SubscribeResult> {
  return guard(() => {
    const field = new FieldReader(id, 'mining.subscribe result');
    const items = field.array(result);
    if (items.length !== 3) {
      throw field.fail(
        `must be [subscriptions, extranonce1, extranonce2_size], got an array of ${items.length}`,
      );
    }
    return {
      subscriptions: subscriptionPairs(field.entry('item 0 (subscriptions)').array(items[0])),
      extranonce1: field
        .entry('item 1 (extranonce1)')
        .hex(items[1], { maxBytes: StratumLimits.maxExtranonce1Bytes }),
      extranonce2Size: field
        .entry('item 2 (extranonce2_size)')
        .integer(items[2], 0, StratumLimits.maxExtranonce2Size),
    };
  });
}

/**
 * Pools send `[["mining.set_difficulty", id], ["mining.notify", id]]`, a single flat pair, or
 * other shapes; only the pairs are worth keeping (the notify id can resume a session).
 */
function subscriptionPairs(subscriptions: readonly unknown[]): (readonly [string, string])[] {
  if (isStringPair(subscriptions)) return [subscriptions];
  return subscriptions.filter(isStringPair);
}

function isStringPair(value: unknown): value is readonly [string, string] {
  return (
    Array.isArray(value) && value.length === 2 && typeof value[0] === 'string' && typeof value[1] === 'string'
  );
}

const VERSION_ROLLING = 'version-rolling';
const VERSION_ROLLING_MASK = 'version-rolling.mask';

/** BIP 310: `{"version-rolling": true, "version-rolling.mask": "1fffe000", "minimum-difficulty": true}`. */
export function decodeConfigureResult(result: unknown, id: JsonRpcId = null): DecodeResult<ConfigureResult> {
  return guard(() => {
    const field = new FieldReader(id, 'mining.configure result');
    const answers = field.object(result);
    const accepted = new Map<string, boolean>();
    for (const [key, value] of Object.entries(answers)) {
      // Keys with a dot are parameters of an extension, not answers; an error string is a refusal.
      if (key.includes('.')) continue;
      if (typeof value === 'boolean' || typeof value === 'string') accepted.set(key, value === true);
    }
    const maskField = field.entry(`"${VERSION_ROLLING_MASK}"`);
    const versionRollingMask = maskField.optionalU32Hex(ownProperty(answers, VERSION_ROLLING_MASK));
    if (accepted.get(VERSION_ROLLING) === true && versionRollingMask === undefined) {
      throw maskField.fail('is required when "version-rolling" is true');
    }
    return { accepted, versionRollingMask };
  });
}

/** Replies to `mining.authorize` and `mining.submit`: true, false, or null (read as false). */
export function decodeBooleanResult(result: unknown, id: JsonRpcId = null): DecodeResult<boolean> {
  if (typeof result === 'boolean') return { ok: true, value: result };
  if (result === null) return { ok: true, value: false };
  return {
    ok: false,
    error: new StratumParseError(
      id,
      JsonRpcErrorCode.invalidParams,
      `result must be true, false or null, got ${describeValue(result)}`,
    ),
  };
}

function guard<T>(decode: () => T): DecodeResult<T> {
  try {
    return { ok: true, value: decode() };
  } catch (error) {
    return { ok: false, error: asParseError(error) };
  }
}
