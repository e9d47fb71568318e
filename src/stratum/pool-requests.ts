import type { Job } from '../work/job.js';
import { toJobId } from '../work/types.js';
import type { RequestEnvelope } from './envelope.js';
import { ParamList, paramSignature } from './field-reader.js';
import { StratumLimits } from './limits.js';
import type { JsonRpcId, NotifyNotification, PoolRequest, ReconnectNotification } from './messages.js';

const SET_DIFFICULTY = paramSignature('mining.set_difficulty', ['difficulty']);
const NOTIFY = paramSignature('mining.notify', [
  'job_id',
  'prevhash',
  'coinb1',
  'coinb2',
  'merkle_branch',
  'version',
  'nbits',
  'ntime',
  'clean_jobs',
]);
const SET_VERSION_MASK = paramSignature('mining.set_version_mask', ['mask']);
const SET_EXTRANONCE = paramSignature('mining.set_extranonce', ['extranonce1', 'extranonce2_size']);
const RECONNECT = paramSignature('client.reconnect', ['host?', 'port?', 'wait?']);
const SHOW_MESSAGE = paramSignature('client.show_message', ['message']);
const GET_VERSION = paramSignature('client.get_version', []);
const PING = paramSignature('mining.ping', []);

/** Decodes a notification or request a pool sends; methods a proxy does not serve become `unknown`. */
export function decodePoolRequest({ id, method, params }: RequestEnvelope): PoolRequest {
  switch (method) {
    case 'mining.set_difficulty': {
      const list = ParamList.of(SET_DIFFICULTY, id, params);
      return { kind: 'mining.set_difficulty', id, difficulty: list.difficulty(0) };
    }
    case 'mining.notify':
      return decodeNotify(id, params);
    case 'mining.set_version_mask': {
      const list = ParamList.of(SET_VERSION_MASK, id, params);
      return { kind: 'mining.set_version_mask', id, mask: list.u32Hex(0) };
    }
    case 'mining.set_extranonce': {
      const list = ParamList.of(SET_EXTRANONCE, id, params);
      return {
        kind: 'mining.set_extranonce',
        id,
        extranonce1: list.hex(0, { maxBytes: StratumLimits.maxExtranonce1Bytes }),
        extranonce2Size: list.integer(1, 0, StratumLimits.maxExtranonce2Size),
      };
    }
    case 'client.reconnect':
      return decodeReconnect(id, params);
    case 'client.show_message': {
      const list = ParamList.of(SHOW_MESSAGE, id, params);
      return { kind: 'client.show_message', id, text: list.string(0) };
    }
    case 'client.get_version':
      ParamList.of(GET_VERSION, id, params);
      return { kind: 'client.get_version', id };
    case 'mining.ping':
      ParamList.of(PING, id, params);
      return { kind: 'mining.ping', id };
    default:
      return { kind: 'unknown', id, method };
  }
}

function decodeNotify(id: JsonRpcId, params: unknown): NotifyNotification {
  const list = ParamList.of(NOTIFY, id, params);
  const coinbasePart = { maxBytes: StratumLimits.maxCoinbasePartBytes };
  const job: Job = {
    jobId: toJobId(list.nonEmptyString(0)),
    prevhash: list.hex(1, { bytes: 32 }),
    coinb1: list.hex(2, coinbasePart),
    coinb2: list.hex(3, coinbasePart),
    merkleBranch: decodeMerkleBranch(list),
    version: list.u32Hex(5),
    nbits: list.u32Hex(6),
    ntime: list.u32Hex(7),
    cleanJobs: list.boolean(8),
  };
  return { kind: 'mining.notify', id, job };
}

function decodeMerkleBranch(list: ParamList): Uint8Array[] {
  const field = list.field(4);
  const branches = list.array(4);
  if (branches.length > StratumLimits.maxMerkleBranches) {
    throw field.fail(`must have at most ${StratumLimits.maxMerkleBranches} entries, got ${branches.length}`);
  }
  return branches.map((branch, index) => field.entry(`entry ${index}`).hex(branch, { bytes: 32 }));
}

const MAX_WAIT_SECONDS = 0x7fffffff;

function decodeReconnect(id: JsonRpcId, params: unknown): ReconnectNotification {
  const list = ParamList.of(RECONNECT, id, params);
  if (list.length === 0) return { kind: 'client.reconnect', id, target: undefined };
  if (list.length === 1) throw list.field(1).fail('is required when a host is given');
  const host = list.nonEmptyString(0);
  if (host.length > StratumLimits.maxHostLength) {
    throw list.field(0).fail(`must be at most ${StratumLimits.maxHostLength} characters, got ${host.length}`);
  }
  const wait = list.field(2);
  return {
    kind: 'client.reconnect',
    id,
    target: {
      host,
      port: list.field(1).integerOrNumericString(list.value(1), 1, 65535),
      waitSeconds: wait.optional(list.value(2), (value) =>
        wait.integerOrNumericString(value, 0, MAX_WAIT_SECONDS),
      ),
    },
  };
}
