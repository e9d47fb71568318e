import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Job } from '../../src/work/job.js';
import { toJobId } from '../../src/work/types.js';

/** Known-answer data kept in the repository (test/vectors/README.md says where it came from). */
export const VECTORS_DIR = fileURLToPath(new URL('../vectors/', import.meta.url));

/** A share vector file; the shape is trusted because the project keeps these files. */
export function readShareVector(name: string): ShareVectorFile {
  return JSON.parse(readFileSync(`${VECTORS_DIR}${name}`, 'utf8')) as ShareVectorFile;
}

export interface ShareVectorFile {
  notify: {
    job_id: string;
    prevhash: string;
    coinb1: string;
    coinb2: string;
    merkle_branch: string[];
    version: string;
    nbits: string;
    ntime: string;
    clean_jobs: boolean;
  };
  extranonce1: string;
  extranonce2_size: number;
  submit: { extranonce2: string; ntime: string; nonce: string; version_bits: string | null };
  expect: {
    coinbase_txid_display: string;
    merkle_root_internal: string;
    merkle_root_display: string;
    header: string;
    block_hash_display: string;
    share_difficulty: number;
    network_difficulty: number;
    is_block: boolean;
  };
}

/** The vector's notify as a decoded job (trusted input: plain Buffer hex decoding). */
export function jobFromVector(vector: ShareVectorFile): Job {
  const hex = (text: string) => Uint8Array.from(Buffer.from(text, 'hex'));
  const u32 = (text: string) => Number.parseInt(text, 16);
  return {
    jobId: toJobId(vector.notify.job_id),
    prevhash: hex(vector.notify.prevhash),
    coinb1: hex(vector.notify.coinb1),
    coinb2: hex(vector.notify.coinb2),
    merkleBranch: vector.notify.merkle_branch.map(hex),
    version: u32(vector.notify.version),
    nbits: u32(vector.notify.nbits),
    ntime: u32(vector.notify.ntime),
    cleanJobs: vector.notify.clean_jobs,
  };
}
