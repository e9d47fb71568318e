import { StratumLimits } from './limits.js';
import { describeValue } from './describe-value.js';
import { JsonRpcErrorCode, StratumParseError, SubmitErrorCode } from './errors.js';
import { FieldReader, isJsonObject, ownProperty } from './field-reader.js';
import type { JsonRpcId, JsonValue, ResponseError, StratumResponse } from './messages.js';

export interface RequestEnvelope {
  readonly id: JsonRpcId;
  readonly method: string;
  /** Undecoded; each method's decoder checks its own shape. */
  readonly params: unknown;
}

export type Envelope =
  | { readonly type: 'request'; readonly request: RequestEnvelope }
  | { readonly type: 'response'; readonly response: StratumResponse };

/**
 * The JSON-RPC layer of a line: valid JSON, one object, a usable id, and either a method (a
 * request or notification) or a result/error (a response).
 */
export function decodeEnvelope(line: string): Envelope {
  let message: unknown;
  try {
    message = JSON.parse(line);
  } catch (error) {
    // V8's message names the offending token and quotes only a short excerpt of the line.
    const reason = error instanceof Error ? error.message : 'unreadable';
    throw new StratumParseError(null, JsonRpcErrorCode.parseError, `line is not valid JSON (${reason})`);
  }
  if (!isJsonObject(message)) {
    throw new StratumParseError(
      null,
      JsonRpcErrorCode.invalidRequest,
      `message must be a JSON object, got ${describeValue(message)}`,
    );
  }
  const id = decodeId(ownProperty(message, 'id'));
  if (Object.hasOwn(message, 'method')) {
    const method = ownProperty(message, 'method');
    if (typeof method !== 'string') {
      throw new StratumParseError(
        id,
        JsonRpcErrorCode.invalidRequest,
        `"method" must be a string, got ${describeValue(method)}`,
      );
    }
    return { type: 'request', request: { id, method, params: ownProperty(message, 'params') } };
  }
  if (Object.hasOwn(message, 'result') || Object.hasOwn(message, 'error')) {
    // JSON.parse builds only JSON values, so the cast states a fact rather than a hope.
    const result = (ownProperty(message, 'result') ?? null) as JsonValue;
    const error = decodeResponseError(id, ownProperty(message, 'error'));
    return { type: 'response', response: { kind: 'response', id, result, error } };
  }
  throw new StratumParseError(
    id,
    JsonRpcErrorCode.invalidRequest,
    'message has neither "method" (a request) nor "result"/"error" (a response)',
  );
}

/** A missing id reads as null (a JSON-RPC 1.0 notification). */
function decodeId(id: unknown): JsonRpcId {
  if (typeof id === 'string' && id.length > StratumLimits.maxIdLength) {
    throw new StratumParseError(
      null,
      JsonRpcErrorCode.invalidRequest,
      `"id" is a string of ${id.length} characters; at most ${StratumLimits.maxIdLength} are accepted`,
    );
  }
  if (id === undefined || id === null || typeof id === 'string') return id ?? null;
  if (typeof id === 'number' && Number.isFinite(id)) return id === 0 ? 0 : id; // -0 → 0
  throw new StratumParseError(
    null,
    JsonRpcErrorCode.invalidRequest,
    `"id" must be a number, a string or null, got ${describeValue(id)}`,
  );
}

/**
 * Stratum sends `[code, message, traceback]`; JSON-RPC 2.0 peers send `{code, message}`; ckpool
 * sends a bare string ("Above target", "Stale"), read as code 20 (other): its words say why.
 */
function decodeResponseError(id: JsonRpcId, error: unknown): ResponseError | null {
  if (error === undefined || error === null) return null;
  if (typeof error === 'string') return { code: SubmitErrorCode.other, message: error };
  const field = new FieldReader(id, 'response "error"', JsonRpcErrorCode.invalidRequest);
  if (Array.isArray(error)) {
    if (error.length < 2)
      throw field.fail(`must be [code, message, traceback], got an array of ${error.length}`);
    return {
      code: field.entry('code').integer(error[0], Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER),
      message: field.entry('message').string(error[1]),
    };
  }
  if (isJsonObject(error)) {
    return {
      code: field
        .entry('code')
        .integer(ownProperty(error, 'code'), Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER),
      message: field.entry('message').string(ownProperty(error, 'message')),
    };
  }
  throw field.fail(
    `must be [code, message, traceback], {code, message} or null, got ${describeValue(error)}`,
  );
}
