import type { Job } from '../work/job.js';
import type { StratumParseError } from './errors.js';
import { bytesToHex, u32ToHex } from './hex.js';
import type {
  ConfigureRequest,
  ConfigureResult,
  JsonObject,
  JsonRpcId,
  JsonValue,
  MinerMessage,
  MinerRequest,
  PoolMessage,
  PoolRequest,
  StratumResponse,
  SubscribeResult,
} from './messages.js';

/** One JSON-RPC request or notification as a line. */
export function serializeRequest(id: JsonRpcId, method: string, params: readonly JsonValue[]): string {
  return `${JSON.stringify({ id, method, params })}\n`;
}

/** A successful reply. */
export function serializeResult(id: JsonRpcId, result: JsonValue): string {
  return `${JSON.stringify({ id, result, error: null })}\n`;
}

/** A refusal, Stratum style: `[code, message, traceback]` with no traceback. */
export function serializeError(id: JsonRpcId, code: number, message: string): string {
  return `${JSON.stringify({ id, result: null, error: [code, message, null] })}\n`;
}

/** The reply to a line that could not be decoded. */
export function serializeParseError(error: StratumParseError): string {
  return serializeError(error.id, error.code, error.message);
}

export function serializeResponse(response: StratumResponse): string {
  if (response.error === null) return serializeResult(response.id, response.result);
  return `${JSON.stringify({
    id: response.id,
    result: response.result,
    error: [response.error.code, response.error.message, null],
  })}\n`;
}

/** Requests a miner sends, or a proxy sends to its pool on a miner's behalf. */
export function serializeMinerRequest(request: MinerRequest): string {
  switch (request.kind) {
    case 'mining.configure':
      return serializeRequest(request.id, request.kind, [[...request.extensions], configureOptions(request)]);
    case 'mining.subscribe':
      return serializeRequest(
        request.id,
        request.kind,
        subscribeParams(request.userAgent, request.sessionId),
      );
    case 'mining.authorize':
      return serializeRequest(request.id, request.kind, [request.username, request.password]);
    case 'mining.suggest_difficulty':
      return serializeRequest(request.id, request.kind, [request.difficulty]);
    case 'mining.extranonce.subscribe':
      return serializeRequest(request.id, request.kind, []);
    case 'mining.submit': {
      const params = [
        request.worker,
        request.jobId,
        bytesToHex(request.extranonce2),
        u32ToHex(request.ntime),
        u32ToHex(request.nonce),
      ];
      if (request.versionBits !== undefined) params.push(u32ToHex(request.versionBits));
      return serializeRequest(request.id, request.kind, params);
    }
    case 'unknown':
      return serializeRequest(request.id, request.method, []);
  }
}

function configureOptions(request: ConfigureRequest): JsonObject {
  const entries: [string, JsonValue][] = [];
  if (request.versionRollingMask !== undefined) {
    entries.push(['version-rolling.mask', u32ToHex(request.versionRollingMask)]);
  }
  if (request.versionRollingMinBitCount !== undefined) {
    entries.push(['version-rolling.min-bit-count', request.versionRollingMinBitCount]);
  }
  if (request.minimumDifficulty !== undefined)
    entries.push(['minimum-difficulty.value', request.minimumDifficulty]);
  for (const [key, value] of request.info) entries.push([`info.${key}`, value]);
  // fromEntries defines own properties, so an `info.__proto__` key stays an ordinary key.
  return Object.fromEntries(entries);
}

function subscribeParams(userAgent: string | undefined, sessionId: string | undefined): JsonValue[] {
  if (sessionId !== undefined) return [userAgent ?? null, sessionId];
  return userAgent === undefined ? [] : [userAgent];
}

/** Notifications and requests a pool sends, or a proxy sends to its miners. */
export function serializePoolRequest(request: PoolRequest): string {
  switch (request.kind) {
    case 'mining.set_difficulty':
      return serializeRequest(request.id, request.kind, [request.difficulty]);
    case 'mining.notify':
      return serializeRequest(request.id, request.kind, notifyParams(request.job));
    case 'mining.set_version_mask':
      return serializeRequest(request.id, request.kind, [u32ToHex(request.mask)]);
    case 'mining.set_extranonce':
      return serializeRequest(request.id, request.kind, [
        bytesToHex(request.extranonce1),
        request.extranonce2Size,
      ]);
    case 'client.reconnect': {
      const { target } = request;
      if (target === undefined) return serializeRequest(request.id, request.kind, []);
      const params: JsonValue[] = [target.host, target.port];
      if (target.waitSeconds !== undefined) params.push(target.waitSeconds);
      return serializeRequest(request.id, request.kind, params);
    }
    case 'client.show_message':
      return serializeRequest(request.id, request.kind, [request.text]);
    case 'client.get_version':
    case 'mining.ping':
      return serializeRequest(request.id, request.kind, []);
    case 'unknown':
      return serializeRequest(request.id, request.method, []);
  }
}

/**
 * `mining.notify` as bytes ready for a socket. A proxy serialises each job once and writes the
 * same buffer to every miner on the session.
 */
export function serializeNotify(job: Job, id: JsonRpcId = null): Buffer {
  return Buffer.from(serializeRequest(id, 'mining.notify', notifyParams(job)), 'utf8');
}

function notifyParams(job: Job): JsonValue[] {
  requireLength(job.prevhash, 32, 'prevhash');
  job.merkleBranch.forEach((branch, index) => {
    requireLength(branch, 32, `merkle branch ${index}`);
  });
  return [
    job.jobId,
    bytesToHex(job.prevhash),
    bytesToHex(job.coinb1),
    bytesToHex(job.coinb2),
    job.merkleBranch.map(bytesToHex),
    u32ToHex(job.version),
    u32ToHex(job.nbits),
    u32ToHex(job.ntime),
    job.cleanJobs,
  ];
}

/** A job with a wrong-sized hash is a bug on our side; better to throw than send it to miners. */
function requireLength(bytes: Uint8Array, length: number, what: string): void {
  if (bytes.length !== length)
    throw new RangeError(`mining.notify ${what} must be ${length} bytes, got ${bytes.length}`);
}

export function serializeMinerMessage(message: MinerMessage): string {
  return message.kind === 'response' ? serializeResponse(message) : serializeMinerRequest(message);
}

export function serializePoolMessage(message: PoolMessage): string {
  return message.kind === 'response' ? serializeResponse(message) : serializePoolRequest(message);
}

/** The result of a `mining.subscribe`, with every subscription pair nested. */
export function encodeSubscribeResult(result: SubscribeResult): JsonValue {
  return [
    result.subscriptions.map(([method, subscriptionId]) => [method, subscriptionId]),
    bytesToHex(result.extranonce1),
    result.extranonce2Size,
  ];
}

/** The result of a `mining.configure`: each extension's answer, then the granted mask. */
export function encodeConfigureResult(result: ConfigureResult): JsonValue {
  const entries: [string, JsonValue][] = [...result.accepted];
  if (result.versionRollingMask !== undefined) {
    entries.push(['version-rolling.mask', u32ToHex(result.versionRollingMask)]);
  }
  return Object.fromEntries(entries);
}
