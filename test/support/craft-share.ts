import { grindNonce, headerTemplate, targetForDifficulty } from '../peers/pow.js';
import type { RawShare, RawStratumClient } from '../peers/raw-client.js';

let extranonce2Counter = 1;

/**
 * A share on one of the client's jobs (the latest by default) that meets — or, with `low`,
 * misses — the last difficulty the client was sent. Each call uses a fresh extranonce2.
 */
export function craftShare(
  client: RawStratumClient,
  options: { low?: boolean; jobIndex?: number; worker?: string } = {},
): RawShare {
  const job = client.jobs[options.jobIndex ?? client.jobs.length - 1]!;
  const extranonce2 = Buffer.alloc(client.extranonce2Size);
  extranonce2.writeUInt32BE(extranonce2Counter++, client.extranonce2Size - 4);
  const target = targetForDifficulty(client.difficulties[client.difficulties.length - 1]!);
  const header = headerTemplate(job, client.extranonce1, extranonce2, job.version);
  const { nonce } = grindNonce(header, (value) => (options.low === true ? value > target : value <= target));
  return { worker: options.worker ?? 'dave.rig1', jobId: job.jobId, extranonce2, ntime: job.ntime, nonce };
}
