import { readFileSync } from 'node:fs';
import { describeValue } from '../src/stratum/describe-value.js';
import { parseMinerMessage, parsePoolMessage } from '../src/stratum/parse.js';
import { decodeHex, decodeU32Hex } from '../src/stratum/hex.js';
import type { Job, ShareSubmission } from '../src/work/job.js';
import { BIP320_VERSION_MASK } from '../src/work/version-rolling.js';
import { toDifficulty, type Difficulty, type U32 } from '../src/work/types.js';

/**
 * The operator's share file (the shape of examples/share-block-100000.json): a job as
 * notified, the extranonce in force, a submit, and optionally the negotiated version mask and
 * the assigned difficulty. Fields are validated by the same Stratum edge the proxy uses.
 */
export interface ShareFile {
  readonly job: Job;
  readonly extranonce1: Uint8Array;
  readonly extranonce2Size: number;
  readonly submission: ShareSubmission;
  readonly versionMask: U32;
  readonly assignedDifficulty: Difficulty;
}

/** Assigned difficulty when the file names none: difficulty 1, the conventional share floor. */
export const DEFAULT_ASSIGNED_DIFFICULTY = 1;

export class ShareFileError extends Error {}

type JsonRecord = Readonly<Record<string, unknown>>;

function isRecord(value: unknown): value is JsonRecord {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function field(record: JsonRecord, key: string, where: string): unknown {
  if (!Object.hasOwn(record, key)) throw new ShareFileError(`${where}: missing field "${key}"`);
  return record[key];
}

export function readShareFile(path: string): ShareFile {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new ShareFileError(`cannot read ${path}: ${(error as Error).message}`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new ShareFileError(`${path} is not valid JSON: ${(error as Error).message}`);
  }
  return decodeShareFile(parsed);
}

export function decodeShareFile(parsed: unknown): ShareFile {
  if (!isRecord(parsed)) throw new ShareFileError('the file must hold a JSON object');

  const notify = field(parsed, 'notify', 'file');
  if (!isRecord(notify)) throw new ShareFileError('notify: must be an object');
  const notifyParams = [
    field(notify, 'job_id', 'notify'),
    field(notify, 'prevhash', 'notify'),
    field(notify, 'coinb1', 'notify'),
    field(notify, 'coinb2', 'notify'),
    field(notify, 'merkle_branch', 'notify'),
    field(notify, 'version', 'notify'),
    field(notify, 'nbits', 'notify'),
    field(notify, 'ntime', 'notify'),
    Object.hasOwn(notify, 'clean_jobs') ? notify.clean_jobs : true,
  ];
  const notifyParsed = parsePoolMessage(
    JSON.stringify({ id: null, method: 'mining.notify', params: notifyParams }),
  );
  if (!notifyParsed.ok) throw new ShareFileError(`notify: ${notifyParsed.error.message}`);
  if (notifyParsed.message.kind !== 'mining.notify') throw new ShareFileError('notify: not a job');
  const job = notifyParsed.message.job;

  const extranonce1Field = field(parsed, 'extranonce1', 'file');
  if (typeof extranonce1Field !== 'string') throw new ShareFileError('extranonce1: must be a hex string');
  const extranonce1 = decodeHex(extranonce1Field, { maxBytes: 32 });
  if (!extranonce1.ok) throw new ShareFileError(`extranonce1: ${extranonce1.problem}`);

  const extranonce2Size = field(parsed, 'extranonce2_size', 'file');
  if (
    typeof extranonce2Size !== 'number' ||
    !Number.isInteger(extranonce2Size) ||
    extranonce2Size < 1 ||
    extranonce2Size > 32
  ) {
    throw new ShareFileError(
      `extranonce2_size: must be an integer from 1 to 32, got ${describeValue(extranonce2Size)}`,
    );
  }

  const submit = field(parsed, 'submit', 'file');
  if (!isRecord(submit)) throw new ShareFileError('submit: must be an object');
  const versionBits = Object.hasOwn(submit, 'version_bits') ? submit.version_bits : null;
  const submitParams = [
    'file',
    notify.job_id,
    field(submit, 'extranonce2', 'submit'),
    field(submit, 'ntime', 'submit'),
    field(submit, 'nonce', 'submit'),
    ...(versionBits === null ? [] : [versionBits]),
  ];
  const submitParsed = parseMinerMessage(
    JSON.stringify({ id: null, method: 'mining.submit', params: submitParams }),
  );
  if (!submitParsed.ok) throw new ShareFileError(`submit: ${submitParsed.error.message}`);
  if (submitParsed.message.kind !== 'mining.submit') throw new ShareFileError('submit: not a share');
  const submission = submitParsed.message;

  // Without a negotiated mask, a rolled share is judged against the BIP 320 mask every pool offers.
  let versionMask: U32 = submission.versionBits === undefined ? 0 : BIP320_VERSION_MASK;
  if (Object.hasOwn(parsed, 'version_mask') && parsed.version_mask !== null) {
    const mask = parsed.version_mask;
    if (typeof mask !== 'string') throw new ShareFileError('version_mask: must be 8 hex characters');
    const decoded = decodeU32Hex(mask);
    if (!decoded.ok) throw new ShareFileError(`version_mask: ${decoded.problem}`);
    versionMask = decoded.value;
  }

  let assignedDifficulty = toDifficulty(DEFAULT_ASSIGNED_DIFFICULTY);
  if (Object.hasOwn(parsed, 'assigned_difficulty') && parsed.assigned_difficulty !== null) {
    const difficulty = parsed.assigned_difficulty;
    if (typeof difficulty !== 'number' || !Number.isFinite(difficulty) || difficulty <= 0) {
      throw new ShareFileError(
        `assigned_difficulty: must be a positive number, got ${describeValue(difficulty)}`,
      );
    }
    assignedDifficulty = toDifficulty(difficulty);
  }

  return {
    job,
    extranonce1: extranonce1.bytes,
    extranonce2Size,
    submission: {
      extranonce2: submission.extranonce2,
      ntime: submission.ntime,
      nonce: submission.nonce,
      versionBits: submission.versionBits,
    },
    versionMask,
    assignedDifficulty,
  };
}
