import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** The project's shared known-answer data lives beside the repository, in ../shared/vectors. */
export const VECTORS_DIR = fileURLToPath(new URL('../../../shared/vectors/', import.meta.url));

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
