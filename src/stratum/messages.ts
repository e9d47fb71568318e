import type { Job, ShareSubmission } from '../work/job.js';
import type { Difficulty, JobId, U32 } from '../work/types.js';

/** JSON-RPC ids allowed on the wire; anything else is an invalid request. */
export type JsonRpcId = number | string | null;

export type JsonValue = null | boolean | number | string | readonly JsonValue[] | JsonObject;
export interface JsonObject {
  readonly [key: string]: JsonValue;
}

// ---- miner → proxy (also what a proxy sends to its pool) ----

/** BIP 310 `mining.configure`. */
export interface ConfigureRequest {
  readonly kind: 'mining.configure';
  readonly id: JsonRpcId;
  /** Extension names in the order asked, unknown ones included so each can be answered `false`. */
  readonly extensions: readonly string[];
  readonly versionRollingMask: U32 | undefined;
  readonly versionRollingMinBitCount: number | undefined;
  readonly minimumDifficulty: Difficulty | undefined;
  /** `info.*` parameters without the `info.` prefix (e.g. `hw-version`). */
  readonly info: ReadonlyMap<string, string>;
}

export interface SubscribeRequest {
  readonly kind: 'mining.subscribe';
  readonly id: JsonRpcId;
  readonly userAgent: string | undefined;
  /** The subscription id of an earlier session the miner asks to resume. */
  readonly sessionId: string | undefined;
}

export interface AuthorizeRequest {
  readonly kind: 'mining.authorize';
  readonly id: JsonRpcId;
  readonly username: string;
  /** Empty when the miner sent none or null. */
  readonly password: string;
}

export interface SuggestDifficultyRequest {
  readonly kind: 'mining.suggest_difficulty';
  readonly id: JsonRpcId;
  readonly difficulty: Difficulty;
}

export interface ExtranonceSubscribeRequest {
  readonly kind: 'mining.extranonce.subscribe';
  readonly id: JsonRpcId;
}

export interface SubmitRequest extends ShareSubmission {
  readonly kind: 'mining.submit';
  readonly id: JsonRpcId;
  readonly worker: string;
  readonly jobId: JobId;
}

/** A method this side does not handle; the caller answers "method not found" and carries on. */
export interface UnknownRequest {
  readonly kind: 'unknown';
  readonly id: JsonRpcId;
  readonly method: string;
}

export type MinerRequest =
  | ConfigureRequest
  | SubscribeRequest
  | AuthorizeRequest
  | SuggestDifficultyRequest
  | ExtranonceSubscribeRequest
  | SubmitRequest
  | UnknownRequest;

// ---- pool → proxy (also what a proxy sends to its miners) ----

export interface SetDifficultyNotification {
  readonly kind: 'mining.set_difficulty';
  readonly id: JsonRpcId;
  readonly difficulty: Difficulty;
}

export interface NotifyNotification {
  readonly kind: 'mining.notify';
  readonly id: JsonRpcId;
  readonly job: Job;
}

export interface SetVersionMaskNotification {
  readonly kind: 'mining.set_version_mask';
  readonly id: JsonRpcId;
  readonly mask: U32;
}

export interface SetExtranonceNotification {
  readonly kind: 'mining.set_extranonce';
  readonly id: JsonRpcId;
  readonly extranonce1: Uint8Array;
  readonly extranonce2Size: number;
}

export interface ReconnectTarget {
  readonly host: string;
  readonly port: number;
  readonly waitSeconds: number | undefined;
}

export interface ReconnectNotification {
  readonly kind: 'client.reconnect';
  readonly id: JsonRpcId;
  /** Undefined for a bare `client.reconnect`: reconnect to the same place. */
  readonly target: ReconnectTarget | undefined;
}

export interface ShowMessageNotification {
  readonly kind: 'client.show_message';
  readonly id: JsonRpcId;
  readonly text: string;
}

export interface GetVersionRequest {
  readonly kind: 'client.get_version';
  readonly id: JsonRpcId;
}

export interface PingRequest {
  readonly kind: 'mining.ping';
  readonly id: JsonRpcId;
}

export type PoolRequest =
  | SetDifficultyNotification
  | NotifyNotification
  | SetVersionMaskNotification
  | SetExtranonceNotification
  | ReconnectNotification
  | ShowMessageNotification
  | GetVersionRequest
  | PingRequest
  | UnknownRequest;

// ---- responses, both directions ----

export interface ResponseError {
  readonly code: number;
  readonly message: string;
}

/**
 * A reply to a request. `result` is left undecoded: only the caller knows which request `id`
 * belongs to, and applies the matching decoder (`decodeSubscribeResult` and so on).
 */
export interface StratumResponse {
  readonly kind: 'response';
  readonly id: JsonRpcId;
  readonly result: JsonValue;
  readonly error: ResponseError | null;
}

/** What a proxy's downstream side receives. */
export type MinerMessage = MinerRequest | StratumResponse;
/** What a proxy's upstream side receives. */
export type PoolMessage = PoolRequest | StratumResponse;

// ---- decoded results ----

export interface SubscribeResult {
  /** `[method, subscription id]` pairs; entries of any other shape are dropped. */
  readonly subscriptions: readonly (readonly [string, string])[];
  readonly extranonce1: Uint8Array;
  readonly extranonce2Size: number;
}

export interface ConfigureResult {
  /** Each answered extension and whether it was granted; an error string counts as refused. */
  readonly accepted: ReadonlyMap<string, boolean>;
  readonly versionRollingMask: U32 | undefined;
}
