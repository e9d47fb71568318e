/**
 * An independent oracle built on bitcoinjs-lib: it builds real coinbase and ordinary
 * transactions, computes merkle roots and block hashes its own way, and grinds nonces. Tests
 * compare hashrelay's share check against it.
 */
import { Block, Transaction } from 'bitcoinjs-lib';
import { randomBytes } from 'node:crypto';
import type { Job } from '../../src/work/job.js';
import { merkleBranchesForCoinbase } from '../../src/work/merkle.js';
import { toJobId } from '../../src/work/types.js';

export interface OracleJob {
  readonly job: Job;
  readonly extranonce1: Uint8Array;
  readonly extranonce2Size: number;
  /** The previous block hash in internal byte order (what the header carries). */
  readonly prevHashInternal: Uint8Array;
  readonly otherTransactions: readonly Transaction[];
}

export interface OracleJobOptions {
  readonly transactions?: number;
  readonly version?: number;
  readonly nbits?: number;
  readonly ntime?: number;
  readonly extranonce1Size?: number;
  readonly extranonce2Size?: number;
  readonly height?: number;
  readonly random?: (size: number) => Uint8Array;
}

function p2pkhScript(random: (size: number) => Uint8Array): Uint8Array {
  return Uint8Array.from([0x76, 0xa9, 0x14, ...random(20), 0x88, 0xac]);
}

function randomTransaction(random: (size: number) => Uint8Array): Transaction {
  const tx = new Transaction();
  tx.version = 2;
  tx.addInput(random(32), 0, 0xfffffffd, Uint8Array.from([0x00, 0x14, ...random(20)]));
  tx.addOutput(p2pkhScript(random), 12_345n);
  return tx;
}

/** A block template with a real coinbase whose scriptSig holds extranonce1 ‖ extranonce2. */
export function buildOracleJob(options: OracleJobOptions = {}): OracleJob {
  const random = options.random ?? ((size: number) => Uint8Array.from(randomBytes(size)));
  const extranonce1Size = options.extranonce1Size ?? 4;
  const extranonce2Size = options.extranonce2Size ?? 4;
  const height = options.height ?? 840_000;
  const marker = random(extranonce1Size + extranonce2Size);
  const heightPush = [0x03, height & 0xff, (height >> 8) & 0xff, (height >> 16) & 0xff];
  const tag = new TextEncoder().encode('/hashrelay-test/');
  const scriptSig = Uint8Array.from([...heightPush, marker.length, ...marker, tag.length, ...tag]);

  const coinbase = new Transaction();
  coinbase.version = 1;
  coinbase.addInput(new Uint8Array(32), 0xffffffff, 0xffffffff, scriptSig);
  coinbase.addOutput(p2pkhScript(random), 312_500_000n);
  coinbase.addOutput(Uint8Array.from([0x6a, 0x24, 0xaa, 0x21, 0xa9, 0xed, ...random(32)]), 0n);
  const serialized = Buffer.from(coinbase.toBuffer());
  const at = serialized.indexOf(Buffer.from(marker));
  if (at < 0) throw new Error('marker not found in coinbase');

  const otherTransactions = Array.from({ length: options.transactions ?? 0 }, () =>
    randomTransaction(random),
  );
  const prevHashInternal = random(32);
  // Stratum's prevhash: the internal bytes with each 4-byte word reversed (Buffer.swap32).
  const notifyPrevhash = Uint8Array.from(Buffer.from(prevHashInternal).swap32());

  const job: Job = {
    jobId: toJobId('oracle'),
    prevhash: notifyPrevhash,
    coinb1: Uint8Array.from(serialized.subarray(0, at)),
    coinb2: Uint8Array.from(serialized.subarray(at + marker.length)),
    // Branches come from the code under test; every check against this oracle recomputes the
    // root from the full transaction list with bitcoinjs, so a wrong branch cannot hide.
    merkleBranch: merkleBranchesForCoinbase(otherTransactions.map((tx) => tx.getHash())),
    version: options.version ?? 0x20000000,
    nbits: options.nbits ?? 0x1d00ffff,
    ntime: options.ntime ?? 0x66000000,
    cleanJobs: true,
  };
  return { job, extranonce1: random(extranonce1Size), extranonce2Size, prevHashInternal, otherTransactions };
}

export interface OracleShare {
  readonly extranonce2: Uint8Array;
  readonly ntime: number;
  readonly nonce: number;
  readonly version: number;
}

/** The block header bitcoinjs builds for a share, and its hash as a little-endian integer. */
export function oracleHeader(
  oracle: OracleJob,
  share: OracleShare,
): { header: Uint8Array; hashValue: bigint; block: Block } {
  const { job } = oracle;
  const coinbaseBytes = Buffer.concat([job.coinb1, oracle.extranonce1, share.extranonce2, job.coinb2]);
  const coinbase = Transaction.fromBuffer(coinbaseBytes);
  const block = new Block();
  block.version = share.version | 0;
  block.prevHash = oracle.prevHashInternal;
  block.merkleRoot = Block.calculateMerkleRoot([coinbase, ...oracle.otherTransactions]);
  block.timestamp = share.ntime;
  block.bits = job.nbits;
  block.nonce = share.nonce;
  const hash = Buffer.from(block.getHash());
  return {
    header: block.toBuffer(true),
    hashValue: BigInt(`0x${Buffer.from(hash).reverse().toString('hex')}`),
    block,
  };
}

/** Grinds nonces (with the oracle's hash) until the share's hash is at most `target`. */
export function grindShare(
  oracle: OracleJob,
  target: bigint,
  base: Omit<OracleShare, 'nonce'>,
  accept: (hashValue: bigint) => boolean = (hashValue) => hashValue <= target,
): OracleShare {
  for (let nonce = 0; nonce < 5_000_000; nonce++) {
    const share = { ...base, nonce };
    if (accept(oracleHeader(oracle, share).hashValue)) return share;
  }
  throw new Error('no share found within 5M nonces');
}
