import { parseArgs } from 'node:util';
import { toDisplayHex, toHex } from '../src/work/bytes.js';
import { checkShare, prepareJob } from '../src/work/share-check.js';
import { networkDifficulty } from '../src/work/target.js';
import { readShareFile, ShareFileError, DEFAULT_ASSIGNED_DIFFICULTY } from './share-file.js';
import { ExitCode, type CommandResult } from './command.js';

export const shareHelp = `Usage: hashrelay share check FILE

Judges one share the way the proxy does, from a JSON file shaped like
examples/share-block-100000.json:

  notify             the job as sent in mining.notify (job_id, prevhash, coinb1, coinb2,
                     merkle_branch, version, nbits, ntime, clean_jobs)
  extranonce1        hex, the extranonce1 in force for the miner
  extranonce2_size   the extranonce2 size the miner was given
  submit             extranonce2, ntime, nonce, and optional version_bits (hex)
  version_mask       optional, the negotiated BIP 310 mask (default 1fffe000 when the submit
                     rolls versions, else 00000000)
  assigned_difficulty optional, the difficulty assigned for the job (default ${DEFAULT_ASSIGNED_DIFFICULTY})

Prints one JSON object (valid, reason, hash, share_difficulty, is_block, header, ...).
Exit status: 0 valid share, 1 invalid share, 2 malformed file (the error on stderr).
`;

export function runShareCommand(args: readonly string[]): CommandResult {
  const { positionals, values } = parseArgs({
    args: [...args],
    allowPositionals: true,
    options: { help: { type: 'boolean', short: 'h' } },
  });
  if (values.help === true) return { code: ExitCode.ok, stdout: shareHelp };
  const [sub, file, ...extra] = positionals;
  if (sub !== 'check' || file === undefined || extra.length > 0) {
    return { code: ExitCode.usage, stderr: shareHelp };
  }

  let input;
  try {
    input = readShareFile(file);
  } catch (error) {
    if (error instanceof ShareFileError) {
      return { code: ExitCode.usage, stderr: `hashrelay share check: ${file}: ${error.message}\n` };
    }
    throw error;
  }

  let prepared;
  try {
    prepared = prepareJob(input.job, input.extranonce1);
  } catch (error) {
    return {
      code: ExitCode.usage,
      stderr: `hashrelay share check: ${file}: notify: ${(error as Error).message}\n`,
    };
  }
  const verdict = checkShare({
    job: prepared,
    extranonce2Size: input.extranonce2Size,
    submission: input.submission,
    versionMask: input.versionMask,
    assignedDifficulty: input.assignedDifficulty,
  });
  const work = verdict.work;
  const report = {
    valid: verdict.valid,
    reason: verdict.reason,
    detail: verdict.valid ? null : verdict.detail,
    hash: work === null ? null : toDisplayHex(work.hash),
    share_difficulty: work?.shareDifficulty ?? null,
    assigned_difficulty: input.assignedDifficulty,
    is_block: work?.isBlock ?? false,
    network_difficulty: networkDifficulty(input.job.nbits),
    header: work === null ? null : toHex(work.header),
    version: work === null ? null : work.version.toString(16).padStart(8, '0'),
    version_mask: input.versionMask.toString(16).padStart(8, '0'),
    merkle_root: work === null ? null : toDisplayHex(work.merkleRoot),
    coinbase_txid: work === null ? null : toDisplayHex(work.coinbaseTxid),
    job_id: input.job.jobId,
  };
  return {
    code: verdict.valid ? ExitCode.ok : ExitCode.failure,
    stdout: `${JSON.stringify(report, null, 2)}\n`,
  };
}
