import type { JsonRpcId } from './messages.js';

/** Reasons for rejecting a `mining.submit`, in the numbering ckpool, NOMP and most pools share. */
export const SubmitErrorCode = {
  other: 20,
  jobNotFound: 21,
  duplicateShare: 22,
  lowDifficultyShare: 23,
  unauthorizedWorker: 24,
  notSubscribed: 25,
} as const;
export type SubmitErrorCode = (typeof SubmitErrorCode)[keyof typeof SubmitErrorCode];

/** JSON-RPC 2.0 codes, used for requests that are malformed rather than refused. */
export const JsonRpcErrorCode = {
  parseError: -32700,
  invalidRequest: -32600,
  methodNotFound: -32601,
  invalidParams: -32602,
  /** Only reached if a decoder has a bug; the parser still answers instead of throwing. */
  internalError: -32603,
} as const;
export type JsonRpcErrorCode = (typeof JsonRpcErrorCode)[keyof typeof JsonRpcErrorCode];

export type StratumErrorCode = SubmitErrorCode | JsonRpcErrorCode;

/**
 * A line that could not be decoded. `id` is the request's JSON-RPC id when one could be read,
 * so the caller can reply to the right request; `message` names the method, the parameter and
 * what was wrong with it, for the miner's operator.
 */
export class StratumParseError extends Error {
  override readonly name = 'StratumParseError';
  readonly id: JsonRpcId;
  readonly code: JsonRpcErrorCode;

  constructor(id: JsonRpcId, code: JsonRpcErrorCode, message: string) {
    super(message);
    this.id = id;
    this.code = code;
  }
}

/**
 * What a decoder's failure becomes at the edge. Anything but a StratumParseError is a decoder
 * bug; it is still reported as an error value, because one bad line must not take a connection down.
 */
export function asParseError(error: unknown): StratumParseError {
  if (error instanceof StratumParseError) return error;
  const reason = error instanceof Error ? error.message : 'unknown failure';
  return new StratumParseError(
    null,
    JsonRpcErrorCode.internalError,
    `internal error while decoding: ${reason}`,
  );
}
