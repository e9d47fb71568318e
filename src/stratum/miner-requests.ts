import { toJobId } from '../work/types.js';
import type { RequestEnvelope } from './envelope.js';
import { ownProperty, ParamList, paramSignature } from './field-reader.js';
import { StratumLimits } from './limits.js';
import type {
  AuthorizeRequest,
  ConfigureRequest,
  JsonRpcId,
  MinerRequest,
  SubmitRequest,
  SubscribeRequest,
  SuggestDifficultyRequest,
} from './messages.js';

const CONFIGURE = paramSignature('mining.configure', ['extensions', 'extension_params?']);
// Host and port (params 2 and 3, sent by some cgminer forks) are hints nobody acts on: ignored.
const SUBSCRIBE = paramSignature('mining.subscribe', ['user_agent?', 'session_id?', 'host?', 'port?']);
const AUTHORIZE = paramSignature('mining.authorize', ['username', 'password?']);
const SUGGEST_DIFFICULTY = paramSignature('mining.suggest_difficulty', ['difficulty']);
const EXTRANONCE_SUBSCRIBE = paramSignature('mining.extranonce.subscribe', []);
const SUBMIT = paramSignature('mining.submit', [
  'worker',
  'job_id',
  'extranonce2',
  'ntime',
  'nonce',
  'version_bits?',
]);

/** Decodes a request a miner sends; methods a proxy does not serve become `unknown`. */
export function decodeMinerRequest({ id, method, params }: RequestEnvelope): MinerRequest {
  switch (method) {
    case 'mining.configure':
      return decodeConfigure(id, params);
    case 'mining.subscribe':
      return decodeSubscribe(id, params);
    case 'mining.authorize':
      return decodeAuthorize(id, params);
    case 'mining.suggest_difficulty':
      return decodeSuggestDifficulty(id, params);
    case 'mining.extranonce.subscribe':
      ParamList.of(EXTRANONCE_SUBSCRIBE, id, params);
      return { kind: 'mining.extranonce.subscribe', id };
    case 'mining.submit':
      return decodeSubmit(id, params);
    default:
      return { kind: 'unknown', id, method };
  }
}

const VERSION_ROLLING_MASK = 'version-rolling.mask';
const VERSION_ROLLING_MIN_BIT_COUNT = 'version-rolling.min-bit-count';
const MINIMUM_DIFFICULTY_VALUE = 'minimum-difficulty.value';
const INFO_PREFIX = 'info.';

function decodeConfigure(id: JsonRpcId, params: unknown): ConfigureRequest {
  const list = ParamList.of(CONFIGURE, id, params);
  const extensionsField = list.field(0);
  const extensions = list.array(0).map((name, index) => extensionsField.entry(`entry ${index}`).string(name));
  const rawOptions = list.value(1);
  const options = rawOptions === undefined || rawOptions === null ? {} : list.field(1).object(rawOptions);

  const info = new Map<string, string>();
  for (const [key, value] of Object.entries(options)) {
    // info.* is only shown to operators; a non-string value is dropped rather than refused.
    if (key.startsWith(INFO_PREFIX) && typeof value === 'string')
      info.set(key.slice(INFO_PREFIX.length), value);
  }
  const mask = list.field(1, VERSION_ROLLING_MASK);
  const minBitCount = list.field(1, VERSION_ROLLING_MIN_BIT_COUNT);
  const minimumDifficulty = list.field(1, MINIMUM_DIFFICULTY_VALUE);
  return {
    kind: 'mining.configure',
    id,
    extensions,
    versionRollingMask: mask.optionalU32Hex(ownProperty(options, VERSION_ROLLING_MASK)),
    versionRollingMinBitCount: minBitCount.optional(
      ownProperty(options, VERSION_ROLLING_MIN_BIT_COUNT),
      (value) => minBitCount.integer(value, 0, 32),
    ),
    minimumDifficulty: minimumDifficulty.optional(ownProperty(options, MINIMUM_DIFFICULTY_VALUE), (value) =>
      minimumDifficulty.difficulty(value),
    ),
    info,
  };
}

function decodeSubscribe(id: JsonRpcId, params: unknown): SubscribeRequest {
  const list = ParamList.of(SUBSCRIBE, id, params);
  return {
    kind: 'mining.subscribe',
    id,
    userAgent: list.optionalString(0),
    sessionId: list.optionalString(1),
  };
}

function decodeAuthorize(id: JsonRpcId, params: unknown): AuthorizeRequest {
  const list = ParamList.of(AUTHORIZE, id, params);
  return {
    kind: 'mining.authorize',
    id,
    username: list.nonEmptyString(0),
    password: list.optionalString(1) ?? '',
  };
}

function decodeSuggestDifficulty(id: JsonRpcId, params: unknown): SuggestDifficultyRequest {
  // Some miners send the bare number instead of a one-element list.
  const list = ParamList.of(SUGGEST_DIFFICULTY, id, typeof params === 'number' ? [params] : params);
  return { kind: 'mining.suggest_difficulty', id, difficulty: list.difficulty(0) };
}

function decodeSubmit(id: JsonRpcId, params: unknown): SubmitRequest {
  const list = ParamList.of(SUBMIT, id, params);
  return {
    kind: 'mining.submit',
    id,
    worker: list.string(0),
    jobId: toJobId(list.nonEmptyString(1)),
    extranonce2: list.hex(2, { minBytes: 1, maxBytes: StratumLimits.maxSubmitExtranonce2Bytes }),
    ntime: list.u32Hex(3),
    nonce: list.u32Hex(4),
    versionBits: list.optionalU32Hex(5),
  };
}
