import { asParseError, type StratumParseError } from './errors.js';
import { decodeEnvelope } from './envelope.js';
import type { MinerMessage, PoolMessage } from './messages.js';
import { decodeMinerRequest } from './miner-requests.js';
import { decodePoolRequest } from './pool-requests.js';

export type ParseResult<M> =
  { readonly ok: true; readonly message: M } | { readonly ok: false; readonly error: StratumParseError };

/** Decodes one line a proxy's downstream receives: a miner's request, or its reply to ours. */
export function parseMinerMessage(line: string): ParseResult<MinerMessage> {
  return guard(() => {
    const envelope = decodeEnvelope(line);
    return envelope.type === 'request' ? decodeMinerRequest(envelope.request) : envelope.response;
  });
}

/** Decodes one line a proxy's upstream receives: a pool's notification or request, or a reply. */
export function parsePoolMessage(line: string): ParseResult<PoolMessage> {
  return guard(() => {
    const envelope = decodeEnvelope(line);
    return envelope.type === 'request' ? decodePoolRequest(envelope.request) : envelope.response;
  });
}

function guard<M>(decode: () => M): ParseResult<M> {
  try {
    return { ok: true, message: decode() };
  } catch (error) {
    return { ok: false, error: asParseError(error) };
  }
}
