export { LineFramer, type FramerResult, type LineFramerOptions } from './line-framer.js';
export { JsonRpcErrorCode, StratumParseError, SubmitErrorCode, type StratumErrorCode } from './errors.js';
export type * from './messages.js';
export { StratumLimits } from './limits.js';
export { parseMinerMessage, parsePoolMessage, type ParseResult } from './parse.js';
export {
  decodeBooleanResult,
  decodeConfigureResult,
  decodeSubscribeResult,
  type DecodeResult,
} from './results.js';
export {
  encodeConfigureResult,
  encodeSubscribeResult,
  serializeError,
  serializeMinerMessage,
  serializeMinerRequest,
  serializeNotify,
  serializeParseError,
  serializePoolMessage,
  serializePoolRequest,
  serializeRequest,
  serializeResponse,
  serializeResult,
} from './serialize.js';
export {
  bytesToHex,
  decodeHex,
  decodeU32Hex,
  hexProblem,
  hexToBytes,
  hexToU32,
  u32ToHex,
  type HexDecoding,
  type HexLength,
  type U32Decoding,
} from './hex.js';
